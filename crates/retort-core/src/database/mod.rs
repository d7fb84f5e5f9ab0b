//! Talking to the databases a project migrates: URLs, connections, and the version table.

pub mod url;

pub use url::{Backend, DatabaseUrl, Secret};

use crate::project::Project;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection as _};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

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
}

/// Picks the URL as the CLI documents: `--url`, then the project's, then `DATABASE_URL`.
pub fn resolve_url(
    explicit: Option<&str>,
    project: &Project,
) -> Result<DatabaseUrl, DatabaseError> {
    let env = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let text = explicit
        .map(str::to_string)
        .or_else(|| project.settings.url.clone())
        .or(env)
        .ok_or(DatabaseError::NoUrl)?;
    let base = project.config_path.parent().unwrap_or(Path::new("."));
    DatabaseUrl::parse(&text, base)
}

/// Connects and reads the version table's rows: empty when there is no table yet.
pub async fn read_version_rows(
    url: &DatabaseUrl,
    table: &VersionTable,
    timeout: Duration,
) -> Result<Vec<String>, DatabaseError> {
    let mut db = Database::connect(url, timeout).await?;
    Ok(db.version_heads(table).await?.unwrap_or_default())
}

enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    MySql(MySqlConnection),
    /// A SQLite file that does not exist yet: it has no version table, and reading it must
    /// not create it.
    AbsentSqliteFile,
}

/// One open connection to a project's database.
pub struct Database {
    url: DatabaseUrl,
    conn: Conn,
}

impl Database {
    pub async fn connect(url: &DatabaseUrl, timeout: Duration) -> Result<Self, DatabaseError> {
        let fail = |e: sqlx::Error| DatabaseError::Connect {
            url: url.redacted(),
            message: url.scrub(&e.to_string()),
        };
        let connecting = async {
            Ok(match url.backend {
                Backend::Sqlite => match &url.sqlite_path {
                    Some(path) if !path.exists() => Conn::AbsentSqliteFile,
                    Some(path) => Conn::Sqlite(
                        SqliteConnection::connect_with(
                            &SqliteConnectOptions::new()
                                .filename(path)
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

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    fn query_error(&self, e: sqlx::Error) -> DatabaseError {
        DatabaseError::Query {
            url: self.url.redacted(),
            message: self.url.scrub(&e.to_string()),
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
    let mut o = PgConnectOptions::new().application_name("retort");
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
