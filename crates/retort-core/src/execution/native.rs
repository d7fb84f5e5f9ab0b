//! Running a plan of native SQL revisions (and stamps, for both kinds of project).
//!
//! PostgreSQL and SQLite: each revision's statements and its version-table change commit in one
//! transaction, so a kill or a failure leaves either all of a revision or none of it.
//! MySQL/MariaDB commit DDL as it runs, so statements run one by one and a failure reports
//! which of them had committed; the version-table change follows in its own transaction.

use super::plan::{self, Step};
use super::{
    CompletedStep, ExecutionError, Held, Operation, Outcome, ProgressEvent, ProgressSink,
    RunObserver, RunOptions, RunReport, StepFailure,
};
#[cfg(doc)]
use crate::database::SqliteBatches;
use crate::database::{Backend, Database, DatabaseUrl, VersionTable};
use crate::graph::RevisionMap;
use crate::project::Project;
use std::time::Instant;

#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    held: Option<Held>,
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    operation: &Operation,
    options: &RunOptions,
    sink: ProgressSink<'_>,
    observer: &dyn RunObserver,
) -> Result<RunReport, ExecutionError> {
    let mut held = Held::or_acquire(held, project, url, options, sink).await?;
    let result = run_locked(
        project,
        map,
        &mut held.db,
        &held.table,
        operation,
        options,
        sink,
        observer,
    )
    .await;
    held.release_after(result).await
}

#[allow(clippy::too_many_arguments)]
async fn run_locked(
    project: &Project,
    map: &RevisionMap,
    db: &mut Database,
    table: &VersionTable,
    operation: &Operation,
    options: &RunOptions,
    sink: ProgressSink<'_>,
    observer: &dyn RunObserver,
) -> Result<RunReport, ExecutionError> {
    let rows = db.version_heads(table).await?;
    let plan = plan::build(project, map, operation, rows.as_deref(), db.backend())?;
    observer.planned(&plan.steps).await;
    sink(ProgressEvent::Planned {
        total: plan.steps.len(),
        creates_version_table: plan.creates_version_table,
    });
    if plan.is_ambiguous_downgrade() {
        // What alembic's run prints (on stderr, through Python's warnings).
        sink(ProgressEvent::Output {
            line: format!("UserWarning: {}", crate::graph::AMBIGUOUS_DOWNGRADE),
            stderr: true,
        });
    }
    let created_version_table = if plan.creates_version_table || plan.purge {
        db.ensure_version_table(table).await?
    } else {
        false
    };
    if plan.purge {
        db.purge_version_rows(table).await?;
    }

    let mut progress = Progress {
        report: RunReport {
            operation: operation.clone(),
            url: db.url().redacted(),
            outcome: Outcome::Completed,
            heads_before: plan.current.clone(),
            heads_after: Vec::new(),
            created_version_table,
            completed: Vec::new(),
            not_run: Vec::new(),
            failure: None,
        },
        steps: &plan.steps,
        options,
        sink,
        observer,
        backend: db.backend(),
    };
    let mut index = 0;
    while index < plan.steps.len() {
        let begun;
        (index, begun) = run_sqlite_batches(db, table, index, &mut progress).await;
        let Some(step) = plan.steps.get(index) else {
            break;
        };
        let started = match begun {
            Some(started) => started,
            None if progress.begin(index) => Instant::now(),
            None => break,
        };
        // A step that began as a batch failed in it, and nothing of it committed: run again
        // statement by statement, it names the failing statement or version row.
        let result = if begun.is_some() {
            run_statements(db, table, step).await
        } else {
            run_step(db, table, step).await
        };
        match result {
            Ok(()) => progress.finished(index, started).await,
            Err(error) => {
                let version_rows = db
                    .version_heads(table)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                progress.failed(index, started, error, version_rows);
                break;
            }
        }
        index += 1;
    }
    let mut report = progress.report;
    report.heads_after = db.version_heads(table).await?.unwrap_or_default();
    Ok(report)
}

/// A run's report as it goes, and where its progress is told.
struct Progress<'a> {
    report: RunReport,
    steps: &'a [Step],
    options: &'a RunOptions,
    sink: ProgressSink<'a>,
    observer: &'a dyn RunObserver,
    backend: Backend,
}

impl Progress<'_> {
    /// Announces step `index`, or (cancelled) ends the run before it.
    fn begin(&mut self, index: usize) -> bool {
        let step = &self.steps[index];
        if self.options.cancel.is_cancelled() {
            self.report.outcome = Outcome::Cancelled;
            self.report.not_run = descriptions(&self.steps[index..]);
            return false;
        }
        let total = self.steps.len();
        (self.sink)(ProgressEvent::StepStarted {
            index,
            total,
            description: step.description.clone(),
        });
        if let Some(sql) = step.sql.as_ref().filter(|s| !s.statements.is_empty()) {
            let reason = if !sql.transactional {
                Some("its section is marked transaction:false")
            } else if self.backend == Backend::MySql {
                Some("MySQL/MariaDB commit DDL statement by statement")
            } else {
                None
            };
            if let Some(reason) = reason {
                (self.sink)(ProgressEvent::OutsideTransaction {
                    index,
                    reason: reason.to_string(),
                });
            }
        }
        true
    }

    /// Step `index` committed: the observer (the journal) first, then the progress.
    async fn finished(&mut self, index: usize, started: Instant) {
        let step = &self.steps[index];
        let duration_ms = started.elapsed().as_millis() as u64;
        let completed = CompletedStep {
            description: step.description.clone(),
            revision: step.revision.clone(),
            path: step.path.clone(),
            duration_ms,
        };
        self.observer.committed(&completed).await;
        (self.sink)(ProgressEvent::StepFinished {
            index,
            total: self.steps.len(),
            description: step.description.clone(),
            duration_ms,
        });
        self.report.completed.push(completed);
    }

    fn failed(&mut self, index: usize, started: Instant, error: StepError, rows: Vec<String>) {
        let step = &self.steps[index];
        let duration_ms = started.elapsed().as_millis() as u64;
        let operation = &self.report.operation;
        let failure = failure_report(step, error, rows, self.backend, operation);
        (self.sink)(ProgressEvent::StepFailed {
            index,
            total: self.steps.len(),
            description: step.description.clone(),
            duration_ms,
            error: failure.error.clone(),
        });
        self.report.outcome = Outcome::Failed;
        self.report.failure = Some(failure);
        self.report.not_run = descriptions(&self.steps[index + 1..]);
    }
}

/// SQLite: runs the steps from `index` on while each can be one batch, with the connection's
/// handle held from the first to the last of them (see [`SqliteBatches`]). Returns the index
/// of the first step not done, and when that step began if it began here (its batch failed
/// and was rolled back; it has yet to run statement by statement).
async fn run_sqlite_batches(
    db: &mut Database,
    table: &VersionTable,
    mut index: usize,
    progress: &mut Progress<'_>,
) -> (usize, Option<Instant>) {
    let batch_at = |index: usize| {
        progress
            .steps
            .get(index)
            .and_then(|s| sqlite_batch(table, s))
    };
    if progress.backend != Backend::Sqlite || batch_at(index).is_none() {
        return (index, None);
    }
    let Some(Ok(mut batches)) = db.sqlite_batches().await else {
        return (index, None);
    };
    while let Some(batch) = batch_at(index) {
        if !progress.begin(index) {
            return (index, None);
        }
        let started = Instant::now();
        if batches.run(&batch).is_err() {
            return (index, Some(started));
        }
        progress.finished(index, started).await;
        index += 1;
    }
    (index, None)
}

fn descriptions(steps: &[Step]) -> Vec<String> {
    steps.iter().map(|s| s.description.clone()).collect()
}

/// How a step went wrong, before it is turned into a [`StepFailure`].
struct StepError {
    line: Option<usize>,
    statement: Option<String>,
    error: String,
    rolled_back: bool,
    committed: Vec<(usize, String)>,
}

impl StepError {
    fn plain(error: impl ToString, rolled_back: bool) -> Self {
        Self {
            line: None,
            statement: None,
            error: error.to_string(),
            rolled_back,
            committed: Vec::new(),
        }
    }
}

/// A SQLite step as one batch: `BEGIN IMMEDIATE`, its statements, its version-row changes
/// (each checked to touch one row where it must) and `COMMIT`, one call into SQLite per
/// revision. Each statement is followed by its `;` at once, so that SQLite keeps the same text
/// in its schema as when it runs alone; a step whose statement ends in a `--` comment (which
/// would swallow the `;`), or that runs outside a transaction, has none.
fn sqlite_batch(table: &VersionTable, step: &Step) -> Option<String> {
    let statements = step.sql.as_ref().map_or(&[][..], |s| &s.statements[..]);
    let transactional = step.sql.as_ref().is_none_or(|s| s.transactional);
    let batchable = statements
        .iter()
        .all(|s| !s.sql.lines().last().unwrap_or_default().contains("--"));
    if !transactional || !batchable {
        return None;
    }
    let mut batch = String::from("BEGIN IMMEDIATE");
    for statement in statements {
        batch.push_str(";\n");
        batch.push_str(&statement.sql);
    }
    for change in &step.version_changes {
        batch.push_str(";\n");
        batch.push_str(&table.sqlite_checked_change_sql(change));
    }
    batch.push_str(";\nCOMMIT");
    Some(batch)
}

/// Runs one step: on SQLite as one batch where it can be; if the batch fails, nothing of it
/// committed (it was rolled back whole) and the step runs again statement by statement,
/// which names the failing statement and its line, or the version row that did not match.
async fn run_step(db: &mut Database, table: &VersionTable, step: &Step) -> Result<(), StepError> {
    if db.backend() == Backend::Sqlite
        && let Some(batch) = sqlite_batch(table, step)
        && db.execute_batch(&batch).await.is_ok()
    {
        return Ok(());
    }
    run_statements(db, table, step).await
}

/// Runs one step statement by statement.
async fn run_statements(
    db: &mut Database,
    table: &VersionTable,
    step: &Step,
) -> Result<(), StepError> {
    let statements = step.sql.as_ref().map_or(&[][..], |s| &s.statements[..]);
    let transactional =
        db.backend() != Backend::MySql && step.sql.as_ref().is_none_or(|s| s.transactional);
    if transactional {
        db.begin().await.map_err(|e| StepError::plain(e, true))?;
        for statement in statements {
            if let Err(failure) = db.execute(&statement.sql).await {
                let _ = db.rollback().await;
                return Err(StepError {
                    line: Some(
                        statement.line + failure_line_offset(&statement.sql, failure.position),
                    ),
                    statement: Some(statement.summary()),
                    error: failure.to_string(),
                    rolled_back: true,
                    committed: Vec::new(),
                });
            }
        }
        return finish_transaction(db, table, step).await;
    }

    let mut committed = Vec::new();
    for statement in statements {
        match db.execute(&statement.sql).await {
            Ok(_) => committed.push((statement.line, statement.summary())),
            Err(failure) => {
                return Err(StepError {
                    line: Some(
                        statement.line + failure_line_offset(&statement.sql, failure.position),
                    ),
                    statement: Some(statement.summary()),
                    error: failure.to_string(),
                    rolled_back: false,
                    committed,
                });
            }
        }
    }
    let version_error =
        |e: crate::database::DatabaseError, committed: Vec<(usize, String)>| StepError {
            line: None,
            statement: None,
            error: format!("all statements ran, but the version table could not be updated: {e}"),
            rolled_back: false,
            committed,
        };
    if let Err(e) = db.begin().await {
        return Err(version_error(e, committed));
    }
    for change in &step.version_changes {
        if let Err(e) = db.apply_row_change(table, change).await {
            let _ = db.rollback().await;
            return Err(version_error(e, committed));
        }
    }
    if let Err(e) = db.commit().await {
        let _ = db.rollback().await;
        return Err(version_error(e, committed));
    }
    Ok(())
}

/// The end of a transactional step whose statements ran: its version-row changes, then COMMIT.
async fn finish_transaction(
    db: &mut Database,
    table: &VersionTable,
    step: &Step,
) -> Result<(), StepError> {
    for change in &step.version_changes {
        if let Err(e) = db.apply_row_change(table, change).await {
            let _ = db.rollback().await;
            return Err(StepError::plain(e, true));
        }
    }
    if let Err(e) = db.commit().await {
        let _ = db.rollback().await;
        return Err(StepError::plain(e, true));
    }
    Ok(())
}

/// PostgreSQL tells the character where a statement failed; count the lines before it.
fn failure_line_offset(sql: &str, position: Option<usize>) -> usize {
    position.map_or(0, |p| {
        sql.chars()
            .take(p.saturating_sub(1))
            .filter(|c| *c == '\n')
            .count()
    })
}

fn failure_report(
    step: &Step,
    error: StepError,
    version_rows: Vec<String>,
    backend: Backend,
    operation: &Operation,
) -> StepFailure {
    let rerun = operation.command_line();
    let advice = if error.rolled_back {
        vec![format!(
            "Fix the revision and run `{rerun}` again; the revisions before it in this run stay applied."
        )]
    } else if error.committed.is_empty() {
        vec![format!(
            "Nothing of this revision was applied: fix it and run `{rerun}` again."
        )]
    } else {
        let why = if backend == Backend::MySql {
            "MySQL/MariaDB commits DDL statement by statement"
        } else {
            "this section runs outside a transaction (transaction:false)"
        };
        super::partial_failure_advice(why, operation, step.revision.as_deref())
    };
    StepFailure {
        description: step.description.clone(),
        revision: step.revision.clone(),
        path: step.path.clone(),
        line: error.line,
        statement: error.statement,
        error: error.error,
        rolled_back: error.rolled_back,
        committed_statements: error.committed,
        version_rows,
        advice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-batch SQLite step must not commit a step whose version row is not there: its
    /// guard stops the batch before `COMMIT`, and the step run again names the mismatch.
    #[tokio::test]
    async fn a_sqlite_step_whose_version_row_is_missing_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::parse("sqlite:///steps.db", dir.path()).unwrap();
        let mut db = Database::open(&url, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        let table = VersionTable {
            name: "alembic_version".into(),
            schema: None,
        };
        db.ensure_version_table(&table).await.unwrap();
        db.execute("INSERT INTO alembic_version (version_num) VALUES ('other')")
            .await
            .unwrap();
        let step = |from: &str| Step {
            kind: plan::StepKind::Upgrade,
            revision: Some("b".into()),
            from: vec![from.into()],
            to: vec!["b".into()],
            doc: String::new(),
            description: "upgrade -> b".into(),
            path: None,
            sql: Some(plan::StepSql {
                transactional: true,
                statements: crate::execution::statements::split(
                    "CREATE TABLE made_by_b (id INTEGER);\nINSERT INTO made_by_b VALUES (1);",
                    Backend::Sqlite,
                ),
            }),
            version_changes: vec![crate::database::version_rows::RowChange::Update {
                from: from.into(),
                to: "b".into(),
            }],
        };
        let failure = run_step(&mut db, &table, &step("a")).await.err().unwrap();
        assert!(failure.rolled_back);
        assert!(
            failure.error.contains("updating 'a' to 'b'"),
            "{}",
            failure.error
        );
        assert_eq!(db.version_heads(&table).await.unwrap().unwrap(), ["other"]);
        let made = db
            .execute("SELECT 1 FROM sqlite_master WHERE name = 'made_by_b'")
            .await
            .unwrap();
        assert_eq!(made, 0);
        assert!(db.execute("SELECT * FROM made_by_b").await.is_err());

        // With the row there, the same step commits in one batch.
        if let Err(e) = run_step(&mut db, &table, &step("other")).await {
            panic!("{}", e.error);
        }
        assert_eq!(db.version_heads(&table).await.unwrap().unwrap(), ["b"]);
        assert!(db.execute("SELECT * FROM made_by_b").await.is_ok());
    }

    #[test]
    fn postgres_positions_become_lines() {
        let sql = "INSERT INTO t\nVALUES (1,\n  oops)";
        assert_eq!(
            failure_line_offset(sql, Some(sql.find("oops").unwrap() + 1)),
            2
        );
        assert_eq!(failure_line_offset(sql, None), 0);
    }
}
