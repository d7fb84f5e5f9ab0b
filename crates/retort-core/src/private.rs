//! Files and folders only their owner can read: the store, caches, backups, the browser
//! launcher of `retort serve`. They hold production data or secrets, so they are created
//! 0700/0600 whatever the umask (a umask only removes bits, so asking for these modes is
//! enough for new ones; an existing file is narrowed explicitly).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `dir` and any missing parents 0700. An existing folder keeps its mode (the user
/// chose it; see [`shared_folder_warning`]).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Opens `path` for writing, created 0600, or refused if it exists (`create_new`).
pub fn create_new_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Opens `path` for writing, truncated, created 0600 if missing and narrowed to 0600 if not.
pub fn create_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    restrict_open(&file)?;
    Ok(file)
}

/// Narrows an existing file to 0600 if others may read it (a file another process
/// created, e.g. SQLite or a dump tool).
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if std::fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

fn restrict_open(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(())
    }
}

/// A warning when other local users may read or enter `dir`, naming it and its mode.
pub fn shared_folder_warning(dir: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "{} is readable by other users (mode {mode:04o}): anyone on this machine may read these backups; `chmod 700` it",
                dir.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        // The umask is the process's; this test only loosens it to the usual 022.
        let old = unsafe { libc::umask(0o022) };
        let nested = dir.path().join("a/b");
        create_dir_all(&nested).unwrap();
        let new = nested.join("new");
        drop(create_new_file(&new).unwrap());
        let old_file = nested.join("old");
        std::fs::write(&old_file, b"x").unwrap();
        drop(create_file(&old_file).unwrap());
        unsafe { libc::umask(old) };
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&new), 0o600);
        assert_eq!(mode(&old_file), 0o600);
        assert!(create_new_file(&new).is_err());
        assert_eq!(shared_folder_warning(&nested), None);
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o755)).unwrap();
        let warning = shared_folder_warning(&nested).unwrap();
        assert!(
            warning.contains("0755") && warning.contains("a/b"),
            "{warning}"
        );
    }
}
