//! New revisions and merges from the app, the guided merge explanation, the project checks
//! and the round-trip test on a scratch database.

use super::reopen;
use super::runs::{execution_error, target};
use crate::core::AppCore;
use crate::error::{ApiError, ErrorKind};
use crate::types::*;
use retort_core::authoring::checks::{self, CheckOptions};
use retort_core::authoring::merge::explain_merge as explain;
use retort_core::authoring::{
    self, AuthoringError, RevisionRequest, autogenerate, naming, native_autogenerate,
};
use retort_core::execution::RunOptions;
use retort_core::execution::round_trip;
use retort_core::journal::{Context, EntryKind, status};
use retort_core::project::ProjectKind;

fn authoring_error(e: AuthoringError) -> ApiError {
    ApiError::new(ErrorKind::InvalidInput, e.to_string())
}

/// The parent the form names, `head` when it names none.
fn head_of(head: Option<&str>) -> String {
    head.map(str::trim)
        .filter(|h| !h.is_empty())
        .unwrap_or("head")
        .to_string()
}

fn request_of(input: &RevisionInput) -> Result<RevisionRequest, ApiError> {
    let message = input.message.trim();
    if message.is_empty() {
        return Err(ApiError::invalid("give the revision a message"));
    }
    Ok(RevisionRequest {
        message: Some(message.to_string()),
        heads: vec![head_of(input.head.as_deref())],
        branch_labels: input
            .branch_label
            .iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
        depends_on: input
            .depends_on
            .iter()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect(),
        ..RevisionRequest::default()
    })
}

/// The project's naming advice for a message.
fn naming_advice(project: &retort_core::project::Project, message: &str) -> Vec<String> {
    let config = match checks::naming_config(project) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let name = naming::slug(message.lines().next().unwrap_or(""), Some(usize::MAX));
    if name.is_empty() || checks::follows_conventions(&name, &config.patterns) {
        return Vec::new();
    }
    vec![format!(
        "'{name}' follows none of the naming conventions ({}): e.g. \"add_email_to_users\", \"create_orders_table\"",
        config.patterns.join(", ")
    )]
}

/// The file a new revision would be, without writing it: name, path, text, naming advice.
pub async fn preview_revision(
    core: &AppCore,
    input: RevisionInput,
) -> Result<RevisionPreview, ApiError> {
    let opened = core.require_graph()?;
    let (project, map) = opened.graph().expect("require_graph checked it");
    let request = request_of(&input)?;
    let new =
        authoring::plan_revision(project, map, &request, &opened.dir).map_err(authoring_error)?;
    Ok(RevisionPreview {
        naming: naming_advice(project, &input.message),
        revision: new.into(),
        written: false,
    })
}

async fn written(
    core: &AppCore,
    new: authoring::NewRevision,
    kind: EntryKind,
    naming: Vec<String>,
) -> Result<RevisionPreview, ApiError> {
    let opened = core.require_opened()?;
    let store = core.store().await?;
    // The file is written; a journal that cannot take it is reported, not fatal.
    let journaled =
        authoring::record_written(store, &Context::current(Some(&opened.dir)), &new, kind).await;
    core.emit(ApiEvent::JournalChanged);
    reopen(core, &opened.dir).await?;
    let mut preview = RevisionPreview {
        revision: new.into(),
        naming,
        written: true,
    };
    if let Err(e) = journaled {
        preview
            .revision
            .warnings
            .push(format!("the journal did not record this file: {e}"));
    }
    Ok(preview)
}

/// Writes a new revision file and reloads the workspace.
pub async fn create_revision(
    core: &AppCore,
    input: RevisionInput,
) -> Result<RevisionPreview, ApiError> {
    let opened = core.require_graph()?;
    let (project, map) = opened.graph().expect("require_graph checked it");
    let request = request_of(&input)?;
    let new =
        authoring::create_revision(project, map, &request, &opened.dir).map_err(authoring_error)?;
    let naming = naming_advice(project, &input.message);
    written(core, new, EntryKind::Revision, naming).await
}

// ----- autogenerate -------------------------------------------------------------------------

fn autogenerate_error(e: autogenerate::AutogenerateError) -> ApiError {
    let hint = e.hint();
    let kind = match e {
        autogenerate::AutogenerateError::Database(_) => ErrorKind::Database,
        _ => ErrorKind::InvalidInput,
    };
    let error = ApiError::new(kind, e.to_string());
    match hint {
        Some(h) => error.with_hint(h),
        None => error,
    }
}

fn autogenerate_args(input: &AutogenerateInput) -> autogenerate::RevisionArgs {
    autogenerate::RevisionArgs {
        message: Some(input.message.trim().to_string()).filter(|m| !m.is_empty()),
        head: input
            .head
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string),
        ..autogenerate::RevisionArgs::default()
    }
}

fn reviewed_of(ops: &[ProposedOperation]) -> Vec<autogenerate::ProposedOperation> {
    ops.iter()
        .map(|o| autogenerate::ProposedOperation {
            kind: o.kind.clone(),
            table: o.table.clone(),
            text: o.text.clone(),
            risks: o.risks.clone(),
        })
        .collect()
}

/// The database behind `input`, through the production gate (reading a production schema
/// needs its name typed).
async fn autogenerate_target(
    core: &AppCore,
    input: &AutogenerateInput,
) -> Result<super::runs::Target, ApiError> {
    let target = target(core, input.connection.clone(), input.password.clone()).await?;
    super::runs::confirm(&target.view, input.confirm_database.as_deref())?;
    Ok(target)
}

/// Autogenerate's review: the operations alembic would write for the models against the
/// database (native projects: the proven revision that turns the heads' schema into the
/// database's), each with its risks; nothing is written.
pub async fn propose_autogenerate(
    core: &AppCore,
    input: AutogenerateInput,
) -> Result<AutogenerateProposal, ApiError> {
    let opened = core.require_graph()?;
    let (project, map) = opened.graph().expect("require_graph checked it");
    let target = autogenerate_target(core, &input).await?;
    if project.kind == ProjectKind::Native {
        let proposal = propose_native(core, project, map, &target.url).await?;
        return Ok(AutogenerateProposal {
            target: target.view.clone(),
            operations: wire_operations(proposal.operations),
            native: Some(NativeRevisionSql {
                up_sql: proposal.up_sql,
                down_sql: proposal.down_sql,
                scratch: proposal.scratch,
            }),
        });
    }
    let operations = autogenerate::propose(project, &target.url, None, &autogenerate_args(&input))
        .await
        .map_err(autogenerate_error)?;
    Ok(AutogenerateProposal {
        target: target.view.clone(),
        operations: wire_operations(operations),
        native: None,
    })
}

fn wire_operations(ops: Vec<autogenerate::ProposedOperation>) -> Vec<ProposedOperation> {
    ops.into_iter()
        .map(|o| ProposedOperation {
            kind: o.kind,
            table: o.table,
            text: o.text,
            risks: o.risks,
        })
        .collect()
}

/// A native autogenerate's scratch build: the app's connect timeout, nothing to cancel.
fn scratch_options(core: &AppCore) -> RunOptions {
    RunOptions {
        connect_timeout: core.timeout,
        ..RunOptions::default()
    }
}

async fn propose_native(
    core: &AppCore,
    project: &retort_core::project::Project,
    map: &retort_core::graph::RevisionMap,
    url: &retort_core::database::DatabaseUrl,
) -> Result<native_autogenerate::NativeProposal, ApiError> {
    let options = scratch_options(core);
    let sink = |_event: retort_core::execution::ProgressEvent| {};
    native_autogenerate::propose(project, map, url, &options, &sink)
        .await
        .map_err(|e| ApiError::new(ErrorKind::InvalidInput, e.to_string()))
}

/// A native revision: proven again, and written only if it is still the one reviewed.
async fn create_native(
    core: &AppCore,
    choice: &AutogenerateChoice,
) -> Result<AutogenerateWritten, ApiError> {
    let opened = core.require_graph()?;
    let (project, map) = opened.graph().expect("require_graph checked it");
    let target = autogenerate_target(core, &choice.input).await?;
    let options = scratch_options(core);
    let sink = |_event: retort_core::execution::ProgressEvent| {};
    let keep: Vec<usize> = choice.keep.iter().map(|&k| k as usize).collect();
    let proposal = native_autogenerate::propose_again(
        project,
        map,
        &target.url,
        &options,
        &sink,
        &reviewed_of(&choice.reviewed),
        &keep,
    )
    .await
    .map_err(|e| ApiError::new(ErrorKind::InvalidInput, e.to_string()))?;
    drop(target);
    let request = RevisionRequest {
        message: Some(choice.input.message.trim().to_string()).filter(|m| !m.is_empty()),
        heads: vec![head_of(choice.input.head.as_deref())],
        ..RevisionRequest::default()
    };
    let new = native_autogenerate::write(project, map, &proposal, request, &opened.dir)
        .map_err(authoring_error)?;
    let (revision, path) = (new.revision.clone(), new.path.display().to_string());
    let written = written(core, new, EntryKind::Revision, Vec::new()).await?;
    Ok(AutogenerateWritten {
        revision,
        path,
        kept: choice.reviewed.len() as u32,
        reviewed: choice.reviewed.len() as u32,
        warnings: written.revision.warnings,
    })
}

/// The file's two functions with the chosen operations, as alembic renders them.
pub async fn preview_autogenerate(
    core: &AppCore,
    choice: AutogenerateChoice,
) -> Result<AutogeneratePreview, ApiError> {
    let opened = core.require_graph()?;
    let (project, _) = opened.graph().expect("require_graph checked it");
    let target = autogenerate_target(core, &choice.input).await?;
    let keep: Vec<usize> = choice.keep.iter().map(|&k| k as usize).collect();
    let preview = autogenerate::preview(
        project,
        &target.url,
        None,
        &autogenerate_args(&choice.input),
        &reviewed_of(&choice.reviewed),
        &keep,
    )
    .await
    .map_err(autogenerate_error)?;
    Ok(AutogeneratePreview {
        upgrade: preview.upgrade,
        downgrade: preview.downgrade,
    })
}

/// Has alembic write the revision with the chosen operations, journals it and reloads the
/// workspace.
pub async fn create_autogenerate(
    core: &AppCore,
    choice: AutogenerateChoice,
) -> Result<AutogenerateWritten, ApiError> {
    let opened = core.require_graph()?;
    let (project, _) = opened.graph().expect("require_graph checked it");
    if project.kind == ProjectKind::Native {
        return create_native(core, &choice).await;
    }
    let target = autogenerate_target(core, &choice.input).await?;
    let keep: Vec<usize> = choice.keep.iter().map(|&k| k as usize).collect();
    let args = autogenerate_args(&choice.input);
    let written = autogenerate::write(
        project,
        &target.url,
        None,
        &args,
        &reviewed_of(&choice.reviewed),
        &keep,
    )
    .await
    .map_err(autogenerate_error)?;
    drop(target);
    let mut warnings = Vec::new();
    let store = core.store().await?;
    if let Err(e) = autogenerate::record(
        store,
        &Context::current(Some(&opened.dir)),
        &written,
        choice.reviewed.len(),
        args.message.as_deref(),
    )
    .await
    {
        warnings.push(format!("the journal did not record this file: {e}"));
    }
    core.emit(ApiEvent::JournalChanged);
    reopen(core, &opened.dir).await?;
    Ok(AutogenerateWritten {
        revision: written.revision,
        path: written.path.display().to_string(),
        kept: written.kept.len() as u32,
        reviewed: choice.reviewed.len() as u32,
        warnings,
    })
}

/// What merging these heads (none: every head) means: the common ancestor, each branch,
/// the tables touched on both sides, and the resulting order.
pub async fn explain_merge(
    core: &AppCore,
    revisions: Vec<String>,
) -> Result<MergeExplanation, ApiError> {
    let opened = core.require_graph()?;
    let (project, map) = opened.graph().expect("require_graph checked it");
    explain(project, map, &revisions, None)
        .map(MergeExplanation::from)
        .map_err(authoring_error)
}

/// Writes a merge revision of `revisions` (none: every head) and reloads the workspace.
pub async fn create_merge(
    core: &AppCore,
    revisions: Vec<String>,
    message: String,
) -> Result<RevisionPreview, ApiError> {
    let opened = core.require_graph()?;
    let (project, map) = opened.graph().expect("require_graph checked it");
    let revisions = if revisions.is_empty() {
        vec!["heads".to_string()]
    } else {
        revisions
    };
    let message = message.trim();
    let request = RevisionRequest {
        message: (!message.is_empty()).then(|| message.to_string()),
        ..RevisionRequest::default()
    };
    let new = authoring::create_merge(project, map, &revisions, &request, &opened.dir)
        .map_err(authoring_error)?;
    written(core, new, EntryKind::Merge, Vec::new()).await
}

/// The project checks (single head, empty downgrades, naming, …); with a connection, also
/// the applied revisions whose files changed since.
pub async fn project_checks(
    core: &AppCore,
    connection: Option<String>,
    password: Option<String>,
) -> Result<CheckReport, ApiError> {
    let opened = core.require_graph()?;
    let (project, map) = opened.graph().expect("require_graph checked it");
    let mut report = checks::check_project(project, map, &CheckOptions::default());
    if connection.as_deref().is_some_and(|c| !c.trim().is_empty()) {
        let target = target(core, connection, password).await?;
        let store = core.store().await?;
        let status = status::connection_status(
            store,
            project,
            map,
            &target.url,
            target.connection_ref(),
            core.timeout,
        )
        .await?;
        report
            .findings
            .extend(checks::applied_file_findings(&status));
    }
    Ok(report.into())
}

/// Upgrades, downgrades and upgrades again every revision in a scratch database on the
/// connection's server (or engine); progress as `roundTripProgress` events with `runId`.
pub async fn round_trip_test(
    core: &AppCore,
    run_id: String,
    connection: Option<String>,
    password: Option<String>,
) -> Result<RoundTripReport, ApiError> {
    let target = target(core, connection, password).await?;
    let (_running, cancel) = target.start(core, &run_id, "round trip")?;
    let options = RunOptions {
        connect_timeout: core.timeout,
        cancel,
        ..RunOptions::default()
    };
    round_trip::round_trip(
        target.project(),
        target.map(),
        &target.url,
        &options,
        &|progress| {
            core.emit(ApiEvent::RoundTripProgress {
                run_id: run_id.clone(),
                progress,
            })
        },
    )
    .await
    .map(RoundTripReport::from)
    .map_err(|e| execution_error(e, &target.url))
}
