//! SQLite: a file (created only for migrating) or an in-memory database; the version table in
//! `sqlite_master`; an advisory `flock` on the file as the migration lock (SQLite locks with
//! `fcntl`, which `flock` does not disturb); the catalog read through the `pragma_*`
//! functions; batches run with one call into SQLite ([`SqliteBatches`]).

use super::check::{ErrorFacts, FailureKind, ServerInfo, probe_create};
use super::engine::{ConnectError, Engine};
use super::lock::{LockHolder, LockKind};
use super::schema::{Builder, Column, ForeignKey, Index, UniqueConstraint, action};
use super::{
    DatabaseError, DatabaseUrl, SqlFailure, VersionTable, error_text, on_this_thread, quote_ansi,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection as _};
use std::collections::BTreeMap;
use std::fs::File;
use std::str::FromStr;
use std::time::Duration;

/// An open SQLite connection: `None` for a file that does not exist yet, which has no
/// version table and which reading must not create.
pub(super) struct Sqlite(Option<SqliteConnection>);

impl Engine for Sqlite {
    /// Takes the write lock at once, so that a second writer waits for the busy timeout
    /// instead of failing half-way.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";

    fn failure_kind(facts: &ErrorFacts) -> Option<FailureKind> {
        // SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH.
        matches!(facts.code.as_deref(), Some("14" | "3" | "23")).then_some(FailureKind::Permission)
    }

    async fn connect(
        url: &DatabaseUrl,
        timeout: Duration,
        create: bool,
    ) -> Result<Self, ConnectError> {
        let fail = ConnectError::Driver;
        Ok(Self(match &url.sqlite_path {
            Some(path) if !create && !path.exists() => None,
            Some(path) => Some(
                SqliteConnection::connect_with(
                    &SqliteConnectOptions::new()
                        .filename(path)
                        .create_if_missing(create)
                        .busy_timeout(timeout),
                )
                .await
                .map_err(fail)?,
            ),
            None => Some(
                SqliteConnection::connect_with(
                    &SqliteConnectOptions::from_str("sqlite::memory:").map_err(fail)?,
                )
                .await
                .map_err(fail)?,
            ),
        }))
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let Some(c) = &mut self.0 else { return Ok(0) };
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    }

    async fn column(&mut self, sql: &str) -> Result<Vec<Option<String>>, sqlx::Error> {
        let Some(c) = &mut self.0 else {
            return Ok(Vec::new());
        };
        sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_all(c)
            .await
    }

    async fn strings(&mut self, sql: &str) -> Result<Vec<String>, sqlx::Error> {
        let Some(c) = &mut self.0 else {
            return Ok(Vec::new());
        };
        sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_all(c)
            .await
    }

    async fn table_exists(&mut self, table: &VersionTable) -> Result<bool, sqlx::Error> {
        let Some(c) = &mut self.0 else {
            return Ok(false);
        };
        let master = match &table.schema {
            Some(s) => format!("{}.sqlite_master", quote_ansi(s)),
            None => "sqlite_master".to_string(),
        };
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {master} WHERE type = 'table' AND name = ?"
        )))
        .bind(&table.name)
        .fetch_one(c)
        .await?;
        Ok(count > 0)
    }

    async fn try_lock(
        &mut self,
        url: &DatabaseUrl,
        _table: &VersionTable,
    ) -> Result<Option<LockKind>, DatabaseError> {
        let Some(path) = &url.sqlite_path else {
            // An in-memory database: nothing else can reach it.
            return Ok(Some(LockKind::None));
        };
        let file = File::open(path).map_err(|e| {
            DatabaseError::Lock(format!("{}: cannot open for locking: {e}", path.display()))
        })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(LockKind::SqliteFile(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(DatabaseError::Lock(format!(
                "{}: cannot lock: {e}",
                path.display()
            ))),
        }
    }

    /// Closing the file gives the lock back.
    async fn release_lock(&mut self, _lock: LockKind) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn lock_holder(
        &mut self,
        url: &DatabaseUrl,
        _table: &VersionTable,
    ) -> Result<Option<LockHolder>, DatabaseError> {
        let Some(path) = url.sqlite_path.clone().filter(|p| p.exists()) else {
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

    async fn read_schema(
        &mut self,
        _schema: Option<&str>,
        b: &mut Builder,
    ) -> Result<String, sqlx::Error> {
        if let Some(c) = &mut self.0 {
            read_catalog(c, b).await?;
        }
        Ok("main".to_string())
    }

    /// Reading the schema makes SQLite read the file's header: a file that is not a
    /// database fails here.
    async fn round_trip(&mut self) -> Result<(), sqlx::Error> {
        let Some(c) = &mut self.0 else { return Ok(()) };
        sqlx::raw_sql("SELECT count(*) FROM sqlite_master")
            .execute(c)
            .await
            .map(drop)
    }

    async fn server_info(&mut self) -> Result<ServerInfo, sqlx::Error> {
        let Some(c) = &mut self.0 else {
            return Err(sqlx::Error::Protocol("no database file".into()));
        };
        let version: String = sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(c)
            .await?;
        Ok(ServerInfo {
            product: "SQLite".into(),
            version: Some(version.clone()),
            description: format!("SQLite {version}"),
            database: None,
            user: None,
        })
    }

    /// A `CREATE TABLE` in a transaction that is rolled back.
    async fn may_create(
        &mut self,
        url: &DatabaseUrl,
        _table: &VersionTable,
        probe: String,
    ) -> Result<(Option<bool>, String), String> {
        if self.0.is_none() {
            return Ok((None, "no database file yet".into()));
        }
        probe_create(self, url, &probe, "").await
    }
}

impl Sqlite {
    /// The connection's handle, held on this thread for as many batches as the caller runs
    /// (`None` for a file that does not exist yet).
    pub(super) async fn batches<'a>(
        &'a mut self,
        url: &'a DatabaseUrl,
    ) -> Option<Result<SqliteBatches<'a>, SqlFailure>> {
        let c = self.0.as_mut()?;
        Some(match c.lock_handle().await {
            Ok(handle) => Ok(SqliteBatches { handle, url }),
            Err(e) => Err(SqlFailure {
                message: url.scrub(&error_text(&e)),
                code: None,
                position: None,
            }),
        })
    }
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

/// SQLite's declared type, upper case, blanks collapsed (`varchar (40)` → `VARCHAR(40)`).
fn sqlite_type(declared: &str) -> String {
    let upper = declared.to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().collect();
    words
        .join(" ")
        .replace(" (", "(")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
        .replace(", ", ",")
}

async fn read_catalog(c: &mut sqlx::SqliteConnection, b: &mut Builder) -> Result<(), sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut *c)
    .await?;
    for name in &names {
        b.add_table(name);
        let columns: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind(name)
        .fetch_all(&mut *c)
        .await?;
        let mut pk: Vec<(i64, String)> = Vec::new();
        let table = b.table(name).expect("added above");
        for (column, declared, notnull, pk_pos) in columns {
            if pk_pos > 0 {
                pk.push((pk_pos, column.clone()));
            }
            table.columns.push(Column {
                name: column,
                data_type: sqlite_type(&declared),
                nullable: notnull == 0,
            });
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, c)| c).collect();

        let indexes: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT name, \"unique\", origin FROM pragma_index_list(?)")
                .bind(name)
                .fetch_all(&mut *c)
                .await?;
        for (index, unique, origin) in indexes {
            let columns: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&mut *c)
                    .await?;
            let columns: Vec<String> = columns
                .into_iter()
                .map(|c| c.unwrap_or_else(|| "<expression>".to_string()))
                .collect();
            let table = b.table(name).expect("added above");
            match origin.as_str() {
                "pk" => {}
                "u" => table.unique_constraints.push(UniqueConstraint {
                    name: None,
                    columns,
                }),
                _ => table.indexes.push(Index {
                    name: index,
                    columns,
                    unique: unique != 0,
                    condition: None,
                }),
            }
        }

        type SqliteKey = (i64, String, Option<String>, Option<String>, String, String);
        let keys: Vec<SqliteKey> =
            sqlx::query_as(
                "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq",
            )
            .bind(name)
            .fetch_all(&mut *c)
            .await?;
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for (id, referred, from, to, on_update, on_delete) in keys {
            let key = by_id.entry(id).or_insert_with(|| ForeignKey {
                name: None,
                columns: Vec::new(),
                referred_table: referred,
                referred_columns: Vec::new(),
                on_update: action(&on_update),
                on_delete: action(&on_delete),
            });
            key.columns.extend(from);
            key.referred_columns.extend(to);
        }
        let table = b.table(name).expect("added above");
        table.foreign_keys = by_id.into_values().collect();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_types_are_normalised() {
        assert_eq!(sqlite_type("varchar (40)"), "VARCHAR(40)");
        assert_eq!(sqlite_type(" numeric( 10 , 2 ) "), "NUMERIC(10,2)");
        assert_eq!(sqlite_type("unsigned   big int"), "UNSIGNED BIG INT");
        assert_eq!(sqlite_type(""), "");
    }
}
