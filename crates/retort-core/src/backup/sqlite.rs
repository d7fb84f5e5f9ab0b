//! SQLite: the online backup API (through rusqlite, on the libsqlite3 sqlx links), a batch
//! of pages per step so that the source's other connections keep reading and writing between
//! steps; `PRAGMA integrity_check` on the copy; the same API the other way to restore.

use super::{BackupError, BackupProgress, Copied};
use crate::execution::CancelToken;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// About this many bytes are copied per step (the source is locked only during a step).
const BYTES_PER_STEP: i64 = 32 << 20;

fn failed(path: &Path) -> impl Fn(rusqlite::Error) -> BackupError + '_ {
    move |e| BackupError::Sqlite {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// (pages done, pages in all, page size)
type Step = (u64, u64, u64);

pub(super) async fn backup(
    source: &Path,
    dest: &Path,
    progress: &mut (dyn FnMut(BackupProgress) + Send),
    cancel: &CancelToken,
) -> Result<Copied, BackupError> {
    let (src, dst, cancel) = (source.to_path_buf(), dest.to_path_buf(), cancel.clone());
    run_copy(progress, move |report| {
        copy(&src, &dst, Some(&cancel), report)?;
        // The copy keeps the source's header; a WAL source would make the copy a WAL
        // database, which needs -wal/-shm files beside it to be read. A backup is one file.
        let to = Connection::open(&dst).map_err(failed(&dst))?;
        let _: String = to
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .map_err(failed(&dst))?;
        to.close().map_err(|(_, e)| failed(&dst)(e))
    })
    .await?;
    Ok(Copied { sha256: None })
}

/// Runs a blocking copy on the blocking pool, forwarding its steps as progress.
async fn run_copy(
    progress: &mut (dyn FnMut(BackupProgress) + Send),
    work: impl FnOnce(&dyn Fn(Step)) -> Result<(), BackupError> + Send + 'static,
) -> Result<(), BackupError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Step>();
    let task = tokio::task::spawn_blocking(move || {
        work(&|step| {
            let _ = tx.send(step);
        })
    });
    while let Some((done, total, page)) = rx.recv().await {
        progress(BackupProgress::Copying {
            bytes_done: done * page,
            bytes_total: Some(total * page),
            items_done: done,
            items_total: Some(total),
            item: None,
        });
    }
    task.await.map_err(|e| BackupError::Sqlite {
        path: String::new(),
        message: format!("the copy stopped: {e}"),
    })?
}

/// Copies the database `from` into `to` page batch by page batch.
fn copy(
    from: &Path,
    to: &Path,
    cancel: Option<&CancelToken>,
    report: &dyn Fn(Step),
) -> Result<(), BackupError> {
    let source = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed(from))?;
    source
        .busy_timeout(Duration::from_secs(30))
        .map_err(failed(from))?;
    let page_size: i64 = source
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(failed(from))?;
    let mut dest = Connection::open(to).map_err(failed(to))?;
    dest.busy_timeout(Duration::from_secs(30))
        .map_err(failed(to))?;
    let pages = (BYTES_PER_STEP / page_size.max(512)).max(1) as i32;
    {
        let backup = Backup::new(&source, &mut dest).map_err(failed(to))?;
        loop {
            if cancel.is_some_and(CancelToken::is_cancelled) {
                return Err(BackupError::Cancelled);
            }
            let step = backup.step(pages).map_err(failed(to))?;
            let p = backup.progress();
            let total = p.pagecount.max(0) as u64;
            report((
                total - (p.remaining.max(0) as u64).min(total),
                total,
                page_size as u64,
            ));
            match step {
                StepResult::Done => break,
                StepResult::More => {}
                // Another connection writes the source (or holds the destination): wait.
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
    dest.close().map_err(|(_, e)| failed(to)(e))?;
    source.close().map_err(|(_, e)| failed(from)(e))
}

/// `PRAGMA integrity_check` on a copy, opened read-only.
pub(super) async fn verify(path: &Path) -> Result<String, BackupError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || integrity(&path))
        .await
        .map_err(|e| BackupError::Sqlite {
            path: String::new(),
            message: format!("the check stopped: {e}"),
        })?
}

fn integrity(path: &Path) -> Result<String, BackupError> {
    let check = "PRAGMA integrity_check";
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
        BackupError::Verify {
            path: path.display().to_string(),
            check: check.into(),
            message: e.to_string(),
        }
    })?;
    let rows: Result<Vec<String>, rusqlite::Error> = db
        .prepare(check)
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    let rows = rows.map_err(|e| BackupError::Verify {
        path: path.display().to_string(),
        check: check.into(),
        message: e.to_string(),
    })?;
    if rows == ["ok"] {
        Ok(format!("{check}: ok"))
    } else {
        Err(BackupError::Verify {
            path: path.display().to_string(),
            check: check.into(),
            message: rows.into_iter().take(5).collect::<Vec<_>>().join("; "),
        })
    }
}

/// Writes the backup file into the target database (created if missing) with the backup API;
/// the target's other connections wait for its lock.
pub(super) async fn restore(
    backup: &Path,
    target: &Path,
    progress: &mut (dyn FnMut(BackupProgress) + Send),
) -> Result<(), BackupError> {
    let (src, dst) = (backup.to_path_buf(), target.to_path_buf());
    run_copy(progress, move |report| copy(&src, &dst, None, report)).await
}

/// Restores the copy into a scratch file and checks the result.
pub(super) async fn restore_test(backup: &Path, scratch: &Path) -> Result<(), BackupError> {
    let (src, dst): (PathBuf, PathBuf) = (backup.to_path_buf(), scratch.to_path_buf());
    tokio::task::spawn_blocking(move || {
        copy(&src, &dst, None, &|_| {})?;
        integrity(&dst).map(drop)
    })
    .await
    .map_err(|e| BackupError::Sqlite {
        path: String::new(),
        message: format!("the restore test stopped: {e}"),
    })?
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

    fn sample(path: &Path, wal: bool) {
        let db = Connection::open(path).unwrap();
        if wal {
            let _: String = db
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .unwrap();
        }
        db.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO t SELECT i, 'naïve ' || i, randomblob(100) FROM n;
             INSERT INTO t VALUES (0, NULL, NULL);",
        )
        .unwrap();
    }

    fn digest(path: &Path) -> (i64, String) {
        let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        db.query_row(
            "SELECT count(*), group_concat(coalesce(name, '∅') || hex(coalesce(data, x'')), ',') FROM (SELECT * FROM t ORDER BY id)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    #[test]
    fn backup_verify_and_restore_round_trip_a_wal_database() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.db");
        sample(&src, true);
        let before = digest(&src);
        let copy = dir.path().join("copy.sqlite");
        let mut steps = Vec::new();
        rt().block_on(async {
            backup(&src, &copy, &mut |p| steps.push(p), &CancelToken::default())
                .await
                .unwrap();
            assert_eq!(verify(&copy).await.unwrap(), "PRAGMA integrity_check: ok");
        });
        assert!(matches!(
            steps.last(),
            Some(BackupProgress::Copying { items_done, items_total: Some(t), .. }) if items_done == t
        ));
        assert_eq!(digest(&copy), before);
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("copy"))
            .collect();
        assert_eq!(files, ["copy.sqlite"], "a backup is one file");

        // The source changes, then the backup goes back in.
        Connection::open(&src)
            .unwrap()
            .execute_batch("DELETE FROM t WHERE id > 10; CREATE TABLE later (x)")
            .unwrap();
        assert_ne!(digest(&src), before);
        rt().block_on(restore(&copy, &src, &mut |_| {})).unwrap();
        assert_eq!(digest(&src), before);
        let later: i64 = Connection::open(&src)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'later'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(later, 0, "the restore replaces the whole database");
    }

    #[test]
    fn a_cancelled_backup_stops() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.db");
        sample(&src, false);
        let cancel = CancelToken::default();
        cancel.cancel();
        let err = rt()
            .block_on(backup(&src, &dir.path().join("c"), &mut |_| {}, &cancel))
            .unwrap_err();
        assert!(matches!(err, BackupError::Cancelled), "{err}");
    }

    #[test]
    fn a_damaged_copy_fails_verification() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.db");
        sample(&src, false);
        let mut bytes = std::fs::read(&src).unwrap();
        let len = bytes.len();
        // Scribble over the middle pages (b-tree pages of t), keeping the header.
        for b in &mut bytes[len / 3..len / 3 + 8192] {
            *b = 0x5A;
        }
        let bad = dir.path().join("bad.sqlite");
        std::fs::write(&bad, bytes).unwrap();
        let err = rt().block_on(verify(&bad)).unwrap_err();
        assert!(matches!(err, BackupError::Verify { .. }), "{err}");
    }
}
