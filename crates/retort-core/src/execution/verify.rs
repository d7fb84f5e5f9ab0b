//! The verified stamp: before the version table is told that a database is at some revision,
//! compare the database's real schema with the schema that revision implies.
//!
//! The implied schema is built, not guessed: the project's own revisions are run up to the
//! stamp's result in a scratch database of the same engine ([`ScratchDatabase`]) through the
//! ordinary runner ([`super::run`]: native SQL directly, Alembic projects through their own
//! alembic), then both databases are read with [`schema::introspect`] and compared.

use super::plan;
use super::{ExecutionError, Operation, Outcome, ProgressSink, RunOptions, RunReport, StepFailure};
use crate::database::schema::{self, Schema, SchemaDiff};
use crate::database::scratch::ScratchDatabase;
use crate::database::{Database, DatabaseError, DatabaseUrl, VersionTable};
use crate::graph::commands::CommandError;
use crate::graph::{Idx, RevisionMap};
use crate::project::Project;
use serde::Serialize;

/// Why a schema could not be built in a scratch database.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// A revision failed while the scratch database was being built.
    #[error("building `{target}` in a scratch database failed: {failure}")]
    Build {
        target: String,
        failure: Box<StepFailure>,
    },
    #[error("cancelled while building `{target}` in a scratch database")]
    Cancelled { target: String },
    /// The run ended, but the scratch database's version table does not name the target:
    /// the migrations went somewhere else.
    #[error(
        "after `upgrade {target}` the scratch database's version table names {found}, not {target}: the project's env.py does not seem to migrate the database Retort hands it (sqlalchemy.url / DATABASE_URL)"
    )]
    NotMigrated { target: String, found: String },
}

/// What a verified stamp found, for the CLI and the UI to show before anything is written.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct StampVerification {
    /// The stamp's targets as given.
    pub targets: Vec<String>,
    /// The version table's rows now.
    pub current: Vec<String>,
    /// The version table's rows the stamp would leave.
    pub resulting_heads: Vec<String>,
    /// The scratch database the implied schema was built in (already removed).
    pub scratch: String,
    /// The schema the revisions build up to `resulting_heads`.
    pub implied: Schema,
    /// The database's schema now.
    pub live: Schema,
    /// How `live` differs from `implied`: "missing" is implied but not in the database.
    pub diff: SchemaDiff,
}

impl StampVerification {
    /// The database's schema is exactly what the stamp's revisions imply.
    pub fn matches(&self) -> bool {
        self.diff.is_empty()
    }

    /// The journal's note for a stamp after this verification, or `None` when the schema
    /// differs and the difference was not accepted (`accepted_by`: how it was, in words).
    pub fn stamp_note(&self, accepted_by: Option<&str>) -> Option<String> {
        if self.matches() {
            return Some("verified: the schema matches".to_string());
        }
        accepted_by.map(|by| {
            format!(
                "verified: {} schema difference(s) accepted {by}",
                self.diff.len()
            )
        })
    }

    /// Why the stamp is not written when the difference was not accepted.
    pub fn refusal(&self) -> String {
        format!(
            "not stamped: the database's schema differs from what {} implies in {} place(s)",
            self.targets.join(" "),
            self.diff.len()
        )
    }
}

/// Compares the live schema at `url` with the schema `stamp targets` (with `--purge` if
/// `purge`) implies. Changes nothing in the live database; the scratch database is always
/// removed. `sink` receives the progress of the scratch run.
pub async fn verify_stamp(
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    targets: &[String],
    purge: bool,
    options: &RunOptions,
    sink: ProgressSink<'_>,
) -> Result<StampVerification, ScratchError> {
    let table = VersionTable::of(project);
    let operation = Operation::Stamp {
        targets: targets.to_vec(),
        purge,
    };
    let (current, resulting_heads, live) = {
        let mut live_db = Database::connect(url, options.connect_timeout).await?;
        let rows = live_db.version_heads(&table).await?;
        let plan = plan::build(project, map, &operation, rows.as_deref(), url.backend)?;
        let live = schema::introspect(&mut live_db, None, &table).await?;
        (rows.unwrap_or_default(), plan.resulting_heads, live)
    };

    let scratch = ScratchDatabase::create(url, options.connect_timeout).await?;
    let built = build_schema(project, map, scratch.url(), &resulting_heads, options, sink).await;
    let scratch_url = scratch.url().redacted();
    let removed = scratch.remove().await;
    let implied = built?;
    removed?;

    let diff = schema::diff(&implied, &live);
    Ok(StampVerification {
        targets: targets.to_vec(),
        current,
        resulting_heads,
        scratch: scratch_url,
        implied,
        live,
        diff,
    })
}

/// Upgrades the (empty) scratch database to `heads` and reads its schema.
pub(crate) async fn build_schema(
    project: &Project,
    map: &RevisionMap,
    scratch: &DatabaseUrl,
    heads: &[String],
    options: &RunOptions,
    sink: ProgressSink<'_>,
) -> Result<Schema, ScratchError> {
    for target in upgrade_targets(map, heads)? {
        migrate_scratch(
            project,
            map,
            scratch,
            &Operation::Upgrade {
                target: target.clone(),
            },
            options,
            sink,
        )
        .await?;
    }
    let mut db = Database::connect(scratch, options.connect_timeout).await?;
    Ok(schema::introspect(&mut db, None, &VersionTable::of(project)).await?)
}

/// The heads to upgrade to one after the other: the stamp's rows without those that are an
/// ancestor (or dependency) of another (a stamp does not check that its rows make sense).
fn upgrade_targets(map: &RevisionMap, heads: &[String]) -> Result<Vec<String>, ExecutionError> {
    let idxs: Vec<Idx> = heads
        .iter()
        .map(|h| {
            map.resolve_one(h)
                .map_err(|e| ExecutionError::from(CommandError::new(e.to_string())))
        })
        .collect::<Result<_, _>>()?;
    Ok(idxs
        .iter()
        .filter(|&&i| {
            !idxs
                .iter()
                .any(|&other| other != i && map.ancestors(&[other], true).contains(&i))
        })
        .map(|&i| map.rev(i).revision.clone())
        .collect())
}

/// Runs `operation` on a scratch database and insists that it completed and that the version
/// table moved as planned (so that an env.py that ignores the URL it is given is caught).
pub(super) async fn migrate_scratch(
    project: &Project,
    map: &RevisionMap,
    scratch: &DatabaseUrl,
    operation: &Operation,
    options: &RunOptions,
    sink: ProgressSink<'_>,
) -> Result<RunReport, ScratchError> {
    let target = match operation {
        Operation::Upgrade { target } | Operation::Downgrade { target } => target.clone(),
        Operation::Stamp { targets, .. } => targets.join(" "),
    };
    let report = super::run(project, map, scratch, operation, options, sink).await?;
    match report.outcome {
        Outcome::Completed => {}
        Outcome::Cancelled => return Err(ScratchError::Cancelled { target }),
        Outcome::Failed => {
            let failure = report.failure.clone().unwrap_or_else(|| StepFailure {
                description: operation.command_line(),
                revision: None,
                path: None,
                line: None,
                statement: None,
                error: "failed".to_string(),
                rolled_back: false,
                committed_statements: Vec::new(),
                version_rows: report.heads_after.clone(),
                advice: Vec::new(),
            });
            return Err(ScratchError::Build {
                target,
                failure: Box::new(failure),
            });
        }
    }
    if let Operation::Upgrade { target } = operation
        && !report.completed.is_empty()
        && !report.heads_after.contains(target)
    {
        return Err(ScratchError::NotMigrated {
            target: target.clone(),
            found: super::rows_text(&report.heads_after),
        });
    }
    Ok(report)
}
