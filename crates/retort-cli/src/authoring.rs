//! `retort revision` and `retort merge [--explain]`: new revision files as alembic writes
//! them (through the project's own `script.py.mako`), or `.sql` files for native projects.

use crate::{Cli, fail, json, load};
use retort_core::authoring::merge::{explain_merge, explanation_text};
use retort_core::authoring::{self, NewRevision, RevisionRequest};
use retort_core::journal::{Context, EntryKind};
use retort_core::store::Store;
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
    let request = RevisionRequest {
        message: args.message.clone(),
        heads: args.head.iter().cloned().collect(),
        splice: args.splice,
        branch_labels: args.branch_label.iter().cloned().collect(),
        depends_on: args.depends_on.clone(),
        rev_id: args.rev_id.clone(),
        version_path: args.version_path.clone(),
        ..RevisionRequest::default()
    };
    write(cli, &request, EntryKind::Revision)
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
