//! Finding a project's configuration.
//!
//! In a folder, in this order: `alembic.ini`; `pyproject.toml` if it has a `[tool.alembic]`
//! table; `retort.toml`. An ini gets the `pyproject.toml` beside it attached when that file
//! has `[tool.alembic]`, since Alembic reads both (ini values first). Alembic itself looks for
//! both files in the current directory; Retort looks beside the chosen file, because it is
//! opened on a project folder rather than run from inside it.
//!
//! Returned paths are absolute (not canonicalized: Alembic's `%(here)s` is
//! `Path(file).absolute().parent`, which keeps symlinks).

use super::alembic_config::pyproject_has_alembic;
use super::{Diagnostic, ProjectError};
use std::path::{Component, Path, PathBuf};

pub const ALEMBIC_INI: &str = "alembic.ini";
pub const PYPROJECT_TOML: &str = "pyproject.toml";
pub const RETORT_TOML: &str = "retort.toml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFile {
    /// An alembic.ini, plus the pyproject.toml beside it when it has [tool.alembic].
    AlembicIni {
        ini: PathBuf,
        pyproject: Option<PathBuf>,
    },
    /// A pyproject.toml with [tool.alembic] and no alembic.ini.
    Pyproject(PathBuf),
    RetortToml(PathBuf),
}

impl ConfigFile {
    /// The main configuration file: the ini, the pyproject.toml or the retort.toml.
    pub fn path(&self) -> &Path {
        match self {
            ConfigFile::AlembicIni { ini, .. } => ini,
            ConfigFile::Pyproject(path) | ConfigFile::RetortToml(path) => path,
        }
    }
}

/// Finds the configuration to use. `explicit` (relative paths are taken from `cwd`) may name
/// an ini file (any name other than `pyproject.toml`/`retort.toml`), a `pyproject.toml`, a
/// `retort.toml`, or a folder to search; without it `cwd` is searched.
pub fn find_config(explicit: Option<&Path>, cwd: &Path) -> Result<ConfigFile, ProjectError> {
    let cwd = absolute(cwd, Path::new(""));
    let Some(explicit) = explicit else {
        return search_dir(&cwd);
    };
    let path = absolute(explicit, &cwd);
    let metadata = std::fs::metadata(&path).map_err(|e| ProjectError::Unreadable {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if metadata.is_dir() {
        return search_dir(&path);
    }
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    match path.file_name().and_then(|n| n.to_str()) {
        Some(PYPROJECT_TOML) => {
            if !pyproject_has_alembic(&path)? {
                return Err(ProjectError::Config(Diagnostic::error(
                    &path,
                    None,
                    "this pyproject.toml has no [tool.alembic] table, so it does not configure Alembic",
                )));
            }
            // Alembic given `-c pyproject.toml` still reads an alembic.ini (from the current
            // directory); Retort takes the one beside the pyproject.toml.
            let ini = dir.join(ALEMBIC_INI);
            if ini.is_file() {
                Ok(ConfigFile::AlembicIni {
                    ini,
                    pyproject: Some(path),
                })
            } else {
                Ok(ConfigFile::Pyproject(path))
            }
        }
        Some(RETORT_TOML) => Ok(ConfigFile::RetortToml(path)),
        _ => {
            let pyproject = sibling_pyproject(&dir)?;
            Ok(ConfigFile::AlembicIni {
                ini: path,
                pyproject,
            })
        }
    }
}

fn search_dir(dir: &Path) -> Result<ConfigFile, ProjectError> {
    // Distinguish "no such folder" from "nothing found in it".
    std::fs::read_dir(dir).map_err(|e| ProjectError::Unreadable {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let ini = dir.join(ALEMBIC_INI);
    if ini.is_file() {
        return Ok(ConfigFile::AlembicIni {
            ini,
            pyproject: sibling_pyproject(dir)?,
        });
    }
    if let Some(pyproject) = sibling_pyproject(dir)? {
        return Ok(ConfigFile::Pyproject(pyproject));
    }
    let retort = dir.join(RETORT_TOML);
    if retort.is_file() {
        return Ok(ConfigFile::RetortToml(retort));
    }
    Err(ProjectError::NotFound {
        searched: dir.to_path_buf(),
    })
}

/// `dir/pyproject.toml` when it exists and has `[tool.alembic]`.
fn sibling_pyproject(dir: &Path) -> Result<Option<PathBuf>, ProjectError> {
    let path = dir.join(PYPROJECT_TOML);
    if path.is_file() && pyproject_has_alembic(&path)? {
        Ok(Some(path))
    } else {
        Ok(None)
    }
}

/// `path` made absolute against `base` (then the process's current directory), without `.`
/// components; `..` and symlinks are kept.
fn absolute(path: &Path, base: &Path) -> PathBuf {
    let joined = base.join(path);
    let joined = std::path::absolute(&joined).unwrap_or(joined);
    joined
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const TOOL_ALEMBIC: &str = "[tool.alembic]\nscript_location = \"%(here)s/alembic\"\n";

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn search_order() {
        let d = tree(&[
            ("alembic.ini", "[alembic]\n"),
            ("pyproject.toml", TOOL_ALEMBIC),
            ("retort.toml", ""),
        ]);
        let p = d.path();
        assert_eq!(
            find_config(None, p).unwrap(),
            ConfigFile::AlembicIni {
                ini: p.join("alembic.ini"),
                pyproject: Some(p.join("pyproject.toml"))
            }
        );
        fs::remove_file(p.join("alembic.ini")).unwrap();
        assert_eq!(
            find_config(None, p).unwrap(),
            ConfigFile::Pyproject(p.join("pyproject.toml"))
        );
        fs::write(p.join("pyproject.toml"), "[project]\nname = \"x\"\n").unwrap();
        assert_eq!(
            find_config(None, p).unwrap(),
            ConfigFile::RetortToml(p.join("retort.toml"))
        );
        fs::remove_file(p.join("retort.toml")).unwrap();
        assert!(
            matches!(find_config(None, p), Err(ProjectError::NotFound { searched }) if searched == p)
        );
    }

    #[test]
    fn ini_without_alembic_pyproject() {
        let d = tree(&[
            ("alembic.ini", "[alembic]\n"),
            ("pyproject.toml", "[tool.black]\n"),
        ]);
        let p = d.path();
        assert_eq!(
            find_config(None, p).unwrap(),
            ConfigFile::AlembicIni {
                ini: p.join("alembic.ini"),
                pyproject: None
            }
        );
    }

    #[test]
    fn explicit_files_and_folders() {
        let d = tree(&[
            ("proj/custom.ini", "[alembic]\n"),
            ("proj/pyproject.toml", TOOL_ALEMBIC),
            ("native/retort.toml", ""),
            ("both/alembic.ini", "[alembic]\n"),
            ("both/pyproject.toml", TOOL_ALEMBIC),
            ("plain/pyproject.toml", "[project]\n"),
        ]);
        let p = d.path();
        assert_eq!(
            find_config(Some(&p.join("proj/custom.ini")), Path::new("/")).unwrap(),
            ConfigFile::AlembicIni {
                ini: p.join("proj/custom.ini"),
                pyproject: Some(p.join("proj/pyproject.toml"))
            }
        );
        // Relative to cwd, `.` components dropped.
        assert_eq!(
            find_config(Some(Path::new("./proj/pyproject.toml")), p).unwrap(),
            ConfigFile::Pyproject(p.join("proj/pyproject.toml"))
        );
        assert_eq!(
            find_config(Some(Path::new("native")), p).unwrap(),
            ConfigFile::RetortToml(p.join("native/retort.toml"))
        );
        assert_eq!(
            find_config(Some(Path::new("native/retort.toml")), p).unwrap(),
            ConfigFile::RetortToml(p.join("native/retort.toml"))
        );
        // An explicit pyproject.toml brings the alembic.ini beside it.
        assert_eq!(
            find_config(Some(&p.join("both/pyproject.toml")), p).unwrap(),
            ConfigFile::AlembicIni {
                ini: p.join("both/alembic.ini"),
                pyproject: Some(p.join("both/pyproject.toml"))
            }
        );
        match find_config(Some(Path::new("plain/pyproject.toml")), p) {
            Err(ProjectError::Config(d)) => {
                assert_eq!(d.path, p.join("plain/pyproject.toml"));
                assert!(d.message.contains("no [tool.alembic]"), "{}", d.message);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            find_config(Some(Path::new("plain")), p),
            Err(ProjectError::NotFound { searched }) if searched == p.join("plain")
        ));
    }

    #[test]
    fn missing_paths_and_bad_pyproject() {
        let d = tree(&[("pyproject.toml", "[tool.alembic\n")]);
        let p = d.path();
        match find_config(Some(Path::new("nope.ini")), p) {
            Err(ProjectError::Unreadable { path, message }) => {
                assert_eq!(path, p.join("nope.ini"));
                assert!(!message.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            find_config(None, &p.join("missing-dir")),
            Err(ProjectError::Unreadable { .. })
        ));
        match find_config(None, p) {
            Err(ProjectError::Config(d)) => {
                assert_eq!((d.path, d.line), (p.join("pyproject.toml"), Some(1)))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ConfigFile::Pyproject(p.join("x")).path(), p.join("x"));
    }
}
