//! `retort log` (the audit journal) and `retort status` (where each database stands, and
//! which applied files changed since they were applied).

use crate::{Cli, load};
use retort_core::database::DatabaseUrl;
use retort_core::journal::status::{ConnectionStatus, connection_status};
use retort_core::journal::{ConnectionRef, EntryKind, EntryOutcome, JournalEntry, JournalFilter};
use retort_core::store::{ConnectionProfile, Store};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct LogArgs {
    /// Only this kind: upgrade, downgrade, stamp, merge, revision, backup, restore.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<EntryKind>,
    /// Only this outcome: ok, failed, cancelled, running.
    #[arg(long, value_parser = parse_outcome)]
    outcome: Option<EntryOutcome>,
    /// At most this many entries, newest first.
    #[arg(long, short = 'n', default_value_t = 50)]
    limit: u32,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// Every connection bound to this project (`retort connections add NAME --bind`).
    #[arg(long)]
    all: bool,
}

fn parse_kind(text: &str) -> Result<EntryKind, String> {
    EntryKind::parse(text).ok_or_else(|| {
        format!(
            "unknown kind '{text}': upgrade, downgrade, stamp, merge, revision, backup or restore"
        )
    })
}

fn parse_outcome(text: &str) -> Result<EntryOutcome, String> {
    EntryOutcome::parse(text)
        .ok_or_else(|| format!("unknown outcome '{text}': ok, failed, cancelled or running"))
}

pub fn log(cli: &Cli, args: &LogArgs) -> ExitCode {
    match read_log(cli, args) {
        Ok(out) => {
            crate::output::out!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => crate::fail(cli, &message),
    }
}

fn read_log(cli: &Cli, args: &LogArgs) -> Result<String, String> {
    let mut filter = JournalFilter {
        kind: args.kind,
        outcome: args.outcome,
        limit: Some(args.limit),
        ..Default::default()
    };
    let rt = crate::runtime()?;
    let store = rt
        .block_on(Store::open_default())
        .map_err(|e| e.to_string())?;
    if let Some(name) = &cli.connection {
        // A saved connection's database, however it was reached (by name or by URL); a
        // deleted profile is still found by its name.
        match rt.block_on(store.connection(name)) {
            Ok(profile) => {
                filter.location = Some(profile.to_url(None).map_err(|e| e.to_string())?.location())
            }
            Err(_) => filter.connection = Some(name.clone()),
        }
    } else if let Some(url) = &cli.url {
        let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        filter.location = Some(
            DatabaseUrl::parse(url, &cwd)
                .map_err(|e| e.to_string())?
                .location(),
        );
    }
    let entries = rt
        .block_on(store.journal(&filter))
        .map_err(|e| e.to_string())?;
    rt.block_on(store.close());
    if cli.json {
        return crate::json(&entries);
    }
    if entries.is_empty() {
        return Ok("The journal has no entries yet.\n".into());
    }
    Ok(entries
        .iter()
        .map(entry_text)
        .collect::<Vec<_>>()
        .join("\n"))
}

fn revisions(list: &[String]) -> String {
    if list.is_empty() {
        "base".into()
    } else {
        list.join(", ")
    }
}

fn entry_text(e: &JournalEntry) -> String {
    let outcome = match (e.outcome, e.interrupted) {
        (EntryOutcome::Running, true) => format!(
            "INTERRUPTED after {} committed step(s) (the process ended without a result)",
            e.steps.len()
        ),
        (EntryOutcome::Failed, _) => match e.failed_step {
            Some(n) => format!("FAILED at step {n}"),
            None => "FAILED".into(),
        },
        (o, _) => o.as_str().to_uppercase(),
    };
    let mut out = format!(
        "#{} {} {}{}  {outcome}\n",
        e.id,
        e.started_at,
        e.kind.as_str(),
        e.target
            .as_deref()
            .map(|t| format!(" {t}"))
            .unwrap_or_default()
    );
    if let Some(c) = &e.connection {
        let environment = c
            .environment
            .as_deref()
            .map(|env| format!(" [{env}]"))
            .unwrap_or_default();
        match &c.name {
            Some(name) => out.push_str(&format!("  on {name}{environment} ({})\n", c.url)),
            None => out.push_str(&format!("  on {}\n", c.url)),
        }
    }
    out.push_str(&format!("  by {}@{}", e.os_user, e.hostname));
    if let Some(dir) = &e.workspace_dir {
        out.push_str(&format!(" in {}", dir.display()));
    }
    out.push('\n');
    if matches!(
        e.kind,
        EntryKind::Upgrade | EntryKind::Downgrade | EntryKind::Stamp | EntryKind::Restore
    ) && (e.outcome == EntryOutcome::Ok || !e.steps.is_empty())
    {
        out.push_str(&format!(
            "  {} -> {}\n",
            revisions(&e.from_revisions),
            revisions(&e.to_revisions)
        ));
    }
    match e.backup_id {
        Some(id) => out.push_str(&format!("  backup: #{id}\n")),
        None if matches!(e.kind, EntryKind::Upgrade | EntryKind::Downgrade) => {
            out.push_str("  backup: none\n")
        }
        None => {}
    }
    if let Some(note) = &e.note {
        out.push_str(&format!("  note: {note}\n"));
    }
    for (i, s) in e.steps.iter().enumerate() {
        let sha = s
            .file_sha256
            .as_deref()
            .map(|h| format!("  sha256 {}", &h[..h.len().min(12)]))
            .unwrap_or_default();
        let mark = if s.ok { "" } else { "  FAILED" };
        out.push_str(&format!(
            "  {}. {}  {} ms{sha}{mark}\n",
            i + 1,
            s.description,
            s.duration_ms
        ));
    }
    if let Some(error) = &e.error {
        for (i, line) in error.lines().enumerate() {
            let label = if i == 0 { "  error: " } else { "         " };
            out.push_str(&format!("{label}{line}\n"));
        }
    }
    out
}

pub fn status(cli: &Cli, args: &StatusArgs) -> ExitCode {
    match read_status(cli, args) {
        Ok(out) => {
            crate::output::out!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => crate::fail(cli, &message),
    }
}

/// The databases to report on: `--connection NAME`; `--all` bound connections; else the
/// URL the project names (`--url`, its config, `$DATABASE_URL`), falling back to the bound
/// connections when it names none.
fn targets(
    cli: &Cli,
    args: &StatusArgs,
    project: &retort_core::project::Project,
) -> Result<Vec<(DatabaseUrl, Option<ConnectionProfile>)>, String> {
    if !args.all {
        match crate::database_target(cli, cli.connection.as_deref(), project) {
            Ok(target) => return Ok(vec![target]),
            Err(e) if cli.connection.is_some() || cli.url.is_some() => return Err(e),
            Err(_) => {}
        }
    }
    let dir = project
        .config_path
        .parent()
        .ok_or("the project has no folder")?
        .to_path_buf();
    let rt = crate::runtime()?;
    let store = rt
        .block_on(Store::open_default())
        .map_err(|e| e.to_string())?;
    let workspace = rt
        .block_on(store.workspace(&dir))
        .map_err(|e| e.to_string())?;
    rt.block_on(store.close());
    if workspace.connections.is_empty() {
        return Err(format!(
            "no connection is bound to {} and the project names no database: bind one with `retort connections add NAME ... --bind`, or give --url / --connection",
            dir.display()
        ));
    }
    // The keychain is read outside any async runtime (its stores block).
    workspace
        .connections
        .iter()
        .map(|name| {
            crate::connections::resolve_profile(name).map(|(profile, url)| (url, Some(profile)))
        })
        .collect()
}

fn read_status(cli: &Cli, args: &StatusArgs) -> Result<String, String> {
    if args.all && (cli.connection.is_some() || cli.url.is_some()) {
        return Err("give --all, or --connection / --url, not both".into());
    }
    let (project, map) = load(cli)?;
    let targets = targets(cli, args, &project)?;
    let timeout = Duration::from_secs(cli.connect_timeout);
    let rt = crate::runtime()?;
    let statuses = rt.block_on(async {
        let store = Store::open_default().await.map_err(|e| e.to_string())?;
        let mut statuses = Vec::new();
        for (url, profile) in &targets {
            let connection = ConnectionRef::new(url, profile.as_ref());
            statuses.push(
                connection_status(&store, &project, &map, url, connection, timeout)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        store.close().await;
        Ok::<_, String>(statuses)
    })?;
    if cli.json {
        return crate::json(&statuses);
    }
    let root = project.config_path.parent();
    Ok(statuses
        .iter()
        .map(|s| status_text(s, root))
        .collect::<Vec<_>>()
        .join("\n"))
}

fn status_text(s: &ConnectionStatus, root: Option<&std::path::Path>) -> String {
    let c = &s.connection;
    let mut out = match (&c.name, &c.environment) {
        (Some(name), Some(env)) => format!("{name} [{env}]  {}\n", c.url),
        (Some(name), None) => format!("{name}  {}\n", c.url),
        _ => format!("{}\n", c.url),
    };
    let Some(version) = &s.version else {
        out.push_str(&format!(
            "  unreachable: {}\n",
            s.error.as_deref().unwrap_or("unknown error")
        ));
        return out;
    };
    out.push_str(&format!("  {}\n", version.detail));
    if !version.rows.is_empty() {
        out.push_str(&format!("  current: {}\n", version.rows.join(", ")));
    }
    if !version.pending.is_empty() {
        out.push_str(&format!("  pending: {}\n", version.pending.join(", ")));
    }
    for changed in &s.changed {
        let shown = changed
            .path
            .as_deref()
            .map(|p| {
                root.and_then(|r| p.strip_prefix(r).ok())
                    .unwrap_or(p)
                    .display()
                    .to_string()
            })
            .unwrap_or_else(|| "(no file)".into());
        let what = if changed.sha256_now.is_some() {
            "changed since it was applied"
        } else {
            "is gone since it was applied"
        };
        out.push_str(&format!(
            "  CHANGED: {} ({shown}) {what} at {} (journal #{})\n",
            changed.revision, changed.applied.applied_at, changed.applied.entry_id
        ));
    }
    if !s.unrecorded.is_empty() {
        out.push_str(&format!(
            "  not applied through Retort (no checksum to compare): {}\n",
            s.unrecorded.join(", ")
        ));
    }
    out
}
