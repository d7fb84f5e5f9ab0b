//! Schema commands: `retort schema` (the database's tables as Retort reads them),
//! `retort stamp REV... --verify` (compare the live schema with the one the revisions build
//! before stamping), and `retort round-trip` (upgrade, downgrade, upgrade every revision in a
//! scratch database). The round trip is to become part of `retort check` later.

use crate::{Cli, FAILURE, load};
use retort_core::database::schema::{self, Schema};
use retort_core::database::{Database, DatabaseUrl, VersionTable};
use retort_core::execution::round_trip::{self, RoundTripEvent, RoundTripReport};
use retort_core::execution::verify::{self, StampVerification};
use retort_core::execution::{CancelToken, Outcome, RunOptions};
use retort_core::graph::RevisionMap;
use retort_core::project::Project;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Exit status after a cancel (as for SIGINT).
const CANCELLED: u8 = 130;

/// Prints to stdout; a closed pipe (`retort round-trip | head`) is not worth a panic.
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
}

/// `stamp`'s verification flags.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Before stamping, build the schema the target revisions imply in a scratch database of
    /// the same engine and compare it with the database's; stamp only if they match.
    #[arg(long, conflicts_with_all = ["sql", "plan"])]
    pub verify: bool,
    /// With --verify: stamp even though the schemas differ (the differences are still shown).
    #[arg(long, requires = "verify")]
    pub accept_mismatch: bool,
}

/// What `stamp --verify` decided.
pub enum Verdict {
    /// Stamp: the schemas match, or the user accepted the differences. The text says which,
    /// for the journal.
    Stamp(String),
    /// Do not stamp; exit with this status.
    Stop(ExitCode),
}

/// Runs the verification before a stamp and prints what it found. Called by `stamp` with the
/// run's runtime and options; writes nothing to the database.
#[allow(clippy::too_many_arguments)]
pub fn verify_stamp(
    cli: &Cli,
    args: &VerifyArgs,
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    targets: &[String],
    purge: bool,
    options: &RunOptions,
    runtime: &tokio::runtime::Runtime,
) -> Result<Verdict, String> {
    if !cli.json {
        eprintln!(
            "Verifying: building the schema of {} in a scratch database ...",
            targets.join(" ")
        );
    }
    let verification = runtime
        .block_on(verify::verify_stamp(
            project,
            map,
            url,
            targets,
            purge,
            options,
            &|_| {},
        ))
        .map_err(|e| format!("cannot verify the stamp: {e}"))?;
    let matches = verification.matches();
    if cli.json {
        out(&format!(
            "{}\n",
            serde_json::json!({ "verification": verification, "matches": matches })
        ));
    } else {
        out(&render_verification(&verification));
    }
    let accepted_by = args.accept_mismatch.then_some("with --accept-mismatch");
    if let Some(note) = verification.stamp_note(accepted_by) {
        if !matches && !cli.json {
            out(&format!(
                "Stamping anyway (--accept-mismatch): {} difference(s) accepted.\n",
                verification.diff.len()
            ));
        }
        return Ok(Verdict::Stamp(note));
    }
    Ok(Verdict::Stop(crate::fail(
        cli,
        &format!(
            "{}. Bring the database in line, or stamp anyway with --verify --accept-mismatch.",
            verification.refusal()
        ),
    )))
}

fn render_verification(v: &StampVerification) -> String {
    let mut out = String::new();
    let heads = if v.resulting_heads.is_empty() {
        "base (no revision)".to_string()
    } else {
        v.resulting_heads.join(", ")
    };
    if v.matches() {
        out.push_str(&format!(
            "The database's schema matches the schema of {heads} ({} table(s)).\n",
            v.implied.tables.len()
        ));
        return out;
    }
    out.push_str(&format!(
        "The database's schema differs from the schema of {heads} ({} difference(s); \"missing\" = the revisions create it, the database lacks it):\n",
        v.diff.len()
    ));
    for d in &v.diff.differences {
        out.push_str(&format!("  {d}\n"));
    }
    out
}

/// `retort round-trip`.
pub fn round_trip_main(cli: &Cli) -> ExitCode {
    match round_trip_run(cli) {
        Ok(code) => code,
        Err(message) => crate::fail(cli, &message),
    }
}

fn round_trip_run(cli: &Cli) -> Result<ExitCode, String> {
    let (project, map) = load(cli)?;
    let url = crate::database_url(cli, cli.connection.as_deref(), &project)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let cancel = CancelToken::default();
    let options = RunOptions {
        connect_timeout: Duration::from_secs(cli.connect_timeout),
        cancel: cancel.clone(),
        python: cli.python.clone(),
        ..RunOptions::default()
    };
    let json = cli.json;
    let printer = move |event: RoundTripEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&event) {
                out(&format!("{line}\n"));
            }
            return;
        }
        match event {
            RoundTripEvent::Started { scratch, total } => out(&format!(
                "Round trip of {total} revision(s) in the scratch database {scratch}\n"
            )),
            RoundTripEvent::Checking {
                index,
                total,
                description,
                ..
            } => out(&format!("[{}/{total}] {description}\n", index + 1)),
            RoundTripEvent::Passed { .. } | RoundTripEvent::Output { .. } => {}
        }
    };
    let report = runtime.block_on(async {
        tokio::spawn(cancel_on_ctrl_c(cancel));
        round_trip::round_trip(&project, &map, &url, &options, &printer).await
    });
    let report = report.map_err(|e| e.to_string())?;
    if json {
        out(&format!("{}\n", serde_json::json!({ "report": report })));
    } else {
        out(&render_round_trip(&report));
    }
    Ok(match report.outcome {
        Outcome::Completed => ExitCode::SUCCESS,
        Outcome::Cancelled => ExitCode::from(CANCELLED),
        Outcome::Failed => ExitCode::from(FAILURE),
    })
}

fn render_round_trip(r: &RoundTripReport) -> String {
    match (&r.outcome, &r.failure) {
        (Outcome::Completed, _) => format!(
            "Round trip passed: each of the {} revision(s) went up, down and up again, and the schema came back each time.\n",
            r.total
        ),
        (Outcome::Cancelled, _) => format!(
            "Cancelled after {} of {} revision(s).\n",
            r.passed.len(),
            r.total
        ),
        (Outcome::Failed, Some(f)) => {
            let mut text = format!("FAILED: {f}");
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(
                "  {} revision(s) before it passed.\n",
                r.passed.len()
            ));
            text
        }
        (Outcome::Failed, None) => "FAILED\n".to_string(),
    }
}

async fn cancel_on_ctrl_c(cancel: CancelToken) {
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("Cancelling: the running step finishes first (Ctrl-C again to abort it)");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(CANCELLED));
        }
    }
}

/// `retort schema`: the database's schema as the verified stamp and the round trip read it.
pub fn schema_main(cli: &Cli) -> ExitCode {
    match schema_run(cli) {
        Ok(text) => {
            out(&text);
            ExitCode::SUCCESS
        }
        Err(message) => crate::fail(cli, &message),
    }
}

fn schema_run(cli: &Cli) -> Result<String, String> {
    let (project, _) = load(cli)?;
    let url = crate::database_url(cli, cli.connection.as_deref(), &project)?;
    let timeout = Duration::from_secs(cli.connect_timeout);
    let schema = crate::runtime()?
        .block_on(async {
            let mut db = Database::connect(&url, timeout).await?;
            schema::introspect(&mut db, None, &VersionTable::of(&project)).await
        })
        .map_err(|e| e.to_string())?;
    if cli.json {
        crate::json(&schema)
    } else {
        Ok(render_schema(&schema))
    }
}

fn render_schema(s: &Schema) -> String {
    let mut out = String::new();
    if s.tables.is_empty() {
        out.push_str("(no tables)\n");
    }
    for t in &s.tables {
        out.push_str(&format!("table {}\n", t.name));
        for c in &t.columns {
            out.push_str(&format!(
                "  {} {}{}\n",
                c.name,
                c.data_type,
                if c.nullable { "" } else { " NOT NULL" }
            ));
        }
        if !t.primary_key.is_empty() {
            out.push_str(&format!("  primary key ({})\n", t.primary_key.join(", ")));
        }
        for i in &t.indexes {
            out.push_str(&format!("  {i}\n"));
        }
        for u in &t.unique_constraints {
            out.push_str(&format!("  {u}\n"));
        }
        for k in &t.foreign_keys {
            out.push_str(&format!("  {k}\n"));
        }
    }
    out
}
