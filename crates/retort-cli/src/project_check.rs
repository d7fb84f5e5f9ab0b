//! `retort check`: the static project checks (one head, empty downgrades, naming
//! conventions). Exit 0 without errors (warnings and hints do not fail), 1 with errors,
//! 255 when the checks could not run.

use crate::{Cli, fail, json, load};
use retort_core::authoring::checks::{CheckOptions, CheckReport, Level, check_project};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Check revision names against the naming conventions, whatever the project says.
    #[arg(long, conflicts_with = "no_naming")]
    naming: bool,
    /// Do not check revision names, whatever the project says.
    #[arg(long)]
    no_naming: bool,
    /// Also upgrade, downgrade and upgrade again every revision in a scratch database on the
    /// server (or engine) of --url / --connection / the project's URL.
    #[arg(long)]
    round_trip: bool,
}

pub fn main(cli: &Cli, args: &CheckArgs) -> ExitCode {
    let options = CheckOptions {
        naming: if args.naming {
            Some(true)
        } else if args.no_naming {
            Some(false)
        } else {
            None
        },
    };
    let report = match load(cli) {
        Ok((project, map)) => {
            let mut report = check_project(&project, &map, &options);
            // With a database named, applied files that changed since Retort applied them.
            if cli.url.is_some() || cli.connection.is_some() {
                match applied_files(cli, &project, &map) {
                    Ok(findings) => report.findings.extend(findings),
                    Err(message) => return fail(cli, &message),
                }
            }
            if args.round_trip {
                match round_trip(cli, &project, &map) {
                    Ok(findings) => report.findings.extend(findings),
                    Err(message) => return fail(cli, &message),
                }
            }
            report
        }
        Err(message) => return fail(cli, &message),
    };
    let out = if cli.json {
        match json(&report) {
            Ok(s) => s,
            Err(e) => return fail(cli, &e),
        }
    } else {
        text(&report)
    };
    print!("{out}");
    if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn applied_files(
    cli: &Cli,
    project: &retort_core::project::Project,
    map: &retort_core::graph::RevisionMap,
) -> Result<Vec<retort_core::authoring::checks::Finding>, String> {
    let (url, profile) = crate::database_target(cli, cli.connection.as_deref(), project)?;
    let connection = retort_core::journal::ConnectionRef::new(&url, profile.as_ref());
    let timeout = std::time::Duration::from_secs(cli.connect_timeout);
    let rt = crate::runtime()?;
    let status = rt.block_on(async {
        let store = retort_core::store::Store::open_default()
            .await
            .map_err(|e| e.to_string())?;
        let status = retort_core::journal::status::connection_status(
            &store, project, map, &url, connection, timeout,
        )
        .await
        .map_err(|e| e.to_string());
        store.close().await;
        status
    })?;
    if let Some(error) = &status.error {
        return Err(format!(
            "cannot read {}: {error}",
            status.connection.label()
        ));
    }
    Ok(retort_core::authoring::checks::applied_file_findings(
        &status,
    ))
}

fn round_trip(
    cli: &Cli,
    project: &retort_core::project::Project,
    map: &retort_core::graph::RevisionMap,
) -> Result<Vec<retort_core::authoring::checks::Finding>, String> {
    use retort_core::execution::{RunOptions, round_trip};
    let url = crate::database_url(cli, cli.connection.as_deref(), project)?;
    let options = RunOptions {
        connect_timeout: std::time::Duration::from_secs(cli.connect_timeout),
        python: cli.python.clone(),
        ..RunOptions::default()
    };
    let rt = crate::runtime()?;
    let report = rt
        .block_on(round_trip::round_trip(
            project,
            map,
            &url,
            &options,
            &|_| {},
        ))
        .map_err(|e| url.scrub(&format!("the round trip could not run: {e}")))?;
    Ok(retort_core::authoring::checks::round_trip_findings(&report))
}

/// The report as text: one block per finding, then the counts.
pub fn text(report: &CheckReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let level = match f.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Hint => "hint",
        };
        let mut place = String::new();
        if let Some(rev) = &f.revision {
            place.push_str(rev);
            place.push(' ');
        }
        if let Some(path) = &f.path {
            place.push_str(&path.display().to_string());
            if let Some(line) = f.line {
                place.push_str(&format!(":{line}"));
            }
            place.push(' ');
        }
        out.push_str(&format!("{level}[{}]: {place}{}\n", f.check, f.message));
        if let Some(s) = &f.suggestion {
            out.push_str(&format!("  -> {s}\n"));
        }
    }
    out.push_str(&format!(
        "{} error(s), {} warning(s), {} hint(s){}\n",
        report.count(Level::Error),
        report.count(Level::Warning),
        report.count(Level::Hint),
        if report.naming_conventions {
            ""
        } else {
            " (naming conventions not checked; turn them on in the project or with --naming)"
        }
    ));
    out
}
