//! Where a database stands: its version table against the project's heads, what is pending,
//! and which applied revisions' files changed since Retort applied them.

use super::{AppliedFile, ConnectionRef, file_checksum};
use crate::database::check::{VersionTableCheck, compare_rows};
use crate::database::{DatabaseUrl, VersionTable, read_version_rows_or_none};
use crate::graph::RevisionMap;
use crate::project::Project;
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStatus {
    pub connection: ConnectionRef,
    /// `false` when the database could not be read; `error` says why.
    pub reachable: bool,
    pub error: Option<String>,
    /// Rows, heads, pending revisions in upgrade order, unknown rows, and one sentence.
    pub version: Option<VersionTableCheck>,
    /// Applied revisions whose file is not the one Retort applied.
    pub changed: Vec<ChangedFile>,
    /// Applied revisions the journal has no checksum for (applied by alembic, another tool,
    /// or before Retort kept a journal).
    pub unrecorded: Vec<String>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct ChangedFile {
    pub revision: String,
    pub path: Option<PathBuf>,
    pub applied: AppliedFile,
    /// The file's checksum now; `None` when the file is gone.
    pub sha256_now: Option<String>,
}

/// The status of the database at `url` for `project`, read without changing it (the journal
/// settles the database's killed runs from what is read: [`super::reconcile`]).
/// An unreachable database is a status, not an error; only the store failing is one.
pub async fn connection_status(
    store: &Store,
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    connection: ConnectionRef,
    timeout: Duration,
) -> Result<ConnectionStatus, StoreError> {
    let table = VersionTable::of(project);
    let rows = match read_version_rows_or_none(url, &table, timeout).await {
        Ok(rows) => rows,
        Err(e) => {
            return Ok(ConnectionStatus {
                connection,
                reachable: false,
                error: Some(url.scrub(&e.to_string())),
                version: None,
                changed: Vec::new(),
                unrecorded: Vec::new(),
            });
        }
    };
    let version = compare_rows(map, table.sql_name(url.backend), rows.as_deref());
    // A run killed midway is settled from the rows just read, before its steps are counted.
    super::reconcile::reconcile(
        store,
        map,
        &url.location(),
        rows.as_deref().unwrap_or_default(),
    )
    .await?;
    let applied_files = store.applied_files(&url.location()).await?;
    let known: Vec<usize> = rows
        .iter()
        .flatten()
        .filter_map(|r| map.lookup(r))
        .collect();
    let applied: BTreeSet<usize> = map.ancestors(&known, true).into_iter().collect();
    let mut changed = Vec::new();
    let mut unrecorded = Vec::new();
    for &i in &applied {
        let revision = map.rev(i);
        let Some(record) = applied_files.get(&revision.revision) else {
            unrecorded.push(revision.revision.clone());
            continue;
        };
        let path = revision.path.clone().or_else(|| record.file_path.clone());
        let now = path.as_deref().and_then(|p| file_checksum(p).ok());
        if now.as_deref() != Some(record.sha256.as_str()) {
            changed.push(ChangedFile {
                revision: revision.revision.clone(),
                path,
                applied: record.clone(),
                sha256_now: now,
            });
        }
    }
    Ok(ConnectionStatus {
        connection,
        reachable: true,
        error: None,
        version: Some(version),
        changed,
        unrecorded,
    })
}
