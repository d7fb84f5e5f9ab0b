//! Talking to the databases a project migrates: URLs, connections, and the version table.

pub mod check;
pub mod lock;
pub mod schema;
pub mod scratch;
pub mod url;
pub mod version_rows;

pub use lock::{LockHolder, MigrationLock};
pub use url::{Backend, DatabaseUrl, Secret};

use crate::project::Project;
use serde::Serialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection as _};
use std::path::Path;
use std::str::FromStr;
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
    match backend {
        Backend::MySql => quote_mysql(name),
        _ => quote_ansi(name),
    }
}

fn literal(value: &str, backend: Backend) -> String {
    let mut escaped = value.replace('\'', "''");
    if backend == Backend::MySql {
        escaped = escaped.replace('\\', "\\\\");
    }
    format!("'{escaped}'")
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
                text.push_str(&postgres_extras(pg));
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

/// A PostgreSQL error's DETAIL and HINT, as `psql` labels them.
fn postgres_extras(pg: &sqlx::postgres::PgDatabaseError) -> String {
    let mut text = String::new();
    if let Some(detail) = pg.detail().filter(|d| !d.trim().is_empty()) {
        text.push_str(&format!("; DETAIL: {}", detail.trim_end()));
    }
    if let Some(hint) = pg.hint().filter(|h| !h.trim().is_empty()) {
        text.push_str(&format!("; HINT: {}", hint.trim_end()));
    }
    text
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

enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    MySql(MySqlConnection),
    /// A SQLite file that does not exist yet: it has no version table, and reading it must
    /// not create it.
    AbsentSqliteFile,
}

/// A SQLite connection's own handle, taken from sqlx's worker thread for as long as this
/// lives, so that a batch of statements runs with one call into SQLite on the caller's
/// thread: sqlx would send every statement's result back across threads, a wake-up each,
/// which costs more than a small migration statement itself, and taking the handle back and
/// forth costs a few more per batch. The connection is not usable through sqlx meanwhile.
pub struct SqliteBatches<'a> {
    handle: sqlx::sqlite::LockedSqliteHandle<'a>,
    url: &'a DatabaseUrl,
}

impl SqliteBatches<'_> {
    /// Runs `sql` (statements separated by `;`). On failure the batch stops where it failed
    /// and any transaction it opened is rolled back.
    pub fn run(&mut self, sql: &str) -> Result<(), SqlFailure> {
        let raw = self.handle.as_raw_handle().as_ptr();
        // SAFETY: the handle is sqlx's open connection, locked to this thread for as long as
        // `self.handle` lives; `from_handle` borrows it (never closes it) and the borrowed
        // connection is dropped before this returns.
        let run = || {
            let conn = unsafe { rusqlite::Connection::from_handle(raw) }?;
            let result = conn.execute_batch(sql);
            if result.is_err() && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            result
        };
        on_this_thread(run).map_err(|e| SqlFailure {
            message: self.url.scrub(&e.to_string()),
            code: None,
            position: None,
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
        let fail = |e: sqlx::Error| DatabaseError::Connect {
            url: url.redacted(),
            message: url.scrub(&error_text(&e)),
        };
        let connecting = async {
            Ok(match url.backend {
                Backend::Sqlite => match &url.sqlite_path {
                    Some(path) if !create && !path.exists() => Conn::AbsentSqliteFile,
                    Some(path) => Conn::Sqlite(
                        SqliteConnection::connect_with(
                            &SqliteConnectOptions::new()
                                .filename(path)
                                .create_if_missing(create)
                                .busy_timeout(timeout),
                        )
                        .await
                        .map_err(fail)?,
                    ),
                    None => Conn::Sqlite(
                        SqliteConnection::connect_with(
                            &SqliteConnectOptions::from_str("sqlite::memory:").map_err(fail)?,
                        )
                        .await
                        .map_err(fail)?,
                    ),
                },
                Backend::Postgres => Conn::Postgres(
                    PgConnection::connect_with(&pg_options(url)?)
                        .await
                        .map_err(fail)?,
                ),
                Backend::MySql => Conn::MySql(
                    MySqlConnection::connect_with(&mysql_options(url)?)
                        .await
                        .map_err(fail)?,
                ),
            })
        };
        let conn = tokio::time::timeout(timeout, connecting)
            .await
            .map_err(|_| DatabaseError::Timeout {
                url: url.redacted(),
                seconds: timeout.as_secs(),
            })??;
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
        let sql = AssertSqlSafe(sql.to_string());
        let result = match &mut self.conn {
            Conn::Sqlite(c) => sqlx::raw_sql(sql)
                .execute(c)
                .await
                .map(|r| r.rows_affected()),
            Conn::Postgres(c) => sqlx::raw_sql(sql)
                .execute(c)
                .await
                .map(|r| r.rows_affected()),
            Conn::MySql(c) => sqlx::raw_sql(sql)
                .execute(c)
                .await
                .map(|r| r.rows_affected()),
            Conn::AbsentSqliteFile => return Ok(0),
        };
        result.map_err(|e| self.sql_failure(e))
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
        let url = &self.url;
        Some(match c.lock_handle().await {
            Ok(handle) => Ok(SqliteBatches { handle, url }),
            Err(e) => Err(SqlFailure {
                message: url.scrub(&error_text(&e)),
                code: None,
                position: None,
            }),
        })
    }

    fn sql_failure(&self, e: sqlx::Error) -> SqlFailure {
        match &e {
            sqlx::Error::Database(db) => {
                let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
                let position = pg.and_then(|pg| match pg.position() {
                    Some(sqlx::postgres::PgErrorPosition::Original(p)) => Some(p),
                    _ => None,
                });
                let extras = pg.map(postgres_extras).unwrap_or_default();
                SqlFailure {
                    message: self.url.scrub(&format!("{}{extras}", db.message())),
                    code: db.code().map(|c| c.into_owned()),
                    position,
                }
            }
            other => SqlFailure {
                message: self.url.scrub(&other.to_string()),
                code: None,
                position: None,
            },
        }
    }

    /// Starts a transaction. SQLite takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// that a second writer waits for the busy timeout instead of failing half-way.
    pub async fn begin(&mut self) -> Result<(), DatabaseError> {
        let sql = match self.backend() {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
            Backend::MySql => "START TRANSACTION",
        };
        self.run(sql).await
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

    fn query_error(&self, e: sqlx::Error) -> DatabaseError {
        DatabaseError::Query {
            url: self.url.redacted(),
            message: self.url.scrub(&error_text(&e)),
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
        let rows: Result<Vec<String>, sqlx::Error> = match &mut self.conn {
            Conn::Sqlite(c) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(c).await,
            Conn::Postgres(c) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(c).await,
            Conn::MySql(c) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(c).await,
            Conn::AbsentSqliteFile => Ok(Vec::new()),
        };
        rows.map(Some).map_err(|e| self.query_error(e))
    }

    /// The first column of every row `sql` returns, as text (backups: sizes, table lists).
    pub(crate) async fn query_column(&mut self, sql: &str) -> Result<Vec<String>, DatabaseError> {
        let sql = AssertSqlSafe(sql.to_string());
        let rows: Result<Vec<Option<String>>, sqlx::Error> = match &mut self.conn {
            Conn::Sqlite(c) => sqlx::query_scalar(sql).fetch_all(c).await,
            Conn::Postgres(c) => sqlx::query_scalar(sql).fetch_all(c).await,
            Conn::MySql(c) => sqlx::query_scalar(sql).fetch_all(c).await,
            Conn::AbsentSqliteFile => Ok(Vec::new()),
        };
        rows.map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
            .map_err(|e| self.query_error(e))
    }

    async fn table_exists(&mut self, table: &VersionTable) -> Result<bool, DatabaseError> {
        let count: Result<i64, sqlx::Error> = match &mut self.conn {
            Conn::AbsentSqliteFile => return Ok(false),
            Conn::Sqlite(c) => {
                let master = match &table.schema {
                    Some(s) => format!("{}.sqlite_master", quote_ansi(s)),
                    None => "sqlite_master".to_string(),
                };
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {master} WHERE type = 'table' AND name = ?")))
                    .bind(&table.name)
                    .fetch_one(c)
                    .await
            }
            Conn::Postgres(c) => {
                sqlx::query_scalar(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name = $1 AND table_schema = COALESCE($2, current_schema())",
                )
                .bind(&table.name)
                .bind(&table.schema)
                .fetch_one(c)
                .await
            }
            Conn::MySql(c) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = COALESCE(?, DATABASE())",
                )
                .bind(&table.name)
                .bind(&table.schema)
                .fetch_one(c)
                .await
            }
        };
        count.map(|n| n > 0).map_err(|e| self.query_error(e))
    }

    fn qualified(&self, table: &VersionTable) -> String {
        let quote = match self.conn {
            Conn::MySql(_) => quote_mysql,
            _ => quote_ansi,
        };
        match &table.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&table.name)),
            None => quote(&table.name),
        }
    }
}

fn quote_ansi(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn quote_mysql(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

fn pg_options(url: &DatabaseUrl) -> Result<PgConnectOptions, DatabaseError> {
    // The process id lets a waiting run name who holds the migration lock.
    let mut o =
        PgConnectOptions::new().application_name(&format!("retort (pid {})", std::process::id()));
    if let Some(h) = &url.host {
        o = o.host(h);
    }
    if let Some(p) = url.port {
        o = o.port(p);
    }
    if let Some(u) = &url.user {
        o = o.username(u);
    }
    if let Some(p) = &url.password {
        o = o.password(p.expose());
    }
    if let Some(d) = &url.database {
        o = o.database(d);
    }
    if let Some(mode) = url.query_value("sslmode") {
        let mode = PgSslMode::from_str(mode).map_err(|_| {
            DatabaseError::InvalidUrl(format!("{}: unknown sslmode '{mode}'", url.redacted()))
        })?;
        o = o.ssl_mode(mode);
    }
    if let Some(ca) = url.query_value("sslrootcert") {
        o = o.ssl_root_cert(ca);
    }
    Ok(o)
}

fn mysql_options(url: &DatabaseUrl) -> Result<MySqlConnectOptions, DatabaseError> {
    let mut o = MySqlConnectOptions::new();
    if let Some(h) = &url.host {
        o = o.host(h);
    }
    if let Some(p) = url.port {
        o = o.port(p);
    }
    if let Some(u) = &url.user {
        o = o.username(u);
    }
    if let Some(p) = &url.password {
        o = o.password(p.expose());
    }
    if let Some(d) = &url.database {
        o = o.database(d);
    }
    if let Some(mode) = url.query_value("ssl_mode").or(url.query_value("ssl-mode")) {
        let mode = MySqlSslMode::from_str(mode).map_err(|_| {
            DatabaseError::InvalidUrl(format!("{}: unknown ssl_mode '{mode}'", url.redacted()))
        })?;
        o = o.ssl_mode(mode);
    }
    if let Some(ca) = url.query_value("ssl_ca") {
        o = o.ssl_ca(ca);
    }
    Ok(o)
}
