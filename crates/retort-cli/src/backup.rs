//! `retort backup`, `retort backups [list|delete|prune|reveal|verify]` and `retort restore`:
//! thin faces over `retort_core::backup` and the catalog in Retort's store.

use crate::{Cli, Command};
use indicatif::{ProgressBar, ProgressStyle};
use retort_core::backup::{
    self, BackupProgress, BackupRecord, BackupRequest, RestoreRequest, leftover_partials,
};
use retort_core::database::{Backend, DatabaseUrl, VersionTable};
use retort_core::execution::CancelToken;
use retort_core::guard;
use retort_core::journal::{ConnectionRef, Context};
use retort_core::project;
use retort_core::store::ConnectionProfile;
use retort_core::store::Store;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct BackupArgs {
    /// The folder the backup goes to (default: backups/ beside Retort's store, e.g.
    /// $RETORT_HOME/backups).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// After verifying, also restore the backup into a scratch database (dropped afterwards).
    #[arg(long)]
    verify_restore: bool,
    /// Afterwards keep only the newest N backups of this connection.
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
}

#[derive(clap::Subcommand)]
pub enum BackupsCommand {
    /// List the catalogued backups, newest first (with --connection, that connection's), and
    /// partial files left by interrupted backups.
    List {
        /// Also look for partial files in this folder (a backup's --dir).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Delete a backup: its catalog entry and its file.
    Delete { id: i64 },
    /// Keep the newest N backups of each connection (or of --connection's), delete the rest.
    Prune {
        #[arg(long, value_name = "N")]
        keep: usize,
    },
    /// Print the path of a backup's file.
    Reveal { id: i64 },
    /// Check a backup's file again: its SHA-256, then the format's own check.
    Verify { id: i64 },
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup's id (see `retort backups`).
    backup: i64,
    /// Restore into this saved connection (default: the one the backup came from; --url
    /// names any database).
    #[arg(long, value_name = "NAME")]
    to: Option<String>,
    /// Restore without asking (required where there is no terminal to ask on).
    #[arg(long)]
    yes: bool,
}

pub fn main(cli: &Cli) -> ExitCode {
    let result = match &cli.command {
        Command::Backup { args } => run_backup(cli, args),
        Command::Backups { command } => run_backups(cli, command.as_ref()),
        Command::Restore { args } => run_restore(cli, args),
        _ => unreachable!("only the backup commands come here"),
    };
    match result {
        Ok(code) => code,
        Err(message) => crate::fail(cli, &message),
    }
}

fn open_store(rt: &tokio::runtime::Runtime) -> Result<Store, String> {
    rt.block_on(Store::open_default())
        .map_err(|e| e.to_string())
}

/// The project's version table when a project is at hand (-c, or found in the current
/// directory); Alembic's default otherwise.
fn version_table(cli: &Cli) -> Result<VersionTable, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    match project::find_config(cli.config.as_deref(), &cwd) {
        Ok(config) => {
            let project = project::load_project(&config).map_err(|e| e.to_string())?;
            Ok(VersionTable::of(&project))
        }
        Err(e) if cli.config.is_some() => Err(e.to_string()),
        Err(_) => Ok(VersionTable {
            name: "alembic_version".into(),
            schema: None,
        }),
    }
}

/// `--connection NAME`, `--url URL`, else the project's database.
fn source(cli: &Cli) -> Result<(DatabaseUrl, Option<ConnectionProfile>), String> {
    match (&cli.connection, &cli.url) {
        (Some(_), Some(_)) => Err("give either --url or --connection, not both".into()),
        (Some(name), None) => {
            let (profile, url) = crate::connections::resolve_profile(name)?;
            Ok((url, Some(profile)))
        }
        (None, Some(url)) => Ok((parse_here(url)?, None)),
        (None, None) => {
            let (project, _) = crate::load(cli)?;
            Ok((crate::database_url(cli, None, &project)?, None))
        }
    }
}

fn parse_here(url: &str) -> Result<DatabaseUrl, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    DatabaseUrl::parse(url, &cwd).map_err(|e| e.to_string())
}

fn cancel_on_ctrl_c(cancel: CancelToken) -> impl Future<Output = ()> {
    async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn revisions_text(rows: &[String]) -> String {
    if rows.is_empty() {
        "no version rows".into()
    } else {
        rows.join(", ")
    }
}

/// A progress bar on a terminal's stderr; nothing otherwise.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(json: bool) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} {bytes}/{total_bytes} ({bytes_per_sec})",
                )
                .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self { bar }
    }

    fn event(&self, e: &BackupProgress) {
        let Some(bar) = &self.bar else { return };
        match e {
            BackupProgress::Started {
                tool,
                estimated_bytes,
                ..
            } => {
                bar.set_message(format!("{tool}:"));
                bar.set_length(estimated_bytes.unwrap_or(0));
            }
            BackupProgress::Copying {
                bytes_done,
                bytes_total,
                item,
                ..
            } => {
                if let Some(t) = bytes_total {
                    bar.set_length((*t).max(*bytes_done));
                }
                bar.set_position(*bytes_done);
                if let Some(item) = item {
                    bar.set_message(format!("{item}:"));
                }
            }
            BackupProgress::Verifying { what } => bar.set_message(format!("verifying ({what})")),
            BackupProgress::RestoreTesting { into } => {
                bar.set_message(format!("restore test into {into}"))
            }
            BackupProgress::Restoring { target } => {
                bar.set_message(format!("restoring into {target}"))
            }
            BackupProgress::Finished { .. } => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn run_backup(cli: &Cli, args: &BackupArgs) -> Result<ExitCode, String> {
    let (url, profile) = source(cli)?;
    let connection_name = profile.as_ref().map(|p| p.name.clone());
    let table = version_table(cli)?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => backup::default_backup_dir().map_err(|e| e.to_string())?,
    };
    let rt = crate::runtime()?;
    let store = open_store(&rt)?;
    let request = BackupRequest {
        dir,
        connection_name,
        version_table: table,
        verify_restore: args.verify_restore,
        connect_timeout: Duration::from_secs(cli.connect_timeout),
    };
    let cancel = CancelToken::default();
    let progress = Progress::new(cli.json);
    let connection = ConnectionRef::new(&url, profile.as_ref());
    let recorded = rt.block_on(async {
        tokio::spawn(cancel_on_ctrl_c(cancel.clone()));
        backup::take_recorded(
            &store,
            &Context::current(None),
            &connection,
            &url,
            &request,
            &mut |e| progress.event(&e),
            &cancel,
        )
        .await
    });
    progress.finish();
    let record = recorded
        .map_err(|e| e.to_string())?
        .result
        .map_err(|e| e.to_string())?;
    let id = record.id.unwrap_or_default();
    let pruned = match args.keep {
        Some(keep) => rt
            .block_on(store.apply_retention(Some(&record.connection), keep))
            .map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    rt.block_on(store.close());
    for warning in &record.warnings {
        eprintln!("warning: {warning}");
    }
    if cli.json {
        print!(
            "{}",
            crate::json(&serde_json::json!({ "backup": record, "deleted": pruned }))?
        );
    } else {
        println!(
            "Backed up {} ({}) to {}",
            record.url,
            revisions_text(&record.revisions),
            record.path.display()
        );
        println!(
            "  backup {id}: {}, {}, sha256 {}, {}{} in {:.1} s",
            bytes(record.size_bytes),
            record.tool,
            &record.sha256[..16],
            record.verification,
            if record.restore_tested {
                ", restore test passed"
            } else {
                ""
            },
            record.duration_ms as f64 / 1000.0
        );
        for r in &pruned {
            println!(
                "  deleted backup {} ({}), keeping the newest {}",
                r.id.unwrap_or_default(),
                r.created_at,
                args.keep.unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_backups(cli: &Cli, command: Option<&BackupsCommand>) -> Result<ExitCode, String> {
    let rt = crate::runtime()?;
    let store = open_store(&rt)?;
    let connection = cli.connection.as_deref();
    let list_default = BackupsCommand::List { dir: None };
    let out = match command.unwrap_or(&list_default) {
        BackupsCommand::List { dir } => {
            let list = rt
                .block_on(store.list_backups(connection))
                .map_err(|e| e.to_string())?;
            let mut dirs: Vec<PathBuf> = list
                .iter()
                .filter_map(|r| r.path.parent().map(Path::to_path_buf))
                .collect();
            if let Ok(d) = backup::default_backup_dir() {
                dirs.push(d);
            }
            dirs.extend(dir.iter().cloned());
            dirs.sort();
            dirs.dedup();
            let partials: Vec<_> = dirs.iter().flat_map(|d| leftover_partials(d)).collect();
            if cli.json {
                crate::json(&serde_json::json!({ "backups": list, "partial_files": partials }))?
            } else {
                render_list(&list, &partials)
            }
        }
        BackupsCommand::Delete { id } => {
            let r = rt
                .block_on(store.delete_backup(*id))
                .map_err(|e| e.to_string())?;
            if cli.json {
                crate::json(&r)?
            } else {
                format!("Deleted backup {id} ({})\n", r.path.display())
            }
        }
        BackupsCommand::Prune { keep } => {
            let deleted = rt
                .block_on(store.apply_retention(connection, *keep))
                .map_err(|e| e.to_string())?;
            if cli.json {
                crate::json(&deleted)?
            } else if deleted.is_empty() {
                format!("Nothing to delete: no connection has more than {keep} backups\n")
            } else {
                deleted
                    .iter()
                    .map(|r| {
                        format!(
                            "Deleted backup {} of {} ({})\n",
                            r.id.unwrap_or_default(),
                            r.connection,
                            r.created_at
                        )
                    })
                    .collect()
            }
        }
        BackupsCommand::Reveal { id } => {
            let r = rt.block_on(store.backup(*id)).map_err(|e| e.to_string())?;
            if !r.path.exists() {
                return Err(format!(
                    "backup {id}'s file {} is missing",
                    r.path.display()
                ));
            }
            format!("{}\n", r.path.display())
        }
        BackupsCommand::Verify { id } => {
            let r = rt.block_on(store.backup(*id)).map_err(|e| e.to_string())?;
            let how = rt
                .block_on(backup::verify_backup(&r))
                .map_err(|e| e.to_string())?;
            format!("Backup {id} is intact: SHA-256 matches, {how}\n")
        }
    };
    rt.block_on(store.close());
    print!("{out}");
    let _ = std::io::stdout().flush();
    Ok(ExitCode::SUCCESS)
}

fn render_list(list: &[BackupRecord], partials: &[backup::PartialFile]) -> String {
    let mut out = String::new();
    if list.is_empty() {
        out.push_str("No backups.\n");
    }
    for r in list {
        let missing = if r.path.exists() {
            ""
        } else {
            " [file missing]"
        };
        out.push_str(&format!(
            "{:>4}  {}  {}  {:>9}  {}  {}{missing}\n",
            r.id.unwrap_or_default(),
            r.created_at,
            r.connection,
            bytes(r.size_bytes),
            revisions_text(&r.revisions),
            r.path.display()
        ));
    }
    for p in partials {
        out.push_str(&format!(
            "partial file, not a backup ({}): {}\n",
            if p.in_progress {
                "a backup is writing it"
            } else {
                "left by an interrupted backup; the next backup removes it"
            },
            p.path.display()
        ));
    }
    out
}

/// Where a restore goes: `--to NAME`, `--url`, else where the backup came from.
fn target(
    cli: &Cli,
    args: &RestoreArgs,
    record: &BackupRecord,
) -> Result<(DatabaseUrl, Option<ConnectionProfile>), String> {
    if cli.connection.is_some() {
        return Err("restore takes the target as --to NAME (or --url URL)".into());
    }
    let saved = |name: &str| {
        crate::connections::resolve_profile(name).map(|(profile, url)| (url, Some(profile)))
    };
    match (&args.to, &cli.url) {
        (Some(_), Some(_)) => Err("give either --to or --url, not both".into()),
        (Some(name), None) => saved(name),
        (None, Some(url)) => parse_here(url).map(|u| (u, None)),
        (None, None) => {
            if let Some(name) = &record.connection_name {
                return saved(name);
            }
            match (record.backend, &record.database) {
                (Backend::Sqlite, Some(path)) => {
                    DatabaseUrl::parse(&format!("sqlite:///{path}"), Path::new("/"))
                        .map(|u| (u, None))
                        .map_err(|e| e.to_string())
                }
                _ if record.url.contains(":***@") => Err(format!(
                    "backup {} came from {}, whose password Retort did not keep: name the target with --to NAME or --url URL",
                    record.id.unwrap_or_default(),
                    record.url
                )),
                _ => parse_here(&record.url).map(|u| (u, None)),
            }
        }
    }
}

fn confirm(record: &BackupRecord, target: &DatabaseUrl) -> Result<(), String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "restoring replaces the contents of {}; there is no terminal to confirm on: pass --yes",
            target.redacted()
        ));
    }
    let name = guard::database_name(target);
    eprintln!(
        "Restoring backup {} ({}, {}, {}) replaces everything in {}.",
        record.id.unwrap_or_default(),
        record.created_at,
        record.connection,
        revisions_text(&record.revisions),
        target.redacted()
    );
    eprint!("Type the target database's name ({name}) to continue: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    guard::restore_confirmed(target, &line).map_err(|e| e.to_string())
}

fn run_restore(cli: &Cli, args: &RestoreArgs) -> Result<ExitCode, String> {
    let rt = crate::runtime()?;
    let store = open_store(&rt)?;
    let record = rt
        .block_on(store.backup(args.backup))
        .map_err(|e| e.to_string())?;
    let (target, profile) = target(cli, args, &record)?;
    if !args.yes {
        confirm(&record, &target)?;
    }
    let request = RestoreRequest {
        connect_timeout: Duration::from_secs(cli.connect_timeout),
    };
    let progress = Progress::new(cli.json);
    let recorded = rt.block_on(backup::restore_recorded(
        &store,
        &Context::current(None),
        &ConnectionRef::new(&target, profile.as_ref()),
        &record,
        &target,
        &request,
        &mut |e| progress.event(&e),
    ));
    progress.finish();
    rt.block_on(store.close());
    let report = recorded
        .map_err(|e| e.to_string())?
        .result
        .map_err(|e| e.to_string())?;
    if cli.json {
        print!("{}", crate::json(&report)?);
    } else {
        println!(
            "Restored and verified backup {} ({}) into {} in {:.1} s",
            args.backup,
            record.created_at,
            report.target,
            report.duration_ms as f64 / 1000.0
        );
        for t in &report.dropped_tables {
            println!("  dropped {t} (not in the backup)");
        }
        println!("Verified: {}", report.verification);
        println!("Version rows now: {}", revisions_text(&report.revisions));
    }
    Ok(ExitCode::SUCCESS)
}
