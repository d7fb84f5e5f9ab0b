//! Retort's own store: an SQLite file in the platform's data directory
//! (`<data_dir>/retort/retort.db`, or `$RETORT_HOME/retort.db`) holding workspaces and
//! connection profiles. Its schema is managed by the sqlx migrations in the top-level
//! `migrations/` folder. A store written by a newer Retort, or a file that is not a healthy
//! SQLite database, is refused with an error naming the file, and never written to.
//!
//! No secret ever goes in here: passwords live in the OS keychain (see
//! [`crate::credentials`]).

pub mod dotenv;
pub mod profiles;

pub use profiles::{ConnectionProfile, Driver, PasswordStorage, Workspace};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The file name inside the store's folder.
pub const STORE_FILE: &str = "retort.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot find a data directory for Retort's store: set RETORT_HOME to a folder Retort may use"
    )]
    NoHome,
    #[error("cannot create {path}: {message}")]
    CreateDir { path: String, message: String },
    #[error(
        "{path} was written by a newer Retort (schema version {version} is unknown to this one): upgrade Retort, or point RETORT_HOME at another folder; the file was left untouched"
    )]
    Newer { path: String, version: i64 },
    #[error(
        "{path} is not a usable Retort store ({message}); the file was left untouched: move it aside (or restore a backup) and run Retort again"
    )]
    Corrupt { path: String, message: String },
    #[error("cannot open Retort's store {path}: {message}")]
    Open { path: String, message: String },
    #[error("Retort's store {path}: {message}")]
    Query { path: String, message: String },
    #[error("no connection named '{0}' (see `retort connections list`)")]
    NoSuchConnection(String),
    #[error("a connection named '{0}' already exists (use `retort connections edit`)")]
    DuplicateConnection(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Import(String),
}

/// Where the store lives: `$RETORT_HOME/retort.db`, else `<data_dir>/retort/retort.db`.
pub fn default_path() -> Result<PathBuf, StoreError> {
    crate::home::dir()
        .map(|home| home.join(STORE_FILE))
        .ok_or(StoreError::NoHome)
}

/// Creates the store's file 0600 if missing, and narrows it and SQLite's files beside it.
fn private_store_files(path: &Path) -> std::io::Result<()> {
    match crate::private::create_new_file(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    // Best effort: a store someone else owns is still read, as before.
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = crate::private::restrict(Path::new(&name));
    }
    Ok(())
}

/// An open store.
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

impl Store {
    /// Opens the store at [`default_path`], creating it (and its folder) if needed.
    pub async fn open_default() -> Result<Self, StoreError> {
        Self::open(&default_path()?).await
    }

    /// Opens (or creates) the store at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let corrupt = |message: String| StoreError::Corrupt {
            path: shown.clone(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private::create_dir_all(dir).map_err(|e| StoreError::CreateDir {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
        }
        // Look before SQLite does: a file that is not an SQLite database is refused without
        // being opened, so nothing (not even a WAL switch) can touch it.
        if let Some(header) = file_start(path)
            && !header.is_empty()
            && header.as_slice() != SQLITE_HEADER
        {
            return Err(corrupt("not an SQLite database".into()));
        }
        // The store is private: made 0600 before SQLite opens it, which gives its -wal and
        // -shm files the same mode; an older store is narrowed.
        private_store_files(path).map_err(|e| StoreError::Open {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // The journal writes a row per step of a run: in WAL mode with NORMAL a commit
            // survives a killed process (not a power cut) without a sync of its own.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| corrupt_or_open(&shown, e))?;
        let store = Self {
            pool,
            path: path.to_path_buf(),
        };
        // The header and the schema are read at every start; a damaged page further in is
        // reported (as corrupt, naming the file) by the query that reaches it. A whole
        // `quick_check` would read the whole store, which grows with every run journaled.
        let check: String = sqlx::query_scalar("PRAGMA quick_check(sqlite_schema)")
            .fetch_one(&store.pool)
            .await
            .map_err(|e| corrupt_or_open(&shown, e))?;
        if check != "ok" {
            store.pool.close().await;
            return Err(corrupt(format!("integrity check: {check}")));
        }
        store.refuse_newer().await?;
        // Two Retorts starting at once on a new store would both create its tables: the
        // second waits on this lock, then finds the schema current.
        let lock_path = path.with_extension("db.lock");
        let schema_lock = crate::private::create_new_file(&lock_path)
            .or_else(|_| std::fs::OpenOptions::new().write(true).open(&lock_path))
            .and_then(|f| f.lock().map(|()| f))
            .map_err(|e| StoreError::Open {
                path: lock_path.display().to_string(),
                message: e.to_string(),
            })?;
        let migrated = MIGRATOR.run(&store.pool).await;
        drop(schema_lock);
        migrated.map_err(|e| StoreError::Open {
            path: shown.clone(),
            message: format!("updating the schema: {e}"),
        })?;
        Ok(store)
    }

    /// A migration recorded in the file that this build does not know means a newer Retort
    /// wrote it: refuse before sqlx's migrator could touch anything.
    async fn refuse_newer(&self) -> Result<(), StoreError> {
        let has_table: bool = sqlx::query_scalar(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.query_error(e))?;
        if !has_table {
            return Ok(());
        }
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.query_error(e))?;
        if let Some(&version) = applied
            .iter()
            .find(|v| !MIGRATOR.iter().any(|m| m.version == **v))
        {
            self.pool.close().await;
            return Err(StoreError::Newer {
                path: self.path.display().to_string(),
                version,
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connection to the store of the caller's thread's own, with the pool's settings, for
    /// small writes that must not wait on another thread: the journal writes a row per
    /// committed step, and sqlx's worker thread would cost two wake-ups each.
    pub(crate) fn open_direct(&self) -> Result<rusqlite::Connection, StoreError> {
        let failed = |e: rusqlite::Error| StoreError::Open {
            path: self.path.display().to_string(),
            message: e.to_string(),
        };
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection =
            rusqlite::Connection::open_with_flags(&self.path, flags).map_err(failed)?;
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(failed)?;
        connection
            // No checkpoint (copy and sync) in the middle of a run from this connection: the
            // pool's checkpoints the WAL when the run's entry is completed or the store closes.
            .execute_batch(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0",
            )
            .map_err(failed)?;
        Ok(connection)
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(crate) fn query_error(&self, e: sqlx::Error) -> StoreError {
        match corrupt_or_open(&self.path.display().to_string(), e) {
            StoreError::Open { path, message } => StoreError::Query { path, message },
            corrupt => corrupt,
        }
    }

    /// Closes the pool (checkpointing the WAL).
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// The first 16 bytes of a file, where SQLite's header is (`None`: it cannot be read).
fn file_start(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut header = Vec::with_capacity(16);
    std::fs::File::open(path)
        .ok()?
        .take(16)
        .read_to_end(&mut header)
        .ok()?;
    Some(header)
}

fn corrupt_or_open(path: &str, e: sqlx::Error) -> StoreError {
    let message = e.to_string();
    let corrupt = ["not a database", "malformed", "corrupt"]
        .iter()
        .any(|m| message.contains(m));
    if corrupt {
        StoreError::Corrupt {
            path: path.to_string(),
            message,
        }
    } else {
        StoreError::Open {
            path: path.to_string(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn creates_the_folder_and_migrates_twice_harmlessly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/retort.db");
        rt().block_on(async {
            let store = Store::open(&path).await.unwrap();
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(fk, 1);
            store.close().await;
            Store::open(&path).await.unwrap().close().await;
        });
    }

    #[test]
    fn a_store_from_a_newer_retort_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retort.db");
        rt().block_on(async {
            let store = Store::open(&path).await.unwrap();
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99990101000000, 'from the future', 1, x'00', 1)",
            )
            .execute(store.pool())
            .await
            .unwrap();
            sqlx::query("CREATE TABLE future_things (x)")
                .execute(store.pool())
                .await
                .unwrap();
            store.close().await;
        });
        let before = std::fs::read(&path).unwrap();
        let err = rt().block_on(Store::open(&path)).err().unwrap();
        assert!(
            matches!(
                err,
                StoreError::Newer {
                    version: 99990101000000,
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&path.display().to_string()) && text.contains("newer"),
            "{text}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file was changed"
        );
    }

    #[test]
    fn a_corrupt_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retort.db");
        let garbage = b"this is not a database at all, just some text\n".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let err = rt().block_on(Store::open(&path)).err().unwrap();
        let text = err.to_string();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage);

        // A real SQLite header followed by garbage pages: SQLite itself must object.
        let mut bad = SQLITE_HEADER.to_vec();
        bad.extend(std::iter::repeat_n(0xA5u8, 8192));
        std::fs::write(&path, &bad).unwrap();
        let err = rt().block_on(Store::open(&path)).err().unwrap();
        assert!(
            matches!(err, StoreError::Corrupt { .. } | StoreError::Open { .. }),
            "{err}"
        );
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(std::fs::read(&path).unwrap(), bad);
    }
}
