//! Backups and restores of the databases a project migrates.
//!
//! - **SQLite**: SQLite's online backup API, a batch of pages per step, so the source stays
//!   usable; the copy is checked with `PRAGMA integrity_check`.
//! - **PostgreSQL**: `pg_dump --format=custom`, checked with `pg_restore --list`; restored
//!   by `psql` running `pg_restore --clean --if-exists`'s script in one transaction, after
//!   dropping what the project's schemas hold that the archive does not.
//! - **MySQL/MariaDB**: `mariadb-dump`/`mysqldump --single-transaction --routines --triggers
//!   --events --hex-blob`, checked by the dump's completion trailer; restored through the
//!   client.
//!
//! Every restore is then proven: what the database holds is compared with what the backup
//! holds ([`inventory`]), and anything that differs is [`BackupError::NotAsBackedUp`].
//!
//! The dump tool is the one [`check::dump_tool`] picks (and must be new enough for the
//! server). Passwords reach the tools through `PGPASSWORD` or a 0600 option file that is
//! removed afterwards, never through argv.
//!
//! Every backup is written to `<name>.<pid>.partial` in the backup folder, synced, verified,
//! then renamed to its final name and the folder synced; only then does the caller record it
//! in the catalog ([`Store::record_backup`](crate::store::Store::record_backup)). A backup
//! interrupted at any point leaves at most a `.partial` file, which is never listed as a
//! backup and is removed by the next backup into that folder once its process is gone.

pub mod catalog;
mod fsutil;
pub mod inventory;
mod mysql;
mod postgres;
mod recorded;
mod sqlite;

pub use inventory::{ObjectKind, RestoreDifference, RestoreVerification};
pub use recorded::{Recorded, restore_recorded, take_recorded};

pub use fsutil::{PartialFile, leftover_partials, remove_leftover_partials};

use crate::database::check::{self, DumpToolCheck};
use crate::database::{Backend, Database, DatabaseError, DatabaseUrl, VersionTable};
use crate::execution::CancelToken;
use crate::store::StoreError;
use inventory::Inventory;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How a backup file is laid out.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupFormat {
    /// A SQLite database file (the online backup API's copy).
    SqliteDatabase,
    /// `pg_dump --format=custom`.
    PgCustom,
    /// A SQL script from `mariadb-dump` / `mysqldump`.
    SqlDump,
}

impl BackupFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SqliteDatabase => "sqlite_database",
            Self::PgCustom => "pg_custom",
            Self::SqlDump => "sql_dump",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sqlite_database" => Some(Self::SqliteDatabase),
            "pg_custom" => Some(Self::PgCustom),
            "sql_dump" => Some(Self::SqlDump),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::SqliteDatabase => "sqlite",
            Self::PgCustom => "dump",
            Self::SqlDump => "sql",
        }
    }
}

/// One backup: where it is, what it holds, and how it was checked. This is what the
/// catalog stores (no password anywhere in it).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupRecord {
    /// The catalog id; `None` until [`Store::record_backup`](crate::store::Store::record_backup).
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub id: Option<i64>,
    /// What retention groups by: the saved connection's name, else the redacted URL (for
    /// SQLite, with the file's absolute path).
    pub connection: String,
    /// The saved connection the backup came from, if any.
    pub connection_name: Option<String>,
    /// The database's URL with the password shown as `***`.
    pub url: String,
    pub backend: Backend,
    /// The database name (SQLite: the file's absolute path).
    pub database: Option<String>,
    pub path: PathBuf,
    pub format: BackupFormat,
    /// `PostgreSQL 15.20`, `MariaDB 10.11.19`, `SQLite 3.50.4`.
    pub server_version: Option<String>,
    /// `pg_dump`, `mariadb-dump`, `mysqldump`, or `sqlite backup API`.
    pub tool: String,
    pub tool_version: Option<String>,
    /// The version table's rows at backup time (empty: no version table).
    pub revisions: Vec<String>,
    pub version_table: String,
    pub version_table_schema: Option<String>,
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub size_bytes: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// How the file was verified (`PRAGMA integrity_check: ok`, `pg_restore --list: 12
    /// entries`, `completion trailer: -- Dump completed on …`).
    pub verification: String,
    /// A full restore into a scratch database succeeded.
    pub restore_tested: bool,
    /// UTC, `2026-11-24T19:47:03.512Z`.
    pub created_at: String,
    /// Milliseconds the backup took (copy, verification and, if asked, the restore test).
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub duration_ms: u64,
    /// Said when the backup was taken (its folder is readable by other users); not kept in
    /// the catalog.
    pub warnings: Vec<String>,
}

impl BackupRecord {
    /// The version table the backup's revisions were read from.
    pub fn version_table(&self) -> VersionTable {
        VersionTable {
            name: self.version_table.clone(),
            schema: self.version_table_schema.clone(),
        }
    }
}

/// What to back up, and where to.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// The folder the file goes to (created if missing); see [`default_backup_dir`].
    pub dir: PathBuf,
    /// The saved connection's name, when the URL came from one.
    pub connection_name: Option<String>,
    /// Where the revisions are read from.
    pub version_table: VersionTable,
    /// After verifying, restore the backup into a scratch database (PostgreSQL, MySQL: a new
    /// database on the same server, dropped afterwards; SQLite: a scratch file).
    pub verify_restore: bool,
    pub connect_timeout: Duration,
}

/// What a restore needs besides the backup and the target.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    pub connect_timeout: Duration,
}

/// Progress of a backup or a restore, as the CLI prints it and the UI shows it.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BackupProgress {
    /// The tool is chosen and the copy starts.
    Started {
        tool: String,
        path: PathBuf,
        /// The expected size (SQLite: exact; dumps: the data's size on the server).
        #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
        estimated_bytes: Option<u64>,
    },
    /// Part of the copy is done.
    Copying {
        #[cfg_attr(feature = "specta", specta(type = f64))]
        bytes_done: u64,
        #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
        bytes_total: Option<u64>,
        /// Tables (dumps) or pages (SQLite) done, and how many there are.
        #[cfg_attr(feature = "specta", specta(type = f64))]
        items_done: u64,
        #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
        items_total: Option<u64>,
        /// The table being dumped, where the tool says.
        item: Option<String>,
    },
    /// The copy is complete; it is being checked.
    Verifying { what: String },
    /// The backup is restored into a scratch database as a test.
    RestoreTesting { into: String },
    /// Restores: the backup is being written into the target.
    Restoring { target: String },
    Finished {
        #[cfg_attr(feature = "specta", specta(type = f64))]
        size_bytes: u64,
    },
}

/// What a restore did.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreReport {
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub backup_id: Option<i64>,
    /// The target, redacted.
    pub target: String,
    /// The target's version-table rows after the restore, sorted.
    pub revisions: Vec<String>,
    /// Objects the target had that the backup does not (created after the backup): dropped,
    /// so that the target is as the backup was.
    pub dropped_tables: Vec<String>,
    /// What the restored database was compared with, and found to match. A restore that
    /// does not match is [`BackupError::NotAsBackedUp`], never a report.
    pub verification: RestoreVerification,
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub duration_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("an in-memory SQLite database ({url}) cannot be backed up or restored")]
    InMemory { url: String },
    #[error("{0}")]
    ToolMissing(String),
    #[error("{tool} {tool_version} cannot dump this {product} {server_version} server: {advice}")]
    ToolTooOld {
        tool: String,
        tool_version: String,
        product: String,
        server_version: String,
        advice: String,
    },
    #[error(
        "not enough free space in {dir}: the backup needs about {needed} bytes, {available} are free"
    )]
    DiskSpace {
        dir: String,
        needed: u64,
        available: u64,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{tool} failed ({status}): {message}")]
    Tool {
        tool: String,
        status: String,
        message: String,
    },
    #[error("SQLite backup of {path}: {message}")]
    Sqlite { path: String, message: String },
    #[error("the backup {path} failed verification ({check}): {message}")]
    Verify {
        path: String,
        check: String,
        message: String,
    },
    #[error(
        "{path} is not the file that was backed up: its SHA-256 is {actual}, the catalog says {expected}"
    )]
    Checksum {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("backup {id}'s file {path} is missing")]
    FileMissing { id: String, path: String },
    #[error("a {backup} backup cannot be restored into a {target} database ({url})")]
    WrongBackend {
        backup: String,
        target: String,
        url: String,
    },
    #[error("{}", differences_text(.target, .differences))]
    NotAsBackedUp {
        /// Redacted.
        target: String,
        differences: Vec<RestoreDifference>,
        /// What was dropped as created after the backup.
        dropped: Vec<String>,
    },
    #[error("the restore test into a scratch database failed: {0}")]
    RestoreTest(String),
    #[error("cancelled; no backup was kept")]
    Cancelled,
}

/// At most this many differences are listed in an error's text.
const DIFFERENCES_SHOWN: usize = 40;

fn differences_text(target: &str, differences: &[RestoreDifference]) -> String {
    let mut text = format!(
        "the backup was restored into {target}, but the database does not match the backup \
         ({} difference{}):",
        differences.len(),
        if differences.len() == 1 { "" } else { "s" }
    );
    for d in differences.iter().take(DIFFERENCES_SHOWN) {
        text.push_str(&format!("\n  - {d}"));
    }
    if differences.len() > DIFFERENCES_SHOWN {
        text.push_str(&format!(
            "\n  … and {} more",
            differences.len() - DIFFERENCES_SHOWN
        ));
    }
    text
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> BackupError {
    BackupError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Where backups go by default: `backups/` beside Retort's store (`$RETORT_HOME/backups`).
pub fn default_backup_dir() -> Result<PathBuf, StoreError> {
    Ok(backup_dir_beside(&crate::store::default_path()?))
}

/// `backups/` beside the store file `store`.
pub fn backup_dir_beside(store: &Path) -> PathBuf {
    store
        .parent()
        .map(|p| p.join("backups"))
        .unwrap_or_else(|| PathBuf::from("backups"))
}

/// What retention groups backups by: the saved connection's name, else the redacted URL (for
/// SQLite the file's absolute path, so that the same file is one connection wherever the
/// project is opened from).
pub fn connection_key(url: &DatabaseUrl, connection_name: Option<&str>) -> String {
    if let Some(name) = connection_name {
        return name.to_string();
    }
    match (&url.backend, &url.sqlite_path) {
        (Backend::Sqlite, Some(path)) => format!("sqlite:///{}", absolute(path).display()),
        _ => url.redacted(),
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

/// The facts about the source a backup records, read before copying.
struct Source {
    server_version: Option<String>,
    product: Option<String>,
    revisions: Vec<String>,
    database: Option<String>,
}

async fn read_source(url: &DatabaseUrl, request: &BackupRequest) -> Result<Source, BackupError> {
    if url.backend == Backend::Sqlite
        && let Some(path) = &url.sqlite_path
        && !path.exists()
    {
        return Err(io_error(path, "no such database file"));
    }
    let mut db = Database::connect(url, request.connect_timeout).await?;
    let info = check::server_info(&mut db)
        .await
        .map_err(|e| DatabaseError::Query {
            url: url.redacted(),
            message: url.scrub(&e.to_string()),
        })?;
    let revisions = db
        .version_heads(&request.version_table)
        .await?
        .unwrap_or_default();
    let database = match url.backend {
        Backend::Sqlite => url
            .sqlite_path
            .as_ref()
            .map(|p| absolute(p).display().to_string()),
        _ => info.database.clone().or_else(|| url.database.clone()),
    };
    Ok(Source {
        server_version: info
            .version
            .as_ref()
            .map(|v| format!("{} {v}", info.product)),
        product: Some(info.product),
        revisions,
        database,
    })
}

/// The dump tool for a PostgreSQL or MySQL server, refused when missing or too old.
async fn chosen_tool(
    url: &DatabaseUrl,
    source: &Source,
    timeout: Duration,
) -> Result<DumpToolCheck, BackupError> {
    let version = source
        .server_version
        .as_deref()
        .and_then(|v| v.split_whitespace().nth(1));
    let tool = check::dump_tool(url.backend, version, source.product.as_deref(), timeout).await;
    if !tool.found {
        return Err(BackupError::ToolMissing(tool.detail));
    }
    let too_old = match url.backend {
        Backend::Postgres => tool.compatible == Some(false),
        // mysqldump refuses (or silently mangles) a newer MySQL server's dictionary; MariaDB's
        // tools dump any MariaDB server.
        _ => {
            source.product.as_deref() == Some("MySQL")
                && tool.name == "mysqldump"
                && match (
                    tool.version.as_deref().and_then(check::parse_version),
                    version.and_then(check::parse_version),
                ) {
                    (Some(t), Some(s)) => t.iter().take(2).lt(s.iter().take(2)),
                    _ => false,
                }
        }
    };
    if too_old {
        return Err(BackupError::ToolTooOld {
            tool: tool.name.clone(),
            tool_version: tool.version.clone().unwrap_or_default(),
            product: source.product.clone().unwrap_or_default(),
            server_version: version.unwrap_or("?").to_string(),
            advice: tool.detail.clone(),
        });
    }
    Ok(tool)
}

/// The first runnable `name` on this process's `PATH` (the core's one `PATH` search).
fn on_process_path(name: &str) -> Option<PathBuf> {
    crate::project::python::on_path(name.as_ref(), std::env::var_os("PATH").as_deref())
}

/// The first program `name` on `PATH`.
fn tool_on_path(name: &str) -> Result<PathBuf, BackupError> {
    on_process_path(name).ok_or_else(|| {
        BackupError::ToolMissing(format!(
            "{name} not found: install the {} client",
            if name.starts_with("pg_") || name == "psql" {
                "PostgreSQL"
            } else {
                "MariaDB or MySQL"
            }
        ))
    })
}

/// The program `name` beside the chosen dump tool (`pg_restore` beside `pg_dump`, `mariadb`
/// beside `mariadb-dump`), else the first on `PATH`.
fn sibling_tool(tool: &DumpToolCheck, name: &str) -> Result<PathBuf, BackupError> {
    if let Some(dir) = tool.path.as_deref().and_then(|p| Path::new(p).parent()) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    on_process_path(name).ok_or_else(|| {
        BackupError::ToolMissing(format!(
            "{name} not found (needed beside {}): install the {} client",
            tool.name,
            if name.starts_with("pg_") {
                "PostgreSQL"
            } else {
                "MariaDB or MySQL"
            }
        ))
    })
}

/// Backs up the database at `url` (its password, if any, travels inside the URL's
/// [`Secret`](crate::database::Secret)) into `request.dir`, verifies it, and returns the
/// record for the catalog. Nothing complete-looking is left behind on failure or cancel.
pub async fn create_backup(
    url: &DatabaseUrl,
    request: &BackupRequest,
    progress: &mut (dyn FnMut(BackupProgress) + Send),
    cancel: &CancelToken,
) -> Result<BackupRecord, BackupError> {
    let started = Instant::now();
    if url.backend == Backend::Sqlite && url.sqlite_path.is_none() {
        return Err(BackupError::InMemory {
            url: url.redacted(),
        });
    }
    crate::private::create_dir_all(&request.dir).map_err(|e| io_error(&request.dir, e))?;
    fsutil::remove_leftover_partials(&request.dir);
    let source = read_source(url, request).await?;
    let format = match url.backend {
        Backend::Sqlite => BackupFormat::SqliteDatabase,
        Backend::Postgres => BackupFormat::PgCustom,
        Backend::MySql => BackupFormat::SqlDump,
    };
    let tool = match url.backend {
        Backend::Sqlite => None,
        _ => Some(chosen_tool(url, &source, request.connect_timeout).await?),
    };
    let estimate = estimated_size(url, request.connect_timeout).await?;
    fsutil::check_free_space(&request.dir, estimate)?;

    let created = fsutil::now();
    let stem = request
        .connection_name
        .clone()
        .or_else(|| match url.backend {
            Backend::Sqlite => url
                .sqlite_path
                .as_ref()
                .and_then(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned()),
            _ => source.database.clone(),
        })
        .unwrap_or_else(|| "database".into());
    let final_path = request.dir.join(format!(
        "{}-{}.{}",
        fsutil::safe_name(&stem),
        created.compact,
        format.extension()
    ));
    let partial = fsutil::Partial::create(&final_path)?;
    let tool_name = tool
        .as_ref()
        .map_or_else(|| "sqlite backup API".to_string(), |t| t.name.clone());
    progress(BackupProgress::Started {
        tool: tool_name.clone(),
        path: final_path.clone(),
        estimated_bytes: estimate,
    });

    let copied = match (url.backend, &tool) {
        (Backend::Sqlite, _) => {
            sqlite::backup(
                url.sqlite_path.as_deref().expect("a file"),
                partial.path(),
                progress,
                cancel,
            )
            .await?
        }
        (Backend::Postgres, Some(tool)) => {
            postgres::dump(url, tool, partial.path(), estimate, progress, cancel).await?
        }
        (Backend::MySql, Some(tool)) => {
            mysql::dump(url, tool, partial.path(), estimate, progress, cancel).await?
        }
        _ => unreachable!("a dump tool was chosen"),
    };
    fsutil::sync_file(partial.path())?;

    progress(BackupProgress::Verifying {
        what: verification_name(format).into(),
    });
    // The checksum is computed while the file is verified (both read it; two cores).
    let summing = copied.sha256.is_none().then(|| {
        let path = partial.path().to_path_buf();
        tokio::task::spawn_blocking(move || fsutil::sha256_file(&path))
    });
    let verification = verify_file(format, partial.path(), tool.as_ref()).await;
    let sha256 = match (summing, copied.sha256) {
        (Some(task), _) => task.await.map_err(|e| BackupError::Io {
            path: partial.path().display().to_string(),
            message: format!("the checksum stopped: {e}"),
        })?,
        (None, sum) => Ok(sum.unwrap_or_default()),
    };
    let verification = verification?;
    let sha256 = sha256?;
    let size_bytes = std::fs::metadata(partial.path())
        .map_err(|e| io_error(partial.path(), e))?
        .len();

    let mut record = BackupRecord {
        id: None,
        connection: connection_key(url, request.connection_name.as_deref()),
        connection_name: request.connection_name.clone(),
        url: url.redacted(),
        backend: url.backend,
        database: source.database.clone(),
        path: final_path.clone(),
        format,
        server_version: source.server_version.clone(),
        tool: tool_name,
        tool_version: tool
            .as_ref()
            .and_then(|t| t.version.clone())
            .or_else(|| Some(rusqlite::version().to_string())),
        revisions: source.revisions.clone(),
        version_table: request.version_table.name.clone(),
        version_table_schema: request.version_table.schema.clone(),
        size_bytes,
        sha256,
        verification,
        restore_tested: false,
        created_at: created.rfc3339,
        duration_ms: 0,
        warnings: crate::private::shared_folder_warning(&request.dir)
            .into_iter()
            .collect(),
    };
    if request.verify_restore {
        restore_test(
            url,
            &record,
            partial.path(),
            tool.as_ref(),
            request,
            progress,
        )
        .await?;
        record.restore_tested = true;
    }
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    partial.commit()?;
    record.duration_ms = started.elapsed().as_millis() as u64;
    progress(BackupProgress::Finished { size_bytes });
    Ok(record)
}

fn verification_name(format: BackupFormat) -> &'static str {
    match format {
        BackupFormat::SqliteDatabase => "PRAGMA integrity_check",
        BackupFormat::PgCustom => "pg_restore --list",
        BackupFormat::SqlDump => "completion trailer",
    }
}

/// What [`create_backup`]'s copy step hands back.
#[derive(Debug)]
struct Copied {
    /// Computed while writing, where the bytes passed through Retort.
    sha256: Option<String>,
}

/// About how many bytes the backup will take, to check the free space first.
async fn estimated_size(url: &DatabaseUrl, timeout: Duration) -> Result<Option<u64>, BackupError> {
    let sql = match url.backend {
        Backend::Sqlite => {
            return Ok(url
                .sqlite_path
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len()));
        }
        // The tables' data (heap and TOAST, not indexes): what a dump writes, before
        // compression.
        Backend::Postgres => {
            "SELECT CAST(COALESCE(SUM(pg_table_size(c.oid)), 0) AS TEXT) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%'"
        }
        Backend::MySql => {
            "SELECT CAST(COALESCE(SUM(data_length), 0) AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE()"
        }
    };
    let mut db = Database::connect(url, timeout).await?;
    let rows = db.query_column(sql).await?;
    Ok(rows.first().and_then(|v| v.parse().ok()))
}

/// Checks a backup file: the way its format allows.
async fn verify_file(
    format: BackupFormat,
    path: &Path,
    tool: Option<&DumpToolCheck>,
) -> Result<String, BackupError> {
    match format {
        BackupFormat::SqliteDatabase => sqlite::verify(path).await,
        BackupFormat::PgCustom => {
            let pg_restore = match tool {
                Some(t) => sibling_tool(t, "pg_restore")?,
                None => postgres::pg_restore_on_path()?,
            };
            postgres::verify(&pg_restore, path).await
        }
        BackupFormat::SqlDump => mysql::verify(path),
    }
}

/// Verifies a catalogued backup again: its checksum, then the format's own check.
pub async fn verify_backup(record: &BackupRecord) -> Result<String, BackupError> {
    check_file(record)?;
    let tool = match record.backend {
        Backend::Postgres => Some(local_tool(Backend::Postgres).await?),
        _ => None,
    };
    verify_file(record.format, &record.path, tool.as_ref()).await
}

fn check_file(record: &BackupRecord) -> Result<(), BackupError> {
    if !record.path.is_file() {
        return Err(BackupError::FileMissing {
            id: record.id.map_or_else(|| "?".into(), |i| i.to_string()),
            path: record.path.display().to_string(),
        });
    }
    let actual = fsutil::sha256_file(&record.path)?;
    if actual != record.sha256 {
        return Err(BackupError::Checksum {
            path: record.path.display().to_string(),
            expected: record.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// The dump tool found on this machine, without asking a server (for verifying).
async fn local_tool(backend: Backend) -> Result<DumpToolCheck, BackupError> {
    let tool = check::dump_tool(backend, None, None, Duration::from_secs(5)).await;
    if !tool.found {
        return Err(BackupError::ToolMissing(tool.detail));
    }
    Ok(tool)
}

/// A scratch database on the source's server (or a scratch file for SQLite) that the backup
/// is restored into, then dropped.
async fn restore_test(
    url: &DatabaseUrl,
    record: &BackupRecord,
    file: &Path,
    tool: Option<&DumpToolCheck>,
    request: &BackupRequest,
    progress: &mut (dyn FnMut(BackupProgress) + Send),
) -> Result<(), BackupError> {
    let scratch_name = format!(
        "retort_restore_test_{}_{}",
        std::process::id(),
        fsutil::now()
            .compact
            .to_ascii_lowercase()
            .replace(['.', '-'], "")
    );
    match url.backend {
        Backend::Sqlite => {
            let scratch = request
                .dir
                .join(format!("{scratch_name}.{}.partial", std::process::id()));
            progress(BackupProgress::RestoreTesting {
                into: scratch.display().to_string(),
            });
            let result = async {
                sqlite::restore_test(file, &scratch).await?;
                let expected = sqlite::inventory(file, &record.version_table).await?;
                let actual = sqlite::inventory(&scratch, &record.version_table).await?;
                matches(
                    &expected,
                    &actual,
                    &scratch.display().to_string(),
                    Vec::new(),
                )
            }
            .await;
            for suffix in ["", "-journal", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
            }
            result
                .map(drop)
                .map_err(|e| BackupError::RestoreTest(e.to_string()))
        }
        _ => {
            let tool = tool.expect("a dump tool");
            let mut admin = Database::connect(url, request.connect_timeout).await?;
            let mut scratch = url.clone();
            scratch.database = Some(scratch_name.clone());
            progress(BackupProgress::RestoreTesting {
                into: scratch.redacted(),
            });
            admin
                .execute(&format!("CREATE DATABASE {scratch_name}"))
                .await
                .map_err(|f| {
                    BackupError::RestoreTest(format!(
                        "cannot create the scratch database {scratch_name}: {f}"
                    ))
                })?;
            let result =
                restore_into_server(record, file, &scratch, tool, false, request.connect_timeout)
                    .await
                    .map(drop);
            let drop_sql = match url.backend {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS {scratch_name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {scratch_name}"),
            };
            let dropped = admin.execute(&drop_sql).await;
            result.map_err(|e| BackupError::RestoreTest(e.to_string()))?;
            dropped.map_err(|f| {
                BackupError::RestoreTest(format!(
                    "the restore worked, but the scratch database {scratch_name} could not be dropped: {f}"
                ))
            })?;
            Ok(())
        }
    }
}

/// Restores `record` into `target` (same or another database of the same kind): checks the
/// file's SHA-256 first, then replaces the target's contents. Tables the target has that the
/// backup does not are dropped, so that the target is as the backup was. Returns the
/// target's version-table rows afterwards.
pub async fn restore_backup(
    record: &BackupRecord,
    target: &DatabaseUrl,
    request: &RestoreRequest,
    progress: &mut (dyn FnMut(BackupProgress) + Send),
) -> Result<RestoreReport, BackupError> {
    let started = Instant::now();
    if record.backend != target.backend {
        return Err(BackupError::WrongBackend {
            backup: format!("{:?}", record.backend).to_lowercase(),
            target: format!("{:?}", target.backend).to_lowercase(),
            url: target.redacted(),
        });
    }
    if target.backend == Backend::Sqlite && target.sqlite_path.is_none() {
        return Err(BackupError::InMemory {
            url: target.redacted(),
        });
    }
    progress(BackupProgress::Verifying {
        what: "SHA-256".into(),
    });
    check_file(record)?;
    progress(BackupProgress::Restoring {
        target: target.redacted(),
    });
    let (dropped_tables, verification) = match target.backend {
        Backend::Sqlite => {
            let file = target.sqlite_path.as_deref().expect("a file");
            let expected = sqlite::inventory(&record.path, &record.version_table).await?;
            sqlite::restore(&record.path, file, progress).await?;
            let actual = sqlite::inventory(file, &record.version_table).await?;
            let verification = matches(&expected, &actual, &target.redacted(), Vec::new())?;
            (Vec::new(), verification)
        }
        _ => {
            let tool = local_tool(target.backend).await?;
            restore_into_server(
                record,
                &record.path,
                target,
                &tool,
                true,
                request.connect_timeout,
            )
            .await?
        }
    };
    Ok(RestoreReport {
        backup_id: record.id,
        target: target.redacted(),
        revisions: verification.revisions.clone(),
        dropped_tables,
        verification,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// Restores a dump into a PostgreSQL or MySQL database (with `drop_extra`, dropping what
/// the dump does not have), then compares what the database holds with what the dump holds.
async fn restore_into_server(
    record: &BackupRecord,
    file: &Path,
    target: &DatabaseUrl,
    tool: &DumpToolCheck,
    drop_extra: bool,
    timeout: Duration,
) -> Result<(Vec<String>, RestoreVerification), BackupError> {
    let (dropped, expected, actual) = match target.backend {
        Backend::Postgres => {
            let pg_restore = sibling_tool(tool, "pg_restore")?;
            let (expected, version_table) =
                postgres::archive_inventory(&pg_restore, file, &record.version_table()).await?;
            let dropped = postgres::restore_into(
                target,
                &pg_restore,
                file,
                drop_extra.then_some(&version_table),
            )
            .await?;
            let actual = postgres::database_inventory(target, &version_table, timeout).await?;
            (dropped, expected, actual)
        }
        _ => {
            let (dropped, expected) = mysql::restore_into(
                target,
                &mysql::client_for(tool)?,
                file,
                &record.version_table,
                drop_extra,
            )
            .await?;
            let actual =
                mysql::database_inventory(target, &record.version_table(), timeout).await?;
            (dropped, expected, actual)
        }
    };
    let verification = matches(&expected, &actual, &target.redacted(), dropped.clone())?;
    Ok((dropped, verification))
}

/// The comparison's verdict: what matched, or every difference as an error.
fn matches(
    expected: &Inventory,
    actual: &Inventory,
    target: &str,
    dropped: Vec<String>,
) -> Result<RestoreVerification, BackupError> {
    let differences = inventory::compare(expected, actual);
    if !differences.is_empty() {
        return Err(BackupError::NotAsBackedUp {
            target: target.to_string(),
            differences,
            dropped,
        });
    }
    Ok(inventory::verified(expected))
}

/// A tool's stderr, trimmed to its last lines and scrubbed of the password.
fn tool_message(url: &DatabaseUrl, stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(8)..];
    url.scrub(&tail.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        for f in [
            BackupFormat::SqliteDatabase,
            BackupFormat::PgCustom,
            BackupFormat::SqlDump,
        ] {
            assert_eq!(BackupFormat::parse(f.as_str()), Some(f));
        }
        assert_eq!(BackupFormat::parse("zip"), None);
    }

    #[test]
    fn connection_keys() {
        let url = DatabaseUrl::parse("postgresql://u:sekret@h/db", Path::new("/")).unwrap();
        assert_eq!(connection_key(&url, None), "postgresql://u:***@h/db");
        assert_eq!(connection_key(&url, Some("prod")), "prod");
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::parse("sqlite:///x.db", dir.path()).unwrap();
        let key = connection_key(&url, None);
        assert!(
            key.starts_with("sqlite:////") && key.ends_with("/x.db"),
            "{key}"
        );
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A restore is compared with the backup: it reports what it verified, and a database
    /// that does not hold what the backup holds is named object by object (with the check
    /// turned off, both halves fail).
    #[test]
    fn a_restore_is_verified_and_a_difference_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("app.db");
        let sql = |s: &str| {
            rusqlite::Connection::open(&db)
                .unwrap()
                .execute_batch(s)
                .unwrap()
        };
        sql(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
             INSERT INTO alembic_version VALUES ('r1');
             CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);
             CREATE VIEW v AS SELECT x FROM t;",
        );
        let later = "DROP VIEW v; DELETE FROM t WHERE x = 2; CREATE TABLE later (y);
                     UPDATE alembic_version SET version_num = 'r2';
                     DROP TABLE t; CREATE TABLE t (x, z); INSERT INTO t VALUES (1, 1);";
        let url =
            DatabaseUrl::parse(&format!("sqlite:///{}", db.display()), Path::new("/")).unwrap();
        let version_table = VersionTable {
            name: "alembic_version".into(),
            schema: None,
        };
        rt().block_on(async {
            let request = BackupRequest {
                dir: dir.path().join("bk"),
                connection_name: None,
                version_table: version_table.clone(),
                verify_restore: true,
                connect_timeout: Duration::from_secs(10),
            };
            let record = create_backup(&url, &request, &mut |_| {}, &CancelToken::default())
                .await
                .unwrap();
            sql(later);
            let restore = RestoreRequest {
                connect_timeout: Duration::from_secs(10),
            };
            let report = restore_backup(&record, &url, &restore, &mut |_| {})
                .await
                .unwrap();
            assert_eq!(
                report.verification.to_string(),
                "3 objects, the row counts of 2 tables and the version rows (r1) match the \
                 backup (the SQLite copy's catalog)"
            );

            // The same database, changed again, against the backup.
            sql(later);
            let expected = sqlite::inventory(&record.path, &version_table.name)
                .await
                .unwrap();
            let actual = sqlite::inventory(&db, &version_table.name).await.unwrap();
            let err = matches(&expected, &actual, "sqlite:///app.db", Vec::new()).unwrap_err();
            assert!(matches!(err, BackupError::NotAsBackedUp { .. }));
            let text = err.to_string();
            assert_eq!(
                text,
                "the backup was restored into sqlite:///app.db, but the database does not match \
                 the backup (5 differences):\n  \
                 - table t: defined differently from the backup\n  \
                 - view v: in the backup, missing\n  \
                 - table later: not in the backup\n  \
                 - table t: 1 rows, the backup has 2\n  \
                 - version rows: r2, the backup has r1"
            );
        });
    }

    #[test]
    fn tool_messages_are_scrubbed_and_short() {
        let url = DatabaseUrl::parse("postgresql://u:sekret@h/db", Path::new("/")).unwrap();
        let stderr = (0..20)
            .map(|i| format!("line {i} sekret"))
            .collect::<Vec<_>>()
            .join("\n");
        let m = tool_message(&url, &stderr);
        assert!(
            !m.contains("sekret") && m.contains("line 19") && !m.contains("line 11"),
            "{m}"
        );
    }
}
