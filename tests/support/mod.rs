//! Helpers shared by the end-to-end tests of retort-cli, included once per test binary as
//! `mod support;` (each `tests/X.rs` is its binary's root, so this is `tests/support/mod.rs`):
//! the repository root, running a program, decoding its output, `PATH` look-ups, file modes
//! and the skeletons of the two kinds of project. [`databases`] has the scratch databases and
//! the alembic venv, [`ui`] the browser harness.
//!
//! The project builders follow one convention: `native_project(dir, …)` writes a native
//! project (`retort.toml` and `versions/`) into `dir`, `alembic_project(dir, …)` an Alembic
//! one (`alembic.ini` and `migrations/`); the folder comes first, then the URL when there is
//! one, then what the fixture varies. The skeletons are [`native_layout`] and
//! [`alembic_layout`]; each test file's builders add its own revisions.

// Each test binary uses only a part of this module; the rest would warn as dead code.
#![allow(dead_code)]

pub mod databases;
pub mod sshd;
pub mod ui;

// Re-exported so that a test imports from `support` alone; not every binary uses each.
#[allow(unused_imports)]
pub use databases::{ScratchDb, Server, required, retort, venv_bin};

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root (the top-level folder of the workspace), canonical.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A program's output, lossily decoded.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `program args…` in `dir` with no stdin; its output.
pub fn run(program: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `program` on `PATH`, if it is there.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A plain `env.py`: the engine from `sqlalchemy.url`, migrations in one transaction.
pub const ENV_PY: &str = "from alembic import context\nfrom sqlalchemy import engine_from_config, pool\n\nconfig = context.config\nengine = engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.', poolclass=pool.NullPool)\nwith engine.connect() as connection:\n    context.configure(connection=connection)\n    with context.begin_transaction():\n        context.run_migrations()\n";

/// A native project's skeleton in `dir`: `retort.toml` with `config`, an empty `versions/`
/// (which is returned).
pub fn native_layout(dir: &Path, config: &str) -> PathBuf {
    let versions = dir.join("versions");
    fs::create_dir_all(&versions).unwrap();
    fs::write(dir.join("retort.toml"), config).unwrap();
    versions
}

/// An Alembic project's skeleton in `dir`: `alembic.ini` (`script_location` `migrations`,
/// `path_separator = os`, `sqlalchemy.url = url`), `migrations/env.py` and an empty
/// `migrations/versions/` (which is returned).
pub fn alembic_layout(dir: &Path, url: &str, env_py: &str) -> PathBuf {
    let versions = dir.join("migrations/versions");
    fs::create_dir_all(&versions).unwrap();
    fs::write(
        dir.join("alembic.ini"),
        format!("[alembic]\nscript_location = %(here)s/migrations\npath_separator = os\nsqlalchemy.url = {url}\n"),
    )
    .unwrap();
    fs::write(dir.join("migrations/env.py"), env_py).unwrap();
    versions
}

/// `retort` to run in `dir` with its store (journal, connections, backups) in `home`.
pub fn retort_in(dir: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(retort());
    cmd.current_dir(dir).env("RETORT_HOME", home);
    cmd
}

/// A child's stdout read line by line on a thread of its own, so that a test waits for what
/// the child has announced (a step's start, line-buffered on Rust's stdout) instead of
/// sleeping for a guessed time, and still gets the whole output at the end.
pub struct Announcements {
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Announcements {
    /// Takes over `child`'s stdout, which must be piped.
    pub fn follow(child: &mut std::process::Child) -> Self {
        use std::io::BufRead as _;
        let stdout = child.stdout.take().expect("the child's stdout is piped");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until `count` lines starting with `prefix` have been printed in all; false when
    /// stdout closed first (the child ended).
    pub fn wait_for(&mut self, prefix: &str, count: usize) -> bool {
        loop {
            if self.seen.iter().filter(|l| l.starts_with(prefix)).count() >= count {
                return true;
            }
            match self.lines.recv() {
                Ok(line) => self.seen.push(line),
                Err(_) => return false,
            }
        }
    }

    /// Everything the child printed, once its stdout has closed.
    pub fn all(mut self) -> String {
        self.seen.extend(self.lines.iter());
        self.seen.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// A small deterministic generator (xorshift) for the randomised tests: the same seed gives
/// the same cases every run, so a failing case is named by its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}
