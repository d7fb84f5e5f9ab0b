//! Scratch databases on the loopback servers and the alembic venv (`support::databases`,
//! re-exported by `support`). Each scratch database is created for one test and dropped when
//! its guard goes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `RETORT_REQUIRE_ALEMBIC=1` (set by scripts/test.sh): a missing server or venv fails the
/// test instead of skipping it.
pub fn required() -> bool {
    std::env::var("RETORT_REQUIRE_ALEMBIC").as_deref() == Ok("1")
}

/// A program of the alembic venv (`python`, `alembic`), if the venv exists.
pub fn venv_bin(name: &str) -> Option<PathBuf> {
    let python = std::env::var_os("RETORT_ALEMBIC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    let bin = python.parent()?.join(name);
    let found = bin.exists().then_some(bin);
    if found.is_none() {
        assert!(
            !required(),
            "the alembic venv is required (RETORT_REQUIRE_ALEMBIC=1)"
        );
        eprintln!("alembic venv not found: skipped");
    }
    found
}

pub fn retort() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_retort"))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn scratch_name(prefix: &str) -> String {
    format!(
        "retort_{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

fn reachable(check: &mut Command, what: &str) -> bool {
    let up = check
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !up {
        assert!(
            !required(),
            "{what} is required (RETORT_REQUIRE_ALEMBIC=1) but not reachable"
        );
        eprintln!("{what} not reachable: skipped");
    }
    up
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Postgres,
    MariaDb,
}

/// A database created for one test; dropped on drop.
pub struct ScratchDb {
    pub server: Server,
    pub name: String,
}

impl ScratchDb {
    /// Creates a database on `server`, or `None` (after the skip/require check) when the
    /// server is down.
    pub fn create(server: Server, prefix: &str) -> Option<Self> {
        let up = match server {
            Server::Postgres => reachable(
                Command::new("pg_isready").args(["-q", "-h", "127.0.0.1", "-p", "5432"]),
                "PostgreSQL",
            ),
            Server::MariaDb => reachable(
                Command::new("mariadb-admin").args(["-h", "127.0.0.1", "-uroot", "ping"]),
                "MariaDB",
            ),
        };
        if !up {
            return None;
        }
        let db = Self {
            server,
            name: scratch_name(prefix),
        };
        db.admin(&format!("CREATE DATABASE {}", db.name));
        Some(db)
    }

    /// Runs SQL as the server's superuser, in the maintenance database.
    pub fn admin(&self, sql: &str) {
        let out = self.client(None, sql);
        assert!(out.0, "{sql}: {}", out.2);
    }

    /// Runs SQL in this database; returns the rows as tab-separated lines.
    pub fn query(&self, sql: &str) -> String {
        let (ok, stdout, stderr) = self.client(Some(&self.name), sql);
        assert!(ok, "{sql}: {stderr}");
        stdout
    }

    fn client(&self, db: Option<&str>, sql: &str) -> (bool, String, String) {
        let out = match self.server {
            Server::Postgres => Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-X",
                    "-q",
                    "-At",
                    "-F",
                    "\t",
                ])
                .args(["-d", db.unwrap_or("postgres"), "-c", sql])
                .output(),
            Server::MariaDb => Command::new("mariadb")
                .args(["-h", "127.0.0.1", "-uroot", "-N", "-B"])
                .args(db.map(|d| format!("--database={d}")))
                .args(["-e", sql])
                .output(),
        }
        .expect("database client");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The SQLAlchemy URL alembic and retort both accept.
    pub fn url(&self) -> String {
        match self.server {
            Server::Postgres => format!(
                "postgresql+psycopg2://postgres@127.0.0.1:5432/{}",
                self.name
            ),
            Server::MariaDb => format!("mysql+pymysql://root@127.0.0.1:3306/{}", self.name),
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let sql = match self.server {
            Server::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            Server::MariaDb => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let _ = self.client(None, &sql);
    }
}
