//! The guarded run: backup → verify → migrate → (if it fails) restore, as one flow.
//!
//! A connection tagged `production` does not upgrade or downgrade without a verified backup
//! taken just before, unless the user skips it explicitly by naming the database; the skip
//! is written in the run's journal entry. Other environments take a backup when asked. If
//! the backup fails, the migration does not start. The backup is taken under the run's
//! migration lock, so no other run changes the database between the backup and this run. A
//! failed run names the backup to restore.

use crate::backup::{self, BackupError, BackupProgress, BackupRecord, BackupRequest};
use crate::database::{DatabaseUrl, VersionTable};
use crate::execution::{self, Operation, ProgressSink, RunOptions};
use crate::graph::RevisionMap;
use crate::journal::{
    self, ConnectionRef, Context, EntryKind, EntryOutcome, Finish, NewEntry, RecordedRun, RunRecord,
};
use crate::project::Project;
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::path::PathBuf;

/// What to do about a backup before the run.
#[derive(Debug, Clone)]
pub enum BackupChoice {
    /// Back up into `dir`, verify, and only then run.
    Take { dir: PathBuf, verify_restore: bool },
    /// Run without a backup. A production database needs `confirmed_database` to be its
    /// name, typed by the user.
    Skip { confirmed_database: Option<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(
        "{connection} is a production database: an {operation} needs a verified backup first. Take one (--backup), or skip it explicitly by naming the database (--no-backup {database}); nothing was run"
    )]
    BackupRequired {
        connection: String,
        operation: String,
        database: String,
    },
    #[error(
        "'{given}' is not the name of the database ({expected}): the backup is only skipped when the database is named exactly; nothing was run"
    )]
    WrongConfirmation { given: String, expected: String },
    #[error(
        "restoring replaces everything in {url}: type its name ({database}) to confirm; nothing was restored"
    )]
    RestoreNotConfirmed { url: String, database: String },
    #[error("the backup before this run failed, so the run did not start: {0}")]
    BackupFailed(BackupError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A guarded run's result: the backup taken (if any) and the journaled run.
pub struct GuardedRun {
    pub backup: Option<BackupRecord>,
    /// The backup's journal entry.
    pub backup_entry: Option<i64>,
    pub run: RecordedRun,
}

/// What the UI asks before a run: is a backup required here, and what must be typed to skip it.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupPolicy {
    pub required: bool,
    /// The name to type to skip a required backup.
    pub database: String,
}

/// The name a user types to confirm: the database's name, or the SQLite file's name.
pub fn database_name(url: &DatabaseUrl) -> String {
    match (&url.database, &url.sqlite_path) {
        (Some(db), _) => db.clone(),
        (None, Some(path)) => path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        (None, None) => url.redacted(),
    }
}

/// A restore replaces everything in `target`, whatever its environment: it runs only once
/// the target's name ([`database_name`]) has been typed.
pub fn restore_confirmed(target: &DatabaseUrl, typed: &str) -> Result<(), GuardError> {
    let database = database_name(target);
    if typed.trim() == database {
        return Ok(());
    }
    Err(GuardError::RestoreNotConfirmed {
        url: target.redacted(),
        database,
    })
}

/// Production upgrades and downgrades need a backup; a stamp changes no data.
pub fn backup_policy(
    connection: &ConnectionRef,
    url: &DatabaseUrl,
    operation: &Operation,
) -> BackupPolicy {
    BackupPolicy {
        required: connection.environment.as_deref() == Some("production")
            && !matches!(operation, Operation::Stamp { .. }),
        database: database_name(url),
    }
}

/// Where a guarded run happens and on whose behalf.
pub struct Guarded<'a> {
    pub store: &'a Store,
    pub context: Context,
    pub connection: ConnectionRef,
    pub backup: BackupChoice,
    /// Written in the run's journal entry (e.g. a verified stamp's verdict).
    pub note: Option<String>,
}

/// Takes the migration lock and backs up (as the policy and `guarded.backup` say), then runs
/// `operation` under the same lock, journaled with the backup's id. A backup that fails stops
/// everything before the database is touched; the failed backup and the run that did not start
/// are both journaled.
#[allow(clippy::too_many_arguments)]
pub async fn guarded_run(
    guarded: Guarded<'_>,
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    operation: &Operation,
    options: &RunOptions,
    backup_progress: &mut (dyn FnMut(BackupProgress) + Send),
    sink: ProgressSink<'_>,
) -> Result<GuardedRun, GuardError> {
    let policy = backup_policy(&guarded.connection, url, operation);
    let mut note = guarded.note.clone();
    let mut backup = None;
    let mut backup_entry = None;
    let mut held = None;
    match &guarded.backup {
        BackupChoice::Skip { confirmed_database } if policy.required => match confirmed_database {
            None => {
                return Err(GuardError::BackupRequired {
                    connection: guarded.connection.label().to_string(),
                    operation: operation.name().to_string(),
                    database: policy.database,
                });
            }
            Some(given) if *given != policy.database => {
                return Err(GuardError::WrongConfirmation {
                    given: given.clone(),
                    expected: policy.database,
                });
            }
            Some(_) => {
                let skipped = format!(
                    "production backup skipped: {} confirmed it by naming the database '{}'",
                    guarded.context.os_user, policy.database
                );
                note = Some(match note {
                    Some(n) => format!("{n}; {skipped}"),
                    None => skipped,
                });
            }
        },
        BackupChoice::Skip { .. } => {}
        // A SQLite file that does not exist yet holds nothing to lose.
        BackupChoice::Take { .. } if url.sqlite_path.as_ref().is_some_and(|p| !p.exists()) => {
            note = Some("no backup: the database file did not exist yet".to_string());
        }
        BackupChoice::Take {
            dir,
            verify_restore,
        } => {
            // The run's lock first: no other run migrates the database between its backup
            // and this run.
            held = match execution::Held::acquire(project, url, options, sink).await {
                Ok(locked) => Some(locked),
                Err(error) => {
                    let message = url.scrub(&error.to_string());
                    let entry_id = journal_not_started(&guarded, operation, message).await?;
                    return Ok(GuardedRun {
                        backup: None,
                        backup_entry: None,
                        run: RecordedRun {
                            entry_id,
                            result: Err(error),
                            journal_error: None,
                        },
                    });
                }
            };
            let request = BackupRequest {
                dir: dir.clone(),
                connection_name: guarded.connection.name.clone(),
                version_table: VersionTable::of(project),
                verify_restore: *verify_restore,
                connect_timeout: options.connect_timeout,
            };
            let taken = backup::take_recorded(
                guarded.store,
                &guarded.context,
                &guarded.connection,
                url,
                &request,
                backup_progress,
                &options.cancel,
            )
            .await?;
            backup_entry = Some(taken.entry_id);
            let record = taken.result;
            match record {
                Ok(record) => backup = Some(record),
                Err(error) => {
                    if let Some(locked) = held.take() {
                        // The connection closing gives the lock back anyway.
                        let _ = locked.release().await;
                    }
                    // The run that did not start is part of the record too.
                    let message = url.scrub(&format!("not started: the backup failed: {error}"));
                    journal_not_started(&guarded, operation, message).await?;
                    return Err(GuardError::BackupFailed(error));
                }
            }
        }
    }
    let run = journal::run_recorded(
        RunRecord {
            store: guarded.store,
            context: guarded.context,
            connection: guarded.connection,
            note,
            backup_id: backup.as_ref().and_then(|b| b.id),
            held,
        },
        project,
        map,
        url,
        operation,
        options,
        sink,
    )
    .await?;
    Ok(GuardedRun {
        backup,
        backup_entry,
        run,
    })
}

/// Journals a run that failed before its first step (its lock or its backup could not be had).
async fn journal_not_started(
    guarded: &Guarded<'_>,
    operation: &Operation,
    error: String,
) -> Result<i64, StoreError> {
    guarded
        .store
        .journal_record(
            &NewEntry {
                kind: EntryKind::of(operation),
                context: guarded.context.clone(),
                connection: Some(guarded.connection.clone()),
                target: Some(journal::target_text(operation)),
                from_revisions: Vec::new(),
                note: None,
            },
            &Finish {
                outcome: EntryOutcome::Failed,
                from_revisions: None,
                to_revisions: Vec::new(),
                steps: Vec::new(),
                failed_step: None,
                error: Some(error),
                backup_id: None,
            },
        )
        .await
}
