//! Backups from the app: the list per connection, create with progress, verify, restore
//! with a typed confirmation naming the target, delete, reveal in the file manager.

use super::runs::{backup_dir, target};
use crate::core::AppCore;
use crate::error::ApiError;
use crate::types::*;
use retort_core::backup::{self, BackupRequest, RestoreRequest};
use retort_core::database::VersionTable;
use retort_core::guard;
use std::path::Path;

/// The backups of a saved connection (or, with no name, of every connection), newest first.
pub async fn list_backups(
    core: &AppCore,
    connection: Option<String>,
) -> Result<BackupList, ApiError> {
    let store = core.store().await?;
    let backups = store
        .list_backups(connection.as_deref().filter(|c| !c.trim().is_empty()))
        .await?;
    Ok(BackupList {
        backups: backups.into_iter().map(BackupRecord::from).collect(),
        backup_dir: backup_dir(core).display().to_string(),
    })
}

/// Takes a verified backup of a connection's database (progress as `backupProgress` events
/// with `runId`), catalogs it and journals it.
pub async fn create_backup(
    core: &AppCore,
    run_id: String,
    connection: Option<String>,
    password: Option<String>,
    verify_restore: bool,
) -> Result<BackupRecord, ApiError> {
    let target = target(core, connection, password).await?;
    let (_running, cancel) = target.start(core, &run_id, "backup")?;
    let request = BackupRequest {
        dir: backup_dir(core),
        connection_name: target.profile.as_ref().map(|p| p.name.clone()),
        version_table: VersionTable::of(target.project()),
        verify_restore,
        connect_timeout: core.timeout,
    };
    let store = core.store().await?;
    let recorded = backup::take_recorded(
        store,
        &target.context(),
        &target.connection_ref(),
        &target.url,
        &request,
        &mut |progress: backup::BackupProgress| {
            core.emit(ApiEvent::BackupProgress {
                run_id: run_id.clone(),
                progress: progress.into(),
            })
        },
        &cancel,
    )
    .await;
    core.emit(ApiEvent::JournalChanged);
    Ok(recorded?
        .result
        .map_err(|e| ApiError::from(e).scrubbed(&target.url))?
        .into())
}

async fn record(core: &AppCore, id: u32) -> Result<backup::BackupRecord, ApiError> {
    Ok(core.store().await?.backup(i64::from(id)).await?)
}

/// Checks a backup's file again: its checksum, then the format's own check.
pub async fn verify_backup(core: &AppCore, id: u32) -> Result<String, ApiError> {
    let record = record(core, id).await?;
    Ok(backup::verify_backup(&record).await?)
}

/// Restores a backup into a connection's database, replacing what it holds. The target's
/// database name must be typed, whatever its environment.
pub async fn restore_backup(
    core: &AppCore,
    run_id: String,
    id: u32,
    connection: Option<String>,
    password: Option<String>,
    confirm_database: String,
) -> Result<RestoreReport, ApiError> {
    let record = record(core, id).await?;
    let target = target(core, connection, password).await?;
    guard::restore_confirmed(&target.url, &confirm_database)?;
    let (_running, _cancel) = target.start(core, &run_id, "restore")?;
    let store = core.store().await?;
    let recorded = backup::restore_recorded(
        store,
        &target.context(),
        &target.connection_ref(),
        &record,
        &target.url,
        &RestoreRequest {
            connect_timeout: core.timeout,
        },
        &mut |progress: backup::BackupProgress| {
            core.emit(ApiEvent::BackupProgress {
                run_id: run_id.clone(),
                progress: progress.into(),
            })
        },
    )
    .await;
    core.emit(ApiEvent::JournalChanged);
    Ok(recorded?
        .result
        .map_err(|e| ApiError::from(e).scrubbed(&target.url))?
        .into())
}

/// Deletes a backup: its file and its catalog entry.
pub async fn delete_backup(core: &AppCore, id: u32) -> Result<(), ApiError> {
    let store = core.store().await?;
    store.delete_backup(i64::from(id)).await?;
    core.emit(ApiEvent::JournalChanged);
    Ok(())
}

/// Shows a backup's file in the file manager (desktop); in `retort serve` only its path.
pub async fn reveal_backup(core: &AppCore, id: u32) -> Result<Revealed, ApiError> {
    let record = record(core, id).await?;
    let path = record.path.display().to_string();
    if core.mode() != crate::AppMode::Desktop || !record.path.exists() {
        return Ok(Revealed {
            path,
            opened: false,
        });
    }
    let folder = record.path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let opened = open_in_file_manager(&record.path, &folder);
    Ok(Revealed { path, opened })
}

fn open_in_file_manager(file: &Path, folder: &Path) -> bool {
    let mut command = if cfg!(target_os = "macos") {
        let mut c = std::process::Command::new("open");
        c.arg("-R").arg(file);
        c
    } else if cfg!(target_os = "windows") {
        let mut c = std::process::Command::new("explorer");
        c.arg(format!("/select,{}", file.display()));
        c
    } else {
        let mut c = std::process::Command::new("xdg-open");
        c.arg(folder);
        c
    };
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}
