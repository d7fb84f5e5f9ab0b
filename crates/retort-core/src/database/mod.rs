//! Talking to the databases a project migrates: URLs, connections, and the version table.

//!
//! Each engine has a file of its own (`sqlite.rs`, `postgres.rs`, `mysql.rs`) implementing
//! [`engine::Engine`]; the modules beside them hold what every engine shares.

/// Runs `$body` with `$c` bound to the open connection of whichever engine it is.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::database::Conn::Sqlite($c) => $body,
            $crate::database::Conn::Postgres($c) => $body,
            $crate::database::Conn::MySql($c) => $body,
        }
    };
}

/// Evaluates `$body` with `$E` naming the engine of `$backend` (its associated SQL).
macro_rules! for_backend {
    ($backend:expr, $E:ident => $body:expr) => {
        match $backend {
            $crate::database::Backend::Sqlite => {
                type $E = $crate::database::sqlite::Sqlite;
                $body
            }
            $crate::database::Backend::Postgres => {
                type $E = $crate::database::postgres::Postgres;
                $body
            }
            $crate::database::Backend::MySql => {
                type $E = $crate::database::mysql::MySql;
                $body
            }
        }
    };
}

pub mod check;
mod engine;
pub mod lock;
mod mysql;
mod postgres;
pub mod schema;
pub mod scratch;
mod sqlite;
pub mod url;
pub mod version_rows;

pub use lock::{LockHolder, MigrationLock};
pub use sqlite::SqliteBatches;
pub use url::{Backend, DatabaseUrl, Refresh, Secret, Via};

use crate::project::Project;
use engine::{ConnectError, Engine};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;
use version_rows::RowChange;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("{0}")]
    InvalidUrl(String),
    #[error(
        "no database URL: pass --url, set sqlalchemy.url (alembic.ini) or url (retort.toml), or set DATABASE_URL"
    )]
    NoUrl,
    #[error("could not connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("timed out after {seconds} s connecting to {url}")]
    Timeout { url: String, seconds: u64 },
    #[error("{url}: {message}")]
    Query { url: String, message: String },
    #[error("Online migration expected to match one row when {action} in '{table}'; {found} found")]
    VersionRowMismatch {
        action: String,
        table: String,
        found: u64,
    },
    #[error("{0}")]
    Lock(String),
    /// A password from a command could not be fetched (the command's words, never its output).
    #[error("{0}")]
    Password(String),
}

/// A statement the database refused, with the driver's words (password scrubbed).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlFailure {
    pub message: String,
    /// SQLSTATE or the server's error code, where the driver gives one.
    pub code: Option<String>,
    /// PostgreSQL: 1-based character offset of the error inside the statement.
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub position: Option<usize>,
}

impl std::fmt::Display for SqlFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} ({code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Where the version table lives (`alembic_version` unless configured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionTable {
    pub name: String,
    pub schema: Option<String>,
}

impl VersionTable {
    pub fn of(project: &Project) -> Self {
        Self {
            name: project.settings.version_table.clone(),
            schema: project.settings.version_table_schema.clone(),
        }
    }

    /// The table's name as SQL, schema-qualified and quoted where the name needs it.
    pub fn sql_name(&self, backend: Backend) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", ident(s, backend), ident(&self.name, backend)),
            None => ident(&self.name, backend),
        }
    }

    /// Alembic's DDL for the table, so that alembic and Retort can take turns on one database.
    pub fn create_sql(&self, backend: Backend) -> String {
        format!(
            "CREATE TABLE {} (version_num VARCHAR(32) NOT NULL, CONSTRAINT {} PRIMARY KEY (version_num))",
            self.sql_name(backend),
            ident(&format!("{}_pkc", self.name), backend)
        )
    }

    /// One version-table change as a literal statement (offline `--sql` and `--plan`).
    pub fn change_sql(&self, backend: Backend, change: &RowChange) -> String {
        let table = self.sql_name(backend);
        match change {
            RowChange::Insert { version } => format!(
                "INSERT INTO {table} (version_num) VALUES ({})",
                literal(version, backend)
            ),
            RowChange::Delete { version } => format!(
                "DELETE FROM {table} WHERE {table}.version_num = {}",
                literal(version, backend)
            ),
            RowChange::Update { from, to } => format!(
                "UPDATE {table} SET version_num={} WHERE {table}.version_num = {}",
                literal(to, backend),
                literal(from, backend)
            ),
        }
    }

    /// [`Self::change_sql`] for a SQLite batch that ends in `COMMIT`: an `UPDATE` or `DELETE`
    /// is followed by a guard that fails the batch unless it changed exactly one row, the
    /// check [`Database::apply_row_change`] makes after the fact. SQLite has no `RAISE` outside
    /// triggers; `abs()` of the smallest integer ("integer overflow") is the one runtime error
    /// an expression raises on demand. It is written as arithmetic because newer SQLite reads
    /// a literal `-9223372036854775808` as a real, and `changes()` is read when the guard runs.
    pub fn sqlite_checked_change_sql(&self, change: &RowChange) -> String {
        let sql = self.change_sql(Backend::Sqlite, change);
        match change {
            RowChange::Insert { .. } => sql,
            _ => format!("{sql};\nSELECT abs(-9223372036854775807 - (changes() <> 1))"),
        }
    }

    /// The name the lock for migrations of this table goes by.
    pub fn lock_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("retort:{s}.{}", self.name),
            None => format!("retort:{}", self.name),
        }
    }
}

/// An identifier as SQL: bare when it is a plain lower-case name, quoted otherwise.
fn ident(name: &str, backend: Backend) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        return name.to_string();
    }
    for_backend!(backend, E => E::quote(name))
}

/// An identifier as SQL, always quoted (generated DDL: a table called `order` must work).
pub(crate) fn quoted(name: &str, backend: Backend) -> String {
    for_backend!(backend, E => E::quote(name))
}

fn literal(value: &str, backend: Backend) -> String {
    format!("'{}'", for_backend!(backend, E => E::escape(value)))
}

/// Where a database URL came from, named in the errors about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// `--url` (the caller's own choice of URL).
    Flag,
    /// The project's configuration: `key` (`sqlalchemy.url`, `url`) in `path`, at `line`.
    Project {
        path: std::path::PathBuf,
        line: Option<usize>,
        key: &'static str,
    },
    /// The `DATABASE_URL` environment variable.
    Environment,
}

impl std::fmt::Display for UrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flag => f.write_str("the URL given with --url"),
            Self::Project { path, line, key } => {
                write!(f, "{}", path.display())?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                write!(f, ": {key}")
            }
            Self::Environment => f.write_str("the URL in the environment variable DATABASE_URL"),
        }
    }
}

/// Picks the URL as the CLI documents: `--url`, then the project's, then `DATABASE_URL`. A
/// URL that cannot be read is an error naming where it came from.
pub fn resolve_url(
    explicit: Option<&str>,
    project: &Project,
) -> Result<DatabaseUrl, DatabaseError> {
    let env = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let (text, source) = if let Some(text) = explicit {
        (text.to_string(), UrlSource::Flag)
    } else if let Some(text) = &project.settings.url {
        let key = match project.kind {
            crate::project::ProjectKind::Alembic => "sqlalchemy.url",
            crate::project::ProjectKind::Native => "url",
        };
        let source = UrlSource::Project {
            path: project.config_path.clone(),
            line: project.settings.url_line,
            key,
        };
        (text.clone(), source)
    } else if let Some(text) = env {
        (text, UrlSource::Environment)
    } else {
        return Err(DatabaseError::NoUrl);
    };
    let base = project.config_path.parent().unwrap_or(Path::new("."));
    DatabaseUrl::parse(&text, base).map_err(|error| match error {
        DatabaseError::InvalidUrl(message) => {
            DatabaseError::InvalidUrl(format!("{source}: {message}"))
        }
        other => other,
    })
}

/// A driver's error as people read it. A PostgreSQL error keeps its message, DETAIL, HINT,
/// SQLSTATE and position in the statement, but not the server's own source line, which sqlx's
/// `Display` appends ("… at line 768") and which reads like a line of the user's file.
pub(crate) fn error_text(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => {
            let mut text = db.message().to_string();
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                text.push_str(&postgres::error_extras(pg));
                if let Some(sqlx::postgres::PgErrorPosition::Original(at)) = pg.position() {
                    text.push_str(&format!(" (at character {at} of the statement)"));
                }
            }
            if let Some(code) = db.code() {
                text.push_str(&format!(" ({code})"));
            }
            text
        }
        other => other.to_string(),
    }
}

/// A statement the database at `url` refused, as a [`SqlFailure`] (password scrubbed).
fn sql_failure(url: &DatabaseUrl, e: sqlx::Error) -> SqlFailure {
    match &e {
        sqlx::Error::Database(db) => {
            let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
            let position = pg.and_then(|pg| match pg.position() {
                Some(sqlx::postgres::PgErrorPosition::Original(p)) => Some(p),
                _ => None,
            });
            let extras = pg.map(postgres::error_extras).unwrap_or_default();
            SqlFailure {
                message: url.scrub(&format!("{}{extras}", db.message())),
                code: db.code().map(|c| c.into_owned()),
                position,
            }
        }
        other => SqlFailure {
            message: url.scrub(&other.to_string()),
            code: None,
            position: None,
        },
    }
}

/// A query of Retort's own that failed on the database at `url`.
fn query_error(url: &DatabaseUrl, e: sqlx::Error) -> DatabaseError {
    DatabaseError::Query {
        url: url.redacted(),
        message: url.scrub(&error_text(&e)),
    }
}

/// Connects and reads the version table's rows: empty when there is no table yet.
pub async fn read_version_rows(
    url: &DatabaseUrl,
    table: &VersionTable,
    timeout: Duration,
) -> Result<Vec<String>, DatabaseError> {
    Ok(read_version_rows_or_none(url, table, timeout)
        .await?
        .unwrap_or_default())
}

/// The version table's rows, or `None` when the database has no version table yet.
pub async fn read_version_rows_or_none(
    url: &DatabaseUrl,
    table: &VersionTable,
    timeout: Duration,
) -> Result<Option<Vec<String>>, DatabaseError> {
    let mut db = Database::connect(url, timeout).await?;
    db.version_heads(table).await
}

/// An open connection, of one of the engines.
enum Conn {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
    MySql(mysql::MySql),
}

impl Conn {
    /// Connects to `url` with its engine (see [`Engine::connect`]).
    async fn open(
        url: &DatabaseUrl,
        timeout: Duration,
        create: bool,
    ) -> Result<Self, ConnectError> {
        Ok(match url.backend {
            Backend::Sqlite => Self::Sqlite(sqlite::Sqlite::connect(url, timeout, create).await?),
            Backend::Postgres => {
                Self::Postgres(postgres::Postgres::connect(url, timeout, create).await?)
            }
            Backend::MySql => Self::MySql(mysql::MySql::connect(url, timeout, create).await?),
        })
    }
}

/// Runs blocking work (a call into SQLite) on the current thread; on a multi-thread runtime
/// the other tasks move to another worker meanwhile, so a long statement holds none of them up.
pub(crate) fn on_this_thread<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// A connection error through an SSH tunnel, with what the tunnel saw (the bastion refused the
/// forward, the tunnel is gone).
pub fn through_the_tunnel(url: &DatabaseUrl, message: String) -> String {
    match &url.via {
        Some(via) => match via.diagnosis() {
            Some(why) => format!("{message} (through {}: {why})", via.route),
            None => format!("{message} (through {})", via.route),
        },
        None => message,
    }
}

/// One open connection to a project's database.
pub struct Database {
    url: DatabaseUrl,
    conn: Conn,
}

impl Database {
    /// Connects for reading: a SQLite file that does not exist is not created.
    pub async fn connect(url: &DatabaseUrl, timeout: Duration) -> Result<Self, DatabaseError> {
        Self::connect_with(url, timeout, false).await
    }

    /// Connects for migrating: a missing SQLite file is created, as SQLAlchemy does.
    pub async fn open(url: &DatabaseUrl, timeout: Duration) -> Result<Self, DatabaseError> {
        Self::connect_with(url, timeout, true).await
    }

    async fn connect_with(
        url: &DatabaseUrl,
        timeout: Duration,
        create: bool,
    ) -> Result<Self, DatabaseError> {
        let conn = tokio::time::timeout(timeout, Conn::open(url, timeout, create))
            .await
            .map_err(|_| DatabaseError::Timeout {
                url: url.redacted(),
                seconds: timeout.as_secs(),
            })?
            .map_err(|e| match e {
                ConnectError::Url(e) => e,
                ConnectError::Driver(e) => DatabaseError::Connect {
                    url: url.redacted(),
                    message: through_the_tunnel(url, url.scrub(&error_text(&e))),
                },
            })?;
        Ok(Self {
            url: url.clone(),
            conn,
        })
    }

    pub fn backend(&self) -> Backend {
        self.url.backend
    }

    /// Runs SQL text as written (one or more statements, no parameters); returns the rows
    /// it affected.
    pub async fn execute(&mut self, sql: &str) -> Result<u64, SqlFailure> {
        let result = on_conn!(&mut self.conn, c => c.execute(sql).await);
        result.map_err(|e| sql_failure(&self.url, e))
    }

    /// Runs `sql` (statements separated by `;`) with one call into SQLite on this thread (see
    /// [`SqliteBatches`]). Other backends: [`Self::execute`].
    pub async fn execute_batch(&mut self, sql: &str) -> Result<(), SqlFailure> {
        if !matches!(self.conn, Conn::Sqlite(_)) {
            return self.execute(sql).await.map(drop);
        }
        match self.sqlite_batches().await {
            Some(Ok(mut batches)) => batches.run(sql),
            Some(Err(failure)) => Err(failure),
            None => Ok(()),
        }
    }

    /// A SQLite connection's handle, held on this thread for as many batches as the caller
    /// runs (`None` for other backends and for a file that does not exist yet).
    pub async fn sqlite_batches(&mut self) -> Option<Result<SqliteBatches<'_>, SqlFailure>> {
        let Conn::Sqlite(c) = &mut self.conn else {
            return None;
        };
        c.batches(&self.url).await
    }

    /// Starts a transaction. SQLite takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// that a second writer waits for the busy timeout instead of failing half-way.
    pub async fn begin(&mut self) -> Result<(), DatabaseError> {
        self.run(for_backend!(self.backend(), E => E::BEGIN)).await
    }

    pub async fn commit(&mut self) -> Result<(), DatabaseError> {
        self.run("COMMIT").await
    }

    pub async fn rollback(&mut self) -> Result<(), DatabaseError> {
        self.run("ROLLBACK").await
    }

    async fn run(&mut self, sql: &str) -> Result<(), DatabaseError> {
        self.execute(sql)
            .await
            .map(drop)
            .map_err(|f| self.refused(f))
    }

    /// Creates the version table when it is missing; tells whether it did.
    pub async fn ensure_version_table(
        &mut self,
        table: &VersionTable,
    ) -> Result<bool, DatabaseError> {
        if self.table_exists(table).await? {
            return Ok(false);
        }
        self.run(&table.create_sql(self.backend())).await?;
        Ok(true)
    }

    /// Deletes every row of the version table (`stamp --purge`).
    pub async fn purge_version_rows(&mut self, table: &VersionTable) -> Result<(), DatabaseError> {
        self.run(&format!("DELETE FROM {}", table.sql_name(self.backend())))
            .await
    }

    /// Applies one version-table change, checking as Alembic does that an UPDATE or DELETE
    /// matched exactly one row.
    pub async fn apply_row_change(
        &mut self,
        table: &VersionTable,
        change: &RowChange,
    ) -> Result<(), DatabaseError> {
        let backend = self.backend();
        let affected = self
            .execute(&table.change_sql(backend, change))
            .await
            .map_err(|f| self.refused(f))?;
        let action = match change {
            RowChange::Insert { .. } => return Ok(()),
            RowChange::Delete { version } => format!("deleting '{version}'"),
            RowChange::Update { from, to } => format!("updating '{from}' to '{to}'"),
        };
        if affected != 1 {
            return Err(DatabaseError::VersionRowMismatch {
                action,
                table: table.name.clone(),
                found: affected,
            });
        }
        Ok(())
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// A statement of Retort's own the database refused (its message is already scrubbed).
    fn refused(&self, failure: SqlFailure) -> DatabaseError {
        DatabaseError::Query {
            url: self.url.redacted(),
            message: failure.to_string(),
        }
    }

    /// The rows of the version table, or `None` when the table does not exist. Never creates it.
    pub async fn version_heads(
        &mut self,
        table: &VersionTable,
    ) -> Result<Option<Vec<String>>, DatabaseError> {
        if !self.table_exists(table).await? {
            return Ok(None);
        }
        let sql = format!("SELECT version_num FROM {}", self.qualified(table));
        let rows = on_conn!(&mut self.conn, c => c.strings(&sql).await);
        rows.map(Some).map_err(|e| query_error(&self.url, e))
    }

    /// The first column of every row `sql` returns, as text (backups: sizes, table lists).
    pub(crate) async fn query_column(&mut self, sql: &str) -> Result<Vec<String>, DatabaseError> {
        let rows = on_conn!(&mut self.conn, c => c.column(sql).await);
        rows.map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
            .map_err(|e| query_error(&self.url, e))
    }

    async fn table_exists(&mut self, table: &VersionTable) -> Result<bool, DatabaseError> {
        let exists = on_conn!(&mut self.conn, c => c.table_exists(table).await);
        exists.map_err(|e| query_error(&self.url, e))
    }

    fn qualified(&self, table: &VersionTable) -> String {
        for_backend!(self.backend(), E => match &table.schema {
            Some(s) => format!("{}.{}", E::quote(s), E::quote(&table.name)),
            None => E::quote(&table.name),
        })
    }
}

/// An identifier in double quotes (standard SQL; SQLite and PostgreSQL).
fn quote_ansi(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}
