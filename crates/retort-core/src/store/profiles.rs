//! Connection profiles and workspaces in the store: where a database is, never its password.

use super::{Store, StoreError};
use crate::database::{Backend, DatabaseUrl, Secret};
use crate::tunnel::SshRoute;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use std::path::{Path, PathBuf};

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Sqlite,
    Postgresql,
    Mysql,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Sqlite => "sqlite",
            Driver::Postgresql => "postgresql",
            Driver::Mysql => "mysql",
        }
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Driver::Sqlite),
            "postgresql" | "postgres" | "pg" => Ok(Driver::Postgresql),
            "mysql" | "mariadb" => Ok(Driver::Mysql),
            other => Err(StoreError::Invalid(format!(
                "unknown driver '{other}': use sqlite, postgresql or mysql"
            ))),
        }
    }

    fn of(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Driver::Sqlite,
            Backend::Postgres => Driver::Postgresql,
            Backend::MySql => Driver::Mysql,
        }
    }
}

/// Where a profile's password lives. The store records only this, never the password.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordStorage {
    /// The connection needs no password.
    None,
    /// The OS keychain (Secret Service, Keychain, Credential Manager): kept until deleted.
    Keychain,
    /// The kernel's session keyring: kept for this login session only.
    Session,
    /// Not kept: asked for on every use.
    Ask,
    /// Printed by the profile's `password_command` when needed, never kept.
    Command,
}

impl PasswordStorage {
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordStorage::None => "none",
            PasswordStorage::Keychain => "keychain",
            PasswordStorage::Session => "session",
            PasswordStorage::Ask => "ask",
            PasswordStorage::Command => "command",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "keychain" => PasswordStorage::Keychain,
            "session" => PasswordStorage::Session,
            "ask" => PasswordStorage::Ask,
            "command" => PasswordStorage::Command,
            _ => PasswordStorage::None,
        }
    }

    /// How people read it.
    pub fn describe(self) -> &'static str {
        match self {
            PasswordStorage::None => "none",
            PasswordStorage::Keychain => "*** (OS keychain)",
            PasswordStorage::Session => "*** (this login session only)",
            PasswordStorage::Ask => "asked on every use",
            PasswordStorage::Command => "*** (from a command)",
        }
    }
}

/// One saved connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionProfile {
    /// 0 until saved.
    pub id: i64,
    pub name: String,
    pub driver: Driver,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub user: Option<String>,
    /// PostgreSQL `sslmode` / MySQL `ssl_mode` as the driver spells it.
    pub tls_mode: Option<String>,
    pub tls_ca_file: Option<PathBuf>,
    /// SQLite: the absolute path of the file; `None` for an in-memory database.
    pub sqlite_path: Option<PathBuf>,
    /// `development`, `staging`, `production`, or a name of the user's.
    pub environment: String,
    /// `#rrggbb`.
    pub color: String,
    pub password_storage: PasswordStorage,
    /// [`PasswordStorage::Command`]: the command whose first line of output is the password.
    pub password_command: Option<String>,
    /// Seconds a password from the command is used before it is fetched again (`None`: the
    /// default, [`crate::credentials::command::DEFAULT_LIFETIME`]).
    pub password_lifetime: Option<u32>,
    /// The SSH hops to the server, when it is not reached directly.
    pub ssh: Option<SshRoute>,
    /// The name of the profile's entry in the keychain (random, so renames keep it).
    #[serde(skip)]
    pub credential_key: String,
}

/// The default colour of an environment: production red, staging amber, development green.
pub fn default_color(environment: &str) -> &'static str {
    match environment {
        "production" => "#d73a49",
        "staging" => "#e3b341",
        "development" => "#2ea043",
        _ => "#6e7781",
    }
}

/// `dev`/`prod`/`stage` spelled out; any other simple name is the user's own environment.
pub fn normalize_environment(text: &str) -> Result<String, StoreError> {
    let lower = text.trim().to_ascii_lowercase();
    let name = match lower.as_str() {
        "dev" | "develop" | "development" => "development".to_string(),
        "stage" | "staging" => "staging".to_string(),
        "prod" | "production" => "production".to_string(),
        other => other.to_string(),
    };
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(StoreError::Invalid(format!(
            "environment '{text}': use development, staging, production or a name of letters, digits, '-' and '_'"
        )));
    }
    Ok(name)
}

/// `#abc` or `#aabbcc` (the `#` optional), as lower-case `#aabbcc`.
pub fn normalize_color(text: &str) -> Result<String, StoreError> {
    let hex = text.trim().trim_start_matches('#');
    let bad = || {
        StoreError::Invalid(format!(
            "colour '{text}': use a hex colour such as #d73a49 or #e3b"
        ))
    };
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let hex = hex.to_ascii_lowercase();
    match hex.len() {
        6 => Ok(format!("#{hex}")),
        3 => Ok(format!(
            "#{}",
            hex.chars().flat_map(|c| [c, c]).collect::<String>()
        )),
        _ => Err(bad()),
    }
}

fn valid_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "connection name '{name}': use letters, digits, '-', '_', '.' or '@'"
        )))
    }
}

impl ConnectionProfile {
    /// An empty profile for `driver`, in the development environment.
    pub fn new(name: &str, driver: Driver) -> Self {
        Self {
            id: 0,
            name: name.to_string(),
            driver,
            host: None,
            port: None,
            database: None,
            user: None,
            tls_mode: None,
            tls_ca_file: None,
            sqlite_path: None,
            environment: "development".to_string(),
            color: default_color("development").to_string(),
            password_storage: PasswordStorage::None,
            password_command: None,
            password_lifetime: None,
            ssh: None,
            credential_key: String::new(),
        }
    }

    /// A profile from a parsed URL, and the URL's password (which the caller hands to the
    /// keychain, never to the store). Query parameters other than the TLS ones are dropped.
    pub fn from_url(name: &str, url: &DatabaseUrl) -> (Self, Option<Secret>) {
        let mut p = Self::new(name, Driver::of(url.backend));
        p.host = url.host.clone();
        p.port = url.port;
        p.database = url.database.clone();
        p.user = url.user.clone();
        p.sqlite_path = url.sqlite_path.clone();
        let (mode_key, ca_key) = tls_keys(p.driver);
        p.tls_mode = url
            .query_value(mode_key)
            .or_else(|| {
                url.query_value("ssl-mode")
                    .filter(|_| p.driver == Driver::Mysql)
            })
            .map(str::to_string);
        p.tls_ca_file = url.query_value(ca_key).map(PathBuf::from);
        let password = url.password.clone().filter(|s| !s.expose().is_empty());
        if password.is_some() {
            p.password_storage = PasswordStorage::Keychain;
        }
        (p, password)
    }

    /// The profile as a URL to connect with, carrying `password` (fetched from the keychain
    /// by the caller). Pass a placeholder password to get a display URL showing `***`.
    pub fn to_url(&self, password: Option<Secret>) -> Result<DatabaseUrl, StoreError> {
        let mut text = format!("{}://", self.driver.as_str());
        match self.driver {
            Driver::Sqlite => {
                if let Some(path) = &self.sqlite_path {
                    text.push('/');
                    text.push_str(&path.display().to_string());
                }
            }
            _ => {
                if let Some(user) = &self.user {
                    text.push_str(&encode(user));
                    text.push('@');
                }
                match &self.host {
                    Some(h) if h.contains(':') => text.push_str(&format!("[{h}]")),
                    Some(h) => text.push_str(h),
                    None => text.push_str("localhost"),
                }
                if let Some(port) = self.port {
                    text.push_str(&format!(":{port}"));
                }
                if let Some(db) = &self.database {
                    text.push('/');
                    text.push_str(&encode(db));
                }
                let (mode_key, ca_key) = tls_keys(self.driver);
                let mut query = Vec::new();
                if let Some(mode) = &self.tls_mode {
                    query.push(format!("{mode_key}={}", encode(mode)));
                }
                if let Some(ca) = &self.tls_ca_file {
                    query.push(format!("{ca_key}={}", encode(&ca.display().to_string())));
                }
                if !query.is_empty() {
                    text.push('?');
                    text.push_str(&query.join("&"));
                }
            }
        }
        let mut url = DatabaseUrl::parse(&text, Path::new("/"))
            .map_err(|e| StoreError::Invalid(format!("connection '{}': {e}", self.name)))?;
        url.password = password;
        Ok(url)
    }

    /// The URL as shown: `***` where a password is kept or asked for.
    pub fn display_url(&self) -> String {
        let placeholder = (self.password_storage != PasswordStorage::None).then(|| Secret::new(""));
        self.to_url(placeholder)
            .map(|u| u.redacted())
            .unwrap_or_else(|e| e.to_string())
    }

    /// Checks the profile as saving would (and completes a relative SQLite path); the error
    /// names the connection and the field.
    pub fn validate(&mut self) -> Result<(), StoreError> {
        valid_name(&self.name)?;
        self.environment = normalize_environment(&self.environment)?;
        self.color = normalize_color(&self.color)?;
        if self.driver == Driver::Sqlite {
            if let Some(p) = &self.sqlite_path
                && !p.is_absolute()
            {
                let cwd =
                    std::env::current_dir().map_err(|e| StoreError::Invalid(e.to_string()))?;
                self.sqlite_path = Some(cwd.join(p));
            }
        } else if self.host.is_none() {
            return Err(StoreError::Invalid(format!(
                "connection '{}': a {} connection needs a host",
                self.name,
                self.driver.as_str()
            )));
        }
        self.validate_tls_mode()?;
        self.validate_reach()?;
        self.to_url(None).map(|_| ())
    }

    /// The SSH route and the password command hold together with the rest.
    fn validate_reach(&mut self) -> Result<(), StoreError> {
        let invalid = |why: String| {
            Err(StoreError::Invalid(format!(
                "connection '{}': {why}",
                self.name
            )))
        };
        if let Some(route) = &self.ssh {
            if self.driver == Driver::Sqlite {
                return invalid("an SSH route is for PostgreSQL and MySQL; a SQLite file is opened where Retort runs".into());
            }
            if let Err(e) = route.validate() {
                return invalid(e.to_string());
            }
        }
        match (self.password_storage, &self.password_command) {
            (PasswordStorage::Command, None) => {
                return invalid(
                    "the password comes from a command, but no command is given".into(),
                );
            }
            (PasswordStorage::Command, Some(command)) if command.trim().is_empty() => {
                return invalid("the password command is empty".into());
            }
            (PasswordStorage::Command, Some(command)) if command.contains(['\n', '\r', '\0']) => {
                return invalid("the password command must be one line".into());
            }
            (PasswordStorage::Command, _) => {}
            // The command is kept only while it is the password's source.
            (_, _) => self.password_command = None,
        }
        if self.password_lifetime == Some(0) {
            return invalid("the password lifetime must be at least one second".into());
        }
        Ok(())
    }

    /// `tls_mode` is one the driver knows (sqlx's spellings, case aside), or none for SQLite.
    fn validate_tls_mode(&self) -> Result<(), StoreError> {
        let Some(mode) = &self.tls_mode else {
            return Ok(());
        };
        let allowed: &[&str] = match self.driver {
            Driver::Sqlite => {
                return Err(StoreError::Invalid(format!(
                    "connection '{}': tls_mode '{mode}' is for PostgreSQL and MySQL; SQLite connections have none",
                    self.name
                )));
            }
            Driver::Postgresql => &TLS_MODES_POSTGRES,
            Driver::Mysql => &TLS_MODES_MYSQL,
        };
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(mode)) {
            return Ok(());
        }
        Err(StoreError::Invalid(format!(
            "connection '{}': tls_mode '{mode}' is not a {} TLS mode; use one of {}",
            self.name,
            match self.driver {
                Driver::Mysql => "MySQL ssl_mode",
                _ => "PostgreSQL sslmode",
            },
            allowed.join(", ")
        )))
    }
}

/// PostgreSQL's `sslmode` values (libpq's, as sqlx reads them).
const TLS_MODES_POSTGRES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];
/// MySQL's `ssl_mode` values.
const TLS_MODES_MYSQL: [&str; 5] = [
    "DISABLED",
    "PREFERRED",
    "REQUIRED",
    "VERIFY_CA",
    "VERIFY_IDENTITY",
];

fn tls_keys(driver: Driver) -> (&'static str, &'static str) {
    match driver {
        Driver::Mysql => ("ssl_mode", "ssl_ca"),
        _ => ("sslmode", "sslrootcert"),
    }
}

/// Percent-encodes everything but unreserved characters (which `DatabaseUrl` decodes back).
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Imports: a URL, an alembic.ini's `sqlalchemy.url`, a `.env` file's `DATABASE_URL`.
/// Relative SQLite paths are taken relative to the file's folder (the current directory for
/// a URL). Each returns the profile and the password found in the URL, if any.
pub fn import_url(
    name: &str,
    text: &str,
    base_dir: &Path,
) -> Result<(ConnectionProfile, Option<Secret>), StoreError> {
    let url = DatabaseUrl::parse(text, base_dir).map_err(|e| StoreError::Import(e.to_string()))?;
    Ok(ConnectionProfile::from_url(name, &url))
}

pub fn import_alembic_ini(
    name: &str,
    ini: &Path,
) -> Result<(ConnectionProfile, Option<Secret>), StoreError> {
    let cwd = std::env::current_dir().map_err(|e| StoreError::Import(e.to_string()))?;
    let config = crate::project::find_config(Some(ini), &cwd)
        .map_err(|e| StoreError::Import(e.to_string()))?;
    let project =
        crate::project::load_project(&config).map_err(|e| StoreError::Import(e.to_string()))?;
    let url = project.settings.url.clone().ok_or_else(|| {
        StoreError::Import(format!(
            "{} sets no sqlalchemy.url",
            project.config_path.display()
        ))
    })?;
    let base = project.config_path.parent().unwrap_or(Path::new("."));
    import_url(name, &url, base)
}

pub fn import_dotenv(
    name: &str,
    file: &Path,
) -> Result<(ConnectionProfile, Option<Secret>), StoreError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| StoreError::Import(format!("cannot read {}: {e}", file.display())))?;
    let url = super::dotenv::lookup(&text, "DATABASE_URL")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            StoreError::Import(format!("{} has no DATABASE_URL line", file.display()))
        })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    import_url(name, &url, &base)
}

/// A migration project folder, and the connections bound to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    pub id: i64,
    pub name: String,
    pub project_dir: PathBuf,
    pub connections: Vec<String>,
}

const COLUMNS: &str = "id, name, driver, host, port, database, username, tls_mode, tls_ca_file, sqlite_path, environment, color, password_storage, credential_key, ssh_hops, ssh_identity, password_command, password_lifetime";

fn profile_of(row: &sqlx::sqlite::SqliteRow) -> Result<ConnectionProfile, sqlx::Error> {
    let driver: String = row.try_get("driver")?;
    let port: Option<i64> = row.try_get("port")?;
    let environment: String = row.try_get("environment")?;
    let color: Option<String> = row.try_get("color")?;
    let storage: String = row.try_get("password_storage")?;
    let hops: Option<String> = row.try_get("ssh_hops")?;
    let hops: Vec<String> = hops
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| sqlx::Error::ColumnDecode {
            index: "ssh_hops".into(),
            source: Box::new(e),
        })?
        .unwrap_or_default();
    let identity: Option<String> = row.try_get("ssh_identity")?;
    let ssh = (!hops.is_empty()).then(|| SshRoute {
        hops,
        identity: identity.map(PathBuf::from),
    });
    let lifetime: Option<i64> = row.try_get("password_lifetime")?;
    // See migrations/0006: a command's profile is stored as keeping no password.
    let command: Option<String> = row.try_get("password_command")?;
    Ok(ConnectionProfile {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        driver: Driver::parse(&driver).unwrap_or(Driver::Sqlite),
        host: row.try_get("host")?,
        port: port.and_then(|p| u16::try_from(p).ok()),
        database: row.try_get("database")?,
        user: row.try_get("username")?,
        tls_mode: row.try_get("tls_mode")?,
        tls_ca_file: row
            .try_get::<Option<String>, _>("tls_ca_file")?
            .map(PathBuf::from),
        sqlite_path: row
            .try_get::<Option<String>, _>("sqlite_path")?
            .map(PathBuf::from),
        color: color.unwrap_or_else(|| default_color(&environment).to_string()),
        environment,
        password_storage: match &command {
            Some(_) => PasswordStorage::Command,
            None => PasswordStorage::parse(&storage),
        },
        password_command: command,
        password_lifetime: lifetime.and_then(|l| u32::try_from(l).ok()),
        ssh,
        credential_key: row.try_get("credential_key")?,
    })
}

fn path_text(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

/// Binds a profile's stored fields, in the column order of the INSERT and UPDATE.
fn bind_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    profile: &ConnectionProfile,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    query
        .bind(profile.name.clone())
        .bind(profile.driver.as_str())
        .bind(profile.host.clone())
        .bind(profile.port.map(i64::from))
        .bind(profile.database.clone())
        .bind(profile.user.clone())
        .bind(profile.tls_mode.clone())
        .bind(path_text(&profile.tls_ca_file))
        .bind(path_text(&profile.sqlite_path))
        .bind(profile.environment.clone())
        .bind(profile.color.clone())
        .bind(match profile.password_storage {
            PasswordStorage::Command => PasswordStorage::None.as_str(),
            kept => kept.as_str(),
        })
        .bind(
            profile
                .ssh
                .as_ref()
                .map(|r| serde_json::to_string(&r.hops).unwrap_or_default()),
        )
        .bind(profile.ssh.as_ref().and_then(|r| path_text(&r.identity)))
        .bind(profile.password_command.clone())
        .bind(profile.password_lifetime.map(i64::from))
}

impl Store {
    /// Saves a new profile; returns it as stored (with its id and credential key).
    pub async fn add_connection(
        &self,
        mut profile: ConnectionProfile,
    ) -> Result<ConnectionProfile, StoreError> {
        profile.validate()?;
        let result = bind_fields(
            sqlx::query(
                "INSERT INTO connections (name, driver, host, port, database, username, tls_mode, tls_ca_file, sqlite_path, environment, color, password_storage, ssh_hops, ssh_identity, password_command, password_lifetime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            &profile,
        )
        .execute(self.pool())
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::DuplicateConnection(profile.name))
            }
            Err(e) => Err(self.query_error(e)),
            Ok(_) => self.connection(&profile.name).await,
        }
    }

    /// Replaces a saved profile's fields (found by `profile.id`); the name may change.
    pub async fn update_connection(
        &self,
        mut profile: ConnectionProfile,
    ) -> Result<ConnectionProfile, StoreError> {
        profile.validate()?;
        let result = bind_fields(
            sqlx::query(
                "UPDATE connections SET name = ?, driver = ?, host = ?, port = ?, database = ?, username = ?, tls_mode = ?, tls_ca_file = ?, sqlite_path = ?, environment = ?, color = ?, password_storage = ?, ssh_hops = ?, ssh_identity = ?, password_command = ?, password_lifetime = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?",
            ),
            &profile,
        )
        .bind(profile.id)
        .execute(self.pool())
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::DuplicateConnection(profile.name))
            }
            Err(e) => Err(self.query_error(e)),
            Ok(r) if r.rows_affected() == 0 => Err(StoreError::NoSuchConnection(profile.name)),
            Ok(_) => self.connection(&profile.name).await,
        }
    }

    pub async fn connection(&self, name: &str) -> Result<ConnectionProfile, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM connections WHERE name = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.query_error(e))?
            .ok_or_else(|| StoreError::NoSuchConnection(name.to_string()))?;
        profile_of(&row).map_err(|e| self.query_error(e))
    }

    /// Every profile, by environment then name.
    pub async fn connections(&self) -> Result<Vec<ConnectionProfile>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections ORDER BY CASE environment WHEN 'development' THEN 0 WHEN 'staging' THEN 1 WHEN 'production' THEN 2 ELSE 3 END, environment, name"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.query_error(e))?;
        rows.iter()
            .map(profile_of)
            .collect::<Result<_, _>>()
            .map_err(|e| self.query_error(e))
    }

    /// Deletes a profile (and its workspace bindings); returns what was deleted so the caller
    /// can remove its keychain entry.
    pub async fn remove_connection(&self, name: &str) -> Result<ConnectionProfile, StoreError> {
        let profile = self.connection(name).await?;
        sqlx::query("DELETE FROM connections WHERE id = ?")
            .bind(profile.id)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(profile)
    }

    /// The workspace of a project folder, created on first use (named after the folder).
    pub async fn workspace(&self, project_dir: &Path) -> Result<Workspace, StoreError> {
        let dir = std::path::absolute(project_dir).unwrap_or_else(|_| project_dir.to_path_buf());
        let dir_text = dir.display().to_string();
        let name = dir
            .file_name()
            .map_or_else(|| dir_text.clone(), |n| n.to_string_lossy().into_owned());
        sqlx::query("INSERT INTO workspaces (name, project_dir) VALUES (?, ?) ON CONFLICT (project_dir) DO NOTHING")
            .bind(&name)
            .bind(&dir_text)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_error(e))?;
        let row = sqlx::query("SELECT id, name FROM workspaces WHERE project_dir = ?")
            .bind(&dir_text)
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.query_error(e))?;
        let id: i64 = row.try_get("id").map_err(|e| self.query_error(e))?;
        let connections = sqlx::query_scalar(
            "SELECT c.name FROM workspace_connections w JOIN connections c ON c.id = w.connection_id WHERE w.workspace_id = ? ORDER BY c.name",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_error(e))?;
        Ok(Workspace {
            id,
            name: row.try_get("name").map_err(|e| self.query_error(e))?,
            project_dir: dir,
            connections,
        })
    }

    /// Binds a connection to a project folder's workspace.
    pub async fn bind(
        &self,
        project_dir: &Path,
        connection: &str,
    ) -> Result<Workspace, StoreError> {
        let ws = self.workspace(project_dir).await?;
        let profile = self.connection(connection).await?;
        sqlx::query("INSERT OR IGNORE INTO workspace_connections (workspace_id, connection_id) VALUES (?, ?)")
            .bind(ws.id)
            .bind(profile.id)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_error(e))?;
        self.workspace(project_dir).await
    }

    /// Records that a workspace was opened now (the recent list puts it first).
    pub async fn touch_workspace(&self, project_dir: &Path) -> Result<Workspace, StoreError> {
        let ws = self.workspace(project_dir).await?;
        sqlx::query(
            "UPDATE workspaces SET last_opened_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
        )
        .bind(ws.id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_error(e))?;
        Ok(ws)
    }

    /// Every workspace with its connections, the most recently opened first.
    pub async fn workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        let dirs: Vec<String> = sqlx::query_scalar(
            "SELECT project_dir FROM workspaces ORDER BY coalesce(last_opened_at, created_at) DESC, id DESC",
        )
                .fetch_all(self.pool())
                .await
                .map_err(|e| self.query_error(e))?;
        let mut out = Vec::new();
        for d in dirs {
            out.push(self.workspace(Path::new(&d)).await?);
        }
        Ok(out)
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
    fn url_round_trip_without_the_password() {
        let (p, pw) = import_url(
            "prod",
            "postgresql+psycopg2://app%20user:s3cr%40t@db.example:5433/my%2Fdb?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x",
            Path::new("/proj"),
        )
        .unwrap();
        assert_eq!(pw.unwrap().expose(), "s3cr@t");
        assert_eq!(p.user.as_deref(), Some("app user"));
        assert_eq!(p.database.as_deref(), Some("my/db"));
        assert_eq!(p.tls_mode.as_deref(), Some("verify-full"));
        assert_eq!(p.tls_ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(p.password_storage, PasswordStorage::Keychain);
        let url = p.to_url(Some(Secret::new("s3cr@t"))).unwrap();
        assert_eq!(url.user.as_deref(), Some("app user"));
        assert_eq!(url.database.as_deref(), Some("my/db"));
        assert_eq!(url.port, Some(5433));
        assert_eq!(url.password.as_ref().unwrap().expose(), "s3cr@t");
        assert_eq!(url.query_value("sslmode"), Some("verify-full"));
        assert_eq!(
            p.display_url(),
            "postgresql://app+user:***@db.example:5433/my/db?sslmode=verify-full&sslrootcert=/etc/ca.pem"
        );

        let (m, _) = import_url(
            "m",
            "mysql+pymysql://root@[::1]/app?ssl_mode=REQUIRED",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!((m.driver, m.host.as_deref()), (Driver::Mysql, Some("::1")));
        let url = m.to_url(None).unwrap();
        assert_eq!(
            (url.host.as_deref(), url.query_value("ssl_mode")),
            (Some("::1"), Some("REQUIRED"))
        );

        let (s, pw) = import_url("s", "sqlite:///rel.db", Path::new("/proj")).unwrap();
        assert!(pw.is_none());
        assert_eq!(s.sqlite_path, Some(PathBuf::from("/proj/rel.db")));
        assert_eq!(
            s.to_url(None).unwrap().sqlite_path,
            Some(PathBuf::from("/proj/rel.db"))
        );
    }

    #[test]
    fn imports_from_alembic_ini_and_dotenv() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "# db\nexport DATABASE_URL=\"postgresql://u:pw@h/d\"\n",
        )
        .unwrap();
        let (p, pw) = import_dotenv("e", &dir.path().join(".env")).unwrap();
        assert_eq!((p.host.as_deref(), pw.unwrap().expose()), (Some("h"), "pw"));
        std::fs::write(dir.path().join("empty.env"), "OTHER=1\n").unwrap();
        let err = import_dotenv("e", &dir.path().join("empty.env")).unwrap_err();
        assert!(err.to_string().contains("no DATABASE_URL"), "{err}");

        std::fs::create_dir(dir.path().join("versions")).unwrap();
        std::fs::write(
            dir.path().join("alembic.ini"),
            "[alembic]\nscript_location = %(here)s\nsqlalchemy.url = sqlite:///app.db\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("env.py"), "").unwrap();
        let (p, _) = import_alembic_ini("a", &dir.path().join("alembic.ini")).unwrap();
        assert_eq!(p.sqlite_path, Some(dir.path().join("app.db")));
    }

    #[test]
    fn environments_and_colours() {
        assert_eq!(normalize_environment("Prod").unwrap(), "production");
        assert_eq!(normalize_environment("qa-2").unwrap(), "qa-2");
        assert!(normalize_environment("a b").is_err());
        assert_eq!(normalize_color("#ABC").unwrap(), "#aabbcc");
        assert_eq!(normalize_color("d73a49").unwrap(), "#d73a49");
        assert!(normalize_color("#12345").is_err());
        assert!(normalize_color("red").is_err());
    }

    #[test]
    fn an_unknown_tls_mode_is_refused_and_nothing_is_saved() {
        let dir = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let store = Store::open(&dir.path().join("retort.db")).await.unwrap();
            let (mut p, _) = import_url("pg", "postgresql://u@h/d", Path::new("/")).unwrap();
            p.tls_mode = Some("bogus".into());
            let err = store
                .add_connection(p.clone())
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("tls_mode") && err.contains("'bogus'"), "{err}");
            assert!(
                err.contains("verify-full") && err.contains("disable"),
                "{err}"
            );
            assert!(store.connections().await.unwrap().is_empty());

            p.tls_mode = Some("verify-full".into());
            let mut saved = store.add_connection(p).await.unwrap();
            saved.tls_mode = Some("VERIFY_IDENTITY".into());
            let err = store
                .update_connection(saved)
                .await
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("tls_mode") && err.contains("'VERIFY_IDENTITY'"),
                "{err}"
            );
            let kept = store.connection("pg").await.unwrap();
            assert_eq!(kept.tls_mode.as_deref(), Some("verify-full"));

            let (mut m, _) = import_url("my", "mysql://root@h/d", Path::new("/")).unwrap();
            m.tls_mode = Some("verify-full".into());
            let err = store
                .add_connection(m.clone())
                .await
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("VERIFY_IDENTITY") && err.contains("REQUIRED"),
                "{err}"
            );
            m.tls_mode = Some("required".into());
            store.add_connection(m).await.unwrap();

            let (mut s, _) = import_url("lite", "sqlite:///x.db", Path::new("/")).unwrap();
            s.tls_mode = Some("require".into());
            let err = store.add_connection(s).await.unwrap_err().to_string();
            assert!(err.contains("tls_mode") && err.contains("SQLite"), "{err}");
        });
    }

    #[test]
    fn crud_and_workspaces() {
        let dir = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let store = Store::open(&dir.path().join("retort.db")).await.unwrap();
            let (mut p, _) = import_url("dev", "postgresql://u:pw@h/d", Path::new("/")).unwrap();
            p.environment = "prod".into();
            p.color = default_color("production").into();
            let saved = store.add_connection(p.clone()).await.unwrap();
            assert!(saved.id > 0 && saved.credential_key.len() == 32);
            assert_eq!(saved.environment, "production");
            assert!(matches!(
                store.add_connection(p.clone()).await,
                Err(StoreError::DuplicateConnection(_))
            ));
            let mut renamed = saved.clone();
            renamed.name = "prod".into();
            renamed.port = Some(6543);
            let renamed = store.update_connection(renamed).await.unwrap();
            assert_eq!(renamed.credential_key, saved.credential_key);
            assert!(matches!(
                store.connection("dev").await,
                Err(StoreError::NoSuchConnection(_))
            ));
            let ws = store.bind(dir.path(), "prod").await.unwrap();
            assert_eq!(ws.connections, vec!["prod".to_string()]);
            assert_eq!(store.workspaces().await.unwrap().len(), 1);
            store.remove_connection("prod").await.unwrap();
            assert!(store.connections().await.unwrap().is_empty());
            assert!(
                store
                    .workspace(dir.path())
                    .await
                    .unwrap()
                    .connections
                    .is_empty()
            );
            store.close().await;
        });
    }
}
