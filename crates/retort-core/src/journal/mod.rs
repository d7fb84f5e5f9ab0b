//! The audit journal: what was done to which database, by whom, when, and how it ended.
//!
//! Every upgrade, downgrade, stamp, merge, backup and restore gets an entry. A run writes its
//! entry before it starts, its plan once the lock is held, each step as soon as it has
//! committed, and the outcome when it ends: a run that was killed shows as interrupted with
//! every step that committed but the one in flight, and [`reconcile`] settles that one from the
//! version table the next time Retort touches the database. Each applied revision keeps the
//! SHA-256 of its file, which is how [`status`] tells that a file changed after it was applied.

pub mod checksum;
pub mod reconcile;
pub mod status;

pub use checksum::file_checksum;

use crate::database::DatabaseUrl;
use crate::execution::{
    self, CompletedStep, ExecutionError, Observed, Operation, Outcome, ProgressSink, RunObserver,
    RunOptions, RunReport, Step,
};
use crate::graph::RevisionMap;
use crate::project::Project;
use crate::store::{ConnectionProfile, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Upgrade,
    Downgrade,
    Stamp,
    Merge,
    Revision,
    Backup,
    Restore,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Upgrade => "upgrade",
            EntryKind::Downgrade => "downgrade",
            EntryKind::Stamp => "stamp",
            EntryKind::Merge => "merge",
            EntryKind::Revision => "revision",
            EntryKind::Backup => "backup",
            EntryKind::Restore => "restore",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            EntryKind::Upgrade,
            EntryKind::Downgrade,
            EntryKind::Stamp,
            EntryKind::Merge,
            EntryKind::Revision,
            EntryKind::Backup,
            EntryKind::Restore,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }

    pub fn of(operation: &Operation) -> Self {
        match operation {
            Operation::Upgrade { .. } => EntryKind::Upgrade,
            Operation::Downgrade { .. } => EntryKind::Downgrade,
            Operation::Stamp { .. } => EntryKind::Stamp,
        }
    }
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryOutcome {
    /// Started and not finished: still running, or the process died (see
    /// [`JournalEntry::interrupted`]).
    Running,
    Ok,
    Failed,
    Cancelled,
}

impl EntryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryOutcome::Running => "running",
            EntryOutcome::Ok => "ok",
            EntryOutcome::Failed => "failed",
            EntryOutcome::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            EntryOutcome::Running,
            EntryOutcome::Ok,
            EntryOutcome::Failed,
            EntryOutcome::Cancelled,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// The database an operation touched, as the journal keeps it: never with a password.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRef {
    /// The saved connection's name, when it came from one.
    pub name: Option<String>,
    /// The URL with the password as `***`.
    pub url: String,
    /// The database itself ([`DatabaseUrl::location`]).
    pub location: String,
    pub environment: Option<String>,
}

impl ConnectionRef {
    pub fn new(url: &DatabaseUrl, profile: Option<&ConnectionProfile>) -> Self {
        Self {
            name: profile.map(|p| p.name.clone()),
            url: url.redacted(),
            location: url.location(),
            environment: profile.map(|p| p.environment.clone()),
        }
    }

    /// How people know it: the saved name, or the redacted URL.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }
}

/// Who and where: filled in by [`Context::current`].
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub os_user: String,
    pub hostname: String,
    pub pid: u32,
    /// The project folder the operation ran from.
    pub workspace_dir: Option<PathBuf>,
}

impl Context {
    pub fn current(workspace_dir: Option<&Path>) -> Self {
        Self {
            os_user: whoami::username(),
            hostname: this_host(),
            pid: std::process::id(),
            workspace_dir: workspace_dir
                .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.to_path_buf())),
        }
    }
}

/// An entry as it starts.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub kind: EntryKind,
    pub context: Context,
    pub connection: Option<ConnectionRef>,
    /// The target as the user wrote it (`head`, `-1`, `ae10+2`, a merge's message, ...).
    pub target: Option<String>,
    pub from_revisions: Vec<String>,
    /// Why, in the user's words or Retort's (e.g. "backup skipped with --no-backup").
    pub note: Option<String>,
}

/// How an entry ended.
#[derive(Debug, Clone)]
pub struct Finish {
    pub outcome: EntryOutcome,
    pub from_revisions: Option<Vec<String>>,
    pub to_revisions: Vec<String>,
    pub steps: Vec<StepRecord>,
    /// 1-based position of the step that failed.
    pub failed_step: Option<usize>,
    pub error: Option<String>,
    pub backup_id: Option<i64>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub revision: Option<String>,
    pub description: String,
    pub file_path: Option<PathBuf>,
    /// SHA-256 of the file as applied, line endings normalised ([`file_checksum`]).
    pub file_sha256: Option<String>,
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub duration_ms: u64,
    pub ok: bool,
}

impl StepRecord {
    fn outcome(&self) -> &'static str {
        if self.ok { "ok" } else { "failed" }
    }
}

/// A journal entry as read back.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub id: i64,
    pub kind: EntryKind,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub os_user: String,
    pub hostname: String,
    pub pid: u32,
    pub workspace_dir: Option<PathBuf>,
    pub connection: Option<ConnectionRef>,
    pub target: Option<String>,
    pub from_revisions: Vec<String>,
    pub to_revisions: Vec<String>,
    pub outcome: EntryOutcome,
    /// A `running` entry whose process is gone from this machine: it was killed or crashed.
    pub interrupted: bool,
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub failed_step: Option<usize>,
    pub error: Option<String>,
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub backup_id: Option<i64>,
    pub note: Option<String>,
    pub steps: Vec<StepRecord>,
}

/// Which entries to read; empty fields match everything.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JournalFilter {
    /// A saved connection's name.
    pub connection: Option<String>,
    /// A database ([`DatabaseUrl::location`]).
    pub location: Option<String>,
    pub kind: Option<EntryKind>,
    pub outcome: Option<EntryOutcome>,
    /// Newest first, at most this many.
    pub limit: Option<u32>,
}

/// A revision applied through Retort, and the checksum of its file at that time.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedFile {
    pub revision: String,
    pub file_path: Option<PathBuf>,
    pub sha256: String,
    pub applied_at: String,
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub entry_id: i64,
}

fn json_list(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn parse_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

impl Store {
    /// Writes an entry for an operation about to start (outcome `running`); returns its id.
    pub async fn journal_begin(&self, entry: &NewEntry) -> Result<i64, StoreError> {
        let connection = entry.connection.as_ref();
        let sql = format!(
            "INSERT INTO journal_entries (kind, started_at, os_user, hostname, pid, workspace_dir, connection_name, connection_url, database_location, environment, target, from_revisions, note) VALUES (?, {NOW}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        let result = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(entry.kind.as_str())
            .bind(&entry.context.os_user)
            .bind(&entry.context.hostname)
            .bind(i64::from(entry.context.pid))
            .bind(
                entry
                    .context
                    .workspace_dir
                    .as_ref()
                    .map(|d| d.display().to_string()),
            )
            .bind(connection.and_then(|c| c.name.clone()))
            .bind(connection.map(|c| c.url.clone()))
            .bind(connection.map(|c| c.location.clone()))
            .bind(connection.and_then(|c| c.environment.clone()))
            .bind(entry.target.clone())
            .bind(json_list(&entry.from_revisions))
            .bind(entry.note.clone())
            .execute(self.pool())
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(result.last_insert_rowid())
    }

    /// Completes an entry written by [`Store::journal_begin`], with its steps.
    pub async fn journal_finish(&self, id: i64, finish: &Finish) -> Result<(), StoreError> {
        self.journal_finish_from(id, finish, 1).await
    }

    /// [`Store::journal_finish`] for an entry whose first steps are already recorded: `finish`
    /// holds the rest, the first of them at `first_position` (1-based).
    async fn journal_finish_from(
        &self,
        id: i64,
        finish: &Finish,
        first_position: usize,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(|e| self.query_error(e))?;
        let sql = format!(
            "UPDATE journal_entries SET finished_at = {NOW}, outcome = ?, from_revisions = coalesce(?, from_revisions), to_revisions = ?, failed_step = ?, error = ?, backup_id = coalesce(?, backup_id) WHERE id = ?"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(finish.outcome.as_str())
            .bind(finish.from_revisions.as_deref().map(json_list))
            .bind(json_list(&finish.to_revisions))
            .bind(finish.failed_step.map(|n| n as i64))
            .bind(finish.error.clone())
            .bind(finish.backup_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.query_error(e))?;
        for (offset, step) in finish.steps.iter().enumerate() {
            insert_step(&mut *tx, id, first_position + offset, step, false)
                .await
                .map_err(|e| self.query_error(e))?;
        }
        tx.commit().await.map_err(|e| self.query_error(e))
    }

    /// Writes the plan of a running entry, for [`reconcile`] should the run be killed.
    pub async fn journal_plan(&self, id: i64, steps: &[PlannedStep]) -> Result<(), StoreError> {
        sqlx::query("UPDATE journal_entries SET planned_steps = ? WHERE id = ?")
            .bind(serde_json::to_string(steps).unwrap_or_else(|_| "[]".into()))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Records one committed step of a running entry, at `position` (1-based): one small
    /// INSERT, in WAL mode without a sync of its own.
    pub async fn journal_step(
        &self,
        id: i64,
        position: usize,
        step: &StepRecord,
    ) -> Result<(), StoreError> {
        insert_step(self.pool(), id, position, step, false)
            .await
            .map_err(|e| self.query_error(e))
    }

    /// Records an operation that is already over (a merge written, a backup taken).
    pub async fn journal_record(
        &self,
        entry: &NewEntry,
        finish: &Finish,
    ) -> Result<i64, StoreError> {
        let id = self.journal_begin(entry).await?;
        self.journal_finish(id, finish).await?;
        Ok(id)
    }

    /// Entries matching `filter`, newest first, with their steps.
    pub async fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT id, kind, started_at, finished_at, os_user, hostname, pid, workspace_dir, connection_name, connection_url, database_location, environment, target, from_revisions, to_revisions, outcome, failed_step, error, backup_id, note, interrupted_at FROM journal_entries WHERE 1 = 1",
        );
        if filter.connection.is_some() {
            sql.push_str(" AND connection_name = ?");
        }
        if filter.location.is_some() {
            sql.push_str(" AND database_location = ?");
        }
        if filter.kind.is_some() {
            sql.push_str(" AND kind = ?");
        }
        if filter.outcome.is_some() {
            sql.push_str(" AND outcome = ?");
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(c) = &filter.connection {
            query = query.bind(c.clone());
        }
        if let Some(l) = &filter.location {
            query = query.bind(l.clone());
        }
        if let Some(k) = filter.kind {
            query = query.bind(k.as_str());
        }
        if let Some(o) = filter.outcome {
            query = query.bind(o.as_str());
        }
        let rows = query
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.query_error(e))?;
        let host = this_host();
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut entry = entry_of(row).map_err(|e| self.query_error(e))?;
            let settled = row
                .try_get::<Option<String>, _>("interrupted_at")
                .map_err(|e| self.query_error(e))?
                .is_some();
            entry.interrupted = entry.outcome == EntryOutcome::Running
                && (settled || (entry.hostname == host && !process_alive(entry.pid)));
            entries.push(entry);
        }
        if let (Some(newest), Some(oldest)) = (entries.first(), entries.last()) {
            let mut steps = self.journal_steps(oldest.id, newest.id).await?;
            for entry in &mut entries {
                entry.steps = steps.remove(&entry.id).unwrap_or_default();
            }
        }
        Ok(entries)
    }

    /// The steps of the entries with ids from `first` to `last`, in one query.
    async fn journal_steps(
        &self,
        first: i64,
        last: i64,
    ) -> Result<BTreeMap<i64, Vec<StepRecord>>, StoreError> {
        let rows = sqlx::query(
            "SELECT entry_id, revision, description, file_path, file_sha256, duration_ms, outcome FROM journal_steps WHERE entry_id BETWEEN ? AND ? ORDER BY entry_id, position",
        )
        .bind(first)
        .bind(last)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_error(e))?;
        let mut steps: BTreeMap<i64, Vec<StepRecord>> = BTreeMap::new();
        for row in &rows {
            let step = (|| -> Result<(i64, StepRecord), sqlx::Error> {
                Ok((
                    row.try_get("entry_id")?,
                    StepRecord {
                        revision: row.try_get("revision")?,
                        description: row.try_get("description")?,
                        file_path: row
                            .try_get::<Option<String>, _>("file_path")?
                            .map(PathBuf::from),
                        file_sha256: row.try_get("file_sha256")?,
                        duration_ms: row.try_get::<i64, _>("duration_ms")?.max(0) as u64,
                        ok: row.try_get::<String, _>("outcome")? == "ok",
                    },
                ))
            })()
            .map_err(|e| self.query_error(e))?;
            steps.entry(step.0).or_default().push(step.1);
        }
        Ok(steps)
    }

    /// For each revision applied to the database at `location` through Retort, the file's
    /// checksum the last time it was applied there.
    pub async fn applied_files(
        &self,
        location: &str,
    ) -> Result<BTreeMap<String, AppliedFile>, StoreError> {
        // Steps in order: a later application of the same revision replaces an earlier one.
        let rows = sqlx::query(
            "SELECT s.revision, s.file_path, s.file_sha256, e.started_at, e.id FROM journal_steps s JOIN journal_entries e ON e.id = s.entry_id WHERE e.database_location = ? AND e.kind = 'upgrade' AND s.outcome = 'ok' AND s.revision IS NOT NULL AND s.file_sha256 IS NOT NULL ORDER BY e.id, s.position",
        )
        .bind(location)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_error(e))?;
        let mut applied = BTreeMap::new();
        for row in &rows {
            let file = AppliedFile {
                revision: row.try_get("revision").map_err(|e| self.query_error(e))?,
                file_path: row
                    .try_get::<Option<String>, _>("file_path")
                    .map_err(|e| self.query_error(e))?
                    .map(PathBuf::from),
                sha256: row
                    .try_get("file_sha256")
                    .map_err(|e| self.query_error(e))?,
                applied_at: row.try_get("started_at").map_err(|e| self.query_error(e))?,
                entry_id: row.try_get("id").map_err(|e| self.query_error(e))?,
            };
            applied.insert(file.revision.clone(), file);
        }
        Ok(applied)
    }
}

fn entry_of(row: &sqlx::sqlite::SqliteRow) -> Result<JournalEntry, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let outcome: String = row.try_get("outcome")?;
    let url: Option<String> = row.try_get("connection_url")?;
    let connection = url.map(|url| -> Result<ConnectionRef, sqlx::Error> {
        Ok(ConnectionRef {
            name: row.try_get("connection_name")?,
            url,
            location: row
                .try_get::<Option<String>, _>("database_location")?
                .unwrap_or_default(),
            environment: row.try_get("environment")?,
        })
    });
    Ok(JournalEntry {
        id: row.try_get("id")?,
        kind: EntryKind::parse(&kind).unwrap_or(EntryKind::Upgrade),
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        os_user: row.try_get("os_user")?,
        hostname: row.try_get("hostname")?,
        pid: u32::try_from(row.try_get::<i64, _>("pid")?).unwrap_or(0),
        workspace_dir: row
            .try_get::<Option<String>, _>("workspace_dir")?
            .map(PathBuf::from),
        connection: connection.transpose()?,
        target: row.try_get("target")?,
        from_revisions: parse_list(&row.try_get::<String, _>("from_revisions")?),
        to_revisions: parse_list(&row.try_get::<String, _>("to_revisions")?),
        outcome: EntryOutcome::parse(&outcome).unwrap_or(EntryOutcome::Running),
        interrupted: false,
        failed_step: row
            .try_get::<Option<i64>, _>("failed_step")?
            .map(|n| n.max(0) as usize),
        error: row.try_get("error")?,
        backup_id: row.try_get("backup_id")?,
        note: row.try_get("note")?,
        steps: Vec::new(),
    })
}

/// One journal step row; `reconciled`: found committed afterwards, not recorded by its run.
const INSERT_STEP: &str = "INSERT OR REPLACE INTO journal_steps (entry_id, position, revision, description, file_path, file_sha256, duration_ms, outcome, reconciled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

async fn insert_step<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    id: i64,
    position: usize,
    step: &StepRecord,
    reconciled: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(INSERT_STEP)
        .bind(id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(step.revision.as_deref())
        .bind(step.description.as_str())
        .bind(step.file_path.as_ref().map(|p| p.display().to_string()))
        .bind(step.file_sha256.as_deref())
        .bind(i64::try_from(step.duration_ms).unwrap_or(i64::MAX))
        .bind(step.outcome())
        .bind(reconciled)
        .execute(executor)
        .await
        .map(drop)
}

/// [`insert_step`] on a connection of this thread's own ([`Store::open_direct`]).
fn insert_step_direct(
    connection: &rusqlite::Connection,
    id: i64,
    position: usize,
    step: &StepRecord,
) -> rusqlite::Result<()> {
    let mut insert = connection.prepare_cached(INSERT_STEP)?;
    crate::database::on_this_thread(|| {
        insert.execute(rusqlite::params![
            id,
            i64::try_from(position).unwrap_or(i64::MAX),
            step.revision.as_deref(),
            step.description.as_str(),
            step.file_path.as_ref().map(|p| p.display().to_string()),
            step.file_sha256.as_deref(),
            i64::try_from(step.duration_ms).unwrap_or(i64::MAX),
            step.outcome(),
            false,
        ])
    })
    .map(drop)
}

/// A step of a run's plan, as the journal keeps it for [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub revision: Option<String>,
    pub description: String,
    pub path: Option<PathBuf>,
    /// `upgrade`, `downgrade` or `stamp`.
    pub kind: String,
    /// The version rows the step leaves behind it.
    pub to: Vec<String>,
}

impl PlannedStep {
    pub fn of(step: &Step) -> Self {
        Self {
            revision: step.revision.clone(),
            description: step.description.clone(),
            path: step.path.clone(),
            kind: match step.kind {
                execution::StepKind::Upgrade => "upgrade",
                execution::StepKind::Downgrade => "downgrade",
                execution::StepKind::Stamp => "stamp",
            }
            .to_string(),
            to: step.to.clone(),
        }
    }
}

fn this_host() -> String {
    whoami::fallible::hostname().unwrap_or_else(|_| "unknown".to_string())
}

/// Whether a process of this machine still runs (a `running` entry's owner).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        // A killed process nobody has reaped yet is a zombie: gone all the same.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
            Err(_) => false,
        }
    } else {
        // Elsewhere we cannot tell cheaply: call it alive rather than claim a crash.
        true
    }
}

/// The steps of a finished run, for the journal: each with its file's checksum when the run
/// applied a revision (upgrades; a downgrade or a stamp applies no file).
pub fn steps_of(report: &RunReport) -> (Vec<StepRecord>, Option<usize>) {
    steps_after(report, 0)
}

/// A completed step as the journal records it (with its file's checksum when it applied one).
fn step_record(step: &CompletedStep, applies: bool) -> StepRecord {
    StepRecord {
        revision: step.revision.clone(),
        description: step.description.clone(),
        file_path: step.path.clone(),
        file_sha256: step
            .path
            .as_ref()
            .filter(|_| applies)
            .and_then(|p| file_checksum(p).ok()),
        duration_ms: step.duration_ms,
        ok: true,
    }
}

/// [`steps_of`] without the first `recorded` completed steps (already in the journal); the
/// failed step's position still counts them.
fn steps_after(report: &RunReport, recorded: usize) -> (Vec<StepRecord>, Option<usize>) {
    let applies = matches!(report.operation, Operation::Upgrade { .. });
    let checksum = |path: &Option<PathBuf>| {
        path.as_ref()
            .filter(|_| applies)
            .and_then(|p| file_checksum(p).ok())
    };
    let mut steps: Vec<StepRecord> = report
        .completed
        .iter()
        .skip(recorded)
        .map(|s| step_record(s, applies))
        .collect();
    let mut failed_step = None;
    if let Some(failure) = &report.failure {
        steps.push(StepRecord {
            revision: failure.revision.clone(),
            description: failure.description.clone(),
            file_path: failure.path.clone(),
            file_sha256: checksum(&failure.path),
            duration_ms: 0,
            ok: false,
        });
        failed_step = Some(recorded.min(report.completed.len()) + steps.len());
    }
    (steps, failed_step)
}

/// How a run's report is written into its entry.
pub fn finish_of(report: &RunReport) -> Finish {
    finish_after(report, 0)
}

/// [`finish_of`] for an entry whose first `recorded` steps are already in the journal.
fn finish_after(report: &RunReport, recorded: usize) -> Finish {
    let (steps, failed_step) = steps_after(report, recorded);
    Finish {
        outcome: match report.outcome {
            Outcome::Completed => EntryOutcome::Ok,
            Outcome::Failed => EntryOutcome::Failed,
            Outcome::Cancelled => EntryOutcome::Cancelled,
        },
        from_revisions: Some(report.heads_before.clone()),
        to_revisions: report.heads_after.clone(),
        steps,
        failed_step,
        error: report.failure.as_ref().map(|f| f.error.clone()),
        backup_id: None,
    }
}

/// A run's target as the journal shows it.
pub fn target_text(operation: &Operation) -> String {
    match operation {
        Operation::Upgrade { target } | Operation::Downgrade { target } => target.clone(),
        Operation::Stamp { targets, purge } => {
            let mut t = targets.join(" ");
            if *purge {
                t.push_str(" (--purge)");
            }
            t
        }
    }
}

/// What a recorded run returns: the run's report (or its error) and its journal entry.
pub struct RecordedRun {
    pub entry_id: i64,
    pub result: Result<RunReport, ExecutionError>,
    /// The run happened but its entry could not be completed (it stays `running`).
    pub journal_error: Option<StoreError>,
}

/// Where a recorded run happens and on whose behalf.
pub struct RunRecord<'a> {
    pub store: &'a Store,
    pub context: Context,
    pub connection: ConnectionRef,
    pub note: Option<String>,
    pub backup_id: Option<i64>,
    /// The database, already opened and locked for this run (a guarded run's backup is taken
    /// under the run's lock); `None`: the run opens and locks it.
    pub held: Option<execution::Held>,
}

/// [`execution::run`], journaled: the entry is written before the run starts (so a killed run
/// is seen as interrupted) and completed with the report's steps, checksums and outcome.
/// A run the journal cannot record does not start (the error is returned); a run whose
/// entry cannot be completed afterwards still returns its report, with `journal_error`.
pub async fn run_recorded(
    record: RunRecord<'_>,
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    operation: &Operation,
    options: &RunOptions,
    sink: ProgressSink<'_>,
) -> Result<RecordedRun, StoreError> {
    // A run of this database that was killed is settled before this one changes it.
    reconcile::reconcile_before_run(record.store, project, map, url, options.connect_timeout)
        .await?;
    let target = target_text(operation);
    let entry_id = record
        .store
        .journal_begin(&NewEntry {
            kind: EntryKind::of(operation),
            context: record.context,
            connection: Some(record.connection),
            target: Some(target),
            from_revisions: Vec::new(),
            note: record.note,
        })
        .await?;
    let journal = StepJournal {
        store: record.store,
        // One connection for the whole run, on the run's thread: no pool hand-out or
        // wake-up of another thread per step, and its page cache and prepared INSERT stay
        // warm. Without one, each step takes the pool's.
        connection: std::sync::Mutex::new(record.store.open_direct().ok()),
        entry_id,
        applies: matches!(operation, Operation::Upgrade { .. }),
        recorded: std::sync::atomic::AtomicUsize::new(0),
        error: std::sync::Mutex::new(None),
    };
    let result = execution::run_observed(
        record.held,
        project,
        map,
        url,
        operation,
        options,
        sink,
        &journal,
    )
    .await;
    let recorded = journal.recorded();
    // The run's connection goes back to the pool before the entry is completed.
    drop(journal.connection.lock().ok().and_then(|mut c| c.take()));
    let mut finish = match &result {
        Ok(report) => finish_after(report, recorded),
        Err(error) => Finish {
            outcome: EntryOutcome::Failed,
            from_revisions: None,
            to_revisions: Vec::new(),
            steps: Vec::new(),
            failed_step: None,
            error: Some(url.scrub(&error.to_string())),
            backup_id: None,
        },
    };
    finish.backup_id = record.backup_id;
    let journal_error = match record
        .store
        .journal_finish_from(entry_id, &finish, recorded + 1)
        .await
    {
        Ok(()) => journal.take_error(),
        Err(e) => Some(e),
    };
    Ok(RecordedRun {
        entry_id,
        result,
        journal_error,
    })
}

/// Writes a run's plan and each of its committed steps into its entry as the run goes. A
/// write that fails stops the recording (the run goes on): the steps from there are written
/// when the run ends, and the error is reported then.
struct StepJournal<'a> {
    store: &'a Store,
    connection: std::sync::Mutex<Option<rusqlite::Connection>>,
    entry_id: i64,
    applies: bool,
    /// Steps written so far.
    recorded: std::sync::atomic::AtomicUsize,
    error: std::sync::Mutex<Option<StoreError>>,
}

impl StepJournal<'_> {
    fn recorded(&self) -> usize {
        self.recorded.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn failed(&self) -> bool {
        self.error.lock().is_ok_and(|e| e.is_some())
    }

    fn fail(&self, error: StoreError) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(error);
        }
    }

    fn take_error(&self) -> Option<StoreError> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }
}

impl RunObserver for StepJournal<'_> {
    fn planned<'a>(&'a self, steps: &'a [Step]) -> Observed<'a> {
        Box::pin(async move {
            let planned: Vec<PlannedStep> = steps.iter().map(PlannedStep::of).collect();
            if let Err(e) = self.store.journal_plan(self.entry_id, &planned).await {
                self.fail(e);
            }
        })
    }

    fn committed<'a>(&'a self, step: &'a CompletedStep) -> Observed<'a> {
        Box::pin(async move {
            if self.failed() {
                return;
            }
            let position = self.recorded() + 1;
            let record = step_record(step, self.applies);
            let direct = self.connection.lock().ok().and_then(|connection| {
                let written =
                    insert_step_direct(connection.as_ref()?, self.entry_id, position, &record);
                Some(written.map_err(|e| StoreError::Query {
                    path: self.store.path().display().to_string(),
                    message: e.to_string(),
                }))
            });
            let written = match direct {
                Some(written) => written,
                None => {
                    self.store
                        .journal_step(self.entry_id, position, &record)
                        .await
                }
            };
            match written {
                Ok(()) => {
                    self.recorded
                        .store(position, std::sync::atomic::Ordering::SeqCst);
                }
                Err(e) => self.fail(e),
            }
        })
    }
}

#[cfg(test)]
mod tests;
