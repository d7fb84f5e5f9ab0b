//! The lock that keeps two migration runs off one database: a PostgreSQL advisory lock, a
//! MySQL/MariaDB named lock (`GET_LOCK`), or for a SQLite file an advisory `flock` on the file
//! itself (SQLite locks with `fcntl`, which `flock` does not disturb). All three go away with
//! the process that holds them, so a killed run never leaves the database locked.

use super::{Backend, Conn, Database, DatabaseError, VersionTable};
use serde::Serialize;
use std::fs::File;
use std::time::{Duration, Instant};

/// Who holds the migration lock, as far as the database tells.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", serde(rename = "DatabaseLockHolder"))]
pub struct LockHolder {
    /// Backend process id (PostgreSQL) or connection id (MySQL).
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub pid: Option<i64>,
    pub application: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
    /// When the holder's session started (PostgreSQL) or how long its current command has run (MySQL).
    pub since: Option<String>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(pid) = self.pid {
            parts.push(format!("pid {pid}"));
        }
        if let Some(a) = self.application.as_deref().filter(|a| !a.is_empty()) {
            parts.push(format!("application '{a}'"));
        }
        if let Some(u) = &self.user {
            parts.push(format!("user {u}"));
        }
        if let Some(c) = self.client.as_deref().filter(|c| !c.is_empty()) {
            parts.push(format!("from {c}"));
        }
        if let Some(s) = &self.since {
            parts.push(format!("since {s}"));
        }
        if parts.is_empty() {
            f.write_str("another process")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A held migration lock; give it back with [`Database::release_migration_lock`]. Dropping it
/// without releasing still frees a SQLite lock; the server-side ones go with the connection.
#[derive(Debug)]
pub struct MigrationLock {
    kind: LockKind,
}

#[derive(Debug)]
enum LockKind {
    Postgres(i64),
    MySql(String),
    SqliteFile(#[allow(dead_code)] File),
    /// An in-memory SQLite database: nothing else can reach it.
    None,
}

/// pid, application_name, user, client address, session start.
type PgHolderRow = (i32, String, Option<String>, Option<String>, Option<String>);

const POLL: Duration = Duration::from_millis(100);

/// PostgreSQL advisory locks take a bigint: FNV-1a of the lock name, stable across versions.
fn advisory_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash as i64
}

/// MySQL lock names are limited to 64 characters.
fn mysql_lock_name(table: &VersionTable, database: Option<&str>) -> String {
    let name = format!("{}@{}", table.lock_name(), database.unwrap_or(""));
    if name.len() <= 64 {
        name
    } else {
        format!("retort:{:016x}", advisory_key(&name) as u64)
    }
}

impl Database {
    /// Takes the migration lock, waiting up to `wait` for another run to finish; then fails
    /// naming the holder where the database tells.
    pub async fn acquire_migration_lock(
        &mut self,
        table: &VersionTable,
        wait: Duration,
    ) -> Result<MigrationLock, DatabaseError> {
        let started = Instant::now();
        loop {
            if let Some(lock) = self.try_migration_lock(table).await? {
                return Ok(lock);
            }
            if started.elapsed() >= wait {
                let holder = self.migration_lock_holder(table).await?.unwrap_or_default();
                return Err(DatabaseError::Lock(format!(
                    "another migration holds the lock on {} (held by {holder}); waited {:.1} s",
                    self.url.redacted(),
                    wait.as_secs_f64()
                )));
            }
            tokio::time::sleep(POLL.min(wait.saturating_sub(started.elapsed()))).await;
        }
    }

    pub async fn try_migration_lock(
        &mut self,
        table: &VersionTable,
    ) -> Result<Option<MigrationLock>, DatabaseError> {
        let database = self.url.database.clone();
        let sqlite_path = self.url.sqlite_path.clone();
        let got = match &mut self.conn {
            Conn::Postgres(c) => {
                let key = advisory_key(&table.lock_name());
                sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(c)
                    .await
                    .map(|ok| ok.then_some(LockKind::Postgres(key)))
            }
            Conn::MySql(c) => {
                let name = mysql_lock_name(table, database.as_deref());
                sqlx::query_scalar::<_, Option<i64>>("SELECT GET_LOCK(?, 0)")
                    .bind(&name)
                    .fetch_one(c)
                    .await
                    .map(|ok| (ok == Some(1)).then_some(LockKind::MySql(name)))
            }
            Conn::Sqlite(_) | Conn::AbsentSqliteFile => {
                let Some(path) = sqlite_path else {
                    return Ok(Some(MigrationLock {
                        kind: LockKind::None,
                    }));
                };
                let file = File::open(&path).map_err(|e| {
                    DatabaseError::Lock(format!("{}: cannot open for locking: {e}", path.display()))
                })?;
                return match file.try_lock() {
                    Ok(()) => Ok(Some(MigrationLock {
                        kind: LockKind::SqliteFile(file),
                    })),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => Err(DatabaseError::Lock(format!(
                        "{}: cannot lock: {e}",
                        path.display()
                    ))),
                };
            }
        };
        got.map(|kind| kind.map(|kind| MigrationLock { kind }))
            .map_err(|e| self.query_error(e))
    }

    pub async fn release_migration_lock(
        &mut self,
        lock: MigrationLock,
    ) -> Result<(), DatabaseError> {
        let released = match (lock.kind, &mut self.conn) {
            (LockKind::Postgres(key), Conn::Postgres(c)) => {
                sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
                    .bind(key)
                    .fetch_one(c)
                    .await
                    .map(drop)
            }
            (LockKind::MySql(name), Conn::MySql(c)) => {
                sqlx::query_scalar::<_, Option<i64>>("SELECT RELEASE_LOCK(?)")
                    .bind(name)
                    .fetch_one(c)
                    .await
                    .map(drop)
            }
            _ => Ok(()),
        };
        released.map_err(|e| self.query_error(e))
    }

    /// Who holds the migration lock, or `None` when it is free. Does not take it.
    pub async fn migration_lock_holder(
        &mut self,
        table: &VersionTable,
    ) -> Result<Option<LockHolder>, DatabaseError> {
        let database = self.url.database.clone();
        match self.backend() {
            Backend::Sqlite => {
                let Some(path) = self.url.sqlite_path.clone().filter(|p| p.exists()) else {
                    return Ok(None);
                };
                let file = File::open(&path).map_err(|e| {
                    DatabaseError::Lock(format!("{}: cannot open for locking: {e}", path.display()))
                })?;
                Ok(match file.try_lock_shared() {
                    Ok(()) => None,
                    Err(_) => Some(LockHolder::default()),
                })
            }
            Backend::Postgres => {
                let key = advisory_key(&table.lock_name());
                let Conn::Postgres(c) = &mut self.conn else {
                    unreachable!()
                };
                // A bigint advisory key is stored as classid = high half, objid = low half.
                let row: Result<Option<PgHolderRow>, _> =
                    sqlx::query_as(
                        "SELECT a.pid, a.application_name, a.usename::text, a.client_addr::text, \
                         to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') \
                         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                         AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) \
                         AND l.objid::bigint = ($1::bigint & 4294967295) \
                         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                         LIMIT 1",
                    )
                    .bind(key)
                    .fetch_optional(c)
                    .await;
                let row = row.map_err(|e| self.query_error(e))?;
                Ok(row.map(|(pid, app, user, client, since)| LockHolder {
                    pid: Some(i64::from(pid)),
                    application: Some(app),
                    user,
                    client,
                    since,
                }))
            }
            Backend::MySql => {
                let name = mysql_lock_name(table, database.as_deref());
                let Conn::MySql(c) = &mut self.conn else {
                    unreachable!()
                };
                let id: Result<Option<i64>, _> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
                    .bind(&name)
                    .fetch_one(&mut *c)
                    .await;
                let Some(id) = id.map_err(|e| self.query_error(e))? else {
                    return Ok(None);
                };
                let Conn::MySql(c) = &mut self.conn else {
                    unreachable!()
                };
                let row: Option<(String, String, i64)> = sqlx::query_as(
                    "SELECT USER, HOST, CAST(TIME AS SIGNED) FROM information_schema.PROCESSLIST WHERE ID = ?",
                )
                .bind(id)
                .fetch_optional(c)
                .await
                .unwrap_or(None);
                Ok(Some(match row {
                    Some((user, host, seconds)) => LockHolder {
                        pid: Some(id),
                        user: Some(user),
                        client: Some(host),
                        since: Some(format!("{seconds} s in its current command")),
                        ..LockHolder::default()
                    },
                    None => LockHolder {
                        pid: Some(id),
                        ..LockHolder::default()
                    },
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_bounded() {
        let t = VersionTable {
            name: "alembic_version".into(),
            schema: None,
        };
        assert_eq!(
            advisory_key(&t.lock_name()),
            advisory_key("retort:alembic_version")
        );
        assert_ne!(
            advisory_key("retort:alembic_version"),
            advisory_key("retort:other_version")
        );
        let long = VersionTable {
            name: "v".repeat(80),
            schema: Some("s".into()),
        };
        assert!(mysql_lock_name(&long, Some("db")).len() <= 64);
        assert_eq!(
            mysql_lock_name(&t, Some("app")),
            "retort:alembic_version@app"
        );
    }
}
