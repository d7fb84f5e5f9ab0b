//! Files of the backup folder: partial files that become backups only by an atomic rename,
//! leftovers of interrupted backups, free space, checksums and timestamps.

use super::{BackupError, io_error};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

const PARTIAL: &str = ".partial";

/// A backup being written: `<final name>.<pid>.partial`, removed on drop unless committed.
pub(crate) struct Partial {
    path: PathBuf,
    final_path: PathBuf,
    committed: bool,
}

impl Partial {
    pub(crate) fn create(final_path: &Path) -> Result<Self, BackupError> {
        if final_path.exists() {
            return Err(io_error(final_path, "a backup of that name already exists"));
        }
        let path = partial_name(final_path, std::process::id());
        // 0600: the dump tools write into this file (never creating their own), so the
        // backup is private from its first byte.
        crate::private::create_new_file(&path).map_err(|e| io_error(&path, e))?;
        Ok(Self {
            path,
            final_path: final_path.to_path_buf(),
            committed: false,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the (synced, verified) file to its final name and syncs the folder, so that
    /// the name survives a crash.
    pub(crate) fn commit(mut self) -> Result<PathBuf, BackupError> {
        if self.final_path.exists() {
            return Err(io_error(
                &self.final_path,
                "a backup of that name already exists",
            ));
        }
        std::fs::rename(&self.path, &self.final_path).map_err(|e| io_error(&self.final_path, e))?;
        self.committed = true;
        if let Some(dir) = self.final_path.parent() {
            sync_dir(dir)?;
        }
        Ok(self.final_path.clone())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.committed {
            remove_with_sidecars(&self.path);
        }
    }
}

fn partial_name(final_path: &Path, pid: u32) -> PathBuf {
    let mut name = final_path.as_os_str().to_owned();
    name.push(format!(".{pid}{PARTIAL}"));
    PathBuf::from(name)
}

/// Removes a file and the journal files SQLite may have left beside it.
fn remove_with_sidecars(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

pub(crate) fn sync_file(path: &Path) -> Result<(), BackupError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(path, e))
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_error(dir, e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A partial file left by a backup that did not finish (or is still running).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartialFile {
    pub path: PathBuf,
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub size_bytes: u64,
    /// The process that wrote it.
    pub pid: Option<u32>,
    /// That process still runs: the backup may be in progress.
    pub in_progress: bool,
}

/// The partial files in a backup folder: never backups, listed so that they can be seen.
pub fn leftover_partials(dir: &Path) -> Vec<PartialFile> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PartialFile> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(PARTIAL)?;
            let pid = stem
                .rsplit_once('.')
                .and_then(|(_, p)| p.parse::<u32>().ok());
            Some(PartialFile {
                path: e.path(),
                size_bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
                pid,
                in_progress: pid.is_some_and(process_alive),
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Removes the partial files whose process is gone; returns what was removed.
pub fn remove_leftover_partials(dir: &Path) -> Vec<PathBuf> {
    leftover_partials(dir)
        .into_iter()
        .filter(|p| !p.in_progress)
        .map(|p| {
            remove_with_sidecars(&p.path);
            p.path
        })
        .collect()
}

pub(super) fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // Signal 0 checks for existence; EPERM means it exists but is someone else's.
        // SAFETY: kill with signal 0 sends nothing.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Refuses to start when the folder's file system has less room than the estimate (plus a
/// tenth, for the file system's own overhead).
pub(crate) fn check_free_space(dir: &Path, estimate: Option<u64>) -> Result<(), BackupError> {
    let Some(needed) = estimate else {
        return Ok(());
    };
    let needed = needed + needed / 10;
    match free_space(dir) {
        Some(available) if available < needed => Err(BackupError::DiskSpace {
            dir: dir.display().to_string(),
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

fn free_space(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: statvfs fills the zeroed struct; c is a valid NUL-terminated path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
        (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

pub(crate) fn sha256_file(path: &Path) -> Result<String, BackupError> {
    let mut file = File::open(path).map_err(|e| io_error(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| io_error(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A name safe in any file system: letters, digits, `-`, `_`, `.`; others become `_`.
pub(crate) fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('.');
    if trimmed.is_empty() {
        "database".into()
    } else {
        trimmed.chars().take(80).collect()
    }
}

pub(crate) struct Timestamp {
    /// `2026-11-24T19:47:03.512Z`
    pub(crate) rfc3339: String,
    /// `20261124T194703512Z`, for file names.
    pub(crate) compact: String,
}

pub(crate) fn now() -> Timestamp {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    timestamp(since.as_secs() as i64, since.subsec_millis())
}

fn timestamp(secs: i64, millis: u32) -> Timestamp {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    Timestamp {
        rfc3339: format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z"),
        compact: format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}{millis:03}Z"),
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = timestamp(0, 0);
        assert_eq!(t.rfc3339, "1970-01-01T00:00:00.000Z");
        let t = timestamp(1_795_549_623, 512);
        assert_eq!(t.rfc3339, "2026-11-24T19:47:03.512Z");
        assert_eq!(t.compact, "20261124T194703512Z");
        assert_eq!(
            timestamp(951_782_400, 0).rfc3339,
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("prod db/x"), "prod_db_x");
        assert_eq!(safe_name(".."), "database");
        assert_eq!(safe_name("ünï"), "_n_");
    }

    #[test]
    fn partials_are_removed_unless_committed_and_never_look_complete() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.sqlite");
        let p = Partial::create(&target).unwrap();
        std::fs::write(p.path(), b"half").unwrap();
        assert!(p.path().to_string_lossy().ends_with(".partial"));
        let listed = leftover_partials(dir.path());
        assert_eq!(listed.len(), 1);
        assert!(listed[0].in_progress, "this process is alive");
        assert_eq!(listed[0].pid, Some(std::process::id()));
        assert!(
            remove_leftover_partials(dir.path()).is_empty(),
            "a live backup's file stays"
        );
        drop(p);
        assert!(!target.exists());
        assert!(leftover_partials(dir.path()).is_empty());

        let p = Partial::create(&target).unwrap();
        std::fs::write(p.path(), b"whole").unwrap();
        assert_eq!(p.commit().unwrap(), target);
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
        assert!(leftover_partials(dir.path()).is_empty());
        assert!(
            Partial::create(&target).is_err(),
            "never overwrites a backup"
        );
    }

    #[test]
    fn a_dead_process_partial_is_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        // A pid that cannot exist (above pid_max's ceiling of 2^22).
        let stale = partial_name(&dir.path().join("b.sql"), 4_194_304 + 7);
        std::fs::write(&stale, b"x").unwrap();
        std::fs::write(format!("{}-journal", stale.display()), b"j").unwrap();
        let listed = leftover_partials(dir.path());
        assert_eq!(listed.len(), 1);
        assert!(!listed[0].in_progress);
        assert_eq!(remove_leftover_partials(dir.path()), vec![stale.clone()]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn free_space_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_free_space(dir.path(), Some(1)).is_ok());
        let err = check_free_space(dir.path(), Some(u64::MAX / 4)).unwrap_err();
        assert!(matches!(err, BackupError::DiskSpace { .. }), "{err}");
    }

    #[test]
    fn checksums() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
