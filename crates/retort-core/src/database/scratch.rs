//! Throw-away databases of the same engine as a project's: the verified stamp builds the schema
//! a revision implies in one, the round trip runs every revision up and down in one.
//!
//! PostgreSQL and MySQL/MariaDB: `CREATE DATABASE retort_scratch_<pid>_<random>` on the same
//! server as the given URL (same user, so the user needs the right to create databases), dropped
//! afterwards (PostgreSQL `WITH (FORCE)`, which also ends connections left open). SQLite: a
//! file in the temporary directory. Call [`ScratchDatabase::remove`] when done; if that does
//! not happen (an error, a panic, a dropped future) the `Drop` guard removes it all the same.

use super::engine::Engine;
use super::{Backend, Database, DatabaseError, DatabaseUrl};
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::Duration;

/// A database that exists only until this guard is removed or dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    url: DatabaseUrl,
    /// Where `DROP DATABASE` is run from (servers only).
    admin: Option<DatabaseUrl>,
    file: Option<PathBuf>,
    timeout: Duration,
    removed: bool,
}

impl ScratchDatabase {
    /// Creates an empty database of the engine (and on the server) of `like`.
    pub async fn create(like: &DatabaseUrl, timeout: Duration) -> Result<Self, DatabaseError> {
        let name = scratch_name();
        match like.backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let url =
                    DatabaseUrl::parse(&format!("{}:///{}", like.scheme, path.display()), &path)?;
                // Created empty now, so that the file is ours before anything runs.
                Database::open(&url, timeout).await?;
                Ok(Self {
                    url,
                    admin: None,
                    file: Some(path),
                    timeout,
                    removed: false,
                })
            }
            Backend::Postgres | Backend::MySql => {
                let (mut admin_db, admin) = admin_connection(like, timeout).await?;
                admin_db
                    .execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .map_err(|f| DatabaseError::Query {
                        url: like.redacted(),
                        message: format!(
                            "cannot create a scratch database '{name}' on this server ({f}); the user must be allowed to create databases"
                        ),
                    })?;
                let mut url = like.clone();
                url.database = Some(name);
                Ok(Self {
                    url,
                    admin: Some(admin),
                    file: None,
                    timeout,
                    removed: false,
                })
            }
        }
    }

    /// The scratch database's URL (same user and options as the original).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Drops the database (or deletes the file). Connections to it should be closed first;
    /// PostgreSQL ends any that are left.
    pub async fn remove(mut self) -> Result<(), DatabaseError> {
        self.removed = true;
        remove(
            &self.url,
            self.admin.as_ref(),
            self.file.as_ref(),
            self.timeout,
        )
        .await
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (url, admin, file, timeout) = (
            self.url.clone(),
            self.admin.clone(),
            self.file.clone(),
            self.timeout,
        );
        // Drop may run inside an async runtime, which must not be blocked on: a thread of its
        // own with a runtime of its own does the removal, and is waited for.
        let worker = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let _ = runtime.block_on(remove(&url, admin.as_ref(), file.as_ref(), timeout));
        });
        let _ = worker.join();
    }
}

async fn remove(
    url: &DatabaseUrl,
    admin: Option<&DatabaseUrl>,
    file: Option<&PathBuf>,
    timeout: Duration,
) -> Result<(), DatabaseError> {
    if let Some(path) = file {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        return Ok(());
    }
    let (Some(admin), Some(name)) = (admin, url.database.as_deref()) else {
        return Ok(());
    };
    let mut db = Database::connect(admin, timeout).await?;
    let sql = for_backend!(url.backend, E => E::drop_database_sql(name));
    db.execute(&sql).await.map_err(|f| DatabaseError::Query {
        url: admin.redacted(),
        message: format!("could not drop the scratch database '{name}': {f}"),
    })?;
    Ok(())
}

/// A connection to the server that is not to the scratch database: the URL's own database,
/// else the maintenance database (PostgreSQL `postgres`, MySQL none).
async fn admin_connection(
    like: &DatabaseUrl,
    timeout: Duration,
) -> Result<(Database, DatabaseUrl), DatabaseError> {
    match Database::connect(like, timeout).await {
        Ok(db) => Ok((db, like.clone())),
        Err(first) => {
            let mut fallback = like.clone();
            fallback.database =
                for_backend!(like.backend, E => E::MAINTENANCE_DATABASE).map(str::to_string);
            if fallback.database == like.database {
                return Err(first);
            }
            match Database::connect(&fallback, timeout).await {
                Ok(db) => Ok((db, fallback)),
                Err(_) => Err(first),
            }
        }
    }
}

/// `retort_scratch_<pid>_<16 hex digits>`: a plain lower-case identifier on every engine.
fn scratch_name() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!(
        "retort_scratch_{}_{:016x}",
        std::process::id(),
        hasher.finish()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_identifiers_and_differ() {
        let a = scratch_name();
        let b = scratch_name();
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{a}"
        );
        assert!(a.len() < 64, "{a}");
    }

    #[tokio::test]
    async fn sqlite_scratch_files_go_away_on_remove_and_on_drop() {
        let base = DatabaseUrl::parse("sqlite:///x.db", std::path::Path::new("/nowhere")).unwrap();
        let timeout = Duration::from_secs(5);
        let s = ScratchDatabase::create(&base, timeout).await.unwrap();
        let path = s.url().sqlite_path.clone().unwrap();
        assert!(path.exists());
        s.remove().await.unwrap();
        assert!(!path.exists());

        let s = ScratchDatabase::create(&base, timeout).await.unwrap();
        let path = s.url().sqlite_path.clone().unwrap();
        assert!(path.exists());
        drop(s);
        assert!(!path.exists());
    }
}
