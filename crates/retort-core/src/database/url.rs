//! SQLAlchemy-style database URLs (`postgresql+psycopg2://u:p@h:5432/db?sslmode=require`,
//! `mysql+pymysql://…`, `sqlite:///relative.db`, `sqlite:////abs.db`, `sqlite://`).
//!
//! The password is kept in a [`Secret`] that never prints; [`DatabaseUrl::redacted`] is the
//! only way a URL is shown.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))] // no panic on any input (docs/fuzzing.md)

use super::DatabaseError;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

/// A password. `Debug` and `Display` print `***`; only [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// The scheme as written (`postgresql+psycopg2`), kept for display.
    pub scheme: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    /// The userinfo password, or a `password=`/`passwd=` query option (which wins, as in
    /// SQLAlchemy, where query options override the URL's parts).
    pub password: Option<Secret>,
    pub database: Option<String>,
    /// SQLite: the database file; `None` for an in-memory database.
    pub sqlite_path: Option<PathBuf>,
    /// SQLite: the path as written in the URL, which is how the URL is shown.
    sqlite_written: String,
    /// The query options but the password; secret-bearing ones ([`is_secret_option`]) are
    /// kept for the driver but never shown.
    pub query: Vec<(String, String)>,
    /// Every secret the text held (a password the query overrode too), for [`Self::scrub`].
    secrets: Vec<Secret>,
    /// The options from here on came after a secret one: they may be the rest of a password
    /// typed with a raw `&`, so they are shown as `***`.
    doubtful_from: Option<usize>,
    /// Where `host:port` is reached when not directly: the local end of an SSH tunnel. The
    /// URL still names the real server (shown, journaled, matched on); connections go here.
    pub via: Option<Via>,
    /// A password that expires (a token from a command), fetched again when it is older than
    /// its lifetime; [`Self::password`] is the first one fetched.
    pub refresh: Option<Refresh>,
}

/// The local end of a tunnel to a URL's server, and what the tunnel knows when a connection
/// through it fails (the SSH hop's own words: a refused forward, a lost bastion).
#[derive(Clone)]
pub struct Via {
    pub local: std::net::SocketAddr,
    /// How the route reads ("SSH via bastion").
    pub route: String,
    diagnosis: std::sync::Arc<dyn Fn() -> Option<String> + Send + Sync>,
}

impl Via {
    pub fn new(
        local: std::net::SocketAddr,
        route: String,
        diagnosis: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            local,
            route,
            diagnosis: std::sync::Arc::new(diagnosis),
        }
    }

    /// What went wrong on the tunnel's side, if it knows.
    pub fn diagnosis(&self) -> Option<String> {
        (self.diagnosis)()
    }
}

/// A password fetched again once it is older than `lifetime` (short-lived tokens: an IAM
/// token lives 15 minutes, a run may last longer). Every password it gave is kept for
/// [`DatabaseUrl::scrub`].
#[derive(Clone)]
pub struct Refresh {
    lifetime: std::time::Duration,
    fetch: std::sync::Arc<dyn Fn() -> Result<Secret, String> + Send + Sync>,
    state: std::sync::Arc<std::sync::Mutex<Fetched>>,
}

struct Fetched {
    current: Secret,
    at: std::time::Instant,
    every: Vec<Secret>,
}

impl Refresh {
    /// `first` was fetched just now by `fetch`.
    pub fn new(
        first: Secret,
        lifetime: std::time::Duration,
        fetch: impl Fn() -> Result<Secret, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            lifetime,
            fetch: std::sync::Arc::new(fetch),
            state: std::sync::Arc::new(std::sync::Mutex::new(Fetched {
                current: first.clone(),
                at: std::time::Instant::now(),
                every: vec![first],
            })),
        }
    }

    /// The password to connect with now: the last one, or a new one when it has expired.
    /// Blocks while the command runs.
    fn now(&self) -> Result<Secret, String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.at.elapsed() >= self.lifetime {
            let fresh = (self.fetch)()?;
            state.current = fresh.clone();
            state.at = std::time::Instant::now();
            state.every.push(fresh);
        }
        Ok(state.current.clone())
    }

    fn every(&self) -> Vec<Secret> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.every.clone()
    }
}

impl PartialEq for Via {
    fn eq(&self, other: &Self) -> bool {
        self.local == other.local
    }
}
impl Eq for Via {}
impl PartialEq for Refresh {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.state, &other.state)
    }
}
impl Eq for Refresh {}

/// The parts of a server URL after `scheme://`, split as SQLAlchemy's `make_url` does.
struct Parts<'a> {
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<u16>,
    database: Option<&'a str>,
    query: &'a str,
}

/// Why a server URL does not split; never quotes the text (it may hold a password).
const NO_PORT: &str = "the part after the host's ':' is not a port number (a password goes between the user and '@host': postgresql://user:password@host/db)";
const AT_IN_HOST: &str =
    "it holds more than one '@': write an '@' inside the user or password as %40";
const OPEN_BRACKET: &str = "an IPv6 host's '[' has no closing ']'";

fn split_server(rest: &str) -> Result<Parts<'_>, &'static str> {
    // `user[:password]@`: the user runs to the first ':', the password to the first '@'
    // (so it may hold '/', '?', '#' or ':' as typed). A '/' or '?' before that ':' or '@'
    // means there is no userinfo.
    let (user, password, after) = match rest.split_once('@') {
        Some((info, after)) => {
            let (user, password) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            if user.contains(['/', '?']) {
                (None, None, rest)
            } else {
                (Some(user), password, after)
            }
        }
        None => (None, None, rest),
    };
    // A raw '@' in a password splits it early; what follows then holds another '@'.
    if password.is_some() && after.contains('@') {
        return Err(AT_IN_HOST);
    }
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, tail) = after.split_at(end);
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after_host) = bracketed.split_once(']').ok_or(OPEN_BRACKET)?;
        match after_host.strip_prefix(':') {
            Some(port) => (host, port),
            None if after_host.is_empty() => (host, ""),
            None => return Err(NO_PORT),
        }
    } else {
        authority.split_once(':').unwrap_or((authority, ""))
    };
    if host.contains('@') {
        return Err(AT_IN_HOST);
    }
    let port = match port {
        "" => None,
        p if p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().map_err(|_| NO_PORT)?),
        _ => return Err(NO_PORT),
    };
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    Ok(Parts {
        user,
        password,
        host: Some(host).filter(|h| !h.is_empty()),
        port,
        database: path.strip_prefix('/').filter(|d| !d.is_empty()),
        query,
    })
}

/// Query options that carry a secret (`password`, `passwd`, `sslpassword`, a token): shown
/// as `***`, scrubbed from messages. Keys compare decoded and case-insensitively.
pub fn is_secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| key.contains(word))
}

/// The query options that are the connection's password (libpq's and PyMySQL's keywords).
fn is_password_option(key: &str) -> bool {
    key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("passwd")
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A scheme as SQLAlchemy reads it (`[\w+]+`), so a mistyped URL is never quoted as one.
fn plausible_scheme(scheme: &str) -> bool {
    !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+_.-".contains(&b))
}

impl DatabaseUrl {
    /// Parses a URL; a relative SQLite path is taken relative to `base_dir` (the project's
    /// folder), so the same project finds the same file wherever Retort is started.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Self, DatabaseError> {
        let text = text.trim();
        let Some((scheme, rest)) = text
            .split_once("://")
            .filter(|(scheme, _)| plausible_scheme(scheme))
        else {
            // Not quoted: a mistyped URL may be all password.
            return Err(DatabaseError::InvalidUrl(
                "the text is not a database URL (expected e.g. postgresql://user@host/db or sqlite:///file.db)".into(),
            ));
        };
        let dialect = scheme
            .split('+')
            .next()
            .unwrap_or(scheme)
            .to_ascii_lowercase();
        let backend = match dialect.as_str() {
            "sqlite" => Backend::Sqlite,
            "postgresql" | "postgres" | "pgsql" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::MySql,
            other => {
                return Err(DatabaseError::InvalidUrl(format!(
                    "unsupported database '{other}' (the URL's scheme): Retort supports sqlite, postgresql, mysql and mariadb"
                )));
            }
        };
        let mut url = if backend == Backend::Sqlite {
            Self::parse_sqlite(scheme, rest, base_dir)
        } else {
            let parts = split_server(rest)
                // Where the password ends cannot be told: none of the rest is shown.
                .map_err(|why| DatabaseError::InvalidUrl(format!("'{scheme}://***': {why}")))?;
            let mut secrets = Vec::new();
            let password = parts
                .password
                .map(percent_decode)
                .filter(|p| !p.is_empty())
                .map(Secret::new);
            secrets.extend(password.clone());
            Self {
                backend,
                scheme: scheme.to_string(),
                host: parts.host.map(str::to_string),
                port: parts.port,
                user: parts.user.map(percent_decode).filter(|u| !u.is_empty()),
                password,
                database: parts.database.map(percent_decode),
                sqlite_path: None,
                sqlite_written: String::new(),
                query: query_pairs(parts.query),
                secrets,
                doubtful_from: None,
                via: None,
                refresh: None,
            }
        };
        url.take_query_secrets();
        Ok(url)
    }

    /// Moves a `password=`/`passwd=` option into [`Self::password`] and remembers every
    /// secret option's value for [`Self::scrub`].
    fn take_query_secrets(&mut self) {
        let mut query = Vec::with_capacity(self.query.len());
        for (key, value) in std::mem::take(&mut self.query) {
            if is_secret_option(&key) {
                self.secrets.push(Secret::new(value.clone()));
                self.doubtful_from.get_or_insert(query.len());
            }
            if is_password_option(&key) && self.backend != Backend::Sqlite {
                if !value.is_empty() {
                    self.password = Some(Secret::new(value));
                }
            } else {
                query.push((key, value));
            }
        }
        self.query = query;
    }

    fn parse_sqlite(scheme: &str, rest: &str, base_dir: &Path) -> Self {
        let (path_part, query) = match rest.split_once('?') {
            Some((p, q)) => (p, q),
            None => (rest, ""),
        };
        // `sqlite://` and `sqlite:///:memory:` are in memory; `sqlite:///x` is relative,
        // `sqlite:////x` absolute (the first slash ends the empty host).
        let path = path_part.strip_prefix('/').unwrap_or(path_part);
        let sqlite_path = match path {
            "" | ":memory:" => None,
            p if Path::new(p).is_absolute() => Some(PathBuf::from(p)),
            p => Some(base_dir.join(p)),
        };
        Self {
            backend: Backend::Sqlite,
            scheme: scheme.to_string(),
            host: None,
            port: None,
            user: None,
            password: None,
            database: None,
            sqlite_path,
            sqlite_written: path_part.to_string(),
            query: query_pairs(query),
            secrets: Vec::new(),
            doubtful_from: None,
            via: None,
            refresh: None,
        }
    }

    /// The host to open a connection to: the tunnel's local end, or the URL's own host.
    pub fn connect_host(&self) -> Option<String> {
        match &self.via {
            Some(via) => Some(via.local.ip().to_string()),
            None => self.host.clone(),
        }
    }

    /// The port to open a connection to (see [`Self::connect_host`]).
    pub fn connect_port(&self) -> Option<u16> {
        match &self.via {
            Some(via) => Some(via.local.port()),
            None => self.port,
        }
    }

    /// The password to connect with now: a token fetched again once expired
    /// ([`Refresh`]), else [`Self::password`]. Blocks while a command runs.
    pub fn current_password(&self) -> Result<Option<Secret>, DatabaseError> {
        match &self.refresh {
            Some(refresh) => refresh.now().map(Some).map_err(DatabaseError::Password),
            None => Ok(self.password.clone()),
        }
    }

    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The URL with every secret shown as `***` (the password in the userinfo, wherever it
    /// was written; secret-bearing query options): the only way a URL is ever shown.
    pub fn redacted(&self) -> String {
        if self.backend == Backend::Sqlite {
            return format!(
                "{}://{}{}",
                self.scheme,
                self.sqlite_written,
                self.query_string()
            );
        }
        let mut out = format!("{}://", self.scheme);
        if self.user.is_some() || self.password.is_some() {
            out.push_str(&percent_encode(self.user.as_deref().unwrap_or_default()));
            if self.password.is_some() {
                out.push_str(":***");
            }
            out.push('@');
        }
        if let Some(host) = &self.host {
            if host.contains(':') {
                out.push_str(&format!("[{host}]"));
            } else {
                out.push_str(host);
            }
        }
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        if let Some(db) = &self.database {
            out.push('/');
            out.push_str(db);
        }
        out.push_str(&self.query_string());
        out
    }

    /// The database itself, whoever connects and however the URL is spelled: engine, host,
    /// port and name, or the SQLite file. What the journal matches "applied here" on.
    pub fn location(&self) -> String {
        match self.backend {
            Backend::Sqlite => match &self.sqlite_path {
                Some(path) => format!(
                    "sqlite:{}",
                    std::path::absolute(path)
                        .unwrap_or_else(|_| path.clone())
                        .display()
                ),
                None => "sqlite::memory:".to_string(),
            },
            Backend::Postgres | Backend::MySql => {
                let (engine, default_port) = if self.backend == Backend::Postgres {
                    ("postgresql", 5432)
                } else {
                    ("mysql", 3306)
                };
                let host = match self.host.as_deref().map(str::to_ascii_lowercase) {
                    None => "localhost".to_string(),
                    Some(h) if h == "127.0.0.1" || h == "::1" => "localhost".to_string(),
                    Some(h) => h,
                };
                format!(
                    "{engine}://{host}:{}/{}",
                    self.port.unwrap_or(default_port),
                    self.database.as_deref().unwrap_or_default()
                )
            }
        }
    }

    fn query_string(&self) -> String {
        shown_query(&self.query, self.doubtful_from)
    }

    /// Removes every secret of the URL from any text (e.g. a driver's error message), as
    /// written and percent-encoded.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        let refreshed = self
            .refresh
            .as_ref()
            .map(Refresh::every)
            .unwrap_or_default();
        for secret in self.password.iter().chain(&self.secrets).chain(&refreshed) {
            let secret = secret.expose();
            if secret.is_empty() {
                continue;
            }
            let encoded = quote_all(secret);
            for form in [
                secret.to_string(),
                encoded.clone(),
                encoded.to_ascii_lowercase(),
                percent_encode(secret),
            ] {
                text = text.replace(&form, "***");
            }
        }
        text
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `?k=v&…` with secret options' values as `***`, and every option after the first secret
/// one as `***` (it may be the rest of a password that held a raw `&`).
fn shown_query(pairs: &[(String, String)], doubtful_from: Option<usize>) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = pairs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            if is_secret_option(k) {
                format!("{k}=***")
            } else if doubtful_from.is_some_and(|from| i >= from) {
                "***".to_string()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!("?{}", shown.join("&"))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn percent_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters, as URL builders do.
fn quote_all(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DatabaseUrl {
        DatabaseUrl::parse(s, Path::new("/proj")).unwrap()
    }

    #[test]
    fn an_expired_password_is_fetched_again_and_every_one_is_scrubbed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&calls);
        let fetch = move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Secret::new(format!("token-{n}")))
        };
        let mut url = parse("postgresql://u@db.example/app");
        url.password = Some(Secret::new("token-0"));
        // Still fresh: the first password, no call.
        url.refresh = Some(Refresh::new(
            Secret::new("token-0"),
            std::time::Duration::from_secs(3600),
            fetch.clone(),
        ));
        assert_eq!(url.current_password().unwrap().unwrap().expose(), "token-0");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        // Expired at once: each connection fetches a new one.
        url.refresh = Some(Refresh::new(
            Secret::new("token-0"),
            std::time::Duration::ZERO,
            fetch,
        ));
        assert_eq!(url.current_password().unwrap().unwrap().expose(), "token-1");
        assert_eq!(url.current_password().unwrap().unwrap().expose(), "token-2");
        assert_eq!(
            url.scrub("saw token-0, token-1 and token-2"),
            "saw ***, *** and ***"
        );
        // A failing command is the connection's error.
        url.refresh = Some(Refresh::new(
            Secret::new("x"),
            std::time::Duration::ZERO,
            || Err("the password command `vault` failed".to_string()),
        ));
        assert!(matches!(
            url.current_password(),
            Err(DatabaseError::Password(_))
        ));
    }

    #[test]
    fn a_tunnel_changes_where_connections_go_not_what_the_url_names() {
        let mut url = parse("postgresql://u@db.internal:6543/app");
        url.via = Some(Via::new(
            "127.0.0.1:40001".parse().unwrap(),
            "SSH via bastion".into(),
            || None,
        ));
        assert_eq!(url.connect_host().as_deref(), Some("127.0.0.1"));
        assert_eq!(url.connect_port(), Some(40001));
        assert_eq!(url.location(), "postgresql://db.internal:6543/app");
        assert_eq!(url.redacted(), "postgresql://u@db.internal:6543/app");
    }

    #[test]
    fn location_names_the_database_not_the_spelling() {
        assert_eq!(
            parse("postgresql+psycopg2://scott:tiger@127.0.0.1/app?sslmode=require").location(),
            parse("postgresql://other@localhost:5432/app").location()
        );
        assert_eq!(
            parse("mysql+pymysql://root@DB.example/test").location(),
            "mysql://db.example:3306/test"
        );
        assert_ne!(
            parse("postgresql://h/app").location(),
            parse("postgresql://h/app2").location()
        );
        assert_eq!(parse("sqlite:///rel.db").location(), "sqlite:/proj/rel.db");
        assert_eq!(parse("sqlite://").location(), "sqlite::memory:");
    }

    #[test]
    fn sqlalchemy_forms() {
        let u = parse("postgresql+psycopg2://scott:t%40ger+x@db.example:5433/app?sslmode=require");
        assert_eq!(u.backend, Backend::Postgres);
        assert_eq!(u.user.as_deref(), Some("scott"));
        assert_eq!(u.password.as_ref().unwrap().expose(), "t@ger+x");
        assert_eq!(
            (u.host.as_deref(), u.port, u.database.as_deref()),
            (Some("db.example"), Some(5433), Some("app"))
        );
        assert_eq!(u.query_value("sslmode"), Some("require"));
        assert_eq!(
            u.redacted(),
            "postgresql+psycopg2://scott:***@db.example:5433/app?sslmode=require"
        );
        assert!(!format!("{u:?}").contains("ger"));
        assert_eq!(
            parse("mysql+pymysql://root@127.0.0.1/test").backend,
            Backend::MySql
        );
        assert_eq!(
            parse("mariadb+mariadbconnector://root@h/d").backend,
            Backend::MySql
        );
        assert_eq!(
            parse("postgresql+asyncpg://u@h/d").backend,
            Backend::Postgres
        );
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            parse("sqlite:///relative.db").sqlite_path,
            Some(PathBuf::from("/proj/relative.db"))
        );
        assert_eq!(
            parse("sqlite:////abs/path.db").sqlite_path,
            Some(PathBuf::from("/abs/path.db"))
        );
        assert_eq!(parse("sqlite://").sqlite_path, None);
        assert_eq!(parse("sqlite:///:memory:").sqlite_path, None);
        assert_eq!(
            parse("sqlite:////abs/path.db").redacted(),
            "sqlite:////abs/path.db"
        );
        assert_eq!(
            parse("sqlite:///db.sqlite").redacted(),
            "sqlite:///db.sqlite"
        );
    }

    #[test]
    fn bad_urls_are_named_without_the_password() {
        let err = DatabaseUrl::parse("oracle://u:sekret@h/d", Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("oracle") && !err.contains("sekret"), "{err}");
        let err = DatabaseUrl::parse("u:sekret@h", Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("sekret") && err.contains("not a database URL"),
            "{err}"
        );
        let u = parse("postgresql://u:sekret@h/d");
        assert_eq!(u.scrub("auth failed for sekret"), "auth failed for ***");
    }

    #[test]
    fn query_passwords_are_the_password_and_never_shown() {
        for text in [
            "postgresql://u@h/db?password=S3cr3t",
            "postgresql://u@h/db?sslmode=require&PassWord=S3cr3t",
            "mysql+pymysql://u@h/db?passwd=S3cr3t",
            "postgresql://u@h/db?pass%77ord=S3cr3t",
            "postgresql://h/db?password=S3cr3t",
        ] {
            let u = parse(text);
            assert_eq!(
                u.password.as_ref().map(Secret::expose),
                Some("S3cr3t"),
                "{text}"
            );
            assert!(!u.redacted().contains("S3cr3t"), "{}", u.redacted());
            assert!(!format!("{u:?}").contains("S3cr3t"), "{u:?}");
            assert!(u.query.iter().all(|(_, v)| v != "S3cr3t"), "{text}");
        }
        let u = parse("postgresql://u@h/db?sslmode=require&password=S3cr3t");
        assert_eq!(u.redacted(), "postgresql://u:***@h/db?sslmode=require");
        assert_eq!(u.query_value("sslmode"), Some("require"));
        // Other secret-bearing options stay options, but are never shown.
        let u = parse("postgresql://u@h/db?sslpassword=K3yPass");
        assert_eq!(u.redacted(), "postgresql://u@h/db?sslpassword=***");
        assert_eq!(u.scrub("bad key K3yPass"), "bad key ***");
    }

    #[test]
    fn urls_that_do_not_split_are_not_echoed() {
        for text in [
            "postgresql://u:SECRET/x",
            "postgresql://u:SECRET",
            "postgresql://u:SEC@RET@h/d",
            "postgresql://[u:SECRET/x",
            "u:SECRET@h://d",
            "u:SECRET@h",
        ] {
            let err = DatabaseUrl::parse(text, Path::new("/"))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("SECRET"), "{text}: {err}");
        }
        // SQLAlchemy's split: the password runs to the first '@', whatever it holds.
        let u = parse("postgresql://u:a/b?c#d:e@h:5433/db");
        assert_eq!(u.password.as_ref().unwrap().expose(), "a/b?c#d:e");
        assert_eq!((u.host.as_deref(), u.port), (Some("h"), Some(5433)));
        assert_eq!(u.redacted(), "postgresql://u:***@h:5433/db");
        let u = parse("postgresql://u:12/34@h/db");
        assert_eq!(u.password.as_ref().unwrap().expose(), "12/34");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Printable ASCII, a few non-ASCII letters, and a space.
        fn password() -> impl Strategy<Value = String> {
            proptest::string::string_regex("[ -~éßü€中]{3,16}").unwrap()
        }

        fn quote(s: &str) -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        }

        /// Everything a URL parse can show: the redacted form, Debug, or the error.
        fn shown(text: &str) -> String {
            match DatabaseUrl::parse(text, Path::new("/p")) {
                Ok(u) => format!("{} {u:?} {}", u.redacted(), u.location()),
                Err(e) => e.to_string(),
            }
        }

        fn leaks(shown: &str, pw: &str) -> bool {
            shown.contains(pw) || shown.contains(&quote(pw))
        }

        /// A short password can sit in a URL's fixed parts ("postgresql", "u@h") or in an
        /// error's words by chance; such a password says nothing about redaction. `neutral`
        /// is what the same forms show with a password made of none of the generated
        /// characters' neighbours. Eight characters or more never match by chance.
        fn meaningful(pw: &str, neutral: &str) -> bool {
            pw.chars().count() >= 8 || (!neutral.contains(pw) && !pw.contains("***"))
        }

        fn forms(pw: &str, key: &str) -> Vec<String> {
            let encoded = quote(pw);
            let mut forms = vec![
                // Userinfo, encoded (the right way) and as typed.
                format!("postgresql+psycopg2://u:{encoded}@h:5433/db?sslmode=require"),
                format!("postgresql://u:{pw}@h:5433/db?sslmode=require"),
                format!("mysql+pymysql://u:{pw}@h/db"),
                // A query option, encoded and as typed, first or last.
                format!("postgresql://u@h/db?{key}={encoded}&sslmode=require"),
                format!("postgresql://u@h/db?sslmode=require&{key}={pw}"),
                format!("mysql+pymysql://u@h/db?x=1&{key}={pw}"),
                format!("sqlite:///p/db?{key}={pw}"),
                // Forms that do not split: no '@', a broken scheme, no scheme.
                format!("u:{pw}@h://x"),
                format!("u:{pw}@h"),
            ];
            // No '@': the password would be the port. Unless it is a port
            // (`postgresql://u:123/x` is host u, port 123, `postgresql://u:/x` host u,
            // database x) or holds an '@' (then it is user, password and host).
            let port = pw.split(['/', '?']).next().unwrap_or_default();
            if !pw.contains('@') && !port.is_empty() && port.parse::<u16>().is_err() {
                forms.push(format!("postgresql://u:{pw}"));
            }
            forms
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            #[test]
            fn passwords_are_never_shown_in_any_position(pw in password(), key in 0usize..4) {
                let key = ["password", "passwd", "PASSWORD", "pass%77ord"][key];
                let neutral: String = forms("Zq", key).iter().map(|t| shown(t)).collect();
                prop_assume!(meaningful(&pw, &neutral));
                for text in forms(&pw, key) {
                    let out = shown(&text);
                    prop_assert!(!leaks(&out, &pw), "{text:?} showed {out:?}");
                }
            }

            #[test]
            fn encoded_passwords_round_trip(pw in password()) {
                let encoded = quote(&pw);
                let u = DatabaseUrl::parse(&format!("postgresql://u:{encoded}@h/db"), Path::new("/")).unwrap();
                prop_assert_eq!(u.password.as_ref().map(Secret::expose), Some(pw.as_str()));
                let u = DatabaseUrl::parse(&format!("postgresql://u@h/db?password={encoded}"), Path::new("/")).unwrap();
                prop_assert_eq!(u.password.as_ref().map(Secret::expose), Some(pw.as_str()));
            }
        }
    }
}
