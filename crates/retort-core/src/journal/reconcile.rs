//! Settling runs that were killed. A run records each step once it has committed, so a kill
//! loses at most the step in flight: its changes may or may not have committed. The next time
//! Retort touches that database (`status`, or a run), the version table tells: each planned
//! step after the recorded ones whose effect is in the version rows is recorded as
//! `reconciled`, and the entry is marked interrupted after N steps, for good (its process id
//! may be reused later).

use super::{NOW, PlannedStep, StepRecord, file_checksum, insert_step, process_alive, this_host};
use crate::database::{DatabaseUrl, VersionTable, read_version_rows_or_none};
use crate::graph::RevisionMap;
use crate::project::Project;
use crate::store::{Store, StoreError};
use sqlx::Row;
use std::collections::BTreeSet;
use std::time::Duration;

/// A killed run of this machine not settled yet.
struct Interrupted {
    id: i64,
    planned: Vec<PlannedStep>,
}

/// The runs of the database at `location` whose process died without finishing them, oldest
/// first (only this machine's: elsewhere Retort cannot tell a live process from a dead one).
async fn interrupted(store: &Store, location: &str) -> Result<Vec<Interrupted>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, hostname, pid, planned_steps FROM journal_entries WHERE database_location = ? AND outcome = 'running' AND interrupted_at IS NULL AND kind IN ('upgrade', 'downgrade', 'stamp') ORDER BY id",
    )
    .bind(location)
    .fetch_all(store.pool())
    .await
    .map_err(|e| store.query_error(e))?;
    let host = this_host();
    let mut found = Vec::new();
    for row in &rows {
        let read = || -> Result<(i64, String, i64, Option<String>), sqlx::Error> {
            Ok((
                row.try_get("id")?,
                row.try_get("hostname")?,
                row.try_get("pid")?,
                row.try_get("planned_steps")?,
            ))
        };
        let (id, hostname, pid, planned) = read().map_err(|e| store.query_error(e))?;
        let pid = u32::try_from(pid).unwrap_or(0);
        if hostname != host || pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let planned = planned
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default();
        found.push(Interrupted { id, planned });
    }
    Ok(found)
}

/// Before a run of the database at `url`: settles its killed runs, reading the version table
/// only when there is one to settle. A database that cannot be read now is settled later.
pub async fn reconcile_before_run(
    store: &Store,
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    timeout: Duration,
) -> Result<(), StoreError> {
    let location = url.location();
    if interrupted(store, &location).await?.is_empty() {
        return Ok(());
    }
    let table = VersionTable::of(project);
    if let Ok(rows) = read_version_rows_or_none(url, &table, timeout).await {
        reconcile(store, map, &location, rows.as_deref().unwrap_or_default()).await?;
    }
    Ok(())
}

/// Settles the killed runs of the database at `location`, whose version table now holds
/// `rows`; returns the ids of the entries settled.
pub async fn reconcile(
    store: &Store,
    map: &RevisionMap,
    location: &str,
    rows: &[String],
) -> Result<Vec<i64>, StoreError> {
    let mut settled = Vec::new();
    for run in interrupted(store, location).await? {
        // Where the run left the table: the next finished run's starting point if there is
        // one (this table has moved on since), else the table as it is now.
        let next: Option<String> = sqlx::query_scalar(
            "SELECT from_revisions FROM journal_entries WHERE database_location = ? AND id > ? AND outcome <> 'running' AND kind IN ('upgrade', 'downgrade', 'stamp') ORDER BY id LIMIT 1",
        )
        .bind(location)
        .bind(run.id)
        .fetch_optional(store.pool())
        .await
        .map_err(|e| store.query_error(e))?;
        let left: Vec<String> = match next {
            Some(list) => super::parse_list(&list),
            None => rows.to_vec(),
        };
        let recorded: i64 =
            sqlx::query_scalar("SELECT count(*) FROM journal_steps WHERE entry_id = ?")
                .bind(run.id)
                .fetch_one(store.pool())
                .await
                .map_err(|e| store.query_error(e))?;
        let recorded = usize::try_from(recorded).unwrap_or(0);
        let committed = committed_after(map, &run.planned, recorded, &left);

        let mut tx = store
            .pool()
            .begin()
            .await
            .map_err(|e| store.query_error(e))?;
        for (offset, step) in committed.iter().enumerate() {
            let record = StepRecord {
                revision: step.revision.clone(),
                description: step.description.clone(),
                file_path: step.path.clone(),
                // The file as it is now: the best witness left of what was applied.
                file_sha256: step
                    .path
                    .as_ref()
                    .filter(|_| step.kind == "upgrade")
                    .and_then(|p| file_checksum(p).ok()),
                duration_ms: 0,
                ok: true,
            };
            insert_step(&mut *tx, run.id, recorded + offset + 1, &record, true)
                .await
                .map_err(|e| store.query_error(e))?;
        }
        let total = recorded + committed.len();
        let not_run = run.planned.len().saturating_sub(total);
        let mut error = format!(
            "interrupted: the process ended without a result (killed or crashed) after {total} committed step(s)"
        );
        if !committed.is_empty() {
            error.push_str(&format!(
                " ({} of them found committed in the version table afterwards: {})",
                committed.len(),
                committed
                    .iter()
                    .map(|s| s.revision.clone().unwrap_or_else(|| s.description.clone()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if not_run > 0 {
            error.push_str(&format!("; {not_run} planned step(s) did not run"));
        }
        let sql = format!(
            "UPDATE journal_entries SET interrupted_at = {NOW}, to_revisions = ?, error = ? WHERE id = ? AND interrupted_at IS NULL"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(super::json_list(&left))
            .bind(error)
            .bind(run.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| store.query_error(e))?;
        tx.commit().await.map_err(|e| store.query_error(e))?;
        settled.push(run.id);
    }
    Ok(settled)
}

/// The planned steps after the first `recorded` that the version rows `left` show committed,
/// in order, up to the first that did not (the run was sequential: nothing after it ran).
fn committed_after<'a>(
    map: &RevisionMap,
    planned: &'a [PlannedStep],
    recorded: usize,
    left: &[String],
) -> Vec<&'a PlannedStep> {
    let known: Vec<usize> = left.iter().filter_map(|r| map.lookup(r)).collect();
    let applied: BTreeSet<&str> = map
        .ancestors(&known, true)
        .into_iter()
        .map(|i| map.rev(i).revision.as_str())
        .collect();
    let rows: BTreeSet<&str> = left.iter().map(String::as_str).collect();
    let mut committed = Vec::new();
    for step in planned.iter().skip(recorded) {
        let done = match (step.kind.as_str(), step.revision.as_deref()) {
            ("upgrade", Some(rev)) => applied.contains(rev),
            ("downgrade", Some(rev)) => !applied.contains(rev),
            // A stamp: its resulting rows are the table's rows.
            _ => !step.to.is_empty() && step.to.iter().all(|r| rows.contains(r.as_str())),
        };
        if !done {
            break;
        }
        committed.push(step);
    }
    committed
}
