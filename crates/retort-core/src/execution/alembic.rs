//! Running Alembic (Python) revisions through the project's own alembic.
//! (In progress: being written now.)

use super::{ExecutionError, Operation, ProgressSink, RunOptions, RunReport};
use crate::database::DatabaseUrl;
use crate::graph::RevisionMap;
use crate::project::Project;

pub(super) async fn run(
    _project: &Project,
    _map: &RevisionMap,
    _url: &DatabaseUrl,
    _operation: &Operation,
    _options: &RunOptions,
    _sink: ProgressSink<'_>,
) -> Result<RunReport, ExecutionError> {
    Err(ExecutionError::Alembic("not yet".into()))
}
