//! Moving a database between revisions: plans from the database's real rows, the run itself
//! (under a lock, with progress events and cancellation), stamps, and offline `--sql` scripts.
//!
//! Native SQL revisions are executed here; Alembic (Python) revisions through the project's
//! own alembic ([`alembic`]). Both report through the same [`ProgressEvent`]s and [`RunReport`].

pub mod alembic;
pub mod offline;
pub mod plan;
pub mod round_trip;
pub mod statements;
pub mod verify;

mod native;

pub use plan::{Plan, Step, StepKind, StepSql};

use crate::database::{
    Database, DatabaseError, DatabaseUrl, LockHolder, MigrationLock, VersionTable,
};
use crate::graph::RevisionMap;
use crate::graph::commands::CommandError;
use crate::project::{Project, ProjectKind};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What a run is asked to do, with the targets as the user wrote them.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Operation {
    Upgrade { target: String },
    Downgrade { target: String },
    Stamp { targets: Vec<String>, purge: bool },
}

impl Operation {
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Upgrade { .. } => "upgrade",
            Operation::Downgrade { .. } => "downgrade",
            Operation::Stamp { .. } => "stamp",
        }
    }

    /// The command that runs this operation again, for advice after a failure.
    pub fn command_line(&self) -> String {
        match self {
            Operation::Upgrade { target } => format!("retort upgrade {target}"),
            Operation::Downgrade { target } => format!("retort downgrade {target}"),
            Operation::Stamp { targets, .. } => format!("retort stamp {}", targets.join(" ")),
        }
    }
}

/// The ways out when part of a failed revision has committed (`why` says why it could).
fn partial_failure_advice(why: &str, operation: &Operation, revision: Option<&str>) -> Vec<String> {
    let mut advice = vec![format!(
        "{why}: either undo the committed statements by hand, fix the revision and run `{}` again;",
        operation.command_line()
    )];
    if let Some(rev) = revision {
        advice.push(format!(
            "or finish the revision by hand and record it with `retort stamp {rev}`;"
        ));
    }
    advice.push("or restore the backup taken before this run.".to_string());
    advice
}

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// A revision that cannot be run as asked, named by file and line.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Revision {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// The project's Python or alembic could not be used.
    #[error("{0}")]
    Alembic(String),
}

/// Stops a run between steps: the running step finishes (or rolls back) first.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How long to wait for another run's lock before failing.
    pub lock_timeout: Duration,
    pub connect_timeout: Duration,
    pub cancel: CancelToken,
    /// Alembic projects: the Python to run alembic with (else `.venv`, `venv`, `python3`).
    pub python: Option<PathBuf>,
    /// Alembic projects: `--sql`, alembic's offline mode; the script goes to the sink as output.
    pub offline: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            cancel: CancelToken::default(),
            python: None,
            offline: false,
        }
    }
}

/// Progress of a run, as the CLI prints it and the UI shows it.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// Another run holds the lock; this one waits up to the lock timeout.
    LockWaiting { holder: Option<LockHolder> },
    /// The lock is held and the plan is known.
    Planned {
        #[cfg_attr(feature = "specta", specta(type = f64))]
        total: usize,
        creates_version_table: bool,
    },
    StepStarted {
        #[cfg_attr(feature = "specta", specta(type = f64))]
        index: usize,
        #[cfg_attr(feature = "specta", specta(type = f64))]
        total: usize,
        description: String,
    },
    /// The step about to start runs its statements outside a transaction
    /// (`transaction:false`, or MySQL/MariaDB, whose DDL commits as it goes).
    OutsideTransaction {
        #[cfg_attr(feature = "specta", specta(type = f64))]
        index: usize,
        reason: String,
    },
    StepFinished {
        #[cfg_attr(feature = "specta", specta(type = f64))]
        index: usize,
        #[cfg_attr(feature = "specta", specta(type = f64))]
        total: usize,
        description: String,
        #[cfg_attr(feature = "specta", specta(type = f64))]
        duration_ms: u64,
    },
    StepFailed {
        #[cfg_attr(feature = "specta", specta(type = f64))]
        index: usize,
        #[cfg_attr(feature = "specta", specta(type = f64))]
        total: usize,
        description: String,
        #[cfg_attr(feature = "specta", specta(type = f64))]
        duration_ms: u64,
        error: String,
    },
    /// A line alembic (or env.py) printed, or a warning alembic would print. `stderr`: it
    /// belongs on standard error, as alembic's log lines and warnings do (so that `--sql`'s
    /// standard output is the script alone).
    Output { line: String, stderr: bool },
}

/// Where progress goes: the CLI's printer, a Tauri event, a server-sent event.
pub type ProgressSink<'a> = &'a (dyn Fn(ProgressEvent) + Send + Sync);

/// What a [`RunObserver`] returns: the run waits for it before it goes on.
pub type Observed<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// Told of a run's plan, and of each step once it has committed, and awaited before the run
/// goes on: how the journal is written as the run goes, so that a kill loses at most the step
/// in flight. (Unlike the [`ProgressSink`], it may do I/O.)
pub trait RunObserver: Send + Sync {
    /// The plan, once the lock is held, before the first step.
    fn planned<'a>(&'a self, steps: &'a [Step]) -> Observed<'a>;
    /// A step whose changes (statements and version rows) have committed, before the next
    /// step starts. Alembic runs do not call it: alembic decides when its transactions commit.
    fn committed<'a>(&'a self, step: &'a CompletedStep) -> Observed<'a>;
}

/// A run nobody observes.
struct Unobserved;

impl RunObserver for Unobserved {
    fn planned<'a>(&'a self, _: &'a [Step]) -> Observed<'a> {
        Box::pin(async {})
    }
    fn committed<'a>(&'a self, _: &'a CompletedStep) -> Observed<'a> {
        Box::pin(async {})
    }
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Completed,
    Failed,
    Cancelled,
}

/// What a run did, failed or not.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub operation: Operation,
    pub url: String,
    pub outcome: Outcome,
    pub heads_before: Vec<String>,
    pub heads_after: Vec<String>,
    pub created_version_table: bool,
    /// Steps that finished, in order.
    pub completed: Vec<CompletedStep>,
    /// Steps that were planned but did not run (after a failure or a cancel).
    pub not_run: Vec<String>,
    pub failure: Option<StepFailure>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct CompletedStep {
    pub description: String,
    /// The revision whose migration ran (`None` for a stamp).
    pub revision: Option<String>,
    /// Its file, for the journal's checksum.
    pub path: Option<PathBuf>,
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub duration_ms: u64,
}

/// `(line, statement)` pairs, as TypeScript sees them.
#[cfg(feature = "specta")]
type LinesAndStatements = Vec<(f64, String)>;

/// An honest account of a failed step: what ran, what was kept, what the version table says.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct StepFailure {
    pub description: String,
    pub revision: Option<String>,
    pub path: Option<PathBuf>,
    /// The failing statement's line in the revision file.
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub line: Option<usize>,
    pub statement: Option<String>,
    pub error: String,
    /// The step's changes were rolled back completely.
    pub rolled_back: bool,
    /// Statements of the failing step that had already committed (MySQL DDL, or a
    /// `transaction:false` section), with their lines.
    #[cfg_attr(feature = "specta", specta(type = LinesAndStatements))]
    pub committed_statements: Vec<(usize, String)>,
    /// The version table's rows after the failure.
    pub version_rows: Vec<String>,
    pub advice: Vec<String>,
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed", self.description)?;
        if let Some(path) = &self.path {
            write!(f, " at {}", path.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
        }
        writeln!(f, ": {}", self.error)?;
        if let Some(statement) = &self.statement {
            writeln!(f, "  statement: {statement}")?;
        }
        if self.rolled_back {
            writeln!(
                f,
                "  The revision was rolled back completely; nothing of it is left in the database."
            )?;
        }
        if !self.committed_statements.is_empty() {
            writeln!(
                f,
                "  These statements of the revision were committed before the failure and are NOT rolled back:"
            )?;
            for (line, s) in &self.committed_statements {
                writeln!(f, "    line {line}: {s}")?;
            }
        } else if !self.rolled_back {
            writeln!(f, "  No statement of the revision had committed.")?;
        }
        writeln!(
            f,
            "  The version table names: {}.",
            rows_text(&self.version_rows)
        )?;
        for a in &self.advice {
            writeln!(f, "  - {a}")?;
        }
        Ok(())
    }
}

/// The version table's rows for a report.
fn rows_text(rows: &[String]) -> String {
    if rows.is_empty() {
        "no revision (empty)".to_string()
    } else {
        rows.join(", ")
    }
}

/// A database held for a run: a connection of its own with Retort's migration lock taken. A
/// guarded run takes it before its backup, so that no other run migrates the database between
/// the backup and the run.
pub struct Held {
    db: Database,
    table: VersionTable,
    lock: MigrationLock,
}

impl Held {
    /// Opens the database and takes the migration lock, telling `sink` when it has to wait for
    /// another run (up to `options.lock_timeout`).
    pub async fn acquire(
        project: &Project,
        url: &DatabaseUrl,
        options: &RunOptions,
        sink: ProgressSink<'_>,
    ) -> Result<Self, ExecutionError> {
        let table = VersionTable::of(project);
        let mut db = Database::open(url, options.connect_timeout).await?;
        let lock = match db.try_migration_lock(&table).await? {
            Some(lock) => lock,
            None => {
                let holder = db.migration_lock_holder(&table).await.ok().flatten();
                sink(ProgressEvent::LockWaiting { holder });
                db.acquire_migration_lock(&table, options.lock_timeout)
                    .await?
            }
        };
        Ok(Self { db, table, lock })
    }

    /// `held` if the caller has it, else the database opened and locked here.
    async fn or_acquire(
        held: Option<Held>,
        project: &Project,
        url: &DatabaseUrl,
        options: &RunOptions,
        sink: ProgressSink<'_>,
    ) -> Result<Self, ExecutionError> {
        match held {
            Some(held) => Ok(held),
            None => Self::acquire(project, url, options, sink).await,
        }
    }

    /// Gives the lock back (it also goes when the connection closes, e.g. if this process dies).
    pub async fn release(mut self) -> Result<(), ExecutionError> {
        Ok(self.db.release_migration_lock(self.lock).await?)
    }

    /// Releases the lock after a run: the run's error first, else the release's.
    async fn release_after(
        self,
        run: Result<RunReport, ExecutionError>,
    ) -> Result<RunReport, ExecutionError> {
        let released = self.release().await;
        let report = run?;
        released?;
        Ok(report)
    }
}

/// The plan a run would follow now, from the database's real rows; changes nothing (the
/// version table is not created and no lock is taken).
pub async fn plan(
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    operation: &Operation,
    connect_timeout: Duration,
) -> Result<Plan, ExecutionError> {
    let mut db = Database::connect(url, connect_timeout).await?;
    let rows = db.version_heads(&VersionTable::of(project)).await?;
    plan::build(project, map, operation, rows.as_deref(), url.backend)
}

/// Runs `operation` against the database at `url`: takes the lock, plans from the real rows,
/// then runs step by step, reporting progress to `sink`.
pub async fn run(
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    operation: &Operation,
    options: &RunOptions,
    sink: ProgressSink<'_>,
) -> Result<RunReport, ExecutionError> {
    run_holding(None, project, map, url, operation, options, sink).await
}

/// [`run`] on a database already `held` (else it is opened and locked here); the lock is
/// released when the run ends.
pub async fn run_holding(
    held: Option<Held>,
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    operation: &Operation,
    options: &RunOptions,
    sink: ProgressSink<'_>,
) -> Result<RunReport, ExecutionError> {
    run_observed(
        held,
        project,
        map,
        url,
        operation,
        options,
        sink,
        &Unobserved,
    )
    .await
}

/// [`run_holding`], telling `observer` of the plan and of each committed step.
#[allow(clippy::too_many_arguments)]
pub async fn run_observed(
    held: Option<Held>,
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    operation: &Operation,
    options: &RunOptions,
    sink: ProgressSink<'_>,
    observer: &dyn RunObserver,
) -> Result<RunReport, ExecutionError> {
    let stamps_only = matches!(operation, Operation::Stamp { .. });
    // A SQLite file that is not there yet is created only by a run that really starts: what
    // the plan refuses (an unknown target, an ambiguous prefix, a refused statement) is
    // refused before the file is opened, as it would be once the file existed.
    let creates_file = url.sqlite_path.as_ref().is_some_and(|path| !path.exists());
    if held.is_none() && creates_file && !options.offline {
        plan::build(project, map, operation, None, url.backend)?;
    }
    if project.kind == ProjectKind::Alembic && !stamps_only {
        return alembic::run(held, project, map, url, operation, options, sink, observer).await;
    }
    native::run(held, project, map, url, operation, options, sink, observer).await
}
