//! The lock that keeps two migration runs off one database: a PostgreSQL advisory lock, a
//! MySQL/MariaDB named lock (`GET_LOCK`), or for a SQLite file an advisory `flock` on the file
//! itself (SQLite locks with `fcntl`, which `flock` does not disturb). All three go away with
//! the process that holds them, so a killed run never leaves the database locked.

use super::engine::Engine;
use super::{Database, DatabaseError, VersionTable, query_error};
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

/// What an engine holds while it has the lock.
#[derive(Debug)]
pub(super) enum LockKind {
    Postgres(i64),
    MySql(String),
    SqliteFile(#[allow(dead_code)] File),
    /// An in-memory SQLite database: nothing else can reach it.
    None,
}

const POLL: Duration = Duration::from_millis(100);

/// PostgreSQL advisory locks take a bigint: FNV-1a of the lock name, stable across versions
/// (MySQL names a lock whose name is too long by it too).
pub(super) fn advisory_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash as i64
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
        let kind = on_conn!(&mut self.conn, c => c.try_lock(&self.url, table).await)?;
        Ok(kind.map(|kind| MigrationLock { kind }))
    }

    pub async fn release_migration_lock(
        &mut self,
        lock: MigrationLock,
    ) -> Result<(), DatabaseError> {
        let released = on_conn!(&mut self.conn, c => c.release_lock(lock.kind).await);
        released.map_err(|e| query_error(&self.url, e))
    }

    /// Who holds the migration lock, or `None` when it is free. Does not take it.
    pub async fn migration_lock_holder(
        &mut self,
        table: &VersionTable,
    ) -> Result<Option<LockHolder>, DatabaseError> {
        on_conn!(&mut self.conn, c => c.lock_holder(&self.url, table).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable() {
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
    }
}
