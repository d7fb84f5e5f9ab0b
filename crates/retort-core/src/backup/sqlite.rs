//! SQLite: the file copied whole inside a read transaction that freezes it, or else the online
//! backup API (through rusqlite, on the libsqlite3 sqlx links), a batch of pages per step so
//! that the source's other connections keep reading and writing between steps;
//! `PRAGMA integrity_check` on the copy; the backup API the other way to restore.

use super::inventory::{Inventory, ObjectKind};
use super::{BackupError, BackupProgress, Copied};
use crate::execution::CancelToken;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::io::Write;
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
        if !copy_frozen_file(&src, &dst, &cancel, report)? {
            copy(&src, &dst, Some(&cancel), report)?;
        }
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

/// Copies the source file byte for byte inside a read transaction that freezes it (see
/// [`Frozen`]), several times faster than the backup API, which copies page by page through
/// the pager. `Ok(false)`: the source could not be frozen, nothing was written, and the backup
/// API is the way.
fn copy_frozen_file(
    from: &Path,
    to: &Path,
    cancel: &CancelToken,
    report: &dyn Fn(Step),
) -> Result<bool, BackupError> {
    match Frozen::try_freeze(from)? {
        Some(frozen) => frozen.copy_to(to, cancel, report).map(|()| true),
        None => Ok(false),
    }
}

/// A source database held still by an open read transaction. In a rollback-journal database
/// a reader's shared lock keeps every writer out of the file. In a WAL database a reader that
/// begins while the WAL is empty (just checkpointed) reads the file alone and holds the lock a
/// checkpoint needs to write into it, while writers go on appending to the WAL.
struct Frozen<'a> {
    path: &'a Path,
    connection: Connection,
    page_size: u64,
    pages: u64,
}

impl<'a> Frozen<'a> {
    /// `None` when that state cannot be reached now: a checkpoint that would have to wait for
    /// readers or a writer, an in-memory or absent journal, a file this process cannot open
    /// for writing (a checkpoint writes).
    fn try_freeze(path: &'a Path) -> Result<Option<Self>, BackupError> {
        let Ok(connection) = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) else {
            return Ok(None);
        };
        // A rollback-journal database that is written all the time keeps readers out for
        // each commit: the first read waits as long as the copy's read does, not the 5 s a
        // new connection waits by default.
        connection
            .busy_timeout(Duration::from_secs(30))
            .map_err(failed(path))?;
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(failed(path))?;
        let wal = match mode.to_ascii_lowercase().as_str() {
            "delete" | "truncate" | "persist" => false,
            "wal" => true,
            _ => return Ok(None),
        };
        if wal {
            connection
                .busy_timeout(Duration::from_millis(200))
                .map_err(failed(path))?;
            let busy: i64 = connection
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(failed(path))?;
            if busy != 0 {
                return Ok(None);
            }
        }
        connection
            .busy_timeout(Duration::from_secs(30))
            .map_err(failed(path))?;
        connection.execute_batch("BEGIN").map_err(failed(path))?;
        let (page_size, pages): (i64, i64) = connection
            .query_row(
                "SELECT page_size, page_count FROM pragma_page_size, pragma_page_count",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(failed(path))?;
        // An empty WAL now means this reader began with none, so it holds the lock that stops
        // checkpoints; frames written before it began would still be there (the WAL is not
        // reset under a reader that may need them).
        let wal_file = PathBuf::from(format!("{}-wal", path.display()));
        if wal && std::fs::metadata(&wal_file).map_or(0, |m| m.len()) != 0 {
            return Ok(None);
        }
        Ok(Some(Self {
            path,
            connection,
            page_size: page_size.max(512) as u64,
            pages: pages.max(0) as u64,
        }))
    }

    fn copy_to(
        self,
        to: &Path,
        cancel: &CancelToken,
        report: &dyn Fn(Step),
    ) -> Result<(), BackupError> {
        let (from, page_size, pages) = (self.path, self.page_size, self.pages);
        let mut output = crate::private::create_file(to).map_err(|e| super::io_error(to, e))?;
        let chunk = (BYTES_PER_STEP as u64 / page_size).max(1);
        let mut buffer = vec![0u8; (chunk * page_size) as usize];
        let mut done = 0;
        report((0, pages, page_size));
        while done < pages {
            if cancel.is_cancelled() {
                return Err(BackupError::Cancelled);
            }
            let n = chunk.min(pages - done);
            let bytes = &mut buffer[..(n * page_size) as usize];
            self.read_at(bytes, done * page_size)?;
            output
                .write_all(bytes)
                .map_err(|e| super::io_error(to, e))?;
            done += n;
            report((done, pages, page_size));
        }
        output.sync_all().map_err(|e| super::io_error(to, e))?;
        self.connection
            .execute_batch("COMMIT")
            .map_err(failed(from))
    }

    /// Reads through SQLite's own handle on the file. A second descriptor of our own would
    /// not do: closing it drops every POSIX lock this process holds on the file, the locks of
    /// SQLite connections included.
    fn read_at(&self, bytes: &mut [u8], offset: u64) -> Result<(), BackupError> {
        use rusqlite::ffi;
        let io_failed = |what: String| BackupError::Sqlite {
            path: self.path.display().to_string(),
            message: what,
        };
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: the connection is open and used on this thread only; SQLite writes a pointer
        // to its handle of the main database file, which lives as long as the connection.
        let rc = unsafe {
            ffi::sqlite3_file_control(
                self.connection.handle(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_FILE_POINTER,
                (&raw mut file).cast(),
            )
        };
        // SAFETY: a non-null handle from SQLite has its I/O methods set while it is open.
        let read = (rc == ffi::SQLITE_OK && !file.is_null())
            .then(|| unsafe { (*file).pMethods.as_ref() })
            .flatten()
            .and_then(|methods| methods.xRead);
        let Some(read) = read else {
            return Err(io_failed("SQLite gave no handle on the file".into()));
        };
        let len = i32::try_from(bytes.len()).expect("a step is well under 2 GiB");
        // SAFETY: `bytes` is valid for `len` bytes; the read transaction keeps the file still.
        let rc = unsafe { read(file, bytes.as_mut_ptr().cast(), len, offset as i64) };
        match rc {
            ffi::SQLITE_OK => Ok(()),
            ffi::SQLITE_IOERR_SHORT_READ => Err(io_failed(format!(
                "the file ends before byte {}, the database says it has {}",
                offset + bytes.len() as u64,
                self.pages * self.page_size
            ))),
            rc => Err(io_failed(format!(
                "reading at byte {offset}: {}",
                ffi::Error::new(rc)
            ))),
        }
    }
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
    // Pages read through a map, not one `pread` per page (the check visits each page at least
    // once, index pages more).
    let mapped = db.query_row(&format!("PRAGMA mmap_size = {}", i64::MAX), [], |r| {
        r.get::<_, i64>(0)
    });
    let rows: Result<Vec<String>, rusqlite::Error> = mapped
        .and_then(|_| db.prepare(check))
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
        // A full copy of the data: private before SQLite writes into it.
        crate::private::create_new_file(&dst).map_err(|e| super::io_error(&dst, e))?;
        copy(&src, &dst, None, &|_| {})?;
        integrity(&dst).map(drop)
    })
    .await
    .map_err(|e| BackupError::Sqlite {
        path: String::new(),
        message: format!("the restore test stopped: {e}"),
    })?
}

/// What a SQLite file holds: every object of its schema with its `CREATE` text, every table's
/// row count, and the rows of the version table `version_table`. Read-only.
pub(super) async fn inventory(path: &Path, version_table: &str) -> Result<Inventory, BackupError> {
    let (path, version_table) = (path.to_path_buf(), version_table.to_string());
    tokio::task::spawn_blocking(move || read_inventory(&path, &version_table))
        .await
        .map_err(|e| BackupError::Sqlite {
            path: String::new(),
            message: format!("reading the schema stopped: {e}"),
        })?
}

fn read_inventory(path: &Path, version_table: &str) -> Result<Inventory, BackupError> {
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(failed(path))?;
    db.busy_timeout(Duration::from_secs(30))
        .map_err(failed(path))?;
    let mut inventory = Inventory::default();
    let mut counts = std::collections::BTreeMap::new();
    let objects: Vec<(String, String, Option<String>)> = db
        .prepare(
            "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             ORDER BY type, name",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(failed(path))?;
    for (kind, name, sql) in objects {
        let kind = match kind.as_str() {
            "table" => ObjectKind::Table,
            "view" => ObjectKind::View,
            "index" => ObjectKind::Index,
            "trigger" => ObjectKind::Trigger,
            _ => continue,
        };
        if kind == ObjectKind::Table {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            let n: i64 = db
                .query_row(&format!("SELECT count(*) FROM {quoted}"), [], |r| r.get(0))
                .map_err(failed(path))?;
            counts.insert(name.clone(), n.max(0) as u64);
        }
        inventory.objects.insert((kind, name), sql);
    }
    if inventory.contains(ObjectKind::Table, version_table) {
        let quoted = format!("\"{}\"", version_table.replace('"', "\"\""));
        let rows: Vec<String> = db
            .prepare(&format!("SELECT version_num FROM {quoted}"))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(failed(path))?;
        inventory.set_revisions(rows);
    }
    inventory.row_counts = Some(counts);
    inventory.source = "the SQLite copy's catalog";
    Ok(inventory)
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

    /// A copy taken while another connection keeps committing is one of the states the
    /// source went through: intact, with the rows of whole transactions only.
    fn copy_while_writing(wal: bool, pin_a_reader: bool) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.db");
        sample(&src, wal);
        Connection::open(&src)
            .unwrap()
            .execute_batch(
                "CREATE TABLE pairs (id INTEGER PRIMARY KEY, half INTEGER);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                 INSERT INTO t SELECT 10000 + i, 'pad', randomblob(1000) FROM n;",
            )
            .unwrap();
        // A reader that began while the WAL held frames pins them: no checkpoint can empty it.
        let pinned = pin_a_reader.then(|| {
            Connection::open(&src)
                .unwrap()
                .execute_batch("CREATE TABLE pin (x); INSERT INTO pin VALUES (1);")
                .unwrap();
            let reader = Connection::open(&src).unwrap();
            reader.execute_batch("BEGIN").unwrap();
            let _: i64 = reader
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap();
            reader
        });
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (first_commit, committed) = std::sync::mpsc::channel();
        let writer = {
            let (src, stop) = (src.clone(), stop.clone());
            std::thread::spawn(move || {
                let db = Connection::open(&src).unwrap();
                db.busy_timeout(Duration::from_secs(30)).unwrap();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Two rows per transaction: a copy holding an odd count is torn.
                    db.execute_batch(&format!(
                        "BEGIN IMMEDIATE; INSERT INTO pairs (half) VALUES ({n}), ({n}); COMMIT;"
                    ))
                    .unwrap();
                    if n == 0 {
                        first_commit.send(()).unwrap();
                    }
                    n += 1;
                    // A writer that never pauses starves rollback-journal readers (each commit
                    // shuts them out, and SQLite's busy handler polls): leave them a gap.
                    std::thread::sleep(Duration::from_millis(2));
                }
                n
            })
        };
        // The copy starts once the writer is writing, however slowly the machine runs.
        committed.recv().unwrap();
        let copy = dir.path().join("copy.sqlite");
        let frozen = copy_frozen_file(&src, &copy, &CancelToken::default(), &|_| {}).unwrap();
        if !frozen {
            super::copy(&src, &copy, None, &|_| {}).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let commits = writer.join().unwrap();
        drop(pinned);
        assert!(commits > 0);
        rt().block_on(async {
            let to = Connection::open(&copy).unwrap();
            let _: String = to
                .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
                .unwrap();
            drop(to);
            assert_eq!(verify(&copy).await.unwrap(), "PRAGMA integrity_check: ok");
        });
        let db = Connection::open(&copy).unwrap();
        let (rows, halves): (i64, i64) = db
            .query_row(
                "SELECT count(*), count(DISTINCT half) FROM pairs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(rows, 2 * halves, "whole transactions only");
        assert!(halves <= commits as i64);
        assert_eq!(
            db.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            23001
        );
        frozen
    }

    /// Commits made after the source was frozen are not in the copy, and the copy is intact:
    /// in WAL mode a checkpoint run meanwhile does not write into the file being copied.
    fn frozen_copy_ignores_later_commits(wal: bool) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.db");
        sample(&src, wal);
        let before = digest(&src);
        let frozen = Frozen::try_freeze(&src)
            .unwrap()
            .expect("an idle source freezes");
        let writer = {
            let src = src.clone();
            std::thread::spawn(move || {
                let db = Connection::open(&src).unwrap();
                db.busy_timeout(Duration::from_secs(10)).unwrap();
                db.execute_batch(
                    "UPDATE t SET name = 'changed', data = randomblob(200);
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
                     INSERT INTO t SELECT 100000 + i, 'later', randomblob(300) FROM n;",
                )
                .unwrap();
                if wal {
                    let (_, log, done): (i64, i64, i64) = db
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .unwrap();
                    assert!(
                        log > 0 && done == 0,
                        "the checkpoint wrote nothing: {log} {done}"
                    );
                }
            })
        };
        let mut writer = Some(writer);
        if wal {
            // The writer does not wait for the frozen reader in WAL mode.
            writer.take().unwrap().join().unwrap();
        } else {
            std::thread::sleep(Duration::from_millis(300));
        }
        let copy = dir.path().join("copy.sqlite");
        frozen
            .copy_to(&copy, &CancelToken::default(), &|_| {})
            .unwrap();
        if let Some(writer) = writer {
            // Its commit waited for the frozen reader.
            writer.join().unwrap();
        }
        let to = Connection::open(&copy).unwrap();
        let _: String = to
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .unwrap();
        drop(to);
        assert_eq!(
            rt().block_on(verify(&copy)).unwrap(),
            "PRAGMA integrity_check: ok"
        );
        assert_eq!(digest(&copy), before);
        assert_ne!(digest(&src), before, "the writer's commit went through");
    }

    #[test]
    fn a_frozen_wal_database_is_copied_as_it_was_when_frozen() {
        frozen_copy_ignores_later_commits(true);
    }

    #[test]
    fn a_frozen_rollback_journal_database_is_copied_as_it_was_when_frozen() {
        frozen_copy_ignores_later_commits(false);
    }

    #[test]
    fn a_wal_database_is_copied_whole_while_another_connection_writes() {
        // Either way of copying may be taken here, as the writer lets the checkpoint through.
        copy_while_writing(true, false);
    }

    #[test]
    fn a_rollback_journal_database_is_copied_whole_while_another_connection_writes() {
        assert!(copy_while_writing(false, false), "the file copy was used");
    }

    #[test]
    fn a_wal_pinned_by_a_reader_falls_back_to_the_backup_api() {
        assert!(!copy_while_writing(true, true), "the backup API was used");
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
