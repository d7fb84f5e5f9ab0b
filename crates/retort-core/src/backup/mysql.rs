//! MySQL/MariaDB: `mariadb-dump`/`mysqldump --single-transaction --routines --triggers
//! --events --hex-blob`, streamed through Retort into the file (bytes written are the
//! progress, the SHA-256 is computed on the way); verified by the dump's completion trailer;
//! restored through the `mariadb`/`mysql` client. The connection (password included) reaches
//! the tools in a 0600 option file given as their first argument and removed afterwards.

use super::inventory::{Inventory, ObjectKind};
use super::{BackupError, BackupProgress, Copied, fsutil, io_error, tool_message};
use crate::database::check::DumpToolCheck;
use crate::database::{Database, DatabaseUrl, VersionTable};
use crate::execution::CancelToken;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const TRAILER: &str = "-- Dump completed";

/// A `[client]` option file readable by its owner only; removed on drop.
struct OptionFile(PathBuf);

static OPTION_FILES: AtomicUsize = AtomicUsize::new(0);

/// Option files of Retort processes that are gone (killed before they could remove theirs):
/// they hold a password, so the next backup or restore removes them.
fn remove_stale_option_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("retort-")
            .and_then(|r| r.strip_suffix(".cnf"))
            .and_then(|r| r.split_once('-'))
            .and_then(|(pid, n)| n.parse::<u32>().ok().and(pid.parse::<u32>().ok()));
        if let Some(pid) = pid
            && pid != std::process::id()
            && !super::fsutil::process_alive(pid)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl OptionFile {
    fn new(url: &DatabaseUrl) -> Result<Self, BackupError> {
        remove_stale_option_files(&std::env::temp_dir());
        let path = std::env::temp_dir().join(format!(
            "retort-{}-{}.cnf",
            std::process::id(),
            OPTION_FILES.fetch_add(1, Ordering::SeqCst)
        ));
        let mut text = String::from("[client]\n");
        let mut put = |key: &str, value: &str| {
            text.push_str(&format!("{key}=\"{}\"\n", escape(value)));
        };
        if let Some(u) = &url.user {
            put("user", u);
        }
        if let Some(p) = url.current_password()? {
            put("password", p.expose());
        }
        if let Some(h) = url.connect_host() {
            put("host", &h);
            // `localhost` would otherwise mean the Unix socket.
            put("protocol", "tcp");
        }
        if let Some(p) = url.connect_port() {
            put("port", &p.to_string());
        }
        if let Some(ca) = url.query_value("ssl_ca") {
            put("ssl-ca", ca);
        }
        put("default-character-set", "utf8mb4");
        let mut options = std::fs::File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(|e| io_error(&path, e))?;
        let guard = Self(path);
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| io_error(&guard.0, e))?;
        Ok(guard)
    }

    /// `--defaults-extra-file=…`, which the tools accept only as their first argument.
    fn argument(&self) -> String {
        format!("--defaults-extra-file={}", self.0.display())
    }
}

impl Drop for OptionFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An option-file value inside double quotes: backslash and quote escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The client beside the dump tool: `mariadb` beside `mariadb-dump`, `mysql` beside
/// `mysqldump`.
pub(super) fn client_for(tool: &DumpToolCheck) -> Result<PathBuf, BackupError> {
    let preferred = if tool.name == "mysqldump" {
        ["mysql", "mariadb"]
    } else {
        ["mariadb", "mysql"]
    };
    let mut last = None;
    for name in preferred {
        match super::sibling_tool(tool, name) {
            Ok(p) => return Ok(p),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("tried"))
}

async fn table_count(url: &DatabaseUrl) -> Option<u64> {
    let mut db = Database::connect(url, Duration::from_secs(10)).await.ok()?;
    let rows = db
        .query_column(
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()",
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
    let Some(database) = url.database.clone() else {
        return Err(BackupError::Tool {
            tool: tool.name.clone(),
            status: "not started".into(),
            message: format!("{} names no database to dump", url.redacted()),
        });
    };
    let tables = table_count(url).await;
    let options = OptionFile::new(url)?;
    let mut child = Command::new(tool.path.clone().unwrap_or_else(|| tool.name.clone()))
        .arg(options.argument())
        .args([
            "--single-transaction",
            "--routines",
            "--triggers",
            "--events",
            "--hex-blob",
            "--verbose",
        ])
        .arg("--")
        .arg(&database)
        .env_remove("MYSQL_PWD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BackupError::Tool {
            tool: tool.name.clone(),
            status: "not started".into(),
            message: e.to_string(),
        })?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut errors = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut out = tokio::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(file)
        .await
        .map_err(|e| io_error(file, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut written, mut done, mut messages) = (0u64, 0u64, String::new());
    let mut current: Option<String> = None;
    let mut last = Instant::now();
    let mut stderr_open = true;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            // A stalled dump still notices a cancel.
            _ = tick.tick() => {}
            n = stdout.read(&mut buf) => {
                let n = n.map_err(|e| io_error(file, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).await.map_err(|e| io_error(file, e))?;
                written += n as u64;
            }
            line = errors.next_line(), if stderr_open => match line {
                Ok(Some(line)) => {
                    if let Some(t) = line.strip_prefix("-- Retrieving table structure for table ") {
                        done += 1;
                        current = Some(t.trim_end_matches('.').to_string());
                    } else if !line.starts_with("-- ") {
                        messages.push_str(&line);
                        messages.push('\n');
                    }
                }
                _ => stderr_open = false,
            },
        }
        if cancel.is_cancelled() {
            let _ = child.kill().await;
            return Err(BackupError::Cancelled);
        }
        if last.elapsed() >= Duration::from_millis(250) {
            last = Instant::now();
            progress(BackupProgress::Copying {
                bytes_done: written,
                bytes_total: estimate,
                items_done: done,
                items_total: tables,
                item: current.clone(),
            });
        }
    }
    out.flush().await.map_err(|e| io_error(file, e))?;
    drop(out);
    while stderr_open {
        match errors.next_line().await {
            Ok(Some(line)) if !line.starts_with("-- ") => {
                messages.push_str(&line);
                messages.push('\n');
            }
            Ok(Some(_)) => {}
            _ => stderr_open = false,
        }
    }
    let status = child.wait().await.map_err(|e| io_error(file, e))?;
    drop(options);
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
        bytes_done: written,
        bytes_total: estimate,
        items_done: done,
        items_total: tables.map(|t| t.max(done)),
        item: None,
    });
    Ok(Copied {
        sha256: Some(fsutil::hex(&hasher.finalize())),
    })
}

/// The dump ends with its completion trailer (`-- Dump completed on …`): the tool got to the
/// end.
pub(super) fn verify(path: &Path) -> Result<String, BackupError> {
    let check = "completion trailer";
    let fail = |message: String| BackupError::Verify {
        path: path.display().to_string(),
        check: check.into(),
        message,
    };
    let mut file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let len = file.metadata().map_err(|e| fail(e.to_string()))?.len();
    let from = len.saturating_sub(4096);
    file.seek(SeekFrom::Start(from))
        .map_err(|e| fail(e.to_string()))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)
        .map_err(|e| fail(e.to_string()))?;
    let tail = String::from_utf8_lossy(&tail);
    let last = tail.trim_end().lines().last().unwrap_or("");
    if last.starts_with(TRAILER) {
        Ok(format!("{check}: {last}"))
    } else {
        Err(fail(format!(
            "the dump does not end with '{TRAILER} on …' (the tool stopped early)"
        )))
    }
}

/// Pipes the dump through the client into `target`. Tables, views, sequences and routines
/// the target has but the dump does not (created after the backup) are dropped afterwards;
/// returns them, and what the dump holds (read from its statements on the way).
pub(super) async fn restore_into(
    target: &DatabaseUrl,
    client: &Path,
    file: &Path,
    version_table: &str,
    drop_extra: bool,
) -> Result<(Vec<String>, Inventory), BackupError> {
    let Some(database) = target.database.clone() else {
        return Err(BackupError::Tool {
            tool: client.display().to_string(),
            status: "not started".into(),
            message: format!("{} names no database to restore into", target.redacted()),
        });
    };
    let options = OptionFile::new(target)?;
    let tool = client
        .file_name()
        .map_or_else(|| "mariadb".into(), |n| n.to_string_lossy().into_owned());
    let mut child = Command::new(client)
        .arg(options.argument())
        .arg("--binary-mode")
        .arg(format!("--database={database}"))
        .env_remove("MYSQL_PWD")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BackupError::Tool {
            tool: tool.clone(),
            status: "not started".into(),
            message: e.to_string(),
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let reading = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    // Feed the dump, noting what it creates.
    let mut scanner = DumpScanner::new(version_table);
    let mut lines = BufReader::with_capacity(
        1 << 20,
        tokio::fs::File::open(file)
            .await
            .map_err(|e| io_error(file, e))?,
    );
    let mut line = Vec::new();
    let mut broken = false;
    loop {
        line.clear();
        let n = lines
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| io_error(file, e))?;
        if n == 0 {
            break;
        }
        scanner.line(&line);
        if stdin.write_all(&line).await.is_err() {
            broken = true;
            break;
        }
    }
    drop(stdin);
    let status = child.wait().await.map_err(|e| io_error(file, e))?;
    let messages = reading.await.unwrap_or_default();
    drop(options);
    if !status.success() || broken {
        return Err(BackupError::Tool {
            tool,
            status: status.to_string(),
            message: tool_message(target, &messages),
        });
    }
    let dump = scanner.finish();
    let mut dropped = Vec::new();
    if !drop_extra {
        return Ok((dropped, dump));
    }
    let mut db = Database::connect(target, Duration::from_secs(30)).await?;
    for (kind, name) in present(&mut db).await? {
        let what = match kind {
            ObjectKind::Table => "TABLE",
            ObjectKind::View => "VIEW",
            ObjectKind::Sequence => "SEQUENCE",
            ObjectKind::Function => "FUNCTION",
            ObjectKind::Procedure => "PROCEDURE",
            _ => continue,
        };
        if dump.contains(kind, &name) {
            continue;
        }
        let quoted = format!("`{}`", name.replace('`', "``"));
        db.execute(&format!(
            "SET FOREIGN_KEY_CHECKS = 0; DROP {what} IF EXISTS {quoted}; SET FOREIGN_KEY_CHECKS = 1"
        ))
        .await
        .map_err(|f| BackupError::Tool {
            tool: tool.clone(),
            status: "restored".into(),
            message: format!(
                "the backup was restored, but {quoted} (created after the backup) could not be dropped: {f}"
            ),
        })?;
        dropped.push(name);
    }
    Ok((dropped, dump))
}

/// The tables, views, sequences, indexes (`table.index`) and routines of the current
/// database.
async fn present(db: &mut Database) -> Result<Vec<(ObjectKind, String)>, BackupError> {
    let mut out = Vec::new();
    for row in db
        .query_column(
            "SELECT CONCAT(table_type, CHAR(9), table_name) FROM information_schema.tables \
             WHERE table_schema = DATABASE()",
        )
        .await?
    {
        if let Some((kind, name)) = row.split_once('\t') {
            let kind = match kind {
                "VIEW" => ObjectKind::View,
                "SEQUENCE" => ObjectKind::Sequence,
                _ => ObjectKind::Table,
            };
            out.push((kind, name.to_string()));
        }
    }
    for row in db
        .query_column(
            "SELECT DISTINCT CONCAT(table_name, '.', index_name) FROM information_schema.statistics \
             WHERE table_schema = DATABASE()",
        )
        .await?
    {
        out.push((ObjectKind::Index, row));
    }
    for row in db
        .query_column(
            "SELECT CONCAT(routine_type, CHAR(9), routine_name) FROM information_schema.routines \
             WHERE routine_schema = DATABASE()",
        )
        .await?
    {
        if let Some((kind, name)) = row.split_once('\t') {
            let kind = if kind == "PROCEDURE" {
                ObjectKind::Procedure
            } else {
                ObjectKind::Function
            };
            out.push((kind, name.to_string()));
        }
    }
    Ok(out)
}

/// What the current database holds: its objects, every table's row count, the version rows.
pub(super) async fn database_inventory(
    target: &DatabaseUrl,
    version_table: &VersionTable,
    timeout: Duration,
) -> Result<Inventory, BackupError> {
    let mut db = Database::connect(target, timeout).await?;
    let mut inventory = Inventory::default();
    let mut counts = BTreeMap::new();
    for (kind, name) in present(&mut db).await? {
        if kind == ObjectKind::Table {
            let quoted = format!("`{}`", name.replace('`', "``"));
            let n = db
                .query_column(&format!("SELECT CAST(COUNT(*) AS CHAR) FROM {quoted}"))
                .await?;
            counts.insert(
                name.clone(),
                n.first().and_then(|n| n.parse().ok()).unwrap_or(0),
            );
        }
        inventory.add(kind, name);
    }
    inventory.row_counts = Some(counts);
    let table = VersionTable {
        name: version_table.name.clone(),
        schema: None,
    };
    inventory.set_revisions(db.version_heads(&table).await?.unwrap_or_default());
    Ok(inventory)
}

/// Reads a dump line by line as the client is fed it: the tables (`CREATE TABLE`), their
/// indexes (`KEY` lines), views (`Final view structure`), sequences, routines, every table's
/// rows (the tuples of its `INSERT`s) and the version table's first column.
struct DumpScanner {
    version_table: String,
    inventory: Inventory,
    counts: BTreeMap<String, u64>,
    creating: Option<String>,
    inserting: Option<Tuples>,
    /// Inside `DELIMITER ;;` … `DELIMITER ;` (a routine or trigger): only its `CREATE` line
    /// names something; the body's statements are not the dump's.
    routine: Option<bool>,
}

/// The state of an `INSERT … VALUES (…), (…);` being read.
struct Tuples {
    table: String,
    depth: u32,
    quote: Option<u8>,
    escaped: bool,
    field: usize,
    value: Vec<u8>,
}

impl DumpScanner {
    fn new(version_table: &str) -> Self {
        Self {
            version_table: version_table.to_string(),
            inventory: Inventory::default(),
            counts: BTreeMap::new(),
            creating: None,
            inserting: None,
            routine: None,
        }
    }

    fn line(&mut self, bytes: &[u8]) {
        if self.inserting.is_some() {
            self.tuples(bytes);
            return;
        }
        let Ok(line) = std::str::from_utf8(bytes) else {
            return;
        };
        let line = line.trim_end_matches(['\n', '\r']);
        if let Some(found) = &mut self.routine {
            if line.starts_with("DELIMITER ;") && !line.starts_with("DELIMITER ;;") {
                self.routine = None;
            } else if !*found && line.starts_with("CREATE ") {
                *found = true;
                for (word, kind) in [
                    (" FUNCTION `", ObjectKind::Function),
                    (" PROCEDURE `", ObjectKind::Procedure),
                ] {
                    if let Some(name) = line.split_once(word).and_then(|(_, r)| quoted_name(r)) {
                        self.inventory.add(kind, name);
                    }
                }
            }
            return;
        }
        if let Some(table) = &self.creating {
            let entry = line.trim_start();
            if line.starts_with(')') {
                self.creating = None;
            } else if entry.starts_with("PRIMARY KEY ") {
                self.inventory
                    .add(ObjectKind::Index, format!("{table}.PRIMARY"));
            } else if let Some(name) = ["UNIQUE KEY `", "KEY `", "FULLTEXT KEY `", "SPATIAL KEY `"]
                .iter()
                .find_map(|p| entry.strip_prefix(p))
                .and_then(quoted_name)
            {
                self.inventory
                    .add(ObjectKind::Index, format!("{table}.{name}"));
            }
            return;
        }
        if line.starts_with("DELIMITER ;;") {
            self.routine = Some(false);
        } else if let Some(name) = line.strip_prefix("CREATE TABLE `").and_then(quoted_name) {
            self.inventory.add(ObjectKind::Table, name.clone());
            self.counts.entry(name.clone()).or_insert(0);
            self.creating = Some(name);
        } else if let Some(name) = line.strip_prefix("CREATE SEQUENCE `").and_then(quoted_name) {
            self.inventory.add(ObjectKind::Sequence, name);
        } else if let Some(name) = line
            .strip_prefix("-- Final view structure for view `")
            .and_then(quoted_name)
        {
            self.inventory
                .objects
                .remove(&(ObjectKind::Table, name.clone()));
            self.counts.remove(&name);
            self.inventory.add(ObjectKind::View, name);
        } else if let Some(rest) = line.strip_prefix("INSERT INTO `")
            && let Some(table) = quoted_name(rest)
            && let Some((_, values)) = rest.split_once(" VALUES")
        {
            self.inserting = Some(Tuples {
                table,
                depth: 0,
                quote: None,
                escaped: false,
                field: 0,
                value: Vec::new(),
            });
            self.tuples(values.as_bytes());
        }
    }

    /// Counts the tuples of the `INSERT` being read (strings may hold any of `(),;`).
    fn tuples(&mut self, bytes: &[u8]) {
        let Some(t) = &mut self.inserting else {
            return;
        };
        let capture = t.table == self.version_table;
        let mut ended = false;
        for &b in bytes {
            if let Some(q) = t.quote {
                if t.escaped {
                    t.escaped = false;
                } else if b == b'\\' {
                    t.escaped = true;
                } else if b == q {
                    t.quote = None;
                }
                if t.field == 0 {
                    t.value.push(b);
                }
                continue;
            }
            match b {
                b'\'' | b'"' => {
                    t.quote = Some(b);
                    if t.field == 0 {
                        t.value.push(b);
                    }
                }
                b'(' => {
                    t.depth += 1;
                    if t.depth == 1 {
                        *self.counts.entry(t.table.clone()).or_insert(0) += 1;
                        t.field = 0;
                        t.value.clear();
                    } else if t.field == 0 {
                        t.value.push(b);
                    }
                }
                b')' | b',' if t.depth == 1 => {
                    if t.field == 0 && capture {
                        let value = unquote(&String::from_utf8_lossy(&t.value));
                        self.inventory.revisions.push(value);
                    }
                    if b == b')' {
                        t.depth = 0;
                    }
                    t.field += 1;
                }
                b')' => {
                    t.depth = t.depth.saturating_sub(1);
                    if t.field == 0 {
                        t.value.push(b);
                    }
                }
                b';' if t.depth == 0 => {
                    ended = true;
                    break;
                }
                _ => {
                    if t.depth >= 1 && t.field == 0 {
                        t.value.push(b);
                    }
                }
            }
        }
        if ended {
            self.inserting = None;
        }
    }

    fn finish(mut self) -> Inventory {
        let rows = std::mem::take(&mut self.inventory.revisions);
        if self
            .inventory
            .contains(ObjectKind::Table, &self.version_table)
        {
            self.inventory.set_revisions(rows);
        }
        self.inventory.row_counts = Some(self.counts);
        self.inventory.source = "the dump's statements";
        self.inventory
    }
}

/// `` name` (…`` → `name` (a doubled backtick is one).
fn quoted_name(rest: &str) -> Option<String> {
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            if chars.peek() == Some(&'`') {
                chars.next();
                name.push('`');
            } else {
                return Some(name);
            }
        } else {
            name.push(c);
        }
    }
    None
}

/// A dump's SQL value as text: `'it\'s'` → `it's`; anything unquoted as written.
fn unquote(value: &str) -> String {
    let value = value.trim();
    let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) else {
        return value.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('Z') => out.push('\u{1a}'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_file_is_private_quoted_and_removed() {
        let url = DatabaseUrl::parse("mysql://app:p%22a%5Css@db.local:3307/shop", Path::new("/"))
            .unwrap();
        let file = OptionFile::new(&url).unwrap();
        let path = file.0.clone();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("password=\"p\\\"a\\\\ss\"\n"), "{text}");
        assert!(text.contains("port=\"3307\"") && text.contains("protocol=\"tcp\""));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(file.argument().starts_with("--defaults-extra-file="));
        assert!(!file.argument().contains("p\"a"));
        drop(file);
        assert!(!path.exists());
        // Through an SSH tunnel the tools connect to its local end.
        let mut url = url;
        url.via = Some(crate::database::Via::new(
            "127.0.0.1:40124".parse().unwrap(),
            "SSH via b".into(),
            || None,
        ));
        let file = OptionFile::new(&url).unwrap();
        let text = std::fs::read_to_string(&file.0).unwrap();
        assert!(
            text.contains("host=\"127.0.0.1\"") && text.contains("port=\"40124\""),
            "{text}"
        );
    }

    #[test]
    fn option_files_of_killed_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // No process has a pid this high; ours is alive; other names are not ours.
        let dead = dir.path().join("retort-4000000000-0.cnf");
        let mine = dir
            .path()
            .join(format!("retort-{}-7.cnf", std::process::id()));
        let other = dir.path().join("retort-notes.cnf");
        for f in [&dead, &mine, &other] {
            std::fs::write(f, "[client]\npassword=\"x\"\n").unwrap();
        }
        remove_stale_option_files(dir.path());
        assert!(!dead.exists());
        assert!(mine.exists() && other.exists());
    }

    #[test]
    fn trailer_decides() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d.sql");
        std::fs::write(&f, "-- MariaDB dump\nCREATE TABLE `t` (x int);\n\n-- Dump completed on 2026-11-24 19:53:55\n").unwrap();
        assert!(verify(&f).unwrap().contains("Dump completed on 2026"));
        std::fs::write(&f, "-- MariaDB dump\nINSERT INTO `t` VALUES (1),\n").unwrap();
        assert!(matches!(verify(&f), Err(BackupError::Verify { .. })));
    }

    #[test]
    fn quoted_names() {
        assert_eq!(quoted_name("t` (\n").as_deref(), Some("t"));
        assert_eq!(quoted_name("a``b` (\n").as_deref(), Some("a`b"));
        assert_eq!(quoted_name("unterminated"), None);
    }

    #[test]
    fn a_dump_is_read_for_its_objects_rows_and_version_rows() {
        let dump = "-- MariaDB dump\n\
            DROP SEQUENCE IF EXISTS `s`;\n\
            CREATE SEQUENCE `s` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;\n\
            CREATE TABLE `alembic_version` (\n  `version_num` varchar(32) NOT NULL,\n  PRIMARY KEY (`version_num`)\n) ENGINE=InnoDB;\n\
            INSERT INTO `alembic_version` VALUES\n('abc'),\n('d\\'ef');\n\
            CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `name` text,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `ux` (`x`),\n  KEY `ix_name` (`name`(10))\n) ENGINE=InnoDB;\n\
            INSERT INTO `t` VALUES\n(1,'a\\'b(),;'),\n(2,NULL),(3,'x\ny');\n\
            CREATE TABLE `empty` (\n  `x` int\n);\n\
            DELIMITER ;;\n\
            CREATE DEFINER=`root`@`%` PROCEDURE `p`()\nBEGIN\nCREATE TABLE `inside` (x int);\nEND ;;\n\
            DELIMITER ;\n\
            DELIMITER ;;\nCREATE DEFINER=`root`@`%` FUNCTION `f`(a int) RETURNS int(11)\nreturn a\n;;\nDELIMITER ;\n\
            /*!50001 CREATE VIEW `v` AS SELECT\n 1 AS `id` */;\n\
            -- Final view structure for view `v`\n\
            -- Dump completed on 2026-12-02  6:04:56\n";
        let mut scanner = DumpScanner::new("alembic_version");
        for line in dump.split_inclusive('\n') {
            scanner.line(line.as_bytes());
        }
        let found = scanner.finish();
        let objects: Vec<String> = found
            .objects
            .keys()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        assert_eq!(
            objects,
            [
                "table alembic_version",
                "table empty",
                "table t",
                "view v",
                "sequence s",
                "index alembic_version.PRIMARY",
                "index t.PRIMARY",
                "index t.ix_name",
                "index t.ux",
                "function f",
                "procedure p",
            ]
        );
        assert_eq!(
            found.row_counts,
            Some(
                [
                    ("alembic_version".to_string(), 2),
                    ("empty".to_string(), 0),
                    ("t".to_string(), 3)
                ]
                .into()
            )
        );
        assert_eq!(found.revisions, ["abc", "d'ef"]);
    }
}
