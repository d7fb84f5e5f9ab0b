//! SSH tunnels to databases behind bastions, through the system's OpenSSH client.
//!
//! Why the system `ssh` and not an SSH crate: `~/.ssh/config` (aliases, `ProxyJump`,
//! `IdentityFile`), the agent, `known_hosts`, hardware keys and the user's own OpenSSH fixes
//! then work exactly as in their terminal, and host keys are checked by OpenSSH itself.
//!
//! Why one `ssh -N -L 127.0.0.1:<free port>:<db host>:<db port>` per operation rather than
//! `ssh -W` per connection: Retort's own connections are not the only ones — alembic,
//! `pg_dump`, `pg_restore`, `mariadb-dump` and `psql` connect by host and port. One forward
//! on a loopback port serves them all for the operation's life; the port is bound by `ssh`
//! on 127.0.0.1 only. Jump hosts are OpenSSH's `-J` (ProxyJump).
//!
//! The `ssh` process is strict and never asks: `BatchMode=yes` and `StrictHostKeyChecking=yes`
//! on the command line, no controlling terminal (`setsid`) and `SSH_ASKPASS_REQUIRE=never`, so
//! a jump host (a process of its own that `ssh` starts) cannot prompt either. It dies with
//! the operation ([`Tunnel`]'s drop), and with Retort when Retort itself is killed
//! (`PR_SET_PDEATHSIG`, set from a thread that lives as long as the process, because the
//! signal follows the thread that started the child). Its own words (`-v`) are read for the
//! check's report (who authenticated how, the host key) and classified when it fails.
//!
//! `RETORT_SSH_CONFIG` names an ssh_config file to use instead of `~/.ssh/config` (`-F`,
//! which `ssh` also hands to the jump hosts).

use serde::Serialize;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The SSH hops to a database's server, from the first one Retort connects to: all but the
/// last are jump hosts, the last is the bastion that opens the connection to the database.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshRoute {
    /// Each `[user@]host[:port]` or an alias of the ssh config.
    pub hops: Vec<String>,
    /// A private key to offer besides the agent's and the config's.
    pub identity: Option<PathBuf>,
}

impl SshRoute {
    /// Checks every hop (see [`check_hop`]) and the identity file.
    pub fn validate(&self) -> Result<(), TunnelError> {
        if self.hops.is_empty() {
            return Err(TunnelError::InvalidHop {
                hop: String::new(),
                reason: "an SSH route needs at least one host".into(),
            });
        }
        for hop in &self.hops {
            check_hop(hop)?;
        }
        if let Some(identity) = &self.identity {
            let text = identity.display().to_string();
            if !identity.is_absolute() || text.chars().any(char::is_control) {
                return Err(TunnelError::InvalidHop {
                    hop: text,
                    reason: "the identity file must be an absolute path".into(),
                });
            }
        }
        Ok(())
    }

    /// How the route reads: `SSH via jump → bastion`.
    pub fn describe(&self) -> String {
        format!("SSH via {}", self.hops.join(" → "))
    }

    fn bastion(&self) -> &str {
        self.hops.last().map(String::as_str).unwrap_or_default()
    }
}

/// A hop as OpenSSH takes it: `[user@]host[:port]`, `[user@][v6]:port`, or a config alias.
/// Refused: an empty text, a leading `-` (it would be read as an option), white space,
/// control characters and `,` (the `-J` list separator).
pub fn check_hop(hop: &str) -> Result<(), TunnelError> {
    let refuse = |reason: &str| {
        Err(TunnelError::InvalidHop {
            hop: hop.to_string(),
            reason: reason.to_string(),
        })
    };
    if hop.is_empty() {
        return refuse("an SSH host is empty");
    }
    if hop.starts_with('-') {
        return refuse("an SSH host cannot start with '-'");
    }
    if hop
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ',')
    {
        return refuse("an SSH host cannot hold spaces, commas or control characters");
    }
    let host_port = hop.rsplit_once('@').map_or(hop, |(_, rest)| rest);
    if host_port.is_empty() || (host_port.starts_with(':') && port_of(host_port).is_some()) {
        return refuse("an SSH host needs a host name");
    }
    if let Some(port) = port_of(host_port)
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return refuse("the SSH port must be a number from 1 to 65535");
    }
    Ok(())
}

/// The `:port` of `host:port` or `[v6]:port`, as text; `None` when there is none.
fn port_of(host_port: &str) -> Option<&str> {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest
            .split_once(']')
            .and_then(|(_, after)| after.strip_prefix(':'));
    }
    match host_port.matches(':').count() {
        1 => host_port.split_once(':').map(|(_, port)| port),
        _ => None, // a bare IPv6 address has no port
    }
}

/// What `ssh` is given as its destination: an explicit port needs the `ssh://` form.
fn destination(hop: &str) -> String {
    let host_port = hop.rsplit_once('@').map_or(hop, |(_, rest)| rest);
    if port_of(host_port).is_some() {
        format!("ssh://{hop}")
    } else {
        hop.to_string()
    }
}

/// Why a tunnel could not be opened (or a host key trusted), classified from what `ssh` said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TunnelError {
    #[error("SSH host '{hop}': {reason}")]
    InvalidHop { hop: String, reason: String },
    #[error("the OpenSSH client (ssh) is not installed: {0}")]
    NoSsh(String),
    #[error("{route}: the host name could not be resolved ({detail})")]
    Dns { route: String, detail: String },
    #[error("{route}: the connection was refused ({detail})")]
    Refused { route: String, detail: String },
    #[error("{route}: no answer in time ({detail})")]
    Timeout { route: String, detail: String },
    #[error(
        "{route}: the host key of {host} is not known ({fingerprint}); check it with the server's administrator, then trust it"
    )]
    HostKeyUnknown {
        route: String,
        /// As known_hosts names it: `bastion.example` or `[10.0.0.5]:2222`.
        host: String,
        fingerprint: String,
    },
    #[error("{route}: {warning}")]
    HostKeyChanged {
        route: String,
        host: String,
        fingerprint: String,
        /// OpenSSH's own warning, as it printed it.
        warning: String,
    },
    #[error(
        "{route}: permission denied ({detail}); is the key in the agent or named as the identity file?"
    )]
    PermissionDenied { route: String, detail: String },
    #[error("{route}: the SSH server refused to forward to {target} ({detail})")]
    ForwardRefused {
        route: String,
        target: String,
        detail: String,
    },
    #[error("{route}: the fingerprint is now {found}, not {expected}: nothing was trusted")]
    FingerprintMismatch {
        route: String,
        expected: String,
        found: String,
    },
    #[error("{route}: {detail}")]
    Failed { route: String, detail: String },
}

impl TunnelError {
    /// A short name of the failure, for the check's report and the app.
    pub fn kind(&self) -> &'static str {
        match self {
            TunnelError::InvalidHop { .. } => "invalid",
            TunnelError::NoSsh(_) => "no_ssh",
            TunnelError::Dns { .. } => "dns",
            TunnelError::Refused { .. } => "refused",
            TunnelError::Timeout { .. } => "timeout",
            TunnelError::HostKeyUnknown { .. } => "host_key_unknown",
            TunnelError::HostKeyChanged { .. } => "host_key_changed",
            TunnelError::PermissionDenied { .. } => "permission_denied",
            TunnelError::ForwardRefused { .. } => "forward_refused",
            TunnelError::FingerprintMismatch { .. } => "fingerprint_mismatch",
            TunnelError::Failed { .. } => "failed",
        }
    }

    /// What to do about it.
    pub fn advice(&self) -> &'static str {
        match self {
            TunnelError::InvalidHop { .. } => {
                "Write each SSH host as user@host[:port] or an alias of ~/.ssh/config."
            }
            TunnelError::NoSsh(_) => {
                "Install the OpenSSH client (Debian: apt install openssh-client)."
            }
            TunnelError::Dns { .. } => {
                "Check the host name, or the alias's HostName in ~/.ssh/config."
            }
            TunnelError::Refused { .. } => {
                "Check the SSH port and that the SSH server runs; a firewall may reject it."
            }
            TunnelError::Timeout { .. } => {
                "A firewall may drop the connection, or the network (VPN?) is not there."
            }
            TunnelError::HostKeyUnknown { .. } => {
                "Compare the fingerprint with the one the server's administrator gives, then trust it (the app's Trust button, or `retort connections trust-host NAME HOST FINGERPRINT`)."
            }
            TunnelError::HostKeyChanged { .. } => {
                "The server's key is not the one known: it may have been reinstalled, or someone is in between. Ask its administrator before removing the old key from known_hosts."
            }
            TunnelError::PermissionDenied { .. } => {
                "Add the key to the agent (ssh-add), name it as the identity file, or check the SSH user."
            }
            TunnelError::ForwardRefused { .. } => {
                "The bastion does not allow forwarding to the database (AllowTcpForwarding / PermitOpen), or cannot reach it."
            }
            TunnelError::FingerprintMismatch { .. } => {
                "The key changed between showing and trusting it: check it again before trusting."
            }
            TunnelError::Failed { .. } => {
                "Try `ssh -v` with the same host in a terminal to see more."
            }
        }
    }

    /// The fingerprint an unknown or changed host key has now.
    pub fn fingerprint(&self) -> Option<&str> {
        match self {
            TunnelError::HostKeyUnknown { fingerprint, .. }
            | TunnelError::HostKeyChanged { fingerprint, .. } => Some(fingerprint),
            _ => None,
        }
    }
}

/// What an open tunnel knows of its hops (from `ssh -v`).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SshReport {
    pub route: String,
    /// One line per hop that authenticated, in order: `bastion ([127.0.0.1]:2222) by
    /// publickey, key /home/me/.ssh/id_ed25519 (agent)`.
    pub authenticated: Vec<String>,
    /// The last hop's host key: `ED25519 SHA256:…`.
    pub host_key: Option<String>,
    /// From starting `ssh` to the forward listening.
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub setup_ms: u64,
}

/// `ssh`'s stderr as it goes: the last lines, and whether the forward listens.
#[derive(Default)]
struct Log {
    lines: VecDeque<String>,
    ready: bool,
    closed: bool,
}

const KEPT_LINES: usize = 400;

type Shared = Arc<(Mutex<Log>, Condvar)>;

/// An open tunnel: `ssh` forwarding `local` to the database's host and port. Dropping it ends
/// `ssh` (and so every connection through it).
pub struct Tunnel {
    child: Child,
    pub local: SocketAddr,
    pub report: SshReport,
    log: Shared,
    target: String,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("local", &self.local)
            .field("route", &self.report.route)
            .finish()
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tunnel {
    /// Why connections through the tunnel fail, if `ssh` said: the server refused the
    /// forward, or `ssh` itself has ended (the bastion is gone).
    pub fn diagnosis(&self) -> impl Fn() -> Option<String> + Send + Sync + 'static {
        let log = Arc::clone(&self.log);
        let target = self.target.clone();
        move || diagnose(&log, &target)
    }

    /// The database's `host:port` as the bastion reaches it.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// One exchange with the server behind the tunnel: connects to the local end, sends
    /// `hello` (nothing if empty) and waits for its first byte. Proves the bastion can open the
    /// forward and something answers there, without logging in to the database.
    pub fn probe(&self, hello: &[u8], timeout: Duration) -> Result<(), TunnelError> {
        use std::io::{Read, Write};
        let route = self.report.route.clone();
        let failed = |detail: String| {
            let said = diagnose(&self.log, &self.target);
            match said {
                Some(text) if text.contains("could not open") => TunnelError::ForwardRefused {
                    route: route.clone(),
                    target: self.target.clone(),
                    detail: text
                        .split_once(&format!("{}: ", self.target))
                        .map_or(text.clone(), |(_, why)| why.to_string()),
                },
                Some(text) => TunnelError::Failed {
                    route: route.clone(),
                    detail: text,
                },
                None => TunnelError::Failed {
                    route: route.clone(),
                    detail,
                },
            }
        };
        let mut stream = std::net::TcpStream::connect_timeout(&self.local, timeout)
            .map_err(|e| failed(format!("the tunnel's local end refused: {e}")))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.write_all(hello))
            .map_err(|e| failed(format!("through the tunnel: {e}")))?;
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(1) => Ok(()),
            Ok(_) => Err(failed(format!(
                "{} closed the connection without a word",
                self.target
            ))),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(TunnelError::Timeout {
                    route,
                    detail: format!(
                        "{} did not answer through the tunnel in {} s",
                        self.target,
                        timeout.as_secs()
                    ),
                })
            }
            Err(e) => Err(failed(format!("through the tunnel: {e}"))),
        }
    }
}

/// How long a failed connection waits for `ssh` to say why: it writes the reason before it
/// closes the local end, but its words reach us through a pipe and a thread.
const DIAGNOSIS_WAIT: Duration = Duration::from_secs(2);

fn diagnose(log: &Shared, target: &str) -> Option<String> {
    let (lock, changed) = &**log;
    let deadline = Instant::now() + DIAGNOSIS_WAIT;
    let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let refused = state
            .lines
            .iter()
            .rev()
            .find(|l| l.contains("open failed:"))
            .map(|l| strip_channel(l));
        if let Some(line) = refused {
            return Some(format!("the SSH server could not open {target}: {line}"));
        }
        if state.closed {
            let last = meaningful(&state.lines).last().cloned();
            return Some(match last {
                Some(line) => format!("the SSH tunnel has ended: {line}"),
                None => "the SSH tunnel has ended".to_string(),
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        state = changed
            .wait_timeout(state, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// `channel 2: open failed: administratively prohibited: open failed` → the part after
/// "open failed: ".
fn strip_channel(line: &str) -> String {
    line.split_once("open failed: ")
        .map_or(line, |(_, rest)| rest)
        .trim_end_matches(": open failed")
        .to_string()
}

/// Lines `ssh` printed that are not its debug chatter.
fn meaningful(lines: &VecDeque<String>) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("debug") && !l.trim().is_empty())
        .filter(|l| !l.starts_with("Authenticated to") && !l.starts_with("Transferred:"))
        .cloned()
        .collect()
}

/// How long `ssh` may take to connect and authenticate through every hop.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(45);

/// Opens a tunnel along `route` to `host:port` as the bastion sees it (`connect_timeout`
/// for each SSH connection). Blocks: call it off the async runtime.
pub fn open(
    route: &SshRoute,
    host: &str,
    port: u16,
    connect_timeout: Duration,
) -> Result<Tunnel, TunnelError> {
    route.validate()?;
    let target_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let target = format!("{target_host}:{port}");
    // The free port is ours only until ssh binds it; another process may take it in between,
    // which ssh reports (ExitOnForwardFailure): try another.
    let mut last = None;
    for _ in 0..5 {
        let local = free_loopback_port().map_err(|e| TunnelError::Failed {
            route: route.describe(),
            detail: format!("no free loopback port: {e}"),
        })?;
        let mut cmd = ssh_command(route, connect_timeout, &["ExitOnForwardFailure=yes".into()]);
        cmd.arg("-N")
            .arg("-L")
            .arg(format!("127.0.0.1:{}:{target}", local.port()))
            .arg("--")
            .arg(destination(route.bastion()));
        match start(route, cmd, &target, local) {
            Err(TunnelError::Failed { detail, .. })
                if detail.contains("Address already in use") =>
            {
                last = Some(detail);
            }
            other => return other,
        }
    }
    Err(TunnelError::Failed {
        route: route.describe(),
        detail: last.unwrap_or_default(),
    })
}

fn free_loopback_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}

/// `ssh` with what every use here shares: strict, silent to the user, verbose to us.
/// `first`: options that override these (ssh keeps the first value it is given).
fn ssh_command(route: &SshRoute, connect_timeout: Duration, first: &[String]) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.arg("-v");
    if let Some(config) = std::env::var_os("RETORT_SSH_CONFIG") {
        cmd.arg("-F").arg(config);
    }
    for option in first {
        cmd.arg("-o").arg(option);
    }
    for option in [
        "BatchMode=yes".to_string(),
        "StrictHostKeyChecking=yes".to_string(),
        format!("ConnectTimeout={}", connect_timeout.as_secs().max(1)),
        "ServerAliveInterval=15".to_string(),
        "ServerAliveCountMax=3".to_string(),
        // Our own connection: not a user's shared master, whose forwards would outlive us.
        "ControlMaster=no".to_string(),
        "ControlPath=none".to_string(),
        "PermitLocalCommand=no".to_string(),
        "RequestTTY=no".to_string(),
        "ForwardAgent=no".to_string(),
    ] {
        cmd.arg("-o").arg(option);
    }
    if let Some(identity) = &route.identity {
        cmd.arg("-i").arg(identity);
    }
    let jumps = &route.hops[..route.hops.len().saturating_sub(1)];
    if !jumps.is_empty() {
        cmd.arg("-J").arg(jumps.join(","));
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("SSH_ASKPASS_REQUIRE", "never")
        .env_remove("SSH_ASKPASS")
        .env_remove("DISPLAY");
    detach(&mut cmd);
    cmd
}

/// No controlling terminal (no prompt, and the terminal's Ctrl-C is Retort's to handle, not
/// a signal that kills the tunnel under a run that is stopping cleanly), and killed when
/// Retort dies.
fn detach(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt as _;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0);
    }
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Starts `cmd` from a thread that lives as long as the process: `PR_SET_PDEATHSIG` fires
/// when the thread that spawned the child ends, and a runtime's worker threads come and go.
fn spawn_long_lived(cmd: Command) -> std::io::Result<Child> {
    static SPAWNER: std::sync::OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> =
        std::sync::OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (send, receive) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("retort-ssh-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in receive {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("a thread for starting ssh");
        Mutex::new(send)
    });
    let (reply, answer) = mpsc::channel();
    sender
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply))
        .map_err(|_| std::io::Error::other("the ssh spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| std::io::Error::other("the ssh spawner thread is gone"))?
}

fn start(
    route: &SshRoute,
    cmd: Command,
    target: &str,
    local: SocketAddr,
) -> Result<Tunnel, TunnelError> {
    let started = Instant::now();
    let mut child = spawn_long_lived(cmd).map_err(|e| TunnelError::NoSsh(e.to_string()))?;
    let log: Shared = Arc::default();
    follow(child.stderr.take(), &log, Some(local.port()));
    let deadline = started + SETUP_TIMEOUT;
    let (lock, ready) = &*log;
    let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
    while !state.ready && !state.closed {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        state = ready
            .wait_timeout(state, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    let lines: Vec<String> = state.lines.iter().cloned().collect();
    let is_ready = state.ready;
    drop(state);
    if !is_ready {
        let _ = child.kill();
        let _ = child.wait();
        // The reader ends with the pipe: every line is in.
        let state = lock.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<String> = state.lines.iter().cloned().collect();
        let timed_out = !state.closed || Instant::now() >= deadline;
        drop(state);
        return Err(classify(&route.describe(), target, &lines, timed_out));
    }
    let report = SshReport {
        route: route.describe(),
        authenticated: authentications(&lines),
        host_key: host_keys(&lines)
            .last()
            .map(|(kind, fp)| format!("{kind} {fp}")),
        setup_ms: started.elapsed().as_millis() as u64,
    };
    Ok(Tunnel {
        child,
        local,
        report,
        log,
        target: target.to_string(),
    })
}

/// Reads `ssh`'s stderr into `log` on a thread of its own until the pipe closes.
/// `port`: the forward whose listening makes the tunnel ready. OpenSSH prints "Local
/// forwarding listening on … port N." before bind(2), and the "[port listener]" channel
/// after listen(2); a jump host's `ssh -W` writes to the same stderr but opens no listener.
fn follow(stderr: Option<std::process::ChildStderr>, log: &Shared, port: Option<u16>) {
    let log = Arc::clone(log);
    let announced = port.map(|p| format!("Local forwarding listening on 127.0.0.1 port {p}."));
    let mut seen = false;
    let spawned = std::thread::Builder::new()
        .name("retort-ssh-log".into())
        .spawn({
            let log = Arc::clone(&log);
            move || {
                if let Some(stderr) = stderr {
                    let mut reader = BufReader::new(stderr);
                    let mut bytes = Vec::new();
                    while matches!(reader.read_until(b'\n', &mut bytes), Ok(n) if n > 0) {
                        let line = String::from_utf8_lossy(&bytes)
                            .trim_end_matches(['\r', '\n'])
                            .to_string();
                        bytes.clear();
                        let (lock, changed) = &*log;
                        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
                        if announced
                            .as_ref()
                            .is_some_and(|a| line.contains(a.as_str()))
                        {
                            seen = true;
                        } else if seen && line.contains("port listener]") {
                            state.ready = true;
                        }
                        state.lines.push_back(line);
                        if state.lines.len() > KEPT_LINES {
                            state.lines.pop_front();
                        }
                        changed.notify_all();
                    }
                }
                let (lock, changed) = &*log;
                lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
                changed.notify_all();
            }
        });
    if spawned.is_err() {
        let (lock, changed) = &*log;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        changed.notify_all();
    }
}

/// `Authenticated to bastion ([127.0.0.1]:2222) using "publickey".`, with the key the server
/// accepted just before it (`Server accepts key: /path ED25519 SHA256:… agent`).
fn authentications(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut key = None;
    for line in lines {
        let line = line.strip_prefix("debug1: ").unwrap_or(line);
        if let Some(rest) = line.strip_prefix("Server accepts key: ") {
            key = Some(describe_key(rest));
        } else if let Some(rest) = line.strip_prefix("Authenticated to ") {
            let (who, how) = rest.split_once(" using ").unwrap_or((rest, ""));
            let how = how.trim_end_matches('.').trim_matches('"');
            let mut text = format!("{who} by {how}");
            if let Some(key) = key.take() {
                text.push_str(&format!(", key {key}"));
            }
            out.push(text);
        }
    }
    out
}

/// `/root/.ssh/id_ed25519 ED25519 SHA256:abc explicit` → `/root/.ssh/id_ed25519 (file)`;
/// a key from the agent is marked `(agent)`.
fn describe_key(text: &str) -> String {
    let mut words = text.split_whitespace();
    let name = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    let source = if rest.contains(&"agent") {
        "agent"
    } else {
        "file"
    };
    let fingerprint = rest.iter().find(|w| w.starts_with("SHA256:")).copied();
    match fingerprint {
        Some(fp) => format!("{name} {fp} ({source})"),
        None => format!("{name} ({source})"),
    }
}

/// `Server host key: ssh-ed25519 SHA256:…` lines, as (`ED25519`, `SHA256:…`).
fn host_keys(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| l.split_once("Server host key: "))
        .filter_map(|(_, rest)| {
            let mut words = rest.split_whitespace();
            let kind = words.next()?;
            let fp = words.next()?;
            let kind = kind
                .strip_prefix("ssh-")
                .unwrap_or(kind)
                .split('-')
                .next()
                .unwrap_or(kind)
                .to_ascii_uppercase();
            Some((kind, fp.to_string()))
        })
        .collect()
}

/// The failure `ssh` reported, from its stderr.
fn classify(route: &str, target: &str, lines: &[String], timed_out: bool) -> TunnelError {
    let route = route.to_string();
    let find = |needle: &str| lines.iter().find(|l| l.contains(needle)).cloned();
    let fingerprint = host_keys(lines)
        .last()
        .map(|(kind, fp)| format!("{kind} {fp}"))
        .unwrap_or_default();
    if let Some(line) = find("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        let host = find("Host key for ")
            .and_then(|l| {
                l.split("Host key for ")
                    .nth(1)
                    .and_then(|r| r.split(" has changed").next())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let warning = meaningful(&lines.iter().cloned().collect())
            .into_iter()
            .skip_while(|l| !l.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"))
            .map(|l| l.trim_matches(['@', ' ']).to_string())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let warning = if warning.is_empty() { line } else { warning };
        return TunnelError::HostKeyChanged {
            route,
            host,
            fingerprint,
            warning,
        };
    }
    if let Some(line) = find("host key is known for ") {
        // "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking."
        let host = line
            .split("host key is known for ")
            .nth(1)
            .and_then(|r| r.split(" and you have").next())
            .unwrap_or_default()
            .to_string();
        return TunnelError::HostKeyUnknown {
            route,
            host,
            fingerprint,
        };
    }
    if let Some(line) = find("Host key verification failed") {
        return TunnelError::Failed {
            route,
            detail: line,
        };
    }
    let detail = |line: String| line.trim().trim_start_matches("debug1: ").to_string();
    if let Some(line) = find("Could not resolve hostname") {
        return TunnelError::Dns {
            route,
            detail: detail(line),
        };
    }
    if let Some(line) = find("Connection refused").filter(|l| !l.contains("open failed")) {
        return TunnelError::Refused {
            route,
            detail: detail(line),
        };
    }
    if let Some(line) = find("Permission denied") {
        return TunnelError::PermissionDenied {
            route,
            detail: detail(line),
        };
    }
    if let Some(line) = find("open failed:") {
        return TunnelError::ForwardRefused {
            route,
            target: target.to_string(),
            detail: strip_channel(&line),
        };
    }
    if let Some(line) = find("timed out").or_else(|| find("Connection timed out")) {
        return TunnelError::Timeout {
            route,
            detail: detail(line),
        };
    }
    if timed_out {
        return TunnelError::Timeout {
            route,
            detail: format!("no tunnel after {} s", SETUP_TIMEOUT.as_secs()),
        };
    }
    let said = meaningful(&lines.iter().cloned().collect());
    TunnelError::Failed {
        route,
        detail: said
            .last()
            .cloned()
            .unwrap_or_else(|| "ssh ended without saying why".to_string()),
    }
}

/// Trusts the host key of the hop of `route` that known_hosts names `host` (as
/// [`TunnelError::HostKeyUnknown`] gave it), if its key's fingerprint is still `fingerprint`:
/// the key is fetched by connecting to that hop (through the hops before it, already
/// trusted) into a scratch known_hosts, compared, and only then added to the user's
/// known_hosts, as answering "yes" to OpenSSH's question would.
pub fn trust_host_key(
    route: &SshRoute,
    host: &str,
    fingerprint: &str,
    connect_timeout: Duration,
) -> Result<PathBuf, TunnelError> {
    route.validate()?;
    let describe = route.describe();
    let index = hop_named(route, host, connect_timeout)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let scratch =
        Scratch(std::env::temp_dir().join(format!("retort-trust-{}-{nanos}", std::process::id())));
    crate::private::create_dir_all(&scratch.0).map_err(|e| TunnelError::Failed {
        route: describe.clone(),
        detail: format!("no scratch folder: {e}"),
    })?;
    let scratch_file = scratch.0.join("known_hosts");
    let leading = SshRoute {
        hops: route.hops[..=index].to_vec(),
        identity: route.identity.clone(),
    };
    let mut cmd = ssh_command(
        &leading,
        connect_timeout,
        &[
            "StrictHostKeyChecking=accept-new".into(),
            format!("UserKnownHostsFile={}", scratch_file.display()),
            "GlobalKnownHostsFile=/dev/null".into(),
        ],
    );
    cmd.arg("-N")
        .arg("--")
        .arg(destination(&leading.hops[index]));
    let mut child = spawn_long_lived(cmd).map_err(|e| TunnelError::NoSsh(e.to_string()))?;
    // ssh writes the key once it has checked it, before authenticating: wait for that (or
    // for ssh to end), then stop it.
    let log: Shared = Arc::default();
    follow(child.stderr.take(), &log, None);
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let (lock, changed) = &*log;
    let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let done = state.closed
            || state
                .lines
                .iter()
                .any(|l| l.contains("Permanently added") || l.contains("Authenticated to"));
        let left = deadline.saturating_duration_since(Instant::now());
        if done || left.is_zero() {
            break;
        }
        state = changed
            .wait_timeout(state, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    drop(state);
    let _ = child.kill();
    let _ = child.wait();
    let lines: Vec<String> = log
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .lines
        .iter()
        .cloned()
        .collect();
    let entry = std::fs::read_to_string(&scratch_file).unwrap_or_default();
    let Some((_, found)) = host_keys(&lines).into_iter().last() else {
        return Err(classify(&describe, host, &lines, false));
    };
    let wanted = fingerprint.split_whitespace().last().unwrap_or(fingerprint);
    if found != wanted {
        return Err(TunnelError::FingerprintMismatch {
            route: describe,
            expected: wanted.to_string(),
            found,
        });
    }
    if entry.trim().is_empty() {
        return Err(classify(&describe, host, &lines, false));
    }
    let known_hosts = user_known_hosts(&leading.hops[index], connect_timeout)?;
    append(&known_hosts, &entry).map_err(|e| TunnelError::Failed {
        route: describe,
        detail: format!("{}: {e}", known_hosts.display()),
    })?;
    Ok(known_hosts)
}

/// A folder removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn append(path: &Path, entry: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        crate::private::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let mut text = entry.trim_end().to_string();
    text.push('\n');
    file.write_all(text.as_bytes())
}

/// What `ssh -G` makes of a hop (`hostname`, `port`, `userknownhostsfile`, …).
fn effective_config(
    hop: &str,
    connect_timeout: Duration,
) -> Result<Vec<(String, String)>, TunnelError> {
    let mut cmd = Command::new("ssh");
    if let Some(config) = std::env::var_os("RETORT_SSH_CONFIG") {
        cmd.arg("-F").arg(config);
    }
    cmd.arg("-G")
        .arg("-o")
        .arg(format!(
            "ConnectTimeout={}",
            connect_timeout.as_secs().max(1)
        ))
        .arg("--")
        .arg(destination(hop))
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let out = cmd
        .output()
        .map_err(|e| TunnelError::NoSsh(e.to_string()))?;
    if !out.status.success() {
        return Err(TunnelError::Failed {
            route: format!("SSH via {hop}"),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// The name known_hosts gives a hop: `host`, or `[host]:port` off port 22.
fn known_hosts_name(hop: &str, connect_timeout: Duration) -> Result<String, TunnelError> {
    let config = effective_config(hop, connect_timeout)?;
    let get = |key: &str| {
        config
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let host = get("hostkeyalias")
        .or_else(|| get("hostname"))
        .unwrap_or_else(|| hop.to_string());
    Ok(match get("port").as_deref() {
        None | Some("22") => host,
        Some(port) => format!("[{host}]:{port}"),
    })
}

fn hop_named(
    route: &SshRoute,
    host: &str,
    connect_timeout: Duration,
) -> Result<usize, TunnelError> {
    for (i, hop) in route.hops.iter().enumerate() {
        if known_hosts_name(hop, connect_timeout)? == host {
            return Ok(i);
        }
    }
    Err(TunnelError::Failed {
        route: route.describe(),
        detail: format!("no hop of the route is {host}"),
    })
}

/// The first `UserKnownHostsFile` of a hop, where OpenSSH itself would add a key.
fn user_known_hosts(hop: &str, connect_timeout: Duration) -> Result<PathBuf, TunnelError> {
    let config = effective_config(hop, connect_timeout)?;
    let file = config
        .iter()
        .find(|(k, _)| k == "userknownhostsfile")
        .and_then(|(_, v)| v.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "~/.ssh/known_hosts".to_string());
    Ok(match file.strip_prefix("~/") {
        Some(rest) => dirs::home_dir()
            .ok_or_else(|| TunnelError::Failed {
                route: format!("SSH via {hop}"),
                detail: "no home folder for ~/.ssh/known_hosts".into(),
            })?
            .join(rest),
        None => PathBuf::from(file),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn hops_are_checked_before_ssh_sees_them() {
        for good in [
            "bastion",
            "me@bastion",
            "me@10.0.0.5:2222",
            "[::1]:22",
            "me@[fe80::1]:2222",
            "::1",
        ] {
            assert_eq!(check_hop(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "-oProxyCommand=evil",
            "a b",
            "a,b",
            "me@",
            "host:0",
            "host:99999",
            "host:x",
            "a\nb",
        ] {
            assert!(check_hop(bad).is_err(), "{bad:?}");
        }
        assert_eq!(destination("me@10.0.0.5:2222"), "ssh://me@10.0.0.5:2222");
        assert_eq!(destination("bastion"), "bastion");
        assert_eq!(destination("[::1]:22"), "ssh://[::1]:22");
        let route = SshRoute {
            hops: vec!["jump".into(), "-x".into()],
            identity: None,
        };
        assert!(route.validate().is_err());
        let route = SshRoute {
            hops: vec!["jump".into()],
            identity: Some(PathBuf::from("relative/key")),
        };
        assert!(route.validate().is_err());
    }

    #[test]
    fn failures_are_classified_from_what_ssh_said() {
        let r = "SSH via b";
        let t = "db:5432";
        let unknown = lines(
            "debug1: Connecting to 127.0.0.1 [127.0.0.1] port 2222.\ndebug1: Server host key: ssh-ed25519 SHA256:AbC\nNo ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.",
        );
        assert_eq!(
            classify(r, t, &unknown, false),
            TunnelError::HostKeyUnknown {
                route: r.into(),
                host: "[127.0.0.1]:2222".into(),
                fingerprint: "ED25519 SHA256:AbC".into()
            }
        );
        let changed = lines(
            "debug1: Server host key: ssh-ed25519 SHA256:New\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\nHost key for [127.0.0.1]:2222 has changed and you have requested strict checking.\nHost key verification failed.",
        );
        let e = classify(r, t, &changed, false);
        assert_eq!(e.kind(), "host_key_changed");
        assert_eq!(e.fingerprint(), Some("ED25519 SHA256:New"));
        assert!(
            e.to_string()
                .contains("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!"),
            "{e}"
        );
        let cases = [
            (
                "ssh: Could not resolve hostname nosuch.invalid: Name or service not known",
                "dns",
            ),
            (
                "ssh: connect to host 127.0.0.1 port 1: Connection refused",
                "refused",
            ),
            (
                "me@127.0.0.1: Permission denied (publickey).",
                "permission_denied",
            ),
            (
                "ssh: connect to host 10.255.255.1 port 22: Connection timed out",
                "timeout",
            ),
            (
                "channel 0: open failed: administratively prohibited: open failed\nstdio forwarding failed",
                "forward_refused",
            ),
            (
                "kex_exchange_identification: Connection closed by remote host",
                "failed",
            ),
        ];
        for (said, kind) in cases {
            assert_eq!(classify(r, t, &lines(said), false).kind(), kind, "{said}");
        }
        assert_eq!(classify(r, t, &[], true).kind(), "timeout");
    }

    #[test]
    fn the_report_names_each_hop_and_its_key() {
        let said = lines(
            "debug1: Server host key: ssh-ed25519 SHA256:Jump\ndebug1: Server accepts key: /k/id ED25519 SHA256:K explicit\nAuthenticated to jump ([127.0.0.1]:2201) using \"publickey\".\ndebug1: Server host key: ssh-ed25519 SHA256:Bastion\ndebug1: Server accepts key: me@laptop ED25519 SHA256:A agent\nAuthenticated to bastion (via proxy) using \"publickey\".",
        );
        assert_eq!(
            authentications(&said),
            vec![
                "jump ([127.0.0.1]:2201) by publickey, key /k/id SHA256:K (file)".to_string(),
                "bastion (via proxy) by publickey, key me@laptop SHA256:A (agent)".to_string(),
            ]
        );
        assert_eq!(
            host_keys(&said).last(),
            Some(&("ED25519".to_string(), "SHA256:Bastion".to_string()))
        );
        let log: Shared = Arc::default();
        log.0.lock().unwrap().lines = lines("debug1: channel 2: new direct-tcpip\nchannel 2: open failed: administratively prohibited: open failed").into();
        assert_eq!(
            diagnose(&log, "db:5432").as_deref(),
            Some("the SSH server could not open db:5432: administratively prohibited")
        );
    }
}
