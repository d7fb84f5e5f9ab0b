//! Loading a project's revisions in Alembic's order (helper B writes this).
use super::{ConfigFile, Project, ProjectError};

pub fn load_project(config: &ConfigFile) -> Result<Project, ProjectError> {
    let _ = config;
    todo!()
}
