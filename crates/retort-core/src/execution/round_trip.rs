//! The round trip ("stairway") check: in a scratch database of the project's engine, every
//! revision in upgrade order (from base to the heads, Alembic's iterate order) is upgraded,
//! downgraded and upgraded again. After the downgrade the schema and the version table must be
//! exactly what they were before the upgrade; after the second upgrade the schema must be what
//! the first one built. The first revision that fails either way is reported with the reason:
//! the SQL error of a failing step, or the differences the downgrade left.
//!
//! Each revision is undone on its own with `downgrade <rev>@<parent>` (`<rev>@base` for a
//! root): the revision names the branch, so sibling branches already applied stay applied,
//! and a merge is undone back to both of its parents. Runs go through [`super::run`], so
//! Alembic projects are checked through their own alembic.

use super::verify::{ScratchError, migrate_scratch};
use super::{ExecutionError, Operation, Outcome, ProgressEvent, RunOptions, StepFailure};
use crate::database::schema::{self, Schema, SchemaDiff};
use crate::database::scratch::ScratchDatabase;
use crate::database::{Database, DatabaseUrl, VersionTable};
use crate::graph::RevisionMap;
use crate::graph::commands::CommandError;
use crate::project::Project;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Progress of a round trip, as the CLI prints it and the UI shows it.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RoundTripEvent {
    /// The scratch database exists; `total` revisions are to be checked.
    Started {
        scratch: String,
        #[cfg_attr(feature = "specta", specta(type = f64))]
        total: usize,
    },
    /// Revision `index` (0-based, upgrade order) is being checked.
    Checking {
        #[cfg_attr(feature = "specta", specta(type = f64))]
        index: usize,
        #[cfg_attr(feature = "specta", specta(type = f64))]
        total: usize,
        revision: String,
        description: String,
    },
    /// The revision went up, down and up again and the schema came back each time.
    Passed {
        #[cfg_attr(feature = "specta", specta(type = f64))]
        index: usize,
        revision: String,
    },
    /// Alembic projects: a line alembic (or env.py) printed.
    Output { line: String },
}

/// Where round-trip progress goes.
pub type RoundTripSink<'a> = &'a (dyn Fn(RoundTripEvent) + Send + Sync);

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Upgrade,
    Downgrade,
    /// The upgrade after the downgrade.
    Reupgrade,
}

/// What went wrong with a revision.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "specta", serde(rename = "RoundTripProblem"))]
pub enum Problem {
    /// The step failed; the failure names the statement and the database's error.
    StepFailed { failure: StepFailure },
    /// After the downgrade the schema is not what it was before the upgrade
    /// ("missing" = was there before the upgrade, "not expected" = left behind).
    SchemaNotRestored { diff: SchemaDiff },
    /// After the downgrade the version table does not name what it named before the upgrade.
    VersionRowsNotRestored {
        expected: Vec<String>,
        found: Vec<String>,
    },
    /// The second upgrade built a different schema from the first.
    ReupgradeDiffers { diff: SchemaDiff },
}

/// The first revision that did not survive the round trip.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct RoundTripFailure {
    pub revision: String,
    pub path: Option<PathBuf>,
    /// Alembic's description of the revision's step (`upgrade a -> b, message`).
    pub description: String,
    pub phase: Phase,
    pub problem: Problem,
}

impl fmt::Display for RoundTripFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revision {}", self.revision)?;
        if let Some(p) = &self.path {
            write!(f, " ({})", p.display())?;
        }
        match &self.problem {
            Problem::StepFailed { failure } => {
                let phase = match self.phase {
                    Phase::Upgrade => "its upgrade failed",
                    Phase::Downgrade => "its downgrade failed",
                    Phase::Reupgrade => "its upgrade failed after the downgrade",
                };
                write!(f, ": {phase}: {failure}")
            }
            Problem::SchemaNotRestored { diff } => {
                writeln!(
                    f,
                    ": its downgrade does not restore the schema (compared with the schema before its upgrade):"
                )?;
                for d in &diff.differences {
                    writeln!(f, "  {d}")?;
                }
                Ok(())
            }
            Problem::VersionRowsNotRestored { expected, found } => writeln!(
                f,
                ": after its downgrade the version table names {}, not {}",
                super::rows_text(found),
                super::rows_text(expected)
            ),
            Problem::ReupgradeDiffers { diff } => {
                writeln!(
                    f,
                    ": upgraded again after its downgrade, it builds a different schema:"
                )?;
                for d in &diff.differences {
                    writeln!(f, "  {d}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct RoundTripReport {
    /// The scratch database used (removed again).
    pub scratch: String,
    /// `completed`: every revision passed; `failed`: see `failure`; `cancelled`.
    pub outcome: Outcome,
    /// Revisions in the project.
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub total: usize,
    /// Revisions that passed, in the order they were checked.
    pub passed: Vec<String>,
    pub failure: Option<RoundTripFailure>,
}

/// Runs the round trip for every revision of the project in a scratch database on the server
/// (or of the engine) of `url`. The database at `url` itself is not touched (for PostgreSQL
/// and MySQL it is only connected to, to create and drop the scratch database).
pub async fn round_trip(
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    options: &RunOptions,
    progress: RoundTripSink<'_>,
) -> Result<RoundTripReport, ScratchError> {
    let mut order = map
        .walk_revisions("base", "heads")
        .map_err(|e| ExecutionError::from(CommandError::new(e.to_string())))?;
    order.reverse();
    let scratch = ScratchDatabase::create(url, options.connect_timeout).await?;
    let mut report = RoundTripReport {
        scratch: scratch.url().redacted(),
        outcome: Outcome::Completed,
        total: order.len(),
        passed: Vec::new(),
        failure: None,
    };
    progress(RoundTripEvent::Started {
        scratch: report.scratch.clone(),
        total: order.len(),
    });
    let checked = check_all(
        project,
        map,
        scratch.url(),
        &order,
        options,
        progress,
        &mut report,
    )
    .await;
    let removed = scratch.remove().await;
    checked?;
    removed?;
    Ok(report)
}

/// The scratch database's state between steps.
struct State {
    schema: Schema,
    rows: Vec<String>,
}

async fn read_state(
    url: &DatabaseUrl,
    table: &VersionTable,
    options: &RunOptions,
) -> Result<State, ScratchError> {
    let mut db = Database::connect(url, options.connect_timeout).await?;
    let schema = schema::introspect(&mut db, None, table).await?;
    let mut rows = db.version_heads(table).await?.unwrap_or_default();
    rows.sort();
    Ok(State { schema, rows })
}

async fn check_all(
    project: &Project,
    map: &RevisionMap,
    scratch: &DatabaseUrl,
    order: &[usize],
    options: &RunOptions,
    progress: RoundTripSink<'_>,
    report: &mut RoundTripReport,
) -> Result<(), ScratchError> {
    let table = VersionTable::of(project);
    let sink = |e: ProgressEvent| {
        if let ProgressEvent::Output { line, .. } = e {
            progress(RoundTripEvent::Output { line });
        }
    };
    let mut before = read_state(scratch, &table, options).await?;
    let total = order.len();
    for (index, &idx) in order.iter().enumerate() {
        if options.cancel.is_cancelled() {
            report.outcome = Outcome::Cancelled;
            return Ok(());
        }
        let rev = map.rev(idx);
        let id = rev.revision.clone();
        let description = super::plan::describe(
            super::StepKind::Upgrade,
            &rev.down_revision,
            std::slice::from_ref(&id),
            rev.doc(),
        );
        progress(RoundTripEvent::Checking {
            index,
            total,
            revision: id.clone(),
            description: description.clone(),
        });
        let fail = |phase: Phase, problem: Problem| RoundTripFailure {
            revision: id.clone(),
            path: rev.path.clone(),
            description: description.clone(),
            phase,
            problem,
        };
        let upgrade = Operation::Upgrade { target: id.clone() };
        // The revision's own branch, back to its (first) parent: nothing else moves.
        let downgrade = Operation::Downgrade {
            target: format!(
                "{id}@{}",
                rev.down_revision.first().map_or("base", String::as_str)
            ),
        };
        let steps = [
            (Phase::Upgrade, &upgrade),
            (Phase::Downgrade, &downgrade),
            (Phase::Reupgrade, &upgrade),
        ];
        let mut after_upgrade: Option<State> = None;
        for (phase, operation) in steps {
            match migrate_scratch(project, map, scratch, operation, options, &sink).await {
                Ok(_) => {}
                Err(ScratchError::Build { mut failure, .. }) => {
                    // The runner's advice is about re-running on the database itself; here
                    // the database is a scratch one and the revision is what needs fixing.
                    failure.advice.clear();
                    report.outcome = Outcome::Failed;
                    report.failure = Some(fail(phase, Problem::StepFailed { failure: *failure }));
                    return Ok(());
                }
                Err(ScratchError::Cancelled { .. }) => {
                    report.outcome = Outcome::Cancelled;
                    return Ok(());
                }
                Err(other) => return Err(other),
            }
            let state = read_state(scratch, &table, options).await?;
            let problem = match phase {
                Phase::Upgrade => None,
                Phase::Downgrade => {
                    let diff = schema::diff(&before.schema, &state.schema);
                    if !diff.is_empty() {
                        Some(Problem::SchemaNotRestored { diff })
                    } else if state.rows != before.rows {
                        Some(Problem::VersionRowsNotRestored {
                            expected: before.rows.clone(),
                            found: state.rows.clone(),
                        })
                    } else {
                        None
                    }
                }
                Phase::Reupgrade => {
                    let first = &after_upgrade.as_ref().expect("upgraded first").schema;
                    let diff = schema::diff(first, &state.schema);
                    (!diff.is_empty()).then_some(Problem::ReupgradeDiffers { diff })
                }
            };
            if let Some(problem) = problem {
                report.outcome = Outcome::Failed;
                report.failure = Some(fail(phase, problem));
                return Ok(());
            }
            match phase {
                Phase::Upgrade => after_upgrade = Some(state),
                Phase::Downgrade => {}
                Phase::Reupgrade => before = state,
            }
        }
        report.passed.push(id.clone());
        progress(RoundTripEvent::Passed {
            index,
            revision: id,
        });
    }
    Ok(())
}
