//! What is worth reading before a run: the plan's risks, found without running anything.
//! Above execution, authoring and the journal: it reads the plan, the revisions' own checks
//! and what the journal knows of the files applied.

use crate::authoring::checks::empty_downgrade;
use crate::database::Backend;
use crate::execution::{Plan, StepKind};
use crate::journal::status::ChangedFile;
use crate::project::Project;
use serde::Serialize;

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PlanWarningKind {
    /// A downgrade step whose revision does not undo its upgrade.
    EmptyDowngrade,
    /// MySQL/MariaDB commit DDL as it runs: a failure leaves earlier statements applied.
    NonTransactionalDdl,
    /// A `transaction:false` section.
    OutsideTransaction,
    /// An applied revision's file is not the one that was applied.
    FileChanged,
    /// `downgrade -N` from several heads: only the first version row's branch steps down.
    AmbiguousDowngrade,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanWarning {
    pub kind: PlanWarningKind,
    pub revision: Option<String>,
    pub message: String,
}

/// The warnings of `plan` on `backend`; `changed`: applied files changed since (from
/// [`crate::journal::status::connection_status`]).
pub fn plan_warnings(
    plan: &Plan,
    project: &Project,
    backend: Backend,
    changed: &[ChangedFile],
) -> Vec<PlanWarning> {
    let mut out = Vec::new();
    if plan.is_ambiguous_downgrade() {
        let first = plan.current.first().map_or("?", String::as_str);
        out.push(PlanWarning {
            kind: PlanWarningKind::AmbiguousDowngrade,
            revision: Some(first.to_string()),
            message: format!(
                "the database has several heads: only {first}'s branch steps down (the version table's first row, as alembic picks it); name the head to be sure ({first}@-1). Alembic: {}",
                crate::graph::AMBIGUOUS_DOWNGRADE
            ),
        });
    }
    let runs_code = plan.steps.iter().any(|s| s.kind != StepKind::Stamp);
    if backend == Backend::MySql && runs_code {
        out.push(PlanWarning {
            kind: PlanWarningKind::NonTransactionalDdl,
            revision: None,
            message: "MySQL/MariaDB commit each DDL statement as it runs: if a step fails, its earlier statements stay applied".into(),
        });
    }
    for step in &plan.steps {
        let rev = step.revision.as_deref().unwrap_or("?");
        let file = step
            .revision
            .as_ref()
            .and_then(|r| project.revisions.iter().find(|f| &f.revision == r));
        if step.kind == StepKind::Downgrade
            && file.is_some_and(|f| empty_downgrade(project, f).is_some())
        {
            out.push(PlanWarning {
                kind: PlanWarningKind::EmptyDowngrade,
                revision: step.revision.clone(),
                message: format!("{rev}: the downgrade does nothing; only the version table moves"),
            });
        }
        if step.sql.as_ref().is_some_and(|s| !s.transactional) {
            out.push(PlanWarning {
                kind: PlanWarningKind::OutsideTransaction,
                revision: step.revision.clone(),
                message: format!(
                    "{rev}: runs outside a transaction (transaction:false); a failure cannot be rolled back"
                ),
            });
        }
    }
    for changed in changed {
        out.push(PlanWarning {
            kind: PlanWarningKind::FileChanged,
            revision: Some(changed.revision.clone()),
            message: match &changed.sha256_now {
                Some(_) => format!(
                    "{}'s file changed since it was applied on {} (journal entry #{})",
                    changed.revision, changed.applied.applied_at, changed.applied.entry_id
                ),
                None => format!(
                    "{}'s file is gone; it was applied on {}",
                    changed.revision, changed.applied.applied_at
                ),
            },
        });
    }
    out
}
