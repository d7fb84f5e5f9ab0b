//! Backups and restores as the journal and the catalog see them: one call takes (or
//! restores), catalogs and journals, for the CLI, the app and the guarded run alike.
//!
//! The journal entry is opened before the work starts, so a process killed half-way leaves
//! an entry that reads as interrupted.

use super::{
    BackupError, BackupProgress, BackupRecord, BackupRequest, RestoreReport, RestoreRequest,
};
use crate::database::{self, DatabaseUrl};
use crate::execution::CancelToken;
use crate::journal::{ConnectionRef, Context, EntryKind, EntryOutcome, Finish, NewEntry};
use crate::store::{Store, StoreError};

/// A journaled backup or restore: its entry, and what the work itself gave.
pub struct Recorded<T> {
    pub entry_id: i64,
    pub result: Result<T, BackupError>,
}

fn outcome_of(e: &BackupError) -> EntryOutcome {
    if matches!(e, BackupError::Cancelled) {
        EntryOutcome::Cancelled
    } else {
        EntryOutcome::Failed
    }
}

fn finish(
    outcome: EntryOutcome,
    to: Vec<String>,
    error: Option<String>,
    backup: Option<i64>,
) -> Finish {
    Finish {
        outcome,
        from_revisions: None,
        to_revisions: to,
        steps: Vec::new(),
        failed_step: None,
        error,
        backup_id: backup,
    }
}

/// Backs up the database at `url`, catalogs the file and journals it. Only the store
/// failing before anything started is an error; a failed backup is `result`.
pub async fn take_recorded(
    store: &Store,
    context: &Context,
    connection: &ConnectionRef,
    url: &DatabaseUrl,
    request: &BackupRequest,
    progress: &mut (dyn FnMut(BackupProgress) + Send),
    cancel: &CancelToken,
) -> Result<Recorded<BackupRecord>, StoreError> {
    let entry_id = store
        .journal_begin(&NewEntry {
            kind: EntryKind::Backup,
            context: context.clone(),
            connection: Some(connection.clone()),
            target: Some(request.dir.display().to_string()),
            from_revisions: Vec::new(),
            note: None,
        })
        .await?;
    let taken = super::create_backup(url, request, progress, cancel).await;
    let result = match taken {
        Ok(mut record) => match store.record_backup(&record).await {
            Ok(id) => {
                record.id = Some(id);
                Ok(record)
            }
            Err(e) => Err(BackupError::Io {
                path: record.path.display().to_string(),
                message: format!("the backup was taken and kept, but not cataloged: {e}"),
            }),
        },
        Err(e) => Err(e),
    };
    let done = match &result {
        Ok(record) => Finish {
            from_revisions: Some(record.revisions.clone()),
            ..finish(EntryOutcome::Ok, record.revisions.clone(), None, record.id)
        },
        Err(e) => finish(
            outcome_of(e),
            Vec::new(),
            Some(url.scrub(&e.to_string())),
            None,
        ),
    };
    store.journal_finish(entry_id, &done).await?;
    Ok(Recorded { entry_id, result })
}

/// Restores `record` into `target` and journals it (with the rows the target had before,
/// where they can be read).
pub async fn restore_recorded(
    store: &Store,
    context: &Context,
    connection: &ConnectionRef,
    record: &BackupRecord,
    target: &DatabaseUrl,
    request: &RestoreRequest,
    progress: &mut (dyn FnMut(BackupProgress) + Send),
) -> Result<Recorded<RestoreReport>, StoreError> {
    let before =
        database::read_version_rows(target, &record.version_table(), request.connect_timeout)
            .await
            .unwrap_or_default();
    let entry_id = store
        .journal_begin(&NewEntry {
            kind: EntryKind::Restore,
            context: context.clone(),
            connection: Some(connection.clone()),
            target: Some(format!(
                "backup {} ({})",
                record.id.unwrap_or_default(),
                record.path.display()
            )),
            from_revisions: before,
            note: None,
        })
        .await?;
    let result = super::restore_backup(record, target, request, progress).await;
    let done = match &result {
        Ok(report) => finish(EntryOutcome::Ok, report.revisions.clone(), None, record.id),
        Err(e) => finish(
            outcome_of(e),
            Vec::new(),
            Some(target.scrub(&e.to_string())),
            record.id,
        ),
    };
    store.journal_finish(entry_id, &done).await?;
    Ok(Recorded { entry_id, result })
}
