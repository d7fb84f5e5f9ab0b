//! The journal and the status board.

use super::runs::target;
use crate::core::AppCore;
use crate::error::{ApiError, ErrorKind};
use crate::types::*;
use retort_core::database::check::VersionStatus;
use retort_core::journal::{JournalFilter, status};

/// Journal entries, newest first, filtered by connection, kind and outcome.
pub async fn journal_entries(
    core: &AppCore,
    query: JournalQuery,
) -> Result<Vec<JournalEntry>, ApiError> {
    let kind = match query.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(
            EntryKind::parse(k).ok_or_else(|| ApiError::invalid(format!("no entry kind '{k}'")))?,
        ),
        None => None,
    };
    let outcome = match query.outcome.as_deref().filter(|o| !o.is_empty()) {
        Some(o) => Some(
            EntryOutcome::parse(o).ok_or_else(|| ApiError::invalid(format!("no outcome '{o}'")))?,
        ),
        None => None,
    };
    let filter = JournalFilter {
        connection: query.connection.filter(|c| !c.is_empty()),
        location: None,
        kind,
        outcome,
        limit: Some(query.limit.unwrap_or(200)),
    };
    let entries = core.store().await?.journal(&filter).await?;
    Ok(entries.into_iter().map(JournalEntry::from).collect())
}

/// Where every bound connection stands against the project's heads, read now.
pub async fn status_board(core: &AppCore) -> Result<Vec<StatusRow>, ApiError> {
    let opened = core.require_opened()?;
    let store = core.store().await?;
    let bound = store.workspace(&opened.dir).await?.connections;
    let mut rows = Vec::new();
    for name in bound {
        let profile = store.connection(&name).await?;
        let mut row = StatusRow {
            name: name.clone(),
            environment: profile.environment.clone(),
            color: profile.color.clone(),
            standing: Standing::Unreachable,
            behind_by: 0,
            summary: String::new(),
            status: None,
        };
        let target = match target(core, Some(name), None).await {
            Ok(t) => t,
            Err(e) => {
                if e.kind == ErrorKind::PasswordNeeded {
                    row.standing = Standing::PasswordNeeded;
                }
                row.summary = e.message;
                rows.push(row);
                continue;
            }
        };
        let found = status::connection_status(
            store,
            target.project(),
            target.map(),
            &target.url,
            target.connection_ref(),
            core.timeout,
        )
        .await?;
        match (&found.version, &found.error) {
            (Some(v), _) => {
                row.standing = match v.status {
                    VersionStatus::UpToDate => Standing::UpToDate,
                    VersionStatus::Behind => Standing::Behind,
                    VersionStatus::NoTable => Standing::Empty,
                    VersionStatus::Unreadable => Standing::Unreachable,
                    VersionStatus::UnknownRevision | VersionStatus::NotOnHeads => Standing::Unknown,
                };
                row.behind_by = v.pending.len() as u32;
                row.summary = v.detail.clone();
            }
            (None, Some(e)) => row.summary = e.clone(),
            (None, None) => row.summary = "not reachable".into(),
        }
        row.status = Some(found.into());
        rows.push(row);
    }
    Ok(rows)
}
