//! `retort upgrade`, `downgrade` and `stamp`: online runs with a progress bar on a terminal,
//! `--plan` (what would run, from the database's real state) and `--sql` (offline script).

use crate::output::{err, errln, out, outln};
use crate::{Cli, Command, FAILURE, load};
use indicatif::{ProgressBar, ProgressStyle};
use retort_core::backup::BackupProgress;
use retort_core::database::{self, DatabaseUrl};
use retort_core::execution::{
    self, CancelToken, Operation, Outcome, Plan, ProgressEvent, RunOptions, RunReport, offline,
};
use retort_core::guard::{self, BackupChoice, Guarded};
use retort_core::journal::{ConnectionRef, Context};
use retort_core::project::{Project, ProjectKind};
use retort_core::store::Store;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Don't emit SQL to the database - dump to standard output instead (offline mode).
    #[arg(long)]
    sql: bool,
    /// Print the steps (and, for SQL projects, the SQL) this command would run from the
    /// database's current state, then stop without changing anything.
    #[arg(long, conflicts_with = "sql")]
    plan: bool,
    /// Seconds to wait for another run's migration lock before giving up.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    lock_timeout: u64,
    /// Take a verified backup before running (always done for a production connection).
    #[arg(long, conflicts_with = "no_backup")]
    backup: bool,
    /// Production connections: run without the backup, confirmed by naming the database
    /// (the choice is recorded in the journal).
    #[arg(long, value_name = "DATABASE")]
    no_backup: Option<String>,
    /// Where the backup goes (default: backups/ beside Retort's store).
    #[arg(long, value_name = "DIR")]
    backup_dir: Option<std::path::PathBuf>,
    /// Also restore the backup into a scratch database as a test before running.
    #[arg(long)]
    verify_restore: bool,
}

/// Exit status after a cancel (as for SIGINT).
const CANCELLED: u8 = 130;

pub fn main(cli: &Cli) -> ExitCode {
    let code = match run(cli) {
        Ok(code) => code,
        Err(message) => crate::fail(cli, &message),
    };
    // The exit status is the run's, whatever became of the output.
    crate::output::finish();
    code
}

fn operation(cli: &Cli) -> (Operation, &RunArgs) {
    match &cli.command {
        Command::Upgrade { revision, run } => (
            Operation::Upgrade {
                target: revision.clone(),
            },
            run,
        ),
        Command::Downgrade { revision, run } => (
            Operation::Downgrade {
                target: revision.clone(),
            },
            run,
        ),
        Command::Stamp {
            revisions,
            purge,
            run,
            ..
        } => (
            Operation::Stamp {
                targets: revisions.clone(),
                purge: *purge,
            },
            run,
        ),
        _ => unreachable!("only the migration commands come here"),
    }
}

fn run(cli: &Cli) -> Result<ExitCode, String> {
    let (project, map) = load(cli)?;
    let (operation, args) = operation(cli);
    let (url, profile) = crate::database_target(cli, cli.connection.as_deref(), &project)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let connect_timeout = Duration::from_secs(cli.connect_timeout);
    let alembic =
        project.kind == ProjectKind::Alembic && !matches!(operation, Operation::Stamp { .. });

    if args.sql && !alembic {
        let script =
            offline::script(&project, &map, &operation, url.backend).map_err(|e| e.to_string())?;
        out!("{script}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.plan {
        let plan = runtime
            .block_on(execution::plan(
                &project,
                &map,
                &url,
                &operation,
                connect_timeout,
            ))
            .map_err(|e| e.to_string())?;
        if cli.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?
            );
        } else {
            out!("{}", render_plan(&plan, &url, &project));
        }
        return Ok(ExitCode::SUCCESS);
    }

    let cancel = CancelToken::default();
    let options = RunOptions {
        lock_timeout: Duration::from_secs(args.lock_timeout),
        connect_timeout,
        cancel: cancel.clone(),
        python: cli.python.clone(),
        offline: args.sql,
    };
    // `stamp --verify`: compare the schemas first; a mismatch stops here unless accepted.
    let verified = match (&cli.command, &operation) {
        (Command::Stamp { verify, .. }, Operation::Stamp { targets, purge }) if verify.verify => {
            match crate::schema::verify_stamp(
                cli, verify, &project, &map, &url, targets, *purge, &options, &runtime,
            )? {
                crate::schema::Verdict::Stamp(note) => Some(note),
                crate::schema::Verdict::Stop(code) => return Ok(code),
            }
        }
        _ => None,
    };
    let printer = Printer::new(cli.json);
    if args.sql {
        // Alembic's offline mode changes no database: nothing to journal.
        let report = runtime.block_on(execution::run(
            &project,
            &map,
            &url,
            &operation,
            &options,
            &|e| printer.event(e),
        ));
        printer.finish();
        let report = report.map_err(|e| e.to_string())?;
        if report.outcome == Outcome::Completed {
            // stdout holds the SQL script and nothing else.
            return Ok(ExitCode::SUCCESS);
        }
        return Ok(print_report(&report, None, cli.json));
    }
    let connection = ConnectionRef::new(&url, profile.as_ref());
    let policy = guard::backup_policy(&connection, &url, &operation);
    let backup = if args.backup || (policy.required && args.no_backup.is_none()) {
        let dir = match &args.backup_dir {
            Some(dir) => dir.clone(),
            None => retort_core::backup::default_backup_dir().map_err(|e| e.to_string())?,
        };
        BackupChoice::Take {
            dir,
            verify_restore: args.verify_restore,
        }
    } else {
        BackupChoice::Skip {
            confirmed_database: args.no_backup.clone(),
        }
    };
    let json = cli.json;
    let guarded = runtime.block_on(async {
        let store = Store::open_default().await.map_err(|e| {
            format!("{e}\n(every run is recorded in Retort's journal; nothing was run)")
        })?;
        let guarded = Guarded {
            store: &store,
            context: Context::current(project.config_path.parent()),
            connection,
            backup,
            note: verified,
        };
        tokio::spawn(cancel_on_ctrl_c(cancel));
        let mut on_backup = |event: BackupProgress| backup_event(json, &event);
        let result = guard::guarded_run(
            guarded,
            &project,
            &map,
            &url,
            &operation,
            &options,
            &mut on_backup,
            &|e| printer.event(e),
        )
        .await;
        store.close().await;
        result.map_err(|e| e.to_string())
    });
    printer.finish();
    let guarded = guarded?;
    if let Some(backup) = &guarded.backup
        && !cli.json
    {
        errln!(
            "Backup #{} taken before the run: {} ({})",
            backup.id.unwrap_or_default(),
            backup.path.display(),
            backup.verification
        );
    }
    let recorded = guarded.run;
    if let Some(e) = &recorded.journal_error {
        errln!(
            "warning: the run is over but its journal entry #{} could not be completed: {e}",
            recorded.entry_id
        );
    }
    let report = recorded.result.map_err(|e| e.to_string())?;
    let code = print_report(&report, Some(recorded.entry_id), cli.json);
    if report.outcome == Outcome::Failed
        && !cli.json
        && let Some(id) = guarded.backup.as_ref().and_then(|b| b.id)
    {
        let target = match &profile {
            Some(p) => format!("--to {}", p.name),
            None => format!("--url '{}'", url.redacted()),
        };
        errln!(
            "  To put the database back as it was before this run: retort restore {id} {target}"
        );
    }
    Ok(code)
}

/// Backup progress before a run: a few lines on stderr, or JSON lines.
fn backup_event(json: bool, event: &BackupProgress) {
    if json {
        outln!("{}", serde_json::json!({ "backup_progress": event }));
        return;
    }
    match event {
        BackupProgress::Started { tool, path, .. } => {
            errln!("Backing up with {tool} to {}", path.display())
        }
        BackupProgress::Verifying { what } => errln!("Verifying the backup: {what}"),
        BackupProgress::RestoreTesting { into } => {
            errln!("Restoring the backup into {into} as a test")
        }
        _ => {}
    }
}

/// The first Ctrl-C lets the running step finish (or roll back) and stops; a second one
/// exits at once, leaving an open transaction to the database to roll back.
async fn cancel_on_ctrl_c(cancel: CancelToken) {
    if tokio::signal::ctrl_c().await.is_ok() {
        errln!("Cancelling: the running step finishes first (Ctrl-C again to abort it)");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(CANCELLED));
        }
    }
}

/// Prints progress: Alembic-style lines, with a bar on a terminal, or JSON lines.
struct Printer {
    json: bool,
    bar: Mutex<Option<ProgressBar>>,
    terminal: bool,
}

impl Printer {
    fn new(json: bool) -> Self {
        Self {
            json,
            bar: Mutex::new(None),
            terminal: !json && std::io::stderr().is_terminal(),
        }
    }

    /// A line of the run; `stderr` for alembic's log lines and warnings, where alembic
    /// writes them (the progress bar, on a terminal, is on stderr too).
    fn line(&self, text: &str, stderr: bool) {
        match self.bar.lock().unwrap().as_ref() {
            Some(bar) => bar.println(text),
            None if stderr => errln!("{text}"),
            None => outln!("{text}"),
        }
    }

    fn event(&self, event: ProgressEvent) {
        if self.json {
            if let Ok(line) = serde_json::to_string(&event) {
                outln!("{line}");
            }
            return;
        }
        match event {
            ProgressEvent::LockWaiting { holder } => {
                let who = holder.map_or_else(|| "another run".to_string(), |h| h.to_string());
                errln!("Waiting for the migration lock, held by {who}");
            }
            ProgressEvent::Planned { total, .. } => {
                if self.terminal && total > 0 {
                    let bar = ProgressBar::new(total as u64);
                    bar.set_style(
                        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    *self.bar.lock().unwrap() = Some(bar);
                }
            }
            ProgressEvent::StepStarted { description, .. } => {
                self.line(&format!("Running {description}"), false);
                if let Some(bar) = self.bar.lock().unwrap().as_ref() {
                    bar.set_message(description);
                }
            }
            ProgressEvent::StepFinished { .. } => {
                if let Some(bar) = self.bar.lock().unwrap().as_ref() {
                    bar.inc(1);
                }
            }
            ProgressEvent::OutsideTransaction { reason, .. } => {
                self.line(&format!("  (runs outside a transaction: {reason})"), false);
            }
            ProgressEvent::StepFailed { .. } => {}
            ProgressEvent::Output { line, stderr } => self.line(&line, stderr),
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap().take() {
            bar.finish_and_clear();
        }
    }
}

fn rows_text(rows: &[String]) -> String {
    if rows.is_empty() {
        "(empty)".to_string()
    } else {
        rows.join(", ")
    }
}

fn print_report(report: &RunReport, journal_entry: Option<i64>, json: bool) -> ExitCode {
    if json {
        outln!(
            "{}",
            serde_json::json!({ "report": report, "journal_entry": journal_entry })
        );
    } else {
        match report.outcome {
            Outcome::Completed => {
                let ms: u64 = report.completed.iter().map(|s| s.duration_ms).sum();
                if report.completed.is_empty() {
                    outln!(
                        "Nothing to do; the version table names {}.",
                        rows_text(&report.heads_after)
                    );
                } else {
                    outln!(
                        "Done: {} step(s) in {ms} ms; the version table names {}.",
                        report.completed.len(),
                        rows_text(&report.heads_after)
                    );
                }
            }
            Outcome::Cancelled => {
                errln!(
                    "Cancelled after {} step(s); {} not run. The version table names {}.",
                    report.completed.len(),
                    report.not_run.len(),
                    rows_text(&report.heads_after)
                );
            }
            Outcome::Failed => {
                if let Some(failure) = &report.failure {
                    err!("FAILED: {failure}");
                }
                if !report.completed.is_empty() {
                    errln!(
                        "  {} earlier step(s) of this run completed and stay applied.",
                        report.completed.len()
                    );
                }
                if !report.not_run.is_empty() {
                    errln!(
                        "  {} step(s) of the plan were not run.",
                        report.not_run.len()
                    );
                }
            }
        }
    }
    match report.outcome {
        Outcome::Completed => ExitCode::SUCCESS,
        Outcome::Cancelled => ExitCode::from(CANCELLED),
        Outcome::Failed => ExitCode::from(FAILURE),
    }
}

fn render_plan(plan: &Plan, url: &DatabaseUrl, project: &Project) -> String {
    let table = database::VersionTable::of(project);
    let mut out = String::new();
    let target = match &plan.operation {
        Operation::Upgrade { target } | Operation::Downgrade { target } => target.clone(),
        Operation::Stamp { targets, .. } => targets.join(" "),
    };
    out.push_str(&format!(
        "Plan: {} {target} on {url}\n",
        plan.operation.name()
    ));
    if plan.creates_version_table {
        out.push_str(&format!(
            "The database has no {} table yet; it will be created.\n",
            table.name
        ));
    } else {
        out.push_str(&format!(
            "Version table now: {}\n",
            rows_text(&plan.current)
        ));
    }
    if plan.purge {
        out.push_str("Every row of the version table is deleted first (--purge).\n");
    }
    if plan.is_ambiguous_downgrade() {
        out.push_str(&format!(
            "UserWarning: {}\nOnly {}'s branch steps down (the version table's first row, as alembic picks it).\n",
            retort_core::graph::AMBIGUOUS_DOWNGRADE,
            plan.current.first().map_or("?", String::as_str)
        ));
    }
    if plan.steps.is_empty() {
        out.push_str("Nothing to do.\n");
        return out;
    }
    let root = project.config_path.parent();
    for (i, step) in plan.steps.iter().enumerate() {
        out.push_str(&format!("\n{}. {}\n", i + 1, step.description));
        if let Some(path) = &step.path {
            let shown = root.and_then(|r| path.strip_prefix(r).ok()).unwrap_or(path);
            out.push_str(&format!("   file: {}\n", shown.display()));
        }
        if let Some(sql) = &step.sql {
            if !sql.transactional {
                out.push_str("   runs outside a transaction (transaction:false)\n");
            }
            for statement in &sql.statements {
                out.push_str(&format!("   line {}:\n", statement.line));
                for line in statement.sql.lines() {
                    out.push_str(&format!("     {line}\n"));
                }
            }
        } else if step.revision.is_some() {
            out.push_str("   (Python migration, run by the project's alembic)\n");
        }
        for change in &step.version_changes {
            out.push_str(&format!(
                "   version table: {}\n",
                table.change_sql(url.backend, change)
            ));
        }
    }
    out.push_str(&format!(
        "\nVersion table after: {}\n",
        rows_text(&plan.resulting_heads)
    ));
    out
}
