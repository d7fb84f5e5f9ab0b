//! Printing that never stops a migration. A closed or failing stdout or stderr (`retort upgrade
//! heads | head -5`, a terminal that went away) is noted and ignored: the run goes on to its real
//! end, and is journaled as it really ended. `println!` would panic on the first write after the
//! pipe closed (Rust ignores SIGPIPE, so the write returns EPIPE), half-way through a run.

use std::fmt::Arguments;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);
static STDERR_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout; after the first failure, drops everything.
pub fn stdout(args: Arguments<'_>) {
    write_to(std::io::stdout().lock(), &STDOUT_FAILED, args);
}

/// Writes to stderr; after the first failure, drops everything.
pub fn stderr(args: Arguments<'_>) {
    write_to(std::io::stderr().lock(), &STDERR_FAILED, args);
}

fn write_to(mut stream: impl Write, failed: &AtomicBool, args: Arguments<'_>) {
    if failed.load(Ordering::Relaxed) {
        return;
    }
    if stream.write_fmt(args).is_err() {
        failed.store(true, Ordering::Relaxed);
    }
}

/// Flushes stdout, and says on stderr (if it still works) that the output of the run was lost
/// when stdout failed, so that a user piping into `head` learns where the full account is.
pub fn finish() {
    if !STDOUT_FAILED.load(Ordering::Relaxed) && std::io::stdout().lock().flush().is_err() {
        STDOUT_FAILED.store(true, Ordering::Relaxed);
    }
    if STDOUT_FAILED.load(Ordering::Relaxed) {
        stderr(format_args!(
            "note: standard output was closed or failed during the run; the run went on to its end without printing the rest (see `retort log`)\n"
        ));
    }
}

/// `print!` that never panics (see [`stdout`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*)) };
}

/// `println!` that never panics (see [`stdout`]).
macro_rules! outln {
    () => { $crate::output::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that never panics (see [`stderr`]).
macro_rules! err {
    ($($arg:tt)*) => { $crate::output::stderr(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics (see [`stderr`]).
macro_rules! errln {
    () => { $crate::output::stderr(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {err, errln, out, outln};

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_broken_stream_is_remembered_and_then_skipped() {
        let failed = AtomicBool::new(false);
        write_to(Broken, &failed, format_args!("a line\n"));
        assert!(failed.load(Ordering::Relaxed));
        let mut kept = Vec::new();
        write_to(&mut kept, &failed, format_args!("after the failure\n"));
        assert!(kept.is_empty(), "nothing is written once the stream failed");
    }
}
