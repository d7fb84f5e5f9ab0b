//! Passwords from a command: a connection may take its password from what a command prints
//! (`vault kv get -field=password secret/db`, `aws rds generate-db-auth-token …`, `op read
//! …`), run when needed. The command text is configuration (the store keeps it, it holds no
//! secret); what it prints is a secret: never stored, logged, put in a child's argv or in an
//! error. Errors name the command and how it ended, never its output (stderr included: a
//! failing secret tool may echo what it was given).
//!
//! The command runs through `sh -c` (so that quoting and pipes work as the user typed them),
//! with no stdin, in its own process group, which is killed whole after [`TIMEOUT`].

use crate::database::Secret;
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a command may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How long a password from a command is used before it is fetched again, unless the
/// connection says otherwise: under the 15 minutes an AWS RDS IAM token lives.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("the password command `{command}` could not be started: {reason}")]
    Start { command: String, reason: String },
    #[error("the password command `{command}` failed ({status}); its output is not shown")]
    Failed { command: String, status: String },
    #[error("the password command `{command}` printed no password")]
    Empty { command: String },
    #[error("the password command `{command}` took longer than {seconds} s and was stopped")]
    Timeout { command: String, seconds: u64 },
}

/// Runs `command` and gives the first line it printed, without its line end.
pub fn fetch(command: &str, timeout: Duration) -> Result<Secret, CommandError> {
    let named = || command.to_string();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| CommandError::Start {
        command: named(),
        reason: e.to_string(),
    })?;
    // Read on a thread so that a command printing more than a pipe holds cannot stall it.
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.take(1 << 20).read_to_end(&mut bytes);
        }
        bytes
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child);
                return Err(CommandError::Timeout {
                    command: named(),
                    seconds: timeout.as_secs(),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                kill_group(&mut child);
                return Err(CommandError::Start {
                    command: named(),
                    reason: e.to_string(),
                });
            }
        }
    };
    // The command's own children may hold the pipe open: end them with it.
    kill_group(&mut child);
    let bytes = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(CommandError::Failed {
            command: named(),
            status: status.to_string(),
        });
    }
    let text = String::from_utf8_lossy(&bytes);
    let first = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('\r');
    if first.is_empty() {
        return Err(CommandError::Empty { command: named() });
    }
    Ok(Secret::new(first.to_string()))
}

fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // SAFETY: kill(2) on the group this child leads (process_group(0) above).
        unsafe {
            libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_is_the_password() {
        let s = fetch("printf 's3 cr\\n'; echo second", TIMEOUT).unwrap();
        assert_eq!(s.expose(), "s3 cr");
    }

    #[test]
    fn failures_name_the_command_not_its_output() {
        // What it prints is not in its text, so that a leak would show.
        let e = fetch(
            "printf 'pw-%s\\n' 42; printf 'err-%s\\n' 7 >&2; exit 3",
            TIMEOUT,
        )
        .unwrap_err();
        assert!(matches!(e, CommandError::Failed { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("exit status: 3"), "{text}");
        assert!(!text.contains("pw-42") && !text.contains("err-7"), "{text}");
        assert!(matches!(
            fetch("true", TIMEOUT),
            Err(CommandError::Empty { .. })
        ));
        let e = fetch("sleep 30 & sleep 30", Duration::from_millis(300)).unwrap_err();
        assert!(matches!(e, CommandError::Timeout { .. }), "{e}");
    }
}
