//! `retort revision` and `retort merge [--explain]`: new revision files as alembic writes
//! them (through the project's own `script.py.mako`), or `.sql` files for native projects.

use crate::{Cli, fail, json, load};
use retort_core::authoring::autogenerate::{self, AutogenerateError, ProposedOperation};
use retort_core::authoring::merge::{explain_merge, explanation_text};
use retort_core::authoring::{self, NewRevision, RevisionRequest};
use retort_core::journal::{Context, EntryKind};
use retort_core::store::Store;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RevisionArgs {
    /// Message string to use with 'revision'.
    #[arg(short, long)]
    message: Option<String>,
    /// Specify head revision or <branchname>@head to base new revision on (`base` starts a
    /// new root).
    #[arg(long, allow_hyphen_values = true)]
    head: Option<String>,
    /// Allow a non-head revision as the 'head' to splice onto.
    #[arg(long)]
    splice: bool,
    /// Specify a branch label to apply to the new revision.
    #[arg(long)]
    branch_label: Option<String>,
    /// Specify one or more revision identifiers which this revision should depend on.
    #[arg(long, allow_hyphen_values = true)]
    depends_on: Vec<String>,
    /// Specify a hardcoded revision id instead of generating one.
    #[arg(long)]
    rev_id: Option<String>,
    /// Specify specific path from config for version file.
    #[arg(long)]
    version_path: Option<PathBuf>,
    /// Populate revision script with candidate migration operations, based on comparison of
    /// database to model (env.py's target_metadata), through the project's alembic; the
    /// operations are listed for review before anything is written.
    #[arg(long)]
    autogenerate: bool,
    /// With --autogenerate: list the operations and write nothing.
    #[arg(long, requires = "autogenerate", conflicts_with_all = ["yes", "skip"])]
    dry_run: bool,
    /// With --autogenerate: keep every operation (but those --skip names) without asking.
    #[arg(long, requires = "autogenerate")]
    yes: bool,
    /// With --autogenerate: leave out operation N, as the list numbers them (repeatable).
    #[arg(long, value_name = "N", requires = "autogenerate")]
    skip: Vec<usize>,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The revisions to merge (`heads` for every head), in the order the merge lists them.
    #[arg(required = true)]
    revisions: Vec<String>,
    /// Message string to use with 'merge'.
    #[arg(short, long)]
    message: Option<String>,
    /// Specify a branch label to apply to the new revision.
    #[arg(long)]
    branch_label: Option<String>,
    /// Specify a hardcoded revision id instead of generating one.
    #[arg(long)]
    rev_id: Option<String>,
    /// Allow the merge to create a new branch point even if the given revisions are not heads.
    #[arg(long)]
    splice: bool,
    /// Explain the merge (heads, common ancestor, revisions and tables on each branch,
    /// tables both branches touch, upgrade order once merged) and write nothing.
    #[arg(long)]
    explain: bool,
}

pub fn revision(cli: &Cli, args: &RevisionArgs) -> ExitCode {
    if args.autogenerate {
        return match autogenerate(cli, args) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(message) => fail(cli, &message),
        };
    }
    write(cli, &request_of(args), EntryKind::Revision)
}

/// `revision`'s arguments as the core takes them (an empty body).
fn request_of(args: &RevisionArgs) -> RevisionRequest {
    RevisionRequest {
        message: args.message.clone(),
        heads: args.head.iter().cloned().collect(),
        splice: args.splice,
        branch_labels: args.branch_label.iter().cloned().collect(),
        depends_on: args.depends_on.clone(),
        rev_id: args.rev_id.clone(),
        version_path: args.version_path.clone(),
        ..RevisionRequest::default()
    }
}

pub fn merge(cli: &Cli, args: &MergeArgs) -> ExitCode {
    if args.explain {
        let result = load(cli).and_then(|(project, map)| {
            let e = explain_merge(&project, &map, &args.revisions, args.rev_id.as_deref())
                .map_err(|e| e.to_string())?;
            if cli.json {
                json(&e)
            } else {
                Ok(explanation_text(&e))
            }
        });
        return match result {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(message) => fail(cli, &message),
        };
    }
    let request = RevisionRequest {
        message: args.message.clone(),
        heads: args.revisions.clone(),
        splice: args.splice,
        branch_labels: args.branch_label.iter().cloned().collect(),
        rev_id: args.rev_id.clone(),
        ..RevisionRequest::default()
    };
    write(cli, &request, EntryKind::Merge)
}

fn write(cli: &Cli, request: &RevisionRequest, kind: EntryKind) -> ExitCode {
    let result = (|| -> Result<NewRevision, String> {
        let (project, map) = load(cli)?;
        let cwd = std::env::current_dir()
            .map_err(|e| format!("cannot read the current directory: {e}"))?;
        let new =
            authoring::create_revision(&project, &map, request, &cwd).map_err(|e| e.to_string())?;
        if let Err(e) = record(&project.config_path, &new, kind) {
            eprintln!(
                "warning: the journal did not record this {}: {e}",
                kind.as_str()
            );
        }
        Ok(new)
    })();
    match result {
        Ok(new) => {
            for w in &new.warnings {
                eprintln!("warning: {w}");
            }
            if cli.json {
                match json(&new) {
                    Ok(out) => print!("{out}"),
                    Err(e) => return fail(cli, &e),
                }
            } else {
                // alembic's status lines.
                for dir in &new.created_folders {
                    println!("Creating directory {} ...  done", dir.display());
                }
                println!("Generating {} ...  done", new.path.display());
            }
            ExitCode::SUCCESS
        }
        Err(message) => fail(cli, &message),
    }
}

/// A journal entry for the new file (no database involved).
fn record(config: &std::path::Path, new: &NewRevision, kind: EntryKind) -> Result<(), String> {
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let store = Store::open_default().await.map_err(|e| e.to_string())?;
        let recorded =
            authoring::record_written(&store, &Context::current(config.parent()), new, kind).await;
        store.close().await;
        recorded.map(|_| ()).map_err(|e| e.to_string())
    })
}

/// `revision --autogenerate`: alembic's operations listed, chosen (`--dry-run`, `--yes`,
/// `--skip N`, or asked on the terminal), then the file written by alembic.
fn autogenerate(cli: &Cli, args: &RevisionArgs) -> Result<String, String> {
    let (project, map) = load(cli)?;
    let url = crate::database_url(cli, cli.connection.as_deref(), &project)?;
    if project.kind == retort_core::project::ProjectKind::Native {
        return native_autogenerate(cli, args, &project, &map, &url);
    }
    let revision_args = autogenerate::RevisionArgs {
        message: args.message.clone(),
        head: args.head.clone(),
        splice: args.splice,
        branch_label: args.branch_label.clone(),
        version_path: args.version_path.clone(),
        rev_id: args.rev_id.clone(),
        depends_on: args.depends_on.clone(),
    };
    let rt = crate::runtime()?;
    let python = cli.python.as_deref();
    let proposed = rt
        .block_on(autogenerate::propose(
            &project,
            &url,
            python,
            &revision_args,
        ))
        .map_err(explained)?;
    if let Some(&n) = args.skip.iter().find(|&&n| n == 0 || n > proposed.len()) {
        return Err(format!(
            "--skip {n}: the operations are numbered 1 to {}",
            proposed.len()
        ));
    }
    if args.dry_run {
        return if cli.json {
            crate::json(&proposed)
        } else {
            Ok(listing(&proposed, &url.redacted()))
        };
    }
    let mut skipped: Vec<usize> = args.skip.iter().map(|n| n - 1).collect();
    if !args.yes && args.skip.is_empty() {
        if cli.json || !std::io::stdin().is_terminal() {
            return Err("autogenerate lists the operations for review before writing: --dry-run lists them, --yes keeps them all, --skip N leaves operation N out".into());
        }
        eprint!("{}", listing(&proposed, &url.redacted()));
        match ask_which(proposed.len())? {
            Some(out) => skipped = out,
            None => return Ok("Nothing written.\n".into()),
        }
    }
    let keep: Vec<usize> = (0..proposed.len())
        .filter(|n| !skipped.contains(n))
        .collect();
    let written = rt
        .block_on(autogenerate::write(
            &project,
            &url,
            python,
            &revision_args,
            &proposed,
            &keep,
        ))
        .map_err(explained)?;
    let recorded = rt.block_on(async {
        let store = Store::open_default().await.map_err(|e| e.to_string())?;
        let context = Context::current(project.config_path.parent());
        let r = autogenerate::record(
            &store,
            &context,
            &written,
            proposed.len(),
            args.message.as_deref(),
        )
        .await;
        store.close().await;
        r.map_err(|e| e.to_string())
    });
    if let Err(e) = recorded {
        eprintln!("warning: the journal did not record this revision: {e}");
    }
    if cli.json {
        return crate::json(&written);
    }
    let mut out = format!("Generating {} ...  done\n", written.path.display());
    if !skipped.is_empty() {
        let mut left: Vec<String> = skipped.iter().map(|n| (n + 1).to_string()).collect();
        left.sort();
        out.push_str(&format!(
            "Kept {} of {} operations (left out: {}).\n",
            written.kept.len(),
            proposed.len(),
            left.join(", ")
        ));
    }
    Ok(out)
}

/// The error with what to do about it.
fn explained(e: AutogenerateError) -> String {
    match e.hint() {
        Some(hint) => format!("{e}\n  {hint}"),
        None => e.to_string(),
    }
}

/// The review list: numbered, with each operation's risks under it.
fn listing(ops: &[ProposedOperation], url: &str) -> String {
    if ops.is_empty() {
        return format!("No changes: the models match {url}.\n");
    }
    numbered(
        ops,
        &format!("Operations alembic would write (the models against {url}):"),
    )
}

fn numbered(ops: &[ProposedOperation], header: &str) -> String {
    let mut out = format!("{header}\n");
    for (i, op) in ops.iter().enumerate() {
        out.push_str(&format!("{:>4}. {}\n", i + 1, op.text));
        for risk in &op.risks {
            out.push_str(&format!("        ! {risk}\n"));
        }
    }
    out
}

/// Asks on the terminal which operations to leave out: `None` when the user cancels.
fn ask_which(count: usize) -> Result<Option<Vec<usize>>, String> {
    let stdin = std::io::stdin();
    loop {
        eprint!("Leave any out? Their numbers (e.g. 2 5), Enter keeps all, q writes nothing: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?
            == 0
        {
            return Ok(None);
        }
        let line = line.trim();
        if line.eq_ignore_ascii_case("q") {
            return Ok(None);
        }
        let numbers: Result<Vec<usize>, _> = line
            .split([' ', ','])
            .filter(|w| !w.is_empty())
            .map(str::parse::<usize>)
            .collect();
        match numbers {
            Ok(n) if n.iter().all(|&k| (1..=count).contains(&k)) => {
                return Ok(Some(n.into_iter().map(|k| k - 1).collect()));
            }
            _ => eprintln!("  numbers from 1 to {count}, please"),
        }
    }
}

/// `revision --autogenerate` in a native project: the revision that turns the heads' schema
/// into the database's, proven on a scratch database before it is shown or written.
fn native_autogenerate(
    cli: &Cli,
    args: &RevisionArgs,
    project: &retort_core::project::Project,
    map: &retort_core::graph::RevisionMap,
    url: &retort_core::database::DatabaseUrl,
) -> Result<String, String> {
    use retort_core::authoring::native_autogenerate;
    use retort_core::execution::RunOptions;
    if !args.skip.is_empty() {
        return Err("--skip is for Alembic projects: a native revision is proven whole (upgrade, then downgrade) on a scratch database".into());
    }
    let options = RunOptions {
        connect_timeout: std::time::Duration::from_secs(cli.connect_timeout),
        ..RunOptions::default()
    };
    let sink = |_event: retort_core::execution::ProgressEvent| {};
    let rt = crate::runtime()?;
    eprintln!(
        "Building the heads' schema in a scratch database like {} and comparing …",
        url.redacted()
    );
    let proposal = rt
        .block_on(native_autogenerate::propose(
            project, map, url, &options, &sink,
        ))
        .map_err(|e| e.to_string())?;
    let listed = {
        let mut text = numbered(
            &proposal.operations,
            &format!(
                "Operations that turn the heads' schema into the schema of {}:",
                url.redacted()
            ),
        );
        if !proposal.operations.is_empty() {
            text.push_str(&format!(
                "Proven on {}: the upgrade gives the database's schema, the downgrade the heads' again.\n\n-- migrate:up\n{}\n-- migrate:down\n{}",
                proposal.scratch, proposal.up_sql, proposal.down_sql
            ));
        } else {
            text = format!("No changes: {} has the heads' schema.\n", url.redacted());
        }
        text
    };
    if args.dry_run || proposal.operations.is_empty() {
        return Ok(listed);
    }
    if !args.yes {
        if cli.json || !std::io::stdin().is_terminal() {
            return Err("autogenerate lists the operations for review before writing: --dry-run lists them, --yes writes them".into());
        }
        eprint!("{listed}");
        eprint!("Write this revision? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if !line.trim().eq_ignore_ascii_case("y") {
            return Ok("Nothing written.\n".into());
        }
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let new = native_autogenerate::write(project, map, &proposal, request_of(args), &cwd)
        .map_err(|e| e.to_string())?;
    if let Err(e) = record(&project.config_path, &new, EntryKind::Revision) {
        eprintln!("warning: the journal did not record this revision: {e}");
    }
    if cli.json {
        return crate::json(&new);
    }
    Ok(format!("Generating {} ...  done\n", new.path.display()))
}
