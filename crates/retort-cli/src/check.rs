//! `retort check-connection`: one line per check (`✓` fine, `!` worth a look, `✗` failed,
//! `–` not applicable), or with `--json` the core's `ConnectionReport`. Exits 0 when the
//! connection works, even if the database is behind; 255 when it does not.

use crate::{Cli, FAILURE};
use retort_core::database::VersionTable;
use retort_core::database::check::{
    ConnectionReport, TlsState, VersionStatus, check_connection, check_connection_without_project,
};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

pub fn main(cli: &Cli) -> ExitCode {
    main_for(cli, cli.connection.as_deref())
}

/// The check against `connection` (a saved profile) instead of `--connection`.
pub fn main_for(cli: &Cli, connection: Option<&str>) -> ExitCode {
    match run(cli, connection) {
        Ok(code) => code,
        Err(message) => crate::fail(cli, &message),
    }
}

fn run(cli: &Cli, connection: Option<&str>) -> Result<ExitCode, String> {
    let timeout = Duration::from_secs(cli.connect_timeout);
    let mut report = match crate::connections::project_for_test(cli, connection)? {
        Some((project, map)) => {
            let url = crate::database_url(cli, connection, &project)?;
            crate::runtime()?.block_on(check_connection(
                &url,
                &VersionTable::of(&project),
                &map,
                timeout,
            ))
        }
        // A saved connection tested where no project is, and bound to none.
        None => {
            let name = connection.ok_or("a connection to test")?;
            let (_, url) = crate::connections::resolve_profile(name)?;
            crate::runtime()?.block_on(check_connection_without_project(&url, timeout))
        }
    };
    if connection.is_some() {
        report.ssh = crate::connections::ssh_report();
    }
    let output = if cli.json {
        crate::json(&report)?
    } else {
        render(&report)
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(output.as_bytes())
        .and_then(|_| stdout.flush());
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILURE)
    })
}

const OK: &str = "✓";
const WARN: &str = "!";
const FAIL: &str = "✗";
const NONE: &str = "–";

fn line(out: &mut String, mark: &str, label: &str, text: &str) {
    out.push_str(&format!("{mark} {label:<16} {text}\n"));
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// The target is this machine: plain text there is no cause for concern.
fn local(target: &str) -> bool {
    let host = target
        .rsplit_once(':')
        .map_or(target, |(h, _)| h)
        .trim_matches(|c| c == '[' || c == ']');
    host == "localhost" || host.starts_with("127.") || host == "::1" || host.starts_with('/')
}

/// The SSH route's lines of a report: the tunnel, its host key, each hop's login.
pub fn render_ssh(out: &mut String, ssh: &retort_core::tunnel::SshReport) {
    let key = ssh
        .host_key
        .as_deref()
        .map_or_else(String::new, |k| format!(", host key {k}"));
    line(
        out,
        OK,
        "ssh",
        &format!("{} up in {}{key}", ssh.route, ms(ssh.setup_ms as f64)),
    );
    for hop in &ssh.authenticated {
        line(out, OK, "ssh login", hop);
    }
}

/// The report as people read it.
pub fn render(r: &ConnectionReport) -> String {
    let mut out = format!(
        "Checking {} (timeout {} s)\n",
        r.url,
        r.timeout_ms as f64 / 1000.0
    );
    let sqlite = r.tls == TlsState::NotApplicable;
    if let Some(ssh) = &r.ssh {
        render_ssh(&mut out, ssh);
    }
    if r.reachable == Some(true) {
        let how = match r.connect_ms {
            Some(t) if sqlite => format!("{}, opened in {}", r.target, ms(t)),
            Some(t) => format!("{}, connected in {}", r.target, ms(t)),
            None => r.target.clone(),
        };
        line(&mut out, OK, "reachable", &how);
    }
    match r.authenticated {
        Some(true) => line(
            &mut out,
            OK,
            "authenticated",
            &match &r.user {
                Some(u) => format!("as {u}"),
                None => "yes".into(),
            },
        ),
        None if sqlite && r.ok => line(&mut out, NONE, "authentication", "not applicable (SQLite)"),
        _ => {}
    }
    if let Some(f) = &r.failure {
        let code = f
            .code
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{FAIL} {}: {}{code} — {}\n",
            f.kind.label(),
            f.message,
            f.advice
        ));
        return out;
    }
    if let Some(latency) = r.latency_ms {
        line(
            &mut out,
            OK,
            "latency",
            &format!("{} round trip (best of 3)", ms(latency)),
        );
    }
    if let Some(product) = &r.server_product {
        let mut text = format!("{product} {}", r.server_version.as_deref().unwrap_or("?"));
        if let Some(d) = &r.server_description
            && !sqlite
            && product == "PostgreSQL"
        {
            // `PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu, compiled by …`:
            // the distribution is worth showing, the compiler is not.
            if let Some(build) = d.split(" on ").next().and_then(|s| s.split_once(" (")) {
                text.push_str(&format!(" ({}", build.1));
            }
        } else if let Some(d) = &r.server_description
            && product != "SQLite"
            && r.server_version.as_deref().is_none_or(|v| d != v)
        {
            text.push_str(&format!(" ({d})"));
        }
        line(&mut out, OK, "server", &text);
    }
    match r.tls {
        TlsState::On => {
            let detail = [r.tls_version.as_deref(), r.tls_cipher.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            let text = if detail.is_empty() {
                "in use".to_string()
            } else {
                format!("in use ({detail})")
            };
            line(&mut out, OK, "TLS", &text);
        }
        TlsState::Off if local(&r.target) => {
            line(&mut out, NONE, "TLS", "not in use (a local connection)")
        }
        TlsState::Off => line(
            &mut out,
            WARN,
            "TLS",
            "not in use: the password and data cross the network in plain text",
        ),
        TlsState::NotApplicable => line(&mut out, NONE, "TLS", "not applicable (SQLite)"),
        TlsState::Unknown => {}
    }
    match (&r.database, r.database_exists) {
        (Some(db), Some(true)) => line(&mut out, OK, "database", &format!("{db} exists")),
        (Some(db), Some(false)) => line(&mut out, FAIL, "database", &format!("{db} is missing")),
        (None, _) if !sqlite => line(&mut out, WARN, "database", "none named in the URL"),
        _ => {}
    }
    if let Some(v) = &r.version_table {
        let mark = match v.status {
            VersionStatus::UpToDate => OK,
            VersionStatus::NoTable => NONE,
            _ => WARN,
        };
        let mut text = format!("{}: {}", v.table, v.detail);
        if v.status == VersionStatus::Behind && !v.pending.is_empty() && v.pending.len() <= 5 {
            text.push_str(&format!("; pending {}", v.pending.join(", ")));
        }
        line(&mut out, mark, "version table", &text);
    }
    match (r.can_create_tables, &r.create_tables_detail) {
        (Some(true), Some(d)) => line(&mut out, OK, "create tables", d),
        (Some(false), Some(d)) => line(&mut out, WARN, "create tables", d),
        (None, Some(d)) => line(&mut out, WARN, "create tables", &format!("unknown: {d}")),
        _ => {}
    }
    match (r.lock_free, &r.lock_holder) {
        (Some(true), _) => line(&mut out, OK, "migration lock", "free"),
        (Some(false), Some(holder)) => line(
            &mut out,
            WARN,
            "migration lock",
            &format!("held by {holder}"),
        ),
        (Some(false), None) => line(&mut out, WARN, "migration lock", "held"),
        _ => {}
    }
    match &r.dump_tool {
        Some(d) => {
            let mark = match (d.found, d.compatible) {
                (true, Some(false)) | (false, _) => WARN,
                _ => OK,
            };
            line(&mut out, mark, &d.name, &d.detail);
        }
        None if sqlite => line(
            &mut out,
            NONE,
            "dump tool",
            "not needed (Retort copies SQLite files itself)",
        ),
        None => {}
    }
    for w in &r.warnings {
        line(&mut out, WARN, "warning", w);
    }
    out
}
