//! The connection check behind `retort check-connection` and the app's "Test connection":
//! connect with a bounded timeout, then report what a migration run will meet — login,
//! latency, server version, TLS, the database, the version table against the script heads,
//! the right to create tables, the migration lock, and the dump tool a backup would need.
//!
//! [`check_connection`] never fails: a refused connection is part of the report, classified
//! ([`FailureKind`]) with one line of advice. No password appears in the report: messages are
//! scrubbed and the URL is shown redacted.

use super::engine::{ConnectError, Engine};
use super::{Backend, Conn, Database, DatabaseUrl, LockHolder, VersionTable, sql_failure};
use crate::graph::{Idx, RevArg, RevisionMap};
use crate::project::python::{every_on_path, is_executable};
use serde::Serialize;
use std::collections::BTreeSet;
use std::future::Future;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Everything the check found out. Fields a failure kept from being checked are `None`.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", serde(rename = "ConnectionCheckReport"))]
pub struct ConnectionReport {
    /// The URL as shown (password as `***`).
    pub url: String,
    pub backend: Backend,
    /// `host:port`, the SQLite file, or `:memory:`.
    pub target: String,
    /// The SSH route it was reached through, when it has one (set by the caller, who opened
    /// the tunnel).
    pub ssh: Option<crate::tunnel::SshReport>,
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub timeout_ms: u64,
    /// Connected and logged in: the checks below ran.
    pub ok: bool,
    /// The server answered (SQLite: the file is there and readable). `None`: not known.
    pub reachable: Option<bool>,
    /// The login was accepted. `None`: not known, or not applicable (SQLite).
    pub authenticated: Option<bool>,
    /// The user the server says we are (or the URL's user when the login failed).
    pub user: Option<String>,
    /// Time to connect: TCP, TLS and login.
    pub connect_ms: Option<f64>,
    /// One round trip (`SELECT 1`), the best of three.
    pub latency_ms: Option<f64>,
    /// `PostgreSQL`, `MariaDB`, `MySQL` or `SQLite`.
    pub server_product: Option<String>,
    /// The server's version number (`15.20`, `10.11.19`, `3.46.0`).
    pub server_version: Option<String>,
    /// The server's own description (`version()`).
    pub server_description: Option<String>,
    pub tls: TlsState,
    pub tls_version: Option<String>,
    pub tls_cipher: Option<String>,
    /// The database connected to (SQLite: the file).
    pub database: Option<String>,
    pub database_exists: Option<bool>,
    pub version_table: Option<VersionTableCheck>,
    /// The user may create tables where the version table goes.
    pub can_create_tables: Option<bool>,
    /// How that was found out, or why not.
    pub create_tables_detail: Option<String>,
    /// No migration holds the lock.
    pub lock_free: Option<bool>,
    pub lock_holder: Option<LockHolder>,
    /// The dump tool backups need; `None` for SQLite (Retort copies the file itself).
    pub dump_tool: Option<DumpToolCheck>,
    pub failure: Option<ConnectionFailure>,
    /// Checks that could not be made after connecting (scrubbed).
    pub warnings: Vec<String>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsState {
    On,
    Off,
    /// SQLite: no network.
    NotApplicable,
    Unknown,
}

/// Why the connection did not work.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", serde(rename = "CheckFailure"))]
pub struct ConnectionFailure {
    pub kind: FailureKind,
    /// The driver's words, password scrubbed.
    pub message: String,
    /// SQLSTATE (PostgreSQL) or error number (MySQL), where there is one.
    pub code: Option<String>,
    /// One line on what to do about it.
    pub advice: String,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Connection refused, no route, or the host name does not resolve.
    HostUnreachable,
    /// No answer within the timeout.
    Timeout,
    AuthenticationFailed,
    DatabaseMissing,
    /// The server accepts only encrypted connections and this one is not.
    TlsRequired,
    /// The URL demands TLS and the server does not offer it.
    TlsRefused,
    /// The TLS handshake failed (certificate, CA file, protocol).
    TlsFailed,
    /// The user may not connect to this database (or from this host); the file is unreadable.
    Permission,
    /// An option of the URL is not understood.
    InvalidUrl,
    Other,
}

impl FailureKind {
    /// A few words for a report line.
    pub fn label(self) -> &'static str {
        match self {
            Self::HostUnreachable => "host unreachable",
            Self::Timeout => "timeout",
            Self::AuthenticationFailed => "authentication failed",
            Self::DatabaseMissing => "database missing",
            Self::TlsRequired => "TLS required by the server",
            Self::TlsRefused => "TLS not offered by the server",
            Self::TlsFailed => "TLS handshake failed",
            Self::Permission => "permission denied",
            Self::InvalidUrl => "invalid URL",
            Self::Other => "connection failed",
        }
    }
}

/// The version table's rows against the project's heads.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", serde(rename = "VersionCheck"))]
pub struct VersionTableCheck {
    /// The table as SQL (`alembic_version`, `app.alembic_version`).
    pub table: String,
    pub status: VersionStatus,
    /// The table's rows (empty when there is no table).
    pub rows: Vec<String>,
    /// The project's heads.
    pub heads: Vec<String>,
    /// Upgrade steps to the heads; `None` when the rows name revisions the project lacks.
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub behind_by: Option<u64>,
    /// Those steps, in the order an upgrade runs them.
    pub pending: Vec<String>,
    /// Rows naming revisions this project does not have.
    pub unknown: Vec<String>,
    /// One sentence for people.
    pub detail: String,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// No version table yet (a fresh database).
    NoTable,
    /// The rows are exactly the heads.
    UpToDate,
    /// Some revisions are not applied yet.
    Behind,
    /// The table names revisions this project does not have (migrated from a newer checkout
    /// or another branch of the code).
    UnknownRevision,
    /// Every revision is applied but the rows are not the heads (e.g. a row that is an
    /// ancestor of another row).
    NotOnHeads,
    /// The table could not be read.
    Unreadable,
}

/// `pg_dump` / `mariadb-dump`: found, which version, and whether it suits the server.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", serde(rename = "DumpTool"))]
pub struct DumpToolCheck {
    /// The program looked for (`pg_dump`, `mariadb-dump`, `mysqldump`).
    pub name: String,
    pub found: bool,
    pub path: Option<String>,
    pub version: Option<String>,
    /// PostgreSQL: the tool's major version is at least the server's. `None`: not known or
    /// not decided (MySQL/MariaDB).
    pub compatible: Option<bool>,
    pub detail: String,
}

/// Checks the connection to `url`; each network step waits at most `timeout`.
pub async fn check_connection(
    url: &DatabaseUrl,
    table: &VersionTable,
    map: &RevisionMap,
    timeout: Duration,
) -> ConnectionReport {
    check(url, table, Some(map), timeout).await
}

/// [`check_connection`] without a project (a saved connection tested from anywhere): the
/// version table is not compared with any revisions, and the lock and create-table probes use
/// Alembic's default table.
pub async fn check_connection_without_project(
    url: &DatabaseUrl,
    timeout: Duration,
) -> ConnectionReport {
    let table = VersionTable {
        name: crate::project::ProjectSettings::DEFAULT_VERSION_TABLE.to_string(),
        schema: None,
    };
    let mut report = check(url, &table, None, timeout).await;
    if report.ok {
        report.warnings.push(
            "no project: the version table was not compared with a project's revisions".into(),
        );
    }
    report
}

async fn check(
    url: &DatabaseUrl,
    table: &VersionTable,
    map: Option<&RevisionMap>,
    timeout: Duration,
) -> ConnectionReport {
    let mut report = ConnectionReport::new(url, timeout);
    let started = Instant::now();
    let mut db = match open(url, timeout).await {
        Ok(db) => db,
        Err(refusal) => {
            report.refused(url, refusal, timeout);
            return report;
        }
    };
    report.connect_ms = Some(millis(started.elapsed()));
    report.reachable = Some(true);
    report.authenticated = (url.backend != Backend::Sqlite).then_some(true);
    report.database_exists = match url.backend {
        Backend::Sqlite => url.sqlite_path.as_ref().map(|_| true),
        _ => None,
    };

    // The first round trip also proves the database usable (SQLite: that the file is one).
    let mut best: Option<Duration> = None;
    for _ in 0..3 {
        let t = Instant::now();
        let trip = tokio::time::timeout(timeout, round_trip(&mut db)).await;
        match trip {
            Ok(Ok(())) => {
                let took = t.elapsed();
                best = Some(best.map_or(took, |b| b.min(took)));
            }
            Ok(Err(e)) => {
                report.refused(url, Refusal::Sqlx(e), timeout);
                return report;
            }
            Err(_) => {
                report.refused(url, Refusal::Timeout, timeout);
                report.reachable = Some(true);
                return report;
            }
        }
    }
    report.latency_ms = best.map(millis);
    report.ok = true;

    let mut steps = Steps {
        timeout,
        alive: true,
        warnings: Vec::new(),
        url: url.clone(),
    };
    if let Some(server) = steps.run("server version", server_info(&mut db)).await {
        report.server_product = Some(server.product);
        report.server_version = server.version;
        report.server_description = Some(server.description);
        if let Some(user) = server.user {
            report.user = Some(user);
        }
        if url.backend != Backend::Sqlite {
            report.database_exists = Some(server.database.is_some());
            report.database = server.database;
            if report.database.is_none() {
                steps
                    .warnings
                    .push("the URL names no database: the version table needs one".into());
            }
        }
    }
    match url.backend {
        Backend::Sqlite => report.tls = TlsState::NotApplicable,
        _ => {
            if let Some((on, version, cipher)) = steps.run("TLS", tls_info(&mut db)).await {
                report.tls = if on { TlsState::On } else { TlsState::Off };
                report.tls_version = version;
                report.tls_cipher = cipher;
            }
        }
    }

    let table_name = table.sql_name(url.backend);
    if let Some(map) = map
        && report.database_exists != Some(false)
        && steps.alive
    {
        report.version_table = Some(
            match tokio::time::timeout(timeout, db.version_heads(table)).await {
                Ok(Ok(rows)) => compare_rows(map, table_name, rows.as_deref()),
                Ok(Err(e)) => unreadable(map, table_name, url.scrub(&e.to_string())),
                Err(_) => {
                    steps.alive = false;
                    unreadable(
                        map,
                        table_name,
                        format!("no answer within {} s", timeout.as_secs()),
                    )
                }
            },
        );
    }

    let holder = steps
        .run("migration lock", async {
            db.migration_lock_holder(table)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
    if let Some(holder) = holder {
        report.lock_free = Some(holder.is_none());
        report.lock_holder = holder;
    }

    if report.database_exists != Some(false) {
        let probe = if url.backend == Backend::Sqlite && report.lock_free == Some(false) {
            Some((
                None,
                "not probed: a migration holds the database".to_string(),
            ))
        } else {
            steps.run("create tables", may_create(&mut db, table)).await
        };
        if let Some((may, detail)) = probe {
            report.can_create_tables = may;
            report.create_tables_detail = Some(detail);
        }
    }

    if url.backend != Backend::Sqlite {
        report.dump_tool = Some(
            dump_tool(
                url.backend,
                report.server_version.as_deref(),
                report.server_product.as_deref(),
                timeout,
            )
            .await,
        );
    }
    report.warnings = steps.warnings;
    report
}

impl ConnectionReport {
    fn new(url: &DatabaseUrl, timeout: Duration) -> Self {
        let target = match url.backend {
            Backend::Sqlite => match &url.sqlite_path {
                Some(p) => p.display().to_string(),
                None => ":memory:".to_string(),
            },
            backend => {
                let host = url.host.clone().unwrap_or_else(|| "localhost".into());
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                let port = url.port.unwrap_or(match backend {
                    Backend::MySql => 3306,
                    _ => 5432,
                });
                format!("{host}:{port}")
            }
        };
        Self {
            url: url.redacted(),
            backend: url.backend,
            target,
            ssh: None,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            ok: false,
            reachable: None,
            authenticated: None,
            user: url.user.clone(),
            connect_ms: None,
            latency_ms: None,
            server_product: None,
            server_version: None,
            server_description: None,
            tls: match url.backend {
                Backend::Sqlite => TlsState::NotApplicable,
                _ => TlsState::Unknown,
            },
            tls_version: None,
            tls_cipher: None,
            database: match url.backend {
                Backend::Sqlite => Some(match &url.sqlite_path {
                    Some(p) => p.display().to_string(),
                    None => ":memory:".into(),
                }),
                _ => url.database.clone(),
            },
            database_exists: None,
            version_table: None,
            can_create_tables: None,
            create_tables_detail: None,
            lock_free: None,
            lock_holder: None,
            dump_tool: None,
            failure: None,
            warnings: Vec::new(),
        }
    }

    /// Records a failed connection (or a failed first round trip).
    fn refused(&mut self, url: &DatabaseUrl, refusal: Refusal, timeout: Duration) {
        self.ok = false;
        let facts = match &refusal {
            Refusal::Sqlx(e) => ErrorFacts::of(url.backend, e),
            Refusal::Timeout => ErrorFacts {
                backend: url.backend,
                source: Source::Timeout,
                code: None,
                number: None,
                message: format!(
                    "no answer from {} within {} s",
                    self.target,
                    timeout.as_secs_f64()
                ),
            },
            Refusal::InvalidUrl(m) => ErrorFacts {
                backend: url.backend,
                source: Source::Config,
                code: None,
                number: None,
                message: m.clone(),
            },
            Refusal::SqliteMissing => ErrorFacts {
                backend: url.backend,
                source: Source::SqliteMissing,
                code: None,
                number: None,
                message: format!("{}: no such file", self.target),
            },
            Refusal::SqliteUnreadable(e) => ErrorFacts {
                backend: url.backend,
                source: Source::Io(e.kind()),
                code: None,
                number: None,
                message: format!("{}: {e}", self.target),
            },
        };
        let kind = classify(&facts);
        // What the failure tells about how far the connection got.
        let server_answered = matches!(facts.source, Source::Database | Source::Protocol);
        (self.reachable, self.authenticated) = match (url.backend, kind) {
            (Backend::Sqlite, FailureKind::DatabaseMissing) => (Some(false), None),
            (Backend::Sqlite, FailureKind::Permission) => (Some(false), None),
            (Backend::Sqlite, _) => (Some(true), None),
            (_, FailureKind::HostUnreachable) => (Some(false), None),
            (_, FailureKind::Timeout | FailureKind::InvalidUrl) => (None, None),
            (_, FailureKind::TlsRefused | FailureKind::TlsFailed) => (Some(true), None),
            (_, FailureKind::AuthenticationFailed | FailureKind::TlsRequired) => {
                (Some(true), Some(false))
            }
            (_, FailureKind::DatabaseMissing) => (Some(true), Some(true)),
            (_, FailureKind::Permission) => (
                Some(true),
                // PostgreSQL's CONNECT privilege and MySQL's 1044 come after the login.
                (facts.code.as_deref() == Some("42501") || facts.number == Some(1044))
                    .then_some(true),
            ),
            (_, FailureKind::Other) => (server_answered.then_some(true), None),
        };
        if kind == FailureKind::DatabaseMissing {
            self.database_exists = Some(false);
        }
        let code = match url.backend {
            Backend::MySql => facts.number.map(|n| n.to_string()).or(facts.code.clone()),
            _ => facts.code.clone(),
        };
        self.failure = Some(ConnectionFailure {
            kind,
            message: super::through_the_tunnel(url, url.scrub(&facts.message)),
            code,
            advice: advice(kind, url.backend, &facts.message, timeout),
        });
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

// ----- connecting ----------------------------------------------------------------------

enum Refusal {
    Sqlx(sqlx::Error),
    Timeout,
    InvalidUrl(String),
    SqliteMissing,
    SqliteUnreadable(std::io::Error),
}

/// Connects as [`Database::connect`] does (a missing SQLite file is not created), keeping
/// the driver's error for classification.
async fn open(url: &DatabaseUrl, timeout: Duration) -> Result<Database, Refusal> {
    if let Some(path) = &url.sqlite_path {
        match std::fs::File::open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(Refusal::SqliteMissing),
            Err(e) => return Err(Refusal::SqliteUnreadable(e)),
        }
    }
    let conn = tokio::time::timeout(timeout, Conn::open(url, timeout, false))
        .await
        .map_err(|_| Refusal::Timeout)?
        .map_err(|e| match e {
            ConnectError::Url(e) => Refusal::InvalidUrl(e.to_string()),
            ConnectError::Driver(e) => Refusal::Sqlx(e),
        })?;
    Ok(Database {
        url: url.clone(),
        conn,
    })
}

async fn round_trip(db: &mut Database) -> Result<(), sqlx::Error> {
    on_conn!(&mut db.conn, c => c.round_trip().await)
}

/// Runs the checks after the connection, each bounded by the timeout; after a step that
/// got no answer the connection is in an unknown state, so the rest are skipped.
struct Steps {
    timeout: Duration,
    alive: bool,
    warnings: Vec<String>,
    url: DatabaseUrl,
}

impl Steps {
    async fn run<T, E: std::fmt::Display>(
        &mut self,
        what: &str,
        step: impl Future<Output = Result<T, E>>,
    ) -> Option<T> {
        if !self.alive {
            return None;
        }
        match tokio::time::timeout(self.timeout, step).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.warnings
                    .push(format!("{what}: {}", self.url.scrub(&e.to_string())));
                None
            }
            Err(_) => {
                self.alive = false;
                self.warnings.push(format!(
                    "{what}: no answer within {} s; the later checks were skipped",
                    self.timeout.as_secs()
                ));
                None
            }
        }
    }
}

// ----- what the server says ------------------------------------------------------------

pub(crate) struct ServerInfo {
    pub(crate) product: String,
    pub(crate) version: Option<String>,
    pub(crate) description: String,
    pub(crate) database: Option<String>,
    pub(crate) user: Option<String>,
}

pub(crate) async fn server_info(db: &mut Database) -> Result<ServerInfo, sqlx::Error> {
    on_conn!(&mut db.conn, c => c.server_info().await)
}

/// TLS in use, its protocol version and cipher.
async fn tls_info(
    db: &mut Database,
) -> Result<(bool, Option<String>, Option<String>), sqlx::Error> {
    on_conn!(&mut db.conn, c => c.tls_info().await)
}

/// May the user create tables where the version table goes? PostgreSQL and SQLite: a
/// `CREATE TABLE` inside a transaction that is rolled back ([`probe_create`]). MySQL (whose
/// DDL commits at once): the grants in `information_schema`.
async fn may_create(
    db: &mut Database,
    table: &VersionTable,
) -> Result<(Option<bool>, String), String> {
    let probe = format!(
        "retort_probe_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    on_conn!(&mut db.conn, c => c.may_create(&db.url, table, probe).await)
}

/// Creates the table `qualified` (`where_` says where, for the detail) in a transaction that
/// is rolled back: allowed, not allowed, or not known.
pub(super) async fn probe_create(
    c: &mut impl Engine,
    url: &DatabaseUrl,
    qualified: &str,
    where_: &str,
) -> Result<(Option<bool>, String), String> {
    c.execute("BEGIN")
        .await
        .map_err(|e| sql_failure(url, e).to_string())?;
    let created = c
        .execute(&format!("CREATE TABLE {qualified} (x INTEGER)"))
        .await
        .map_err(|e| sql_failure(url, e));
    let rolled_back = c.execute("ROLLBACK").await.map_err(|e| sql_failure(url, e));
    let result = match created {
        Ok(_) => Ok((
            Some(true),
            format!("allowed{where_} (probed in a rolled-back transaction)"),
        )),
        // 42501 insufficient_privilege, 25006 read-only transaction (a standby or
        // default_transaction_read_only); SQLite 8 SQLITE_READONLY.
        Err(f) if matches!(f.code.as_deref(), Some("42501" | "25006" | "8" | "1032")) => {
            Ok((Some(false), format!("not allowed{where_}: {f}")))
        }
        Err(f) if f.message.to_ascii_lowercase().contains("readonly") => {
            Ok((Some(false), format!("not allowed: {f}")))
        }
        Err(f) => Ok((None, format!("probe failed{where_}: {f}"))),
    };
    rolled_back.map_err(|f| format!("rollback of the probe failed: {f}"))?;
    result
}

// ----- the version table ---------------------------------------------------------------

fn unreadable(map: &RevisionMap, table: String, message: String) -> VersionTableCheck {
    VersionTableCheck {
        table,
        status: VersionStatus::Unreadable,
        rows: Vec::new(),
        heads: map.ids(map.heads()),
        behind_by: None,
        pending: Vec::new(),
        unknown: Vec::new(),
        detail: format!("could not read the version table: {message}"),
    }
}

/// Compares the version table's rows (`None`: no table) with the project's heads.
pub fn compare_rows(
    map: &RevisionMap,
    table: String,
    rows: Option<&[String]>,
) -> VersionTableCheck {
    let heads = map.ids(map.heads());
    let row_list: Vec<String> = rows.map(<[String]>::to_vec).unwrap_or_default();
    let unknown: Vec<String> = row_list
        .iter()
        .filter(|r| map.lookup(r).is_none_or(|i| map.rev(i).revision != **r))
        .cloned()
        .collect();
    let mut check = VersionTableCheck {
        table,
        status: VersionStatus::UpToDate,
        rows: row_list.clone(),
        heads: heads.clone(),
        behind_by: None,
        pending: Vec::new(),
        unknown: unknown.clone(),
        detail: String::new(),
    };
    if !unknown.is_empty() {
        check.status = VersionStatus::UnknownRevision;
        check.detail = format!(
            "the table names {} this project does not have: {} (migrated from a newer checkout or another branch?)",
            if unknown.len() == 1 {
                "a revision"
            } else {
                "revisions"
            },
            unknown.join(", ")
        );
        return check;
    }
    let applied: Vec<Idx> = row_list.iter().filter_map(|r| map.lookup(r)).collect();
    let pending = pending_steps(map, &applied);
    check.behind_by = Some(pending.len() as u64);
    // In upgrade order where the graph gives one; otherwise in load order.
    check.pending = map
        .upgrade_steps(&RevArg::one("heads"), &row_list)
        .ok()
        .filter(|steps| steps.iter().copied().collect::<BTreeSet<_>>() == pending)
        .map(|steps| map.ids(&steps))
        .unwrap_or_else(|| map.ids(&pending.iter().copied().collect::<Vec<_>>()));
    let n = pending.len();
    let steps = |n: usize| {
        if n == 1 {
            "1 revision".to_string()
        } else {
            format!("{n} revisions")
        }
    };
    if rows.is_none() {
        check.status = VersionStatus::NoTable;
        check.detail = if n == 0 {
            "no version table yet (and no revisions)".into()
        } else {
            format!("no version table yet: {} to apply", steps(n))
        };
    } else if row_list.iter().collect::<BTreeSet<_>>() == heads.iter().collect::<BTreeSet<_>>() {
        check.status = VersionStatus::UpToDate;
        check.detail = if heads.is_empty() {
            "up to date (no revisions)".into()
        } else {
            format!("up to date at {}", heads.join(", "))
        };
    } else if n > 0 {
        check.status = VersionStatus::Behind;
        check.detail = format!(
            "behind by {} (at {}; heads {})",
            steps(n),
            if row_list.is_empty() {
                "base".to_string()
            } else {
                row_list.join(", ")
            },
            heads.join(", ")
        );
    } else {
        check.status = VersionStatus::NotOnHeads;
        check.detail = format!(
            "every revision is applied, but the rows ({}) are not the heads ({})",
            row_list.join(", "),
            heads.join(", ")
        );
    }
    check
}

/// The revisions an upgrade to the heads still has to run: the ancestors of the heads
/// (dependencies included) that are not ancestors of the applied rows.
pub fn pending_steps(map: &RevisionMap, applied: &[Idx]) -> BTreeSet<Idx> {
    let done: BTreeSet<Idx> = map.ancestors(applied, true).into_iter().collect();
    map.ancestors(map.heads(), true)
        .into_iter()
        .filter(|i| !done.contains(i))
        .collect()
}

// ----- classifying failures ------------------------------------------------------------

/// Where an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Io(ErrorKind),
    Tls,
    /// The server answered with an error.
    Database,
    Protocol,
    Config,
    Timeout,
    SqliteMissing,
    Other,
}

/// What classification looks at, taken from a driver error (or made up in tests).
#[derive(Debug, Clone)]
pub(crate) struct ErrorFacts {
    pub backend: Backend,
    pub source: Source,
    /// SQLSTATE (PostgreSQL, MySQL) or SQLite's result code.
    pub code: Option<String>,
    /// MySQL's error number.
    pub number: Option<u16>,
    pub message: String,
}

impl ErrorFacts {
    fn of(backend: Backend, e: &sqlx::Error) -> Self {
        let (source, code, number, message) = match e {
            sqlx::Error::Database(db) => {
                let number = db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(|m| m.number());
                (
                    Source::Database,
                    db.code().map(|c| c.into_owned()),
                    number,
                    db.message().to_string(),
                )
            }
            sqlx::Error::Io(io) => (Source::Io(io.kind()), None, None, e.to_string()),
            sqlx::Error::Tls(_) => (Source::Tls, None, None, e.to_string()),
            sqlx::Error::Protocol(_) => (Source::Protocol, None, None, e.to_string()),
            sqlx::Error::Configuration(_) => (Source::Config, None, None, e.to_string()),
            _ => (Source::Other, None, None, e.to_string()),
        };
        Self {
            backend,
            source,
            code,
            number,
            message,
        }
    }
}

/// Names the failure: error codes first, the driver's words as a fallback.
pub(crate) fn classify(f: &ErrorFacts) -> FailureKind {
    use FailureKind as K;
    let msg = f.message.to_ascii_lowercase();
    let has = |s: &str| msg.contains(s);
    match f.source {
        Source::Timeout => return K::Timeout,
        Source::Config => return K::InvalidUrl,
        Source::SqliteMissing => return K::DatabaseMissing,
        Source::Tls => {
            return if has("does not support tls") || has("does not support ssl") {
                K::TlsRefused
            } else {
                K::TlsFailed
            };
        }
        Source::Io(kind) => match kind {
            ErrorKind::ConnectionRefused
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::AddrNotAvailable => return K::HostUnreachable,
            ErrorKind::TimedOut => return K::Timeout,
            ErrorKind::PermissionDenied if f.backend == Backend::Sqlite => return K::Permission,
            _ => {}
        },
        Source::Database => {
            if let Some(kind) = for_backend!(f.backend, E => E::failure_kind(f)) {
                return kind;
            }
        }
        Source::Protocol | Source::Other => {}
    }
    // The driver's words.
    if has("connection refused")
        || has("no route to host")
        || has("network is unreachable")
        || has("failed to lookup address")
        || has("name or service not known")
        || has("nodename nor servname")
        || has("temporary failure in name resolution")
        || has("no such host")
    {
        K::HostUnreachable
    } else if has("timed out") {
        K::Timeout
    } else if has("no encryption")
        || has("insecure transport are prohibited")
        || has("requires ssl")
        || has("ssl connection is required")
    {
        K::TlsRequired
    } else if has("does not support tls") || has("does not support ssl") {
        K::TlsRefused
    } else if has("password authentication failed")
        || has("authentication failed")
        || has("access denied for user")
    {
        K::AuthenticationFailed
    } else if (has("database") && has("does not exist")) || has("unknown database") {
        K::DatabaseMissing
    } else if has("permission denied") || has("not allowed to connect") {
        K::Permission
    } else {
        K::Other
    }
}

/// One line on what to do.
pub(crate) fn advice(
    kind: FailureKind,
    backend: Backend,
    message: &str,
    timeout: Duration,
) -> String {
    use FailureKind as K;
    let mysql = backend == Backend::MySql;
    let lower = message.to_ascii_lowercase();
    let unresolved = [
        "lookup address",
        "name or service not known",
        "name resolution",
        "nodename nor servname",
        "no such host",
    ]
    .iter()
    .any(|s| lower.contains(s));
    match kind {
        K::HostUnreachable if unresolved => "the host name does not resolve: check its spelling in the URL and the DNS (or /etc/hosts)".into(),
        K::HostUnreachable => "check the host and port in the URL, that the server runs and listens on that address (listen_addresses / bind-address), and that no firewall blocks the port".into(),
        K::Timeout => format!(
            "nothing answered within {} s: the host may be down or behind a firewall that drops packets, or the network slow; check the address or raise --connect-timeout",
            timeout.as_secs_f64()
        ),
        K::AuthenticationFailed if !mysql && message.contains("pg_hba.conf") => {
            "the server's pg_hba.conf has no line for this host, user and database: add one (or connect as a user it lists)".into()
        }
        K::AuthenticationFailed if mysql => "check the user name and password in the URL, and that the user exists for the host you connect from ('user'@'host')".into(),
        K::AuthenticationFailed => "check the user name and password in the URL (special characters percent-encoded), and the pg_hba.conf method for this host".into(),
        K::DatabaseMissing if backend == Backend::Sqlite => "the file does not exist: `retort upgrade` creates it, or fix the path (a relative path is taken from the project's folder)".into(),
        K::DatabaseMissing => "create the database (CREATE DATABASE ...) or fix its name in the URL; Retort does not create server databases".into(),
        K::TlsRequired if mysql => "the server accepts only encrypted connections: add ?ssl_mode=REQUIRED to the URL".into(),
        K::TlsRequired => "the server accepts only encrypted connections: add ?sslmode=require (or verify-full) to the URL".into(),
        K::TlsRefused if mysql => "the URL requires TLS but the server does not offer it: enable TLS on the server, or use ssl_mode=PREFERRED on a trusted network".into(),
        K::TlsRefused => "the URL requires TLS but the server does not offer it: turn ssl on in postgresql.conf, or use sslmode=prefer on a trusted network".into(),
        K::TlsFailed if mysql => "the TLS handshake failed: check the server's certificate and ssl_ca, or the ssl_mode (VERIFY_IDENTITY checks the host name)".into(),
        K::TlsFailed => "the TLS handshake failed: check the server's certificate and sslrootcert, or the sslmode (verify-full checks the host name)".into(),
        K::Permission if backend == Backend::Sqlite => "the file (or its folder) is not readable by this user: fix its permissions or ownership".into(),
        K::Permission if mysql => "the user lacks privileges on this database or may not connect from this host: GRANT ... ON db.* TO 'user'@'host'".into(),
        K::Permission => "the user may not connect to this database: GRANT CONNECT ON DATABASE ... TO the user (its owner or a superuser can)".into(),
        K::InvalidUrl => "fix the URL's options (PostgreSQL sslmode: disable, prefer, require, verify-ca, verify-full; MySQL ssl_mode: DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)".into(),
        K::Other if backend == Backend::Sqlite => "check that the file is a SQLite database and not damaged".into(),
        K::Other if mysql => "check that a MySQL or MariaDB server listens on that port and accepts connections".into(),
        K::Other => "check that a PostgreSQL server listens on that port and accepts connections".into(),
    }
}

// ----- versions and dump tools ---------------------------------------------------------

/// The first dotted number in `text`: `15.20 (Debian …)` → [15, 20], `10.11.19-MariaDB` →
/// [10, 11, 19], `16beta1` → [16].
pub fn parse_version(text: &str) -> Option<Vec<u32>> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .find_map(|token| {
            let lead: String = token
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let parts: Vec<u32> = lead.split('.').map_while(|p| p.parse().ok()).collect();
            (!parts.is_empty()).then_some(parts)
        })
}

pub(super) fn join_version(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// The version a dump tool prints with `--version`.
/// `pg_dump (PostgreSQL) 15.20 (Debian …)`,
/// `mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for …`,
/// `mariadb-dump from 11.4.2-MariaDB, client 10.19 for …`,
/// `mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)`.
pub fn dump_tool_version(output: &str) -> Option<Vec<u32>> {
    for marker in ["Distrib ", " from ", "(PostgreSQL) ", "Ver "] {
        if let Some((_, rest)) = output.split_once(marker)
            && let Some(v) = parse_version(rest)
        {
            return Some(v);
        }
    }
    parse_version(output)
}

/// PostgreSQL's major version: the first number from 10 on, the first two before.
pub fn pg_major(v: &[u32]) -> Vec<u32> {
    match v {
        [first, ..] if *first >= 10 => vec![*first],
        [first, second, ..] => vec![*first, *second],
        other => other.to_vec(),
    }
}

/// Where dump tools are looked for: `PATH`, then the usual install folders of versioned
/// PostgreSQL packages.
fn candidates(name: &str) -> Vec<PathBuf> {
    let exe = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let mut found: Vec<PathBuf> = Vec::new();
    found.extend(every_on_path(
        exe.as_ref(),
        std::env::var_os("PATH").as_deref(),
    ));
    if name == "pg_dump" {
        // Versioned installs: Debian/Ubuntu, RHEL (PGDG), Homebrew, Postgres.app.
        let versioned = [
            ("/usr/lib/postgresql", ""),
            ("/usr", "pgsql-"),
            ("/opt/homebrew/opt", "postgresql"),
            ("/opt/homebrew/opt", "libpq"),
            ("/usr/local/opt", "postgresql"),
            ("/usr/local/opt", "libpq"),
            ("/Applications/Postgres.app/Contents/Versions", ""),
        ];
        for (root, prefix) in versioned {
            let Ok(entries) = std::fs::read_dir(root) else {
                continue;
            };
            let mut dirs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect();
            dirs.sort();
            found.extend(dirs.into_iter().map(|d| d.join("bin").join(&exe)));
        }
    }
    let mut seen = BTreeSet::new();
    found
        .into_iter()
        .filter(|p| is_executable(p))
        .filter(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())))
        .collect()
}

/// `program --version`, bounded by the timeout.
async fn tool_version(program: &Path, timeout: Duration) -> Option<(Vec<u32>, String)> {
    let run = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(timeout, run).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    dump_tool_version(&text).map(|v| (v, text))
}

/// The dump tool for `backend` (the backup module runs the one this picks).
pub async fn dump_tool(
    backend: Backend,
    server_version: Option<&str>,
    server_product: Option<&str>,
    timeout: Duration,
) -> DumpToolCheck {
    let names: &[&str] = match (backend, server_product) {
        (Backend::Postgres, _) => &["pg_dump"],
        (_, Some("MySQL")) => &["mysqldump", "mariadb-dump"],
        _ => &["mariadb-dump", "mysqldump"],
    };
    let mut tools = Vec::new();
    for name in names {
        for path in candidates(name) {
            if let Some((version, text)) = tool_version(&path, timeout).await {
                tools.push((name.to_string(), path, version, text));
            }
        }
    }
    let Some(first) = tools.first() else {
        let wanted = names[0];
        let install = match backend {
            Backend::Postgres => {
                "install the PostgreSQL client (e.g. postgresql-client) of the server's version or newer"
            }
            _ => "install the MariaDB or MySQL client (mariadb-client / mysql-client)",
        };
        return DumpToolCheck {
            name: wanted.to_string(),
            found: false,
            path: None,
            version: None,
            compatible: None,
            detail: format!("{wanted} not found: backups before migrating need it; {install}"),
        };
    };
    if backend == Backend::Postgres {
        let server = server_version.and_then(parse_version).map(|v| pg_major(&v));
        let chosen = match &server {
            // The first one on PATH that can dump the server, else the newest.
            Some(s) => tools
                .iter()
                .find(|t| pg_major(&t.2) >= *s)
                .unwrap_or_else(|| tools.iter().max_by(|a, b| a.2.cmp(&b.2)).unwrap_or(first)),
            None => first,
        };
        let compatible = server.as_ref().map(|s| pg_major(&chosen.2) >= *s);
        let at = format!("{} at {}", join_version(&chosen.2), chosen.1.display());
        let detail = match (&server, compatible) {
            (Some(s), Some(true)) => {
                format!("{at}: can dump a PostgreSQL {} server", join_version(s))
            }
            (Some(s), _) => format!(
                "{at}: older than the server ({}), and pg_dump refuses newer servers; install the PostgreSQL {} client",
                join_version(s),
                join_version(s)
            ),
            _ => format!("{at} (the server's version is not known)"),
        };
        return DumpToolCheck {
            name: chosen.0.clone(),
            found: true,
            path: Some(chosen.1.display().to_string()),
            version: Some(join_version(&chosen.2)),
            compatible,
            detail,
        };
    }
    let (name, path, version, text) = first;
    let tool_is_mariadb = text.to_ascii_lowercase().contains("mariadb");
    let note = match (server_product, tool_is_mariadb) {
        (Some("MySQL"), true) => "; a MariaDB dump tool against MySQL may miss MySQL-only features",
        (Some("MariaDB"), false) => {
            "; MySQL's mysqldump against MariaDB may need --column-statistics=0"
        }
        _ => "",
    };
    DumpToolCheck {
        name: name.clone(),
        found: true,
        path: Some(path.display().to_string()),
        version: Some(join_version(version)),
        compatible: None,
        detail: format!(
            "{} at {} ({}'s){note}",
            join_version(version),
            path.display(),
            if tool_is_mariadb { "MariaDB" } else { "MySQL" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::RevisionDecl;

    fn facts(
        backend: Backend,
        source: Source,
        code: Option<&str>,
        number: Option<u16>,
        message: &str,
    ) -> ErrorFacts {
        ErrorFacts {
            backend,
            source,
            code: code.map(str::to_string),
            number,
            message: message.to_string(),
        }
    }

    #[test]
    fn failures_are_classified_from_codes() {
        use Backend::*;
        use FailureKind as K;
        let pg = |code: &str, msg: &str| {
            classify(&facts(Postgres, Source::Database, Some(code), None, msg))
        };
        assert_eq!(
            pg("28P01", "password authentication failed for user \"x\""),
            K::AuthenticationFailed
        );
        assert_eq!(
            pg(
                "28000",
                "no pg_hba.conf entry for host \"10.0.0.2\", user \"x\", database \"d\", no encryption"
            ),
            K::TlsRequired
        );
        assert_eq!(
            pg(
                "28000",
                "no pg_hba.conf entry for host \"10.0.0.2\", user \"x\", database \"d\", SSL encryption"
            ),
            K::AuthenticationFailed
        );
        assert_eq!(
            pg("3D000", "database \"nope\" does not exist"),
            K::DatabaseMissing
        );
        assert_eq!(
            pg("42501", "permission denied for database \"d\""),
            K::Permission
        );
        assert_eq!(pg("53300", "sorry, too many clients already"), K::Other);

        let my = |n: u16, state: &str, msg: &str| {
            classify(&facts(MySql, Source::Database, Some(state), Some(n), msg))
        };
        assert_eq!(
            my(
                1045,
                "28000",
                "Access denied for user 'u'@'h' (using password: YES)"
            ),
            K::AuthenticationFailed
        );
        assert_eq!(
            my(1049, "42000", "Unknown database 'nope'"),
            K::DatabaseMissing
        );
        assert_eq!(
            my(
                1044,
                "42000",
                "Access denied for user 'u'@'%' to database 'd'"
            ),
            K::Permission
        );
        assert_eq!(
            my(
                3159,
                "HY000",
                "Connections using insecure transport are prohibited while --require_secure_transport=ON."
            ),
            K::TlsRequired
        );

        let sqlite = classify(&facts(
            Sqlite,
            Source::Database,
            Some("14"),
            None,
            "unable to open database file",
        ));
        assert_eq!(sqlite, K::Permission);
        assert_eq!(
            classify(&facts(Sqlite, Source::SqliteMissing, None, None, "x")),
            K::DatabaseMissing
        );
        assert_eq!(
            classify(&facts(
                Sqlite,
                Source::Io(ErrorKind::PermissionDenied),
                None,
                None,
                "x"
            )),
            K::Permission
        );
    }

    #[test]
    fn failures_are_classified_from_transport_and_words() {
        use Backend::*;
        use FailureKind as K;
        let io = |kind: ErrorKind, msg: &str| {
            classify(&facts(Postgres, Source::Io(kind), None, None, msg))
        };
        assert_eq!(
            io(
                ErrorKind::ConnectionRefused,
                "Connection refused (os error 111)"
            ),
            K::HostUnreachable
        );
        assert_eq!(
            io(ErrorKind::HostUnreachable, "No route to host"),
            K::HostUnreachable
        );
        assert_eq!(
            io(
                ErrorKind::Other,
                "error communicating with database: failed to lookup address information: Name or service not known"
            ),
            K::HostUnreachable
        );
        assert_eq!(io(ErrorKind::TimedOut, "Connection timed out"), K::Timeout);
        assert_eq!(
            io(ErrorKind::UnexpectedEof, "unexpected end of file"),
            K::Other
        );
        assert_eq!(
            classify(&facts(MySql, Source::Timeout, None, None, "")),
            K::Timeout
        );
        assert_eq!(
            classify(&facts(
                Postgres,
                Source::Config,
                None,
                None,
                "unknown sslmode 'x'"
            )),
            K::InvalidUrl
        );
        let tls = |msg: &str| classify(&facts(Postgres, Source::Tls, None, None, msg));
        assert_eq!(
            tls(
                "error occurred while attempting to establish a TLS connection: server does not support TLS"
            ),
            K::TlsRefused
        );
        assert_eq!(tls("invalid peer certificate: UnknownIssuer"), K::TlsFailed);
        // Without a code, the words decide.
        let words = |msg: &str| classify(&facts(Postgres, Source::Other, None, None, msg));
        assert_eq!(
            words("FATAL: password authentication failed for user \"x\""),
            K::AuthenticationFailed
        );
        assert_eq!(words("database \"x\" does not exist"), K::DatabaseMissing);
        assert_eq!(words("something odd"), K::Other);
    }

    #[test]
    fn every_kind_has_advice() {
        use FailureKind as K;
        let kinds = [
            K::HostUnreachable,
            K::Timeout,
            K::AuthenticationFailed,
            K::DatabaseMissing,
            K::TlsRequired,
            K::TlsRefused,
            K::TlsFailed,
            K::Permission,
            K::InvalidUrl,
            K::Other,
        ];
        for backend in [Backend::Postgres, Backend::MySql, Backend::Sqlite] {
            for kind in kinds {
                let a = advice(kind, backend, "", Duration::from_secs(5));
                assert!(!a.is_empty() && !a.contains('\n'), "{kind:?}: {a}");
            }
        }
        assert!(advice(K::Timeout, Backend::Postgres, "", Duration::from_secs(2)).contains("2 s"));
    }

    #[test]
    fn versions_are_parsed() {
        assert_eq!(
            parse_version("15.20 (Debian 15.20-0+deb12u1)"),
            Some(vec![15, 20])
        );
        assert_eq!(
            parse_version("10.11.19-MariaDB-0+deb12u1"),
            Some(vec![10, 11, 19])
        );
        assert_eq!(parse_version("16beta1"), Some(vec![16]));
        assert_eq!(
            parse_version("PostgreSQL 9.6.24 on x86_64"),
            Some(vec![9, 6, 24])
        );
        assert_eq!(parse_version("no digits"), None);
        assert_eq!(
            dump_tool_version("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"),
            Some(vec![15, 20])
        );
        assert_eq!(
            dump_tool_version(
                "mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)"
            ),
            Some(vec![10, 11, 19])
        );
        assert_eq!(
            dump_tool_version(
                "mariadb-dump from 11.4.2-MariaDB, client 10.19 for linux-systemd (x86_64)"
            ),
            Some(vec![11, 4, 2])
        );
        assert_eq!(
            dump_tool_version(
                "mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)"
            ),
            Some(vec![8, 0, 36])
        );
        assert_eq!(pg_major(&[15, 20]), vec![15]);
        assert_eq!(pg_major(&[9, 6, 24]), vec![9, 6]);
        assert!(pg_major(&[16, 1]) >= pg_major(&[15, 20]));
        assert!(pg_major(&[14, 9]) < pg_major(&[15, 0]));
        assert!(pg_major(&[10, 0]) > pg_major(&[9, 6, 24]));
    }

    /// a → b → c → m (merge of c and d), a → d; x depends on b.
    fn map() -> RevisionMap {
        RevisionMap::build([
            RevisionDecl::new("a", &[]),
            RevisionDecl::new("b", &["a"]),
            RevisionDecl::new("c", &["b"]),
            RevisionDecl::new("d", &["a"]),
            RevisionDecl::new("m", &["c", "d"]),
            RevisionDecl::new("x", &[]).depends_on(&["b"]),
        ])
        .unwrap()
    }

    fn compare(rows: Option<&[&str]>) -> VersionTableCheck {
        let map = map();
        let rows: Option<Vec<String>> = rows.map(|r| r.iter().map(|s| s.to_string()).collect());
        compare_rows(&map, "alembic_version".into(), rows.as_deref())
    }

    #[test]
    fn rows_against_heads() {
        let none = compare(None);
        assert_eq!(
            (none.status, none.behind_by),
            (VersionStatus::NoTable, Some(6))
        );
        let empty = compare(Some(&[]));
        assert_eq!(
            (empty.status, empty.behind_by),
            (VersionStatus::Behind, Some(6))
        );
        let done = compare(Some(&["m", "x"]));
        assert_eq!(
            (done.status, done.behind_by),
            (VersionStatus::UpToDate, Some(0))
        );
        assert!(done.pending.is_empty());
        // From b: c, d, m and x remain.
        let b = compare(Some(&["b"]));
        assert_eq!((b.status, b.behind_by), (VersionStatus::Behind, Some(4)));
        let mut pending = b.pending.clone();
        pending.sort();
        assert_eq!(pending, ["c", "d", "m", "x"]);
        assert!(b.detail.contains("behind by 4 revisions"), "{}", b.detail);
        // On both branches below the merge: only m and x.
        let cd = compare(Some(&["c", "d"]));
        assert_eq!(cd.behind_by, Some(2));
        // x applied with its dependency b, but not c, d, m.
        let x = compare(Some(&["x"]));
        assert_eq!(x.behind_by, Some(3));
        // An id the project lacks.
        let unknown = compare(Some(&["m", "ffff0000"]));
        assert_eq!(unknown.status, VersionStatus::UnknownRevision);
        assert_eq!(unknown.unknown, ["ffff0000"]);
        assert_eq!(unknown.behind_by, None);
        // A row below another row: everything is applied, but the rows are not the heads.
        let odd = compare(Some(&["m", "x", "a"]));
        assert_eq!(
            (odd.status, odd.behind_by),
            (VersionStatus::NotOnHeads, Some(0))
        );
    }

    #[test]
    fn report_serializes_in_snake_case() {
        let url = DatabaseUrl::parse("postgresql://u:sekret@h:5433/d", Path::new("/")).unwrap();
        let mut report = ConnectionReport::new(&url, Duration::from_secs(5));
        report.refused(
            &url,
            Refusal::Sqlx(sqlx::Error::Protocol(
                "password authentication failed for user u (password sekret)".into(),
            )),
            Duration::from_secs(5),
        );
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains("sekret"), "{json}");
        assert!(json.contains("\"target\":\"h:5433\""), "{json}");
        assert!(json.contains("\"tls\":\"unknown\""), "{json}");
        assert!(
            json.contains("\"kind\":\"authentication_failed\""),
            "{json}"
        );
    }
}
