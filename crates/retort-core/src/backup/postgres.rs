//! PostgreSQL: `pg_dump --format=custom`, progress from its `--verbose` lines; `pg_restore
//! --list` to verify (and as the list of what the archive holds); `pg_restore --clean
//! --if-exists`'s script run by `psql --single-transaction` to restore, so that dropping what
//! was made after the backup and restoring are one transaction. The password goes in
//! `PGPASSWORD`, the rest of the connection in `PG*` variables: nothing of the connection is
//! in argv but the database name for `psql`.

use super::inventory::{Inventory, ObjectKind};
use super::{BackupError, BackupProgress, Copied, io_error, tool_message};
use crate::database::check::DumpToolCheck;
use crate::database::{Database, DatabaseUrl, VersionTable};
use crate::execution::CancelToken;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// The `PG*` environment for a URL (libpq reads these; `PGPASSWORD` keeps the password out
/// of argv and `ps`).
fn environment(cmd: &mut Command, url: &DatabaseUrl) -> Result<(), BackupError> {
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
    if let Some(h) = url.connect_host() {
        cmd.env("PGHOST", h);
    }
    if let Some(p) = url.connect_port() {
        cmd.env("PGPORT", p.to_string());
    }
    if let Some(u) = &url.user {
        cmd.env("PGUSER", u);
    }
    if let Some(p) = url.current_password()? {
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
    Ok(())
}

fn tool_path(tool: &DumpToolCheck) -> PathBuf {
    PathBuf::from(tool.path.clone().unwrap_or_else(|| tool.name.clone()))
}

pub(super) fn pg_restore_on_path() -> Result<PathBuf, BackupError> {
    super::on_process_path("pg_restore").ok_or_else(|| {
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
    environment(&mut cmd, url)?;
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

/// The archive's entries, and the objects among them.
async fn list(pg_restore: &Path, file: &Path) -> Result<(usize, Inventory), BackupError> {
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
    let mut inventory = Inventory {
        source: "pg_restore --list",
        ..Inventory::default()
    };
    for (kind, name) in entries.iter().filter_map(|l| toc_object(l)) {
        inventory.add(kind, name);
    }
    Ok((entries.len(), inventory))
}

/// Table-of-contents descriptions of the objects a restore is checked for (the longer of two
/// that share a start first); `None`: an entry of another kind (data, defaults, comments).
const TOC_KINDS: &[(&str, Option<ObjectKind>)] = &[
    ("MATERIALIZED VIEW DATA ", None),
    ("MATERIALIZED VIEW ", Some(ObjectKind::MaterializedView)),
    ("TABLE DATA ", None),
    ("TABLE ", Some(ObjectKind::Table)),
    ("VIEW ", Some(ObjectKind::View)),
    ("SEQUENCE OWNED BY ", None),
    ("SEQUENCE SET ", None),
    ("SEQUENCE ", Some(ObjectKind::Sequence)),
    ("INDEX ATTACH ", None),
    ("INDEX ", Some(ObjectKind::Index)),
    ("FK CONSTRAINT ", Some(ObjectKind::Constraint)),
    ("CHECK CONSTRAINT ", Some(ObjectKind::Constraint)),
    ("CONSTRAINT ", Some(ObjectKind::Constraint)),
    ("TRIGGER ", Some(ObjectKind::Trigger)),
    ("TYPE ", Some(ObjectKind::Type)),
    ("DOMAIN ", Some(ObjectKind::Type)),
    ("FUNCTION ", Some(ObjectKind::Function)),
    ("AGGREGATE ", Some(ObjectKind::Function)),
    ("PROCEDURE ", Some(ObjectKind::Procedure)),
    ("SCHEMA ", Some(ObjectKind::Schema)),
    ("EXTENSION ", Some(ObjectKind::Extension)),
];

/// `215; 1259 16390 TABLE public t postgres` → (table, `public.t`). Names are qualified the
/// way [`DATABASE_OBJECTS`] names them: `schema.name`, `schema.table.name` for constraints
/// and triggers, the bare name for schemas and extensions.
fn toc_object(line: &str) -> Option<(ObjectKind, String)> {
    let (_, rest) = line.split_once("; ")?;
    let rest = rest.splitn(3, ' ').nth(2)?;
    let (kind, rest) = TOC_KINDS
        .iter()
        .find_map(|(desc, kind)| rest.strip_prefix(desc).map(|r| (*kind, r)))?;
    let kind = kind?;
    // `schema name owner`: the owner is one word (or none), the name may hold blanks.
    let (schema, rest) = rest.split_once(' ')?;
    let name = rest.rsplit_once(' ').map_or(rest, |(name, _owner)| name);
    let name = match kind {
        ObjectKind::Schema | ObjectKind::Extension => name.to_string(),
        ObjectKind::Constraint | ObjectKind::Trigger => {
            let (table, own) = name.split_once(' ')?;
            format!("{schema}.{table}.{own}")
        }
        _ => format!("{schema}.{name}"),
    };
    (kind != ObjectKind::Extension || name != "plpgsql").then_some((kind, name))
}

/// Every object of the kinds a restore is checked for, outside the system schemas and not
/// part of an extension: kind, qualified name (as [`toc_object`] names it), schema, and the
/// statement that drops it.
const DATABASE_OBJECTS: &str = r#"
WITH ns AS (
  SELECT oid, nspname::text AS nspname FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema')
    AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'),
ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e')
SELECT 'schema', nspname, nspname, format('DROP SCHEMA IF EXISTS %I CASCADE', nspname)
  FROM ns WHERE nspname <> 'public'
  AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_namespace'::regclass AND objid = ns.oid)
UNION ALL
SELECT 'extension', extname::text, (SELECT nspname::text FROM pg_namespace WHERE oid = extnamespace),
       format('DROP EXTENSION IF EXISTS %I CASCADE', extname)
  FROM pg_extension WHERE extname <> 'plpgsql'
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view'
         WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' ELSE 'table' END,
       ns.nspname || '.' || c.relname, ns.nspname,
       format('DROP %s IF EXISTS %I.%I CASCADE',
         CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
           WHEN 'S' THEN 'SEQUENCE' WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'INDEX' ELSE 'TABLE' END,
         ns.nspname, c.relname)
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I')
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_class'::regclass AND objid = c.oid)
    AND NOT (c.relkind IN ('i', 'I') AND EXISTS (SELECT 1 FROM pg_constraint con
             WHERE con.conindid = c.oid AND con.contype IN ('p', 'u', 'x')))
UNION ALL
SELECT 'constraint', ns.nspname || '.' || t.relname || '.' || con.conname, ns.nspname,
       format('ALTER TABLE %I.%I DROP CONSTRAINT IF EXISTS %I CASCADE', ns.nspname, t.relname, con.conname)
  FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid
  JOIN ns ON ns.oid = t.relnamespace
  WHERE (con.contype IN ('p', 'u', 'x', 'f') OR (con.contype = 'c' AND NOT con.convalidated))
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_class'::regclass AND objid = t.oid)
UNION ALL
SELECT 'trigger', ns.nspname || '.' || t.relname || '.' || tg.tgname, ns.nspname,
       format('DROP TRIGGER IF EXISTS %I ON %I.%I CASCADE', tg.tgname, ns.nspname, t.relname)
  FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid JOIN ns ON ns.oid = t.relnamespace
  WHERE NOT tg.tgisinternal
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_class'::regclass AND objid = t.oid)
UNION ALL
SELECT 'type', ns.nspname || '.' || ty.typname, ns.nspname,
       format('DROP %s IF EXISTS %I.%I CASCADE',
         CASE ty.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, ns.nspname, ty.typname)
  FROM pg_type ty JOIN ns ON ns.oid = ty.typnamespace
  WHERE (ty.typtype IN ('e', 'r', 'd')
         OR (ty.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = ty.typrelid AND r.relkind = 'c')))
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_type'::regclass AND objid = ty.oid)
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
       ns.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')',
       ns.nspname,
       format('DROP %s IF EXISTS %I.%I(%s) CASCADE',
         CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
         ns.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
  WHERE NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_proc'::regclass AND objid = p.oid)
    -- a range type's constructors come and go with the type
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                    AND d.objid = p.oid AND d.deptype = 'i')
"#;

/// One object of the database: what it is, its schema, how to drop it.
struct Present {
    kind: ObjectKind,
    name: String,
    schema: Option<String>,
    drop_sql: String,
}

fn kind_named(kind: &str) -> Option<ObjectKind> {
    Some(match kind {
        "schema" => ObjectKind::Schema,
        "extension" => ObjectKind::Extension,
        "table" => ObjectKind::Table,
        "view" => ObjectKind::View,
        "materialized_view" => ObjectKind::MaterializedView,
        "sequence" => ObjectKind::Sequence,
        "index" => ObjectKind::Index,
        "constraint" => ObjectKind::Constraint,
        "trigger" => ObjectKind::Trigger,
        "type" => ObjectKind::Type,
        "function" => ObjectKind::Function,
        "procedure" => ObjectKind::Procedure,
        _ => return None,
    })
}

async fn present(db: &mut Database) -> Result<Vec<Present>, BackupError> {
    let rows = db
        .query_column(&format!(
            "SELECT concat_ws(chr(9), kind, name, coalesce(schema, ''), drop_sql) FROM ({DATABASE_OBJECTS}) o(kind, name, schema, drop_sql)"
        ))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let mut parts = row.splitn(4, '\t');
            let kind = kind_named(parts.next()?)?;
            let name = parts.next()?.to_string();
            let schema = Some(parts.next()?.to_string()).filter(|s| !s.is_empty());
            let drop_sql = parts.next()?.to_string();
            Some(Present {
                kind,
                name,
                schema,
                drop_sql,
            })
        })
        .collect())
}

/// The schemas a restore clears of objects the backup does not have: those the backup's
/// objects are in, the version table's, and the connection's search path (whether or not the
/// backup mentions them, so that an empty backup clears them too).
async fn project_schemas(
    db: &mut Database,
    backup: &Inventory,
    version_schema: Option<&str>,
) -> Result<BTreeSet<String>, BackupError> {
    let mut schemas: BTreeSet<String> = backup
        .objects
        .keys()
        .filter_map(|(kind, name)| match kind {
            ObjectKind::Schema => Some(name.clone()),
            ObjectKind::Extension => None,
            _ => name.split_once('.').map(|(s, _)| s.to_string()),
        })
        .collect();
    schemas.extend(
        db.query_column("SELECT unnest(current_schemas(false))::text")
            .await?,
    );
    match version_schema {
        Some(s) => {
            schemas.insert(s.to_string());
        }
        None => schemas.extend(db.query_column("SELECT current_schema()::text").await?),
    }
    Ok(schemas)
}

/// What a database holds now, in the terms of an archive's table of contents, with the rows
/// of `version_table`.
pub(super) async fn database_inventory(
    target: &DatabaseUrl,
    version_table: &VersionTable,
    timeout: Duration,
) -> Result<Inventory, BackupError> {
    let mut db = Database::connect(target, timeout).await?;
    let mut inventory = Inventory::default();
    for object in present(&mut db).await? {
        inventory.add(object.kind, object.name);
    }
    inventory.set_revisions(db.version_heads(version_table).await?.unwrap_or_default());
    Ok(inventory)
}

/// The archive's objects and version rows. The version table is the one of `version_table`
/// in the archive: in its schema if it names one, else the only table of that name, else the
/// one in `public`.
pub(super) async fn archive_inventory(
    pg_restore: &Path,
    file: &Path,
    version_table: &VersionTable,
) -> Result<(Inventory, VersionTable), BackupError> {
    let (_, mut inventory) = list(pg_restore, file).await?;
    let candidates: Vec<&str> = inventory
        .names(ObjectKind::Table)
        .into_iter()
        .filter_map(|n| {
            n.split_once('.')
                .filter(|(_, t)| *t == version_table.name)
                .map(|(s, _)| s)
        })
        .collect();
    let schema = match &version_table.schema {
        Some(s) => candidates
            .iter()
            .find(|c| **c == s.as_str())
            .map(|s| s.to_string()),
        None if candidates.len() == 1 => Some(candidates[0].to_string()),
        None => candidates
            .iter()
            .find(|c| **c == "public")
            .or(candidates.first())
            .map(|s| s.to_string()),
    };
    let table = VersionTable {
        name: version_table.name.clone(),
        schema: schema.clone().or_else(|| version_table.schema.clone()),
    };
    if let Some(schema) = schema {
        let out = Command::new(pg_restore)
            .arg("--data-only")
            .arg(format!("--schema={schema}"))
            .arg(format!("--table={}", version_table.name))
            .arg("--file=-")
            .arg(file)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| BackupError::Verify {
                path: file.display().to_string(),
                check: "pg_restore --data-only".into(),
                message: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(BackupError::Verify {
                path: file.display().to_string(),
                check: "pg_restore --data-only".into(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        inventory.set_revisions(copy_rows(&String::from_utf8_lossy(&out.stdout)));
    }
    Ok((inventory, table))
}

/// The first column of the rows of the `COPY … FROM stdin` blocks of a script.
fn copy_rows(script: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in script.lines() {
        if inside {
            if line == "\\." {
                inside = false;
            } else {
                let first = line.split('\t').next().unwrap_or_default();
                rows.push(unescape_copy(first));
            }
        } else if line.starts_with("COPY ") && line.ends_with("FROM stdin;") {
            inside = true;
        }
    }
    rows
}

/// COPY's text format: `\\`, `\t`, `\n`, `\r` and friends.
fn unescape_copy(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Restores the archive into `target` in one transaction: `pg_restore`'s script, run by
/// `psql`, after dropping what `drop_extra` asks to drop. With `drop_extra`, the objects the
/// target has in [`project_schemas`] that the archive does not (created after the backup)
/// are dropped first, in the same transaction; returns them.
pub(super) async fn restore_into(
    target: &DatabaseUrl,
    pg_restore: &Path,
    file: &Path,
    drop_extra: Option<&VersionTable>,
) -> Result<Vec<String>, BackupError> {
    let (_, backup) = list(pg_restore, file).await?;
    let mut drops = Vec::new();
    let mut dropped = Vec::new();
    if let Some(version_table) = drop_extra {
        let mut db = Database::connect(target, Duration::from_secs(30)).await?;
        let schemas = project_schemas(&mut db, &backup, version_table.schema.as_deref()).await?;
        for object in present(&mut db).await? {
            let in_scope = object.schema.as_ref().is_some_and(|s| schemas.contains(s));
            // Indexes, constraints and triggers go with their tables (pg_restore --clean
            // drops and recreates the tables the archive has). A schema is its own scope: one
            // the project uses that the backup does not have was made after it.
            let kind_dropped = matches!(
                object.kind,
                ObjectKind::Schema
                    | ObjectKind::Extension
                    | ObjectKind::Table
                    | ObjectKind::View
                    | ObjectKind::MaterializedView
                    | ObjectKind::Sequence
                    | ObjectKind::Type
                    | ObjectKind::Function
                    | ObjectKind::Procedure
            );
            if in_scope && kind_dropped && !backup.contains(object.kind, &object.name) {
                drops.push(object.drop_sql);
                dropped.push(object.name);
            }
        }
    }
    let psql = pg_restore.with_file_name("psql");
    let psql = if psql.is_file() {
        psql
    } else {
        super::tool_on_path("psql")?
    };
    let mut script = Command::new(pg_restore);
    script
        .arg("--clean")
        .arg("--if-exists")
        .arg("--no-owner")
        .arg("--file=-")
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut script = script.spawn().map_err(|e| BackupError::Tool {
        tool: "pg_restore".into(),
        status: "not started".into(),
        message: e.to_string(),
    })?;
    let mut cmd = Command::new(&psql);
    environment(&mut cmd, target)?;
    cmd.env("PGOPTIONS", "-c client_min_messages=warning")
        .args([
            "--no-psqlrc",
            "--quiet",
            "--no-password",
            "--single-transaction",
        ])
        .args(["--set", "ON_ERROR_STOP=1", "--file=-"]);
    if let Some(db) = &target.database {
        cmd.arg(format!("--dbname={db}"));
    }
    let mut client = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BackupError::Tool {
            tool: "psql".into(),
            status: "not started".into(),
            message: e.to_string(),
        })?;
    let mut stdin = client.stdin.take().expect("piped");
    let mut stdout = script.stdout.take().expect("piped");
    let mut script_err = script.stderr.take().expect("piped");
    let mut client_err = client.stderr.take().expect("piped");
    let reading = tokio::spawn(async move {
        let (mut a, mut b) = (String::new(), String::new());
        let _ = tokio::join!(
            script_err.read_to_string(&mut a),
            client_err.read_to_string(&mut b)
        );
        (a, b)
    });
    let mut prelude = String::new();
    for sql in &drops {
        prelude.push_str(sql);
        prelude.push_str(";\n");
    }
    let fed = async {
        stdin.write_all(prelude.as_bytes()).await?;
        tokio::io::copy(&mut stdout, &mut stdin).await?;
        stdin.shutdown().await
    }
    .await;
    // A psql that stopped at an error reads no more: pg_restore must not wait on the pipe.
    drop(stdin);
    drop(stdout);
    let status = client.wait().await.map_err(|e| io_error(file, e))?;
    let script_status = script.wait().await.map_err(|e| io_error(file, e))?;
    let (script_messages, messages) = reading.await.unwrap_or_default();
    if !status.success() || fed.is_err() {
        return Err(BackupError::Tool {
            tool: "psql".into(),
            status: status.to_string(),
            message: tool_message(target, &messages),
        });
    }
    if !script_status.success() {
        return Err(BackupError::Tool {
            tool: "pg_restore".into(),
            status: script_status.to_string(),
            message: tool_message(target, &script_messages),
        });
    }
    Ok(dropped)
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
    fn toc_lines_name_objects() {
        let object = |l: &str| toc_object(l).map(|(k, n)| format!("{k} {n}"));
        for (line, expected) in [
            (
                "215; 1259 16390 TABLE public t postgres",
                Some("table public.t"),
            ),
            ("3340; 0 16390 TABLE DATA public t postgres", None),
            ("216; 1259 16391 VIEW app v postgres", Some("view app.v")),
            (
                "219; 1259 16410 MATERIALIZED VIEW app mv postgres",
                Some("materialized view app.mv"),
            ),
            ("3385; 0 16410 MATERIALIZED VIEW DATA app mv postgres", None),
            (
                "3200; 2606 16397 CONSTRAINT public t t_pkey postgres",
                Some("constraint public.t.t_pkey"),
            ),
            (
                "3237; 2606 16421 FK CONSTRAINT public u u_id_fkey postgres",
                Some("constraint public.u.u_id_fkey"),
            ),
            (
                "3231; 2606 16417 CHECK CONSTRAINT public t ck postgres",
                Some("constraint public.t.ck"),
            ),
            (
                "218; 1259 16409 SEQUENCE app s postgres",
                Some("sequence app.s"),
            ),
            ("3393; 0 0 SEQUENCE OWNED BY public t_id_seq postgres", None),
            ("3394; 0 0 SEQUENCE SET app s postgres", None),
            (
                "3232; 1259 16404 INDEX public ix_t_x postgres",
                Some("index public.ix_t_x"),
            ),
            (
                "846; 1247 16390 TYPE public mood postgres",
                Some("type public.mood"),
            ),
            (
                "858; 1247 16416 DOMAIN public d postgres",
                Some("type public.d"),
            ),
            (
                "222; 1255 16414 FUNCTION public f(integer, text) postgres",
                Some("function public.f(integer, text)"),
            ),
            (
                "223; 1255 16426 PROCEDURE public p() postgres",
                Some("procedure public.p()"),
            ),
            ("6; 2615 16388 SCHEMA - app postgres", Some("schema app")),
            (
                "2; 3079 16441 EXTENSION - pgcrypto ",
                Some("extension pgcrypto"),
            ),
            ("3444; 0 0 COMMENT - EXTENSION pgcrypto ", None),
            (
                "225; 1259 16484 TABLE public sp ace postgres",
                Some("table public.sp ace"),
            ),
            ("3230; 2604 16399 DEFAULT public t id postgres", None),
        ] {
            assert_eq!(object(line).as_deref(), expected, "{line}");
        }
    }

    #[test]
    fn copy_blocks_give_their_rows() {
        let script = "SET x = 1;\n\\restrict abc\nCOPY public.alembic_version (version_num) FROM stdin;\nr1\nr\\\\2\n\\.\n\\unrestrict abc\n";
        assert_eq!(copy_rows(script), ["r1", "r\\2"]);
        assert!(copy_rows("COPY public.t (x) FROM stdin;\n\\.\n").is_empty());
    }

    #[test]
    fn the_password_is_in_the_environment_only() {
        let url = DatabaseUrl::parse(
            "postgresql://u:s3cret@h:5433/db?sslmode=require",
            Path::new("/"),
        )
        .unwrap();
        let mut cmd = Command::new("pg_dump");
        environment(&mut cmd, &url).unwrap();
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
        assert!(envs.contains(&("PGHOST".into(), "h".into())));
        // Through an SSH tunnel the tools connect to its local end.
        let mut url = url;
        url.via = Some(crate::database::Via::new(
            "127.0.0.1:40123".parse().unwrap(),
            "SSH via b".into(),
            || None,
        ));
        let mut cmd = Command::new("pg_dump");
        environment(&mut cmd, &url).unwrap();
        let envs: Vec<(String, String)> = cmd
            .as_std()
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    v?.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        assert!(
            envs.contains(&("PGHOST".into(), "127.0.0.1".into())),
            "{envs:?}"
        );
        assert!(
            envs.contains(&("PGPORT".into(), "40123".into())),
            "{envs:?}"
        );
    }
}
