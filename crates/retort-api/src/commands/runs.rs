//! Upgrades, downgrades and stamps from the app: the plan with its warnings, the safety
//! gate, the guarded run with progress events, cancellation, and the verified stamp.

use super::{non_empty, project_url, resolve};
use crate::core::{AppCore, Opened, RunGuard};
use crate::error::{ApiError, ErrorKind};
use crate::types::*;
use retort_core::database::{Backend, DatabaseUrl};
use retort_core::execution::{self, RunOptions, offline, verify};
use retort_core::graph::RevisionMap;
use retort_core::guard::{self, BackupChoice, Guarded};
use retort_core::journal::{ConnectionRef, Context, status};
use retort_core::preflight::plan_warnings;
use retort_core::project::{Project, ProjectKind};
use retort_core::store::ConnectionProfile;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The database an operation works on, resolved with its password.
pub(crate) struct Target {
    pub opened: Arc<Opened>,
    pub url: DatabaseUrl,
    pub profile: Option<ConnectionProfile>,
    pub view: TargetView,
    /// The SSH tunnel `url` goes through, open while the operation holds the target.
    pub _tunnel: Option<retort_core::tunnel::Tunnel>,
}

impl Target {
    pub fn project(&self) -> &Project {
        self.opened.graph().expect("checked in target()").0
    }
    pub fn map(&self) -> &RevisionMap {
        self.opened.graph().expect("checked in target()").1
    }
    pub fn connection_ref(&self) -> ConnectionRef {
        ConnectionRef::new(&self.url, self.profile.as_ref())
    }
    pub fn context(&self) -> Context {
        Context::current(Some(&self.opened.dir))
    }

    /// Registers `what` on this target as under way (cancellable, listed, asked about on close).
    pub fn start<'a>(
        &self,
        core: &'a AppCore,
        run_id: &str,
        what: &str,
    ) -> Result<(RunGuard<'a>, execution::CancelToken), ApiError> {
        core.start_run(ActiveRunView {
            run_id: run_id.to_string(),
            what: what.to_string(),
            target: self
                .view
                .connection
                .clone()
                .unwrap_or_else(|| self.view.url.clone()),
            started_at: now_text(),
        })
    }

    /// The plan of `operation` from the database's real rows.
    pub async fn plan(
        &self,
        core: &AppCore,
        operation: &Operation,
    ) -> Result<execution::Plan, ApiError> {
        execution::plan(
            self.project(),
            self.map(),
            &self.url,
            operation,
            core.timeout,
        )
        .await
        .map_err(|e| execution_error(e, &self.url))
    }
}

pub(crate) fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
        Backend::MySql => "mysql",
    }
}

/// A saved connection by name, or (no name) the project's own URL, with the open project.
pub(crate) async fn target(
    core: &AppCore,
    connection: Option<String>,
    password: Option<String>,
) -> Result<Target, ApiError> {
    let opened = core.require_graph()?;
    let (project, _) = opened.graph().expect("require_graph checked it");
    let (url, profile, tunnel) = match non_empty(connection) {
        Some(name) => {
            let reached = resolve(core, &name, password).await?;
            (reached.url, Some(reached.profile), reached.tunnel)
        }
        None => {
            let url = project_url(project).ok_or_else(|| {
                ApiError::invalid("the project names no database URL")
                    .with_hint("choose a saved connection")
            })?;
            (url, None, None)
        }
    };
    let environment = profile
        .as_ref()
        .map_or_else(|| "project".to_string(), |p| p.environment.clone());
    let view = TargetView {
        connection: profile.as_ref().map(|p| p.name.clone()),
        production: environment == "production",
        environment,
        color: profile
            .as_ref()
            .map_or_else(|| "#6a737d".to_string(), |p| p.color.clone()),
        url: url.redacted(),
        database: guard::database_name(&url),
        backend: backend_name(url.backend).to_string(),
    };
    Ok(Target {
        opened,
        url,
        profile,
        view,
        _tunnel: tunnel,
    })
}

pub(crate) fn execution_error(e: impl std::fmt::Display, url: &DatabaseUrl) -> ApiError {
    ApiError::new(ErrorKind::Execution, url.scrub(&e.to_string()))
}

fn check_operation(operation: &Operation) -> Result<(), ApiError> {
    let empty = match operation {
        Operation::Upgrade { target } | Operation::Downgrade { target } => target.trim().is_empty(),
        Operation::Stamp { targets, .. } => {
            targets.is_empty() || targets.iter().any(|t| t.trim().is_empty())
        }
    };
    if empty {
        return Err(ApiError::invalid("choose a target revision"));
    }
    Ok(())
}

/// Where backups go: `backups/` beside the app's store.
pub(crate) fn backup_dir(core: &AppCore) -> std::path::PathBuf {
    retort_core::backup::backup_dir_beside(core.store_path())
}

/// The plan from the database's real rows, the warnings worth reading first, and what the
/// safety gate will ask. Changes nothing.
pub async fn plan_operation(
    core: &AppCore,
    connection: Option<String>,
    password: Option<String>,
    operation: Operation,
) -> Result<RunPreview, ApiError> {
    check_operation(&operation)?;
    let target = target(core, connection, password).await?;
    let plan = target.plan(core, &operation).await?;
    let store = core.store().await?;
    let status = status::connection_status(
        store,
        target.project(),
        target.map(),
        &target.url,
        target.connection_ref(),
        core.timeout,
    )
    .await?;
    let warnings = plan_warnings(&plan, target.project(), target.url.backend, &status.changed);
    let policy = guard::backup_policy(&target.connection_ref(), &target.url, &operation);
    Ok(RunPreview {
        alembic: target.project().kind == ProjectKind::Alembic,
        backup_required: policy.required,
        backup_dir: backup_dir(core).display().to_string(),
        target: target.view,
        plan: plan.into(),
        warnings,
    })
}

/// The SQL the run would send, as one script: native revisions' sections, or alembic's
/// offline (`--sql`) output for Python revisions. Changes nothing.
pub async fn offline_sql(
    core: &AppCore,
    connection: Option<String>,
    password: Option<String>,
    operation: Operation,
) -> Result<String, ApiError> {
    check_operation(&operation)?;
    let target = target(core, connection, password).await?;
    let plan = target.plan(core, &operation).await?;
    // Offline scripts start where the database is (a single row), else at base.
    let from = match plan.current.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    };
    let ranged = match (&operation, from) {
        (Operation::Upgrade { target }, Some(from)) => Operation::Upgrade {
            target: format!("{from}:{target}"),
        },
        (Operation::Downgrade { target }, Some(from)) => Operation::Downgrade {
            target: format!("{from}:{target}"),
        },
        (op, _) => op.clone(),
    };
    if target.project().kind == ProjectKind::Native || matches!(ranged, Operation::Stamp { .. }) {
        return offline::script(target.project(), target.map(), &ranged, target.url.backend)
            .map_err(|e| execution_error(e, &target.url));
    }
    let lines = Mutex::new(Vec::new());
    let options = RunOptions {
        connect_timeout: core.timeout,
        offline: true,
        ..RunOptions::default()
    };
    let report = execution::run(
        target.project(),
        target.map(),
        &target.url,
        &ranged,
        &options,
        &|e| {
            if let execution::ProgressEvent::Output { line, .. } = e {
                lines.lock().unwrap().push(line);
            }
        },
    )
    .await
    .map_err(|e| execution_error(e, &target.url))?;
    let text = lines.into_inner().unwrap_or_default().join("\n");
    if let Some(failure) = report.failure {
        return Err(execution_error(
            format!("alembic's offline mode failed: {}\n{text}", failure.error),
            &target.url,
        ));
    }
    Ok(text)
}

pub(crate) fn confirm(target: &TargetView, given: Option<&str>) -> Result<(), ApiError> {
    if !target.production {
        return Ok(());
    }
    match given.map(str::trim) {
        Some(name) if name == target.database => Ok(()),
        Some(name) => Err(ApiError::new(
            ErrorKind::Confirmation,
            format!(
                "'{name}' is not the name of the database ({}); nothing was run",
                target.database
            ),
        )),
        None => Err(ApiError::new(
            ErrorKind::Confirmation,
            format!(
                "{} is a production database: type its name ({}) to confirm",
                target.connection.as_deref().unwrap_or(&target.url),
                target.database
            ),
        )),
    }
}

pub(crate) fn now_text() -> String {
    jiff::Timestamp::now().to_string()
}

/// Runs an upgrade, downgrade or stamp through the safety gate: production needs the
/// database's name typed and a verified backup (or a skip, journaled); a verified stamp
/// whose schema differs stops unless accepted. Progress goes out as `runProgress` and
/// `backupProgress` events with the request's `runId`.
pub async fn run_operation(core: &AppCore, request: RunRequest) -> Result<RunResult, ApiError> {
    check_operation(&request.operation)?;
    let target = target(core, request.connection.clone(), request.password.clone()).await?;
    confirm(&target.view, request.confirm_database.as_deref())?;
    let (_running, cancel) = target.start(core, &request.run_id, request.operation.name())?;
    let options = RunOptions {
        lock_timeout: Duration::from_secs(u64::from(request.lock_timeout_seconds.unwrap_or(30))),
        connect_timeout: core.timeout,
        cancel,
        python: None,
        offline: false,
    };
    let run_id = request.run_id.clone();
    let sink = |progress: execution::ProgressEvent| {
        core.emit(ApiEvent::RunProgress {
            run_id: run_id.clone(),
            progress: progress.into(),
        })
    };
    let note = match &request.operation {
        Operation::Stamp { targets, purge } if request.verify_stamp => {
            let verification = verify::verify_stamp(
                target.project(),
                target.map(),
                &target.url,
                targets,
                *purge,
                &options,
                &|_| {},
            )
            .await
            .map_err(|e| execution_error(format!("cannot verify the stamp: {e}"), &target.url))?;
            match verification.stamp_note(request.accept_mismatch.then_some("in the app")) {
                Some(note) => Some(note),
                None => {
                    return Err(ApiError::new(ErrorKind::Mismatch, verification.refusal())
                        .with_hint(
                            "bring the database in line, or confirm the stamp despite the differences",
                        ));
                }
            }
        }
        _ => None,
    };
    let backup = if request.backup {
        BackupChoice::Take {
            dir: backup_dir(core),
            verify_restore: request.verify_restore,
        }
    } else {
        BackupChoice::Skip {
            confirmed_database: request
                .confirm_database
                .clone()
                .filter(|_| target.view.production),
        }
    };
    let store = core.store().await?;
    let mut on_backup = |progress: retort_core::backup::BackupProgress| {
        core.emit(ApiEvent::BackupProgress {
            run_id: run_id.clone(),
            progress: progress.into(),
        })
    };
    let guarded = guard::guarded_run(
        Guarded {
            store,
            context: target.context(),
            connection: target.connection_ref(),
            backup,
            note,
        },
        target.project(),
        target.map(),
        &target.url,
        &request.operation,
        &options,
        &mut on_backup,
        &sink,
    )
    .await;
    core.emit(ApiEvent::JournalChanged);
    let guarded = guarded.map_err(|e| ApiError::from(e).scrubbed(&target.url))?;
    let recorded = guarded.run;
    let report = recorded
        .result
        .map_err(|e| execution_error(e, &target.url))?;
    Ok(RunResult {
        report: report.into(),
        journal_entry: recorded.entry_id as f64,
        journal_error: recorded.journal_error.map(|e| e.to_string()),
        backup: guarded.backup.map(BackupRecord::from),
        target: target.view,
    })
}

/// Stops a run, backup or restore after its current step.
pub async fn cancel_run(core: &AppCore, run_id: String) -> Result<bool, ApiError> {
    Ok(core.cancel_run(&run_id))
}

/// What is under way in this app.
pub async fn active_runs(core: &AppCore) -> Result<Vec<ActiveRunView>, ApiError> {
    Ok(core.active_runs())
}

/// Builds the schema a stamp implies in a scratch database and compares it with the live
/// one. Writes nothing to the live database.
pub async fn check_stamp(
    core: &AppCore,
    connection: Option<String>,
    password: Option<String>,
    targets: Vec<String>,
    purge: bool,
) -> Result<StampCheck, ApiError> {
    check_operation(&Operation::Stamp {
        targets: targets.clone(),
        purge,
    })?;
    let target = target(core, connection, password).await?;
    let options = RunOptions {
        connect_timeout: core.timeout,
        ..RunOptions::default()
    };
    let verification = verify::verify_stamp(
        target.project(),
        target.map(),
        &target.url,
        &targets,
        purge,
        &options,
        &|_| {},
    )
    .await
    .map_err(|e| execution_error(format!("cannot verify the stamp: {e}"), &target.url))?;
    Ok(StampCheck {
        matches: verification.matches(),
        differences: verification
            .diff
            .differences
            .iter()
            .map(|d| d.to_string())
            .collect(),
        target: target.view,
        verification: verification.into(),
    })
}
