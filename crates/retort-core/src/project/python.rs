//! Which Python runs a project's code. One finder with one precedence, used both to read
//! revision files whose values only Python can compute and to run the project's alembic, so a
//! file is never read by one interpreter and migrated by another:
//!
//! 1. the Python given explicitly (`--python`);
//! 2. `$RETORT_PYTHON` (a path, or a name looked up on `PATH`);
//! 3. the project's virtual environment: `.venv`, then `venv`, beside its configuration file
//!    (where `python -m venv .venv` and uv put it; it need not be activated);
//! 4. `python3`, then `python`, on `PATH`.
//!
//! A Python named in 1 or 2 that is not there is an error, never a silent fall back to
//! another interpreter. `PATH` entries that are empty (the current folder) are skipped.
//!
//! [`on_path`] (and [`every_on_path`]) is the core's one `PATH` search: the backup and check
//! modules find the database clients with it too.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The environment variable of step 2.
pub const PYTHON_VAR: &str = "RETORT_PYTHON";

/// Why no Python was found; the message names what was tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PythonNotFound {
    #[error("no Python at {0} (given with --python)")]
    Explicit(PathBuf),
    #[error("no Python at {0} (given in RETORT_PYTHON)")]
    Environment(PathBuf),
    #[error(
        "no Python found: tried {venv}, {plain_venv}, and python3 and python on PATH; pass --python (or set RETORT_PYTHON) with the Python that has the project's alembic installed"
    )]
    Nowhere { venv: String, plain_venv: String },
}

/// The Python for the project whose configuration file is in `project_dir`.
pub fn find(explicit: Option<&Path>, project_dir: &Path) -> Result<PathBuf, PythonNotFound> {
    find_in(
        explicit,
        std::env::var_os(PYTHON_VAR),
        project_dir,
        std::env::var_os("PATH").as_deref(),
    )
}

fn find_in(
    explicit: Option<&Path>,
    configured: Option<OsString>,
    project_dir: &Path,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, PythonNotFound> {
    if let Some(python) = explicit {
        return named(python, path_var).ok_or_else(|| PythonNotFound::Explicit(python.into()));
    }
    if let Some(configured) = configured.filter(|c| !c.is_empty()) {
        let python = PathBuf::from(configured);
        return named(&python, path_var).ok_or(PythonNotFound::Environment(python));
    }
    let (bin, exe) = if cfg!(windows) {
        ("Scripts", "python.exe")
    } else {
        ("bin", "python")
    };
    let venvs = [
        project_dir.join(".venv").join(bin).join(exe),
        project_dir.join("venv").join(bin).join(exe),
    ];
    if let Some(found) = venvs.iter().find(|p| is_executable(p)) {
        return Ok(std::path::absolute(found).unwrap_or_else(|_| found.clone()));
    }
    ["python3", "python"]
        .iter()
        .find_map(|name| on_path(name.as_ref(), path_var))
        .ok_or_else(|| PythonNotFound::Nowhere {
            venv: venvs[0].display().to_string(),
            plain_venv: venvs[1].display().to_string(),
        })
}

/// A Python given by path (it must be there) or by name (looked up on `PATH`).
fn named(python: &Path, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if python.components().count() > 1 || python.is_absolute() {
        let python = std::path::absolute(python).unwrap_or_else(|_| python.to_path_buf());
        return is_executable(&python).then_some(python);
    }
    on_path(python.as_os_str(), path_var)
}

/// The first runnable `name` in the folders of `path_var` (Windows: also `name.exe`).
pub fn on_path(name: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    every_on_path(name, path_var).next()
}

/// Every runnable `name` in the folders of `path_var`, in their order (Windows: also
/// `name.exe`); [`on_path`] is the first.
pub fn every_on_path<'a>(
    name: &'a OsStr,
    path_var: Option<&'a OsStr>,
) -> impl Iterator<Item = PathBuf> + 'a {
    path_var
        .into_iter()
        .flat_map(std::env::split_paths)
        // An empty entry would mean the current directory; never run a program from there.
        .filter(|dir| !dir.as_os_str().is_empty())
        .filter_map(move |dir| {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Some(candidate);
            }
            if cfg!(windows) && candidate.extension().is_none() {
                let exe = candidate.with_extension("exe");
                if is_executable(&exe) {
                    return Some(exe);
                }
            }
            None
        })
}

/// A file this user may run (elsewhere than Unix: a file).
pub(crate) fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = std::fs::metadata(path) else {
        return false;
    };
    if !metadata.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    fn name(n: &str) -> String {
        if cfg!(windows) {
            format!("{n}.exe")
        } else {
            n.to_string()
        }
    }

    #[test]
    fn path_is_searched_python3_first_and_never_the_current_folder() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        let (bin, other) = (dir.path().join("bin"), dir.path().join("other"));
        std::fs::create_dir_all(&other).unwrap();
        std::fs::create_dir_all(&project).unwrap();
        let path_var = std::env::join_paths([other.clone(), bin.clone()]).unwrap();
        let find = |path_var: Option<&OsStr>| find_in(None, None, &project, path_var);
        assert!(matches!(
            find(Some(&path_var)),
            Err(PythonNotFound::Nowhere { .. })
        ));
        assert!(find(None).is_err());
        make(&bin.join(name("python")));
        assert_eq!(find(Some(&path_var)).unwrap(), bin.join(name("python")));
        make(&bin.join(name("python3")));
        assert_eq!(find(Some(&path_var)).unwrap(), bin.join(name("python3")));
        #[cfg(unix)]
        {
            // Not executable: not a Python.
            std::fs::write(other.join("python3"), "not executable").unwrap();
            let only_other = std::env::join_paths([other.clone()]).unwrap();
            assert!(find(Some(&only_other)).is_err());
            // An empty PATH entry is the current folder: skipped.
            let cwd_python = std::env::current_dir().unwrap().join("python3");
            if !cwd_python.exists() {
                assert!(find(Some(OsStr::new(":"))).is_err());
            }
        }
    }

    /// The backups' and the checks' tool lookups joined this search: they took any file,
    /// runnable or not, from any entry, the empty one (the current folder) included, and on
    /// Windows never found `name.exe` when asked for `name`.
    #[test]
    fn every_runnable_match_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        make(&a.join(name("tool")));
        make(&c.join(name("tool")));
        std::fs::create_dir_all(&b).unwrap();
        let path_var = std::env::join_paths([c.clone(), b.clone(), a.clone()]).unwrap();
        let found: Vec<PathBuf> = every_on_path("tool".as_ref(), Some(&path_var)).collect();
        assert_eq!(found, vec![c.join(name("tool")), a.join(name("tool"))]);
        assert_eq!(
            on_path("tool".as_ref(), Some(&path_var)),
            Some(c.join(name("tool")))
        );
        assert_eq!(every_on_path("tool".as_ref(), None).count(), 0);
        #[cfg(unix)]
        {
            std::fs::write(b.join("tool"), "not executable").unwrap();
            let only_b = std::env::join_paths([b.clone()]).unwrap();
            assert_eq!(on_path("tool".as_ref(), Some(&only_b)), None);
            // The empty entries would be the current folder: a runnable file reached from
            // there is not found through them.
            let cwd = std::env::current_dir().unwrap();
            let up = "../".repeat(cwd.components().count() - 1);
            let tool = a.join("tool");
            let relative = format!("{up}{}", tool.strip_prefix("/").unwrap().display());
            assert!(is_executable(Path::new(&relative)), "{relative}");
            assert_eq!(on_path(relative.as_ref(), Some(OsStr::new(":"))), None);
        }
    }

    #[test]
    fn the_precedence_is_explicit_then_retort_python_then_the_venv_then_path() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        let bin = dir.path().join("bin");
        make(&bin.join(name("python3")));
        let path_var = std::env::join_paths([bin.clone()]).unwrap();
        let path_var = Some(path_var.as_os_str());
        let on_path = bin.join(name("python3"));
        assert_eq!(find_in(None, None, &project, path_var).unwrap(), on_path);

        let (dir_name, exe) = if cfg!(windows) {
            ("Scripts", "python.exe")
        } else {
            ("bin", "python")
        };
        let plain_venv = project.join("venv").join(dir_name).join(exe);
        make(&plain_venv);
        assert_eq!(find_in(None, None, &project, path_var).unwrap(), plain_venv);
        let venv = project.join(".venv").join(dir_name).join(exe);
        make(&venv);
        assert_eq!(find_in(None, None, &project, path_var).unwrap(), venv);

        let custom = dir.path().join("custom").join(name("mypython"));
        make(&custom);
        let configured = Some(OsString::from(&custom));
        assert_eq!(
            find_in(None, configured.clone(), &project, path_var).unwrap(),
            custom
        );
        // A name in RETORT_PYTHON is looked up on PATH.
        assert_eq!(
            find_in(None, Some("python3".into()), &project, path_var).unwrap(),
            on_path
        );
        // Empty: as if unset.
        assert_eq!(
            find_in(None, Some("".into()), &project, path_var).unwrap(),
            venv
        );
        let explicit = dir.path().join("explicit").join(name("py"));
        make(&explicit);
        assert_eq!(
            find_in(Some(&explicit), configured, &project, path_var).unwrap(),
            explicit
        );
    }

    #[test]
    fn a_python_named_but_missing_is_an_error_not_a_fall_back() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        let bin = dir.path().join("bin");
        make(&bin.join(name("python3")));
        let path_var = std::env::join_paths([bin]).unwrap();
        let path_var = Some(path_var.as_os_str());
        let missing = dir.path().join("nope");
        let err = find_in(Some(&missing), None, &project, path_var).unwrap_err();
        assert_eq!(err, PythonNotFound::Explicit(missing.clone()));
        assert!(err.to_string().contains("given with --python"), "{err}");
        let err = find_in(None, Some(missing.clone().into()), &project, path_var).unwrap_err();
        assert!(err.to_string().contains("RETORT_PYTHON"), "{err}");
        let err = find_in(None, Some("no-such-python".into()), &project, None).unwrap_err();
        assert!(err.to_string().contains("no-such-python"), "{err}");
        let err = find_in(None, None, &project, None).unwrap_err().to_string();
        assert!(
            err.contains(".venv") && err.contains("python3") && err.contains("--python"),
            "{err}"
        );
    }
}
