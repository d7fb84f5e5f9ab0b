//! SQLAlchemy-style database URLs (`postgresql+psycopg2://u:p@h:5432/db?sslmode=require`,
//! `mysql+pymysql://…`, `sqlite:///relative.db`, `sqlite:////abs.db`, `sqlite://`).
//!
//! The password is kept in a [`Secret`] that never prints; [`DatabaseUrl::redacted`] is the
//! only way a URL is shown.

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// The scheme as written (`postgresql+psycopg2`), kept for display.
    pub scheme: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub database: Option<String>,
    /// SQLite: the database file; `None` for an in-memory database.
    pub sqlite_path: Option<PathBuf>,
    /// SQLite: the path as written in the URL, which is how the URL is shown.
    sqlite_written: String,
    pub query: Vec<(String, String)>,
}

impl DatabaseUrl {
    /// Parses a URL; a relative SQLite path is taken relative to `base_dir` (the project's
    /// folder), so the same project finds the same file wherever Retort is started.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Self, DatabaseError> {
        let text = text.trim();
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(DatabaseError::InvalidUrl(format!(
                "'{}' is not a database URL (expected e.g. postgresql://user@host/db or sqlite:///file.db)",
                redact_raw(text)
            )));
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
                    "unsupported database '{other}' in {}: Retort supports sqlite, postgresql, mysql and mariadb",
                    redact_raw(text)
                )));
            }
        };
        if backend == Backend::Sqlite {
            return Ok(Self::parse_sqlite(scheme, rest, base_dir));
        }
        // The url crate needs a scheme it knows the shape of; the host part is what matters.
        let parsed = url::Url::parse(&format!("db://{rest}"))
            .map_err(|e| DatabaseError::InvalidUrl(format!("{}: {e}", redact_raw(text))))?;
        let decode = |s: &str| percent_decode(s);
        let user = Some(decode(parsed.username())).filter(|u| !u.is_empty());
        let password = parsed.password().map(|p| Secret::new(decode(p)));
        let database =
            Some(decode(parsed.path().trim_start_matches('/'))).filter(|d| !d.is_empty());
        Ok(Self {
            backend,
            scheme: scheme.to_string(),
            host: parsed
                .host_str()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string()),
            port: parsed.port(),
            user,
            password,
            database,
            sqlite_path: None,
            sqlite_written: String::new(),
            query: parsed
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        })
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
            query: url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The URL with the password shown as `***`, as SQLAlchemy's `render_as_string` does.
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
        if let Some(user) = &self.user {
            out.push_str(&percent_encode(user));
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
        if self.query.is_empty() {
            return String::new();
        }
        let pairs: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("?{}", pairs.join("&"))
    }

    /// Removes the password from any text (e.g. a driver's error message).
    pub fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(p) if !p.expose().is_empty() => text.replace(p.expose(), "***"),
            _ => text.to_string(),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Best effort for a URL that did not parse: hide whatever sits between `user:` and `@`.
fn redact_raw(text: &str) -> String {
    let start = text.find("://").map_or(0, |s| s + 3);
    match text.rfind('@') {
        Some(at) if at > start => match text[start..at].split_once(':') {
            Some((user, _)) => format!("{}{}:***{}", &text[..start], user, &text[at..]),
            None => text.to_string(),
        },
        _ => text.to_string(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DatabaseUrl {
        DatabaseUrl::parse(s, Path::new("/proj")).unwrap()
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
}
