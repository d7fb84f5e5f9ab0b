//! PostgreSQL: `pg_dump --format=custom`, progress from its `--verbose` lines; `pg_restore
//! --list` to verify; `pg_restore --clean --if-exists --exit-on-error --single-transaction` to
//! restore. The password goes in `PGPASSWORD`, the rest of the connection in `PG*` variables:
//! nothing of the connection is in argv but the database name for `pg_restore`.

use super::{BackupError, BackupProgress, Copied, io_error, tool_message};
use crate::database::check::DumpToolCheck;
use crate::database::{Database, DatabaseUrl};
use crate::execution::CancelToken;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The `PG*` environment for a URL (libpq reads these; `PGPASSWORD` keeps the password out
/// of argv and `ps`).
fn environment(cmd: &mut Command, url: &DatabaseUrl) {
    for var in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSERVICE",
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGPASSFILE",
    ] {
        cmd.env_remove(var);
    }
    if let Some(h) = &url.host {
        cmd.env("PGHOST", h);
    }
    if let Some(p) = url.port {
        cmd.env("PGPORT", p.to_string());
    }
    if let Some(u) = &url.user {
        cmd.env("PGUSER", u);
    }
    if let Some(p) = &url.password {
        cmd.env("PGPASSWORD", p.expose());
    }
    if let Some(d) = &url.database {
        cmd.env("PGDATABASE", d);
    }
    if let Some(m) = url.query_value("sslmode") {
        cmd.env("PGSSLMODE", m);
    }
    if let Some(ca) = url.query_value("sslrootcert") {
        cmd.env("PGSSLROOTCERT", ca);
    }
    cmd.env("PGAPPNAME", format!("retort (pid {})", std::process::id()));
    cmd.env("PGCONNECT_TIMEOUT", "10");
}

fn tool_path(tool: &DumpToolCheck) -> PathBuf {
    PathBuf::from(tool.path.clone().unwrap_or_else(|| tool.name.clone()))
}

pub(super) fn pg_restore_on_path() -> Result<PathBuf, BackupError> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("pg_restore"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            BackupError::ToolMissing(
                "pg_restore not found: install the PostgreSQL client (postgresql-client)".into(),
            )
        })
}

/// Tables whose rows pg_dump will dump: what `dumping contents of table` lines count up to.
async fn table_count(url: &DatabaseUrl) -> Option<u64> {
    let mut db = Database::connect(url, Duration::from_secs(10)).await.ok()?;
    let rows = db
        .query_column(
            "SELECT CAST(count(*) AS TEXT) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
        )
        .await
        .ok()?;
    rows.first()?.parse().ok()
}

pub(super) async fn dump(
    url: &DatabaseUrl,
    tool: &DumpToolCheck,
    file: &Path,
    estimate: Option<u64>,
    progress: &mut (dyn FnMut(BackupProgress) + Send),
    cancel: &CancelToken,
) -> Result<Copied, BackupError> {
    let tables = table_count(url).await;
    let mut cmd = Command::new(tool_path(tool));
    environment(&mut cmd, url);
    cmd.arg("--format=custom")
        .arg("--verbose")
        .arg("--no-password")
        .arg(format!("--file={}", file.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| BackupError::Tool {
        tool: tool.name.clone(),
        status: "not started".into(),
        message: e.to_string(),
    })?;
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut messages = String::new();
    let mut done = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut current: Option<String> = None;
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    if let Some(table) = dumped_table(&line) {
                        done += 1;
                        current = Some(table);
                    } else if !line.starts_with("pg_dump: ") || line.contains("error") || line.contains("warning") {
                        messages.push_str(&line);
                        messages.push('\n');
                    }
                }
                _ => break,
            },
            _ = tick.tick() => {
                if cancel.is_cancelled() {
                    let _ = child.kill().await;
                    return Err(BackupError::Cancelled);
                }
                progress(BackupProgress::Copying {
                    bytes_done: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
                    bytes_total: estimate,
                    items_done: done,
                    items_total: tables,
                    item: current.clone(),
                });
            }
        }
    }
    let status = child.wait().await.map_err(|e| io_error(file, e))?;
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    if !status.success() {
        return Err(BackupError::Tool {
            tool: tool.name.clone(),
            status: status.to_string(),
            message: tool_message(url, &messages),
        });
    }
    progress(BackupProgress::Copying {
        bytes_done: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
        bytes_total: estimate,
        items_done: done,
        items_total: tables.map(|t| t.max(done)),
        item: None,
    });
    Ok(Copied { sha256: None })
}

/// `pg_dump: dumping contents of table "public.t"` → `public.t`.
fn dumped_table(line: &str) -> Option<String> {
    let rest = line.split_once("dumping contents of table ")?.1;
    Some(rest.trim().trim_matches('"').to_string())
}

/// `pg_restore --list`: the archive's table of contents reads to the end.
pub(super) async fn verify(pg_restore: &Path, file: &Path) -> Result<String, BackupError> {
    let (entries, _) = list(pg_restore, file).await?;
    Ok(format!("pg_restore --list: {entries} entries"))
}

/// The archive's entries, and the tables in it (`schema.name`).
async fn list(
    pg_restore: &Path,
    file: &Path,
) -> Result<(usize, BTreeSet<(String, String)>), BackupError> {
    let check = "pg_restore --list";
    let out = Command::new(pg_restore)
        .arg("--list")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| BackupError::Verify {
            path: file.display().to_string(),
            check: check.into(),
            message: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(BackupError::Verify {
            path: file.display().to_string(),
            check: check.into(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let entries: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .collect();
    if entries.is_empty() && !text.contains("TOC Entries") {
        return Err(BackupError::Verify {
            path: file.display().to_string(),
            check: check.into(),
            message: "no table of contents".into(),
        });
    }
    let tables = entries.iter().filter_map(|l| toc_table(l)).collect();
    Ok((entries.len(), tables))
}

/// `215; 1259 16390 TABLE public t postgres` → (`public`, `t`).
fn toc_table(line: &str) -> Option<(String, String)> {
    let (_, rest) = line.split_once("; ")?;
    let rest = rest.splitn(3, ' ').nth(2)?;
    if rest.starts_with("TABLE DATA ") {
        return None;
    }
    let rest = ["TABLE ", "VIEW ", "MATERIALIZED VIEW "]
        .iter()
        .find_map(|kind| rest.strip_prefix(kind))?;
    let mut words = rest.split(' ');
    Some((words.next()?.to_string(), words.next()?.to_string()))
}

/// Restores the archive into `target`. With `drop_extra`, tables (and views) the target has
/// in the archive's schemas but the archive does not are dropped afterwards; returns them.
pub(super) async fn restore_into(
    target: &DatabaseUrl,
    pg_restore: &Path,
    file: &Path,
    drop_extra: bool,
) -> Result<Vec<String>, BackupError> {
    let (_, tables) = list(pg_restore, file).await?;
    let mut cmd = Command::new(pg_restore);
    environment(&mut cmd, target);
    cmd.arg("--clean")
        .arg("--if-exists")
        .arg("--exit-on-error")
        .arg("--single-transaction")
        .arg("--no-owner")
        .arg("--no-password");
    if let Some(db) = &target.database {
        cmd.arg(format!("--dbname={db}"));
    }
    let out = cmd
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| BackupError::Tool {
            tool: "pg_restore".into(),
            status: "not started".into(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(BackupError::Tool {
            tool: "pg_restore".into(),
            status: out.status.to_string(),
            message: tool_message(target, &String::from_utf8_lossy(&out.stderr)),
        });
    }
    if !drop_extra {
        return Ok(Vec::new());
    }
    let schemas: BTreeSet<&str> = tables.iter().map(|(s, _)| s.as_str()).collect();
    if schemas.is_empty() {
        return Ok(Vec::new());
    }
    let mut db = Database::connect(target, Duration::from_secs(30)).await?;
    let existing = db
        .query_column(
            "SELECT n.nspname || chr(9) || c.relname || chr(9) || c.relkind::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
        )
        .await?;
    let mut dropped = Vec::new();
    for row in existing {
        let mut parts = row.split('\t');
        let (Some(schema), Some(name), Some(kind)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !schemas.contains(schema) || tables.contains(&(schema.to_string(), name.to_string())) {
            continue;
        }
        let what = match kind {
            "v" => "VIEW",
            "m" => "MATERIALIZED VIEW",
            _ => "TABLE",
        };
        let qualified = format!("{}.{}", quote(schema), quote(name));
        db.execute(&format!("DROP {what} IF EXISTS {qualified} CASCADE"))
            .await
            .map_err(|f| BackupError::Tool {
                tool: "pg_restore".into(),
                status: "restored".into(),
                message: format!(
                    "the backup was restored, but {qualified} (created after the backup) could not be dropped: {f}"
                ),
            })?;
        dropped.push(format!("{schema}.{name}"));
    }
    Ok(dropped)
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_lines_name_tables() {
        assert_eq!(
            dumped_table(r#"pg_dump: dumping contents of table "public.big""#).as_deref(),
            Some("public.big")
        );
        assert_eq!(dumped_table("pg_dump: reading schemas"), None);
    }

    #[test]
    fn toc_lines_name_tables() {
        assert_eq!(
            toc_table("215; 1259 16390 TABLE public t postgres"),
            Some(("public".into(), "t".into()))
        );
        assert_eq!(
            toc_table("3340; 0 16390 TABLE DATA public t postgres"),
            None
        );
        assert_eq!(
            toc_table("216; 1259 16391 VIEW app v postgres"),
            Some(("app".into(), "v".into()))
        );
        assert_eq!(
            toc_table("3200; 2606 16397 CONSTRAINT public t t_pkey postgres"),
            None
        );
    }

    #[test]
    fn the_password_is_in_the_environment_only() {
        let url = DatabaseUrl::parse(
            "postgresql://u:s3cret@h:5433/db?sslmode=require",
            Path::new("/"),
        )
        .unwrap();
        let mut cmd = Command::new("pg_dump");
        environment(&mut cmd, &url);
        let std = cmd.as_std();
        assert!(
            std.get_args()
                .all(|a| !a.to_string_lossy().contains("s3cret"))
        );
        let envs: Vec<(String, String)> = std
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    v?.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        assert!(envs.contains(&("PGPASSWORD".into(), "s3cret".into())));
        assert!(envs.contains(&("PGPORT".into(), "5433".into())));
        assert!(envs.contains(&("PGSSLMODE".into(), "require".into())));
    }
}
