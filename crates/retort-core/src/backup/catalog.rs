//! The backup catalog in Retort's store: record, list, find, delete, and retention (keep the
//! last N per connection). Deleting a backup removes its row, then its file.

use super::{BackupFormat, BackupRecord};
use crate::database::Backend;
use crate::store::{Store, StoreError};
use sqlx::Row as _;
use std::path::PathBuf;

const COLUMNS: &str = "id, connection, connection_name, url, backend, database, path, format, \
    server_version, tool, tool_version, revisions, version_table, version_table_schema, \
    size_bytes, sha256, verification, restore_tested, created_at, duration_ms";

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
        Backend::MySql => "mysql",
    }
}

impl Store {
    /// Records a verified backup; returns its id.
    pub async fn record_backup(&self, record: &BackupRecord) -> Result<i64, StoreError> {
        let revisions = serde_json::to_string(&record.revisions)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO backups (connection, connection_name, url, backend, database, path, format, \
             server_version, tool, tool_version, revisions, version_table, version_table_schema, \
             size_bytes, sha256, verification, restore_tested, created_at, duration_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&record.connection)
        .bind(&record.connection_name)
        .bind(&record.url)
        .bind(backend_name(record.backend))
        .bind(&record.database)
        .bind(record.path.display().to_string())
        .bind(record.format.as_str())
        .bind(&record.server_version)
        .bind(&record.tool)
        .bind(&record.tool_version)
        .bind(revisions)
        .bind(&record.version_table)
        .bind(&record.version_table_schema)
        .bind(record.size_bytes as i64)
        .bind(&record.sha256)
        .bind(&record.verification)
        .bind(record.restore_tested)
        .bind(&record.created_at)
        .bind(record.duration_ms as i64)
        .fetch_one(self.pool())
        .await
        .map_err(|e| self.query_error(e))?;
        Ok(id)
    }

    /// The catalogued backups, newest first; with `connection`, only that connection's (its
    /// saved name, or the URL/key it was recorded under).
    pub async fn list_backups(
        &self,
        connection: Option<&str>,
    ) -> Result<Vec<BackupRecord>, StoreError> {
        let rows = match connection {
            Some(c) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM backups WHERE connection = ? OR connection_name = ? OR url = ? \
                     ORDER BY created_at DESC, id DESC"
                )))
                .bind(c)
                .bind(c)
                .bind(c)
                .fetch_all(self.pool())
                .await
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM backups ORDER BY created_at DESC, id DESC"
                )))
                .fetch_all(self.pool())
                .await
            }
        }
        .map_err(|e| self.query_error(e))?;
        rows.iter().map(|r| self.record_of(r)).collect()
    }

    /// One backup by id.
    pub async fn backup(&self, id: i64) -> Result<BackupRecord, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM backups WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_error(e))?
        .ok_or_else(|| {
            StoreError::Invalid(format!("no backup with id {id} (see `retort backups`)"))
        })?;
        self.record_of(&row)
    }

    /// Deletes a backup: its catalog row, then its file. Returns what was deleted.
    pub async fn delete_backup(&self, id: i64) -> Result<BackupRecord, StoreError> {
        let record = self.backup(id).await?;
        sqlx::query("DELETE FROM backups WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_error(e))?;
        remove_file(&record.path)?;
        Ok(record)
    }

    /// Keeps the newest `keep` backups of each connection (or of `connection` only) and
    /// deletes the rest; returns the deleted ones.
    pub async fn apply_retention(
        &self,
        connection: Option<&str>,
        keep: usize,
    ) -> Result<Vec<BackupRecord>, StoreError> {
        let all = self.list_backups(connection).await?;
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        let mut deleted = Vec::new();
        for record in all {
            let n = seen.entry(record.connection.clone()).or_default();
            *n += 1;
            if *n > keep {
                let id = record.id.expect("a catalogued backup");
                deleted.push(self.delete_backup(id).await?);
            }
        }
        Ok(deleted)
    }

    fn record_of(&self, row: &sqlx::sqlite::SqliteRow) -> Result<BackupRecord, StoreError> {
        let get = |e: sqlx::Error| self.query_error(e);
        let backend: String = row.try_get("backend").map_err(get)?;
        let format: String = row.try_get("format").map_err(get)?;
        let revisions: String = row.try_get("revisions").map_err(get)?;
        let path: String = row.try_get("path").map_err(get)?;
        let size: i64 = row.try_get("size_bytes").map_err(get)?;
        let duration: i64 = row.try_get("duration_ms").map_err(get)?;
        let invalid = |what: &str, value: &str| {
            StoreError::Invalid(format!(
                "{}: backups.{what} holds '{value}', which this Retort does not know",
                self.path().display()
            ))
        };
        Ok(BackupRecord {
            id: Some(row.try_get("id").map_err(get)?),
            connection: row.try_get("connection").map_err(get)?,
            connection_name: row.try_get("connection_name").map_err(get)?,
            url: row.try_get("url").map_err(get)?,
            backend: match backend.as_str() {
                "sqlite" => Backend::Sqlite,
                "postgres" => Backend::Postgres,
                "mysql" => Backend::MySql,
                other => return Err(invalid("backend", other)),
            },
            database: row.try_get("database").map_err(get)?,
            path: PathBuf::from(path),
            format: BackupFormat::parse(&format).ok_or_else(|| invalid("format", &format))?,
            server_version: row.try_get("server_version").map_err(get)?,
            tool: row.try_get("tool").map_err(get)?,
            tool_version: row.try_get("tool_version").map_err(get)?,
            revisions: serde_json::from_str(&revisions)
                .map_err(|_| invalid("revisions", &revisions))?,
            version_table: row.try_get("version_table").map_err(get)?,
            version_table_schema: row.try_get("version_table_schema").map_err(get)?,
            size_bytes: size.max(0) as u64,
            sha256: row.try_get("sha256").map_err(get)?,
            verification: row.try_get("verification").map_err(get)?,
            restore_tested: row.try_get("restore_tested").map_err(get)?,
            created_at: row.try_get("created_at").map_err(get)?,
            duration_ms: duration.max(0) as u64,
            warnings: Vec::new(),
        })
    }
}

fn remove_file(path: &std::path::Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Invalid(format!(
            "the catalog entry was deleted, but {} could not be: {e}",
            path.display()
        ))),
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

    fn record(dir: &std::path::Path, connection: &str, n: u32) -> BackupRecord {
        let path = dir.join(format!("{connection}-{n}.sqlite"));
        std::fs::write(&path, b"x").unwrap();
        BackupRecord {
            id: None,
            connection: connection.into(),
            connection_name: Some(connection.into()),
            url: "sqlite:///x.db".into(),
            backend: Backend::Sqlite,
            database: Some("/x.db".into()),
            path,
            format: BackupFormat::SqliteDatabase,
            server_version: Some("SQLite 3".into()),
            tool: "sqlite backup API".into(),
            tool_version: Some("3".into()),
            revisions: vec!["abc".into(), "déf".into()],
            version_table: "alembic_version".into(),
            version_table_schema: None,
            size_bytes: 1,
            sha256: "0".repeat(64),
            verification: "PRAGMA integrity_check: ok".into(),
            restore_tested: n.is_multiple_of(2),
            created_at: format!("2026-11-24T19:47:0{n}.000Z"),
            duration_ms: 12,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn record_list_retention_delete() {
        let dir = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let store = Store::open(&dir.path().join("retort.db")).await.unwrap();
            let mut ids = Vec::new();
            for n in 1..=4 {
                let r = record(dir.path(), "a", n);
                ids.push(store.record_backup(&r).await.unwrap());
            }
            store
                .record_backup(&record(dir.path(), "b", 1))
                .await
                .unwrap();
            let all = store.list_backups(None).await.unwrap();
            assert_eq!(all.len(), 5);
            let a = store.list_backups(Some("a")).await.unwrap();
            assert_eq!(a.len(), 4);
            assert_eq!(a[0].created_at, "2026-11-24T19:47:04.000Z", "newest first");
            let mut expected = record(dir.path(), "a", 4);
            expected.id = Some(ids[3]);
            assert_eq!(a[0], expected, "a record reads back as written");

            let deleted = store.apply_retention(None, 2).await.unwrap();
            let gone: Vec<i64> = deleted.iter().map(|r| r.id.unwrap()).collect();
            assert_eq!(gone, vec![ids[1], ids[0]]);
            assert!(deleted.iter().all(|r| !r.path.exists()), "files deleted");
            assert_eq!(store.list_backups(Some("a")).await.unwrap().len(), 2);
            assert_eq!(store.list_backups(Some("b")).await.unwrap().len(), 1);

            let d = store.delete_backup(ids[3]).await.unwrap();
            assert!(!d.path.exists());
            assert!(store.backup(ids[3]).await.is_err());
            assert!(store.delete_backup(ids[3]).await.is_err());
            store.close().await;
        });
    }
}
