//! Finding a project's configuration (helper B writes this).
use std::path::{Path, PathBuf};
use super::ProjectError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFile {
    /// An alembic.ini, plus the pyproject.toml beside it when it has [tool.alembic].
    AlembicIni { ini: PathBuf, pyproject: Option<PathBuf> },
    /// A pyproject.toml with [tool.alembic] and no alembic.ini.
    Pyproject(PathBuf),
    RetortToml(PathBuf),
}

pub fn find_config(explicit: Option<&Path>, cwd: &Path) -> Result<ConfigFile, ProjectError> {
    let _ = (explicit, cwd);
    todo!()
}
