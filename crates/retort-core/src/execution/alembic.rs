//! Running Alembic (Python) revisions through the project's own alembic.
//!
//! Retort does not re-implement Python migrations: it starts the project's Python (the one that
//! reads its revision files too: [`crate::project::python`]) on a small shim ([`SHIM`], passed with `python -c`)
//! that calls `alembic.command.upgrade`/`downgrade` as the `alembic` script would, in the
//! project's folder, with stdin closed.
//!
//! - **The URL** reaches the child only through its environment (`RETORT_DATABASE_URL`), never
//!   argv or a file. The shim removes that variable, sets `DATABASE_URL` and the config's
//!   `sqlalchemy.url`, so env.py files of either style see the URL Retort resolved.
//! - **Progress**: the shim wraps `MigrationContext.run_migrations` so that the migration
//!   steps come through a generator of its own. It reports alembic's step list, each step as it
//!   starts, and each step once alembic asks for the next one (the step's migration, its
//!   version-row change and any per-migration transaction are done by then), as JSON lines on
//!   stdout behind a marker unique to the run. Everything else the child prints is passed on
//!   as [`ProgressEvent::Output`] (marked with the stream it came on), with the password scrubbed. Alembic's own "Running <step>"
//!   log line is dropped, since the step events say the same.
//! - **Failures**: the shim notes each statement a step executes (with its line in the revision
//!   file) and asks the driver after each whether a transaction is still open: a statement
//!   after which none is (SQLite's autocommitted DDL, MySQL's implicit commits, an
//!   `autocommit_block`) committed everything before it. So the report tells exactly which
//!   statements of the failing step, and which earlier steps of the run, stay applied.
//! - **Cancel**: Retort creates a cancel file the shim checks before each step; the shim then
//!   stops handing steps to alembic, which commits what ran and returns normally. The shim
//!   treats a first SIGINT (a Ctrl-C on the terminal reaches the child too) the same way; a
//!   second one interrupts the running step, like Retort's own second Ctrl-C.
//! - **The lock**: Retort's migration lock is held on a connection of its own around the whole
//!   run, so a native run and an alembic run through Retort exclude each other. `--sql`
//!   (offline) runs take no lock and open no connection.

use super::plan::{self, Step};
use super::{
    CompletedStep, ExecutionError, Held, Operation, Outcome, ProgressEvent, ProgressSink,
    RunObserver, RunOptions, RunReport, StepFailure,
};
use crate::database::{Backend, Database, DatabaseUrl, VersionTable};
use crate::graph::RevisionMap;
use crate::project::Project;
use serde::Deserialize;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

/// The Python side. It holds no secret: the URL comes from the environment.
/// argv: ini path, pyproject path (either may be empty), command, target, offline ("1"/"0").
const SHIM: &str = r###"
import json, os, re, signal, sys, traceback

_MARK = "\x1e" + os.environ.pop("RETORT_MARKER", "RETORT")
_URL = os.environ.pop("RETORT_DATABASE_URL", "")
_CANCEL_FILE = os.environ.pop("RETORT_CANCEL_FILE", "")
_INI, _TOML, _COMMAND, _TARGET, _OFFLINE = sys.argv[1:6]
# Like the alembic script: the project folder is on sys.path only through prepend_sys_path.
if sys.path and sys.path[0] == "":
    del sys.path[0]
_OUT = sys.stdout


def _emit(**event):
    _OUT.write(_MARK + " " + json.dumps(event) + "\n")
    _OUT.flush()


# A first SIGINT (Ctrl-C on the terminal) cancels between steps; a second interrupts the step.
_SIGINTS = [0]


def _on_sigint(signum, frame):
    _SIGINTS[0] += 1
    if _SIGINTS[0] > 1:
        raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)


def _cancelled():
    return _SIGINTS[0] > 0 or (bool(_CANCEL_FILE) and os.path.exists(_CANCEL_FILE))


try:
    import alembic
    import alembic.command
    import alembic.config
    import alembic.util
    from alembic.runtime import migration
except ImportError as e:
    _emit(missing=getattr(e, "name", None) or "", error="%s: %s" % (type(e).__name__, e))
    sys.exit(3)

if _TOML and not _INI:
    try:
        _version = tuple(int(p) for p in alembic.__version__.split(".")[:2])
    except ValueError:
        _version = (99, 0)
    if _version < (1, 16):
        _emit(unsupported="alembic %s reads pyproject.toml only from version 1.16 on" % alembic.__version__)
        sys.exit(3)

_STATE = {"step": None, "path": None, "finished": 0, "committed": 0, "statements": [], "tracked": False}
_REAL = {}


def _real(path):
    if path not in _REAL:
        _REAL[path] = os.path.realpath(path)
    return _REAL[path]


def _dbapi_of(conn):
    try:
        pooled = conn.connection
    except Exception:
        return None
    return getattr(pooled, "dbapi_connection", None) or getattr(pooled, "driver_connection", None)


def _in_transaction(dbapi):
    # Whether the driver has a transaction open; None when it does not tell.
    try:
        flag = getattr(dbapi, "in_transaction", None)  # sqlite3
        if isinstance(flag, bool):
            return flag
        status = getattr(getattr(dbapi, "info", None), "transaction_status", None)  # psycopg2/3
        if status is not None:
            return int(status) != 0
        server = getattr(dbapi, "server_status", None)  # PyMySQL
        if isinstance(server, int):
            return bool(server & 1)
    except Exception:
        pass
    return None


_DDL = re.compile(r"\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE|GRANT|REVOKE)\b", re.I)


def _all_committed():
    _STATE["committed"] = _STATE["finished"]
    for s in _STATE["statements"]:
        s["committed"] = True


def _is_mysql(dialect):
    return getattr(dialect, "name", "") in ("mysql", "mariadb")


def _line_in_revision():
    path = _STATE["path"]
    frame = sys._getframe(1)
    while path and frame is not None:
        if _real(frame.f_code.co_filename) == path:
            return frame.f_lineno
        frame = frame.f_back
    return None


def _after_execute(conn, cursor, statement, parameters, context, executemany):
    if _STATE["step"] is None:
        return
    _STATE["statements"].append({"line": _line_in_revision(), "sql": statement, "committed": False})
    in_tx = _in_transaction(getattr(cursor, "connection", None))
    if in_tx is None:
        in_tx = not (_is_mysql(getattr(conn, "dialect", None)) and _DDL.match(statement))
    else:
        _STATE["tracked"] = True
    if not in_tx:
        _all_committed()


def _on_error(ctx):
    # MySQL commits before it runs DDL, even DDL that then fails.
    if _STATE["step"] is not None and _is_mysql(getattr(ctx, "dialect", None)):
        if _DDL.match(getattr(ctx, "statement", None) or ""):
            _all_committed()


try:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "after_cursor_execute", _after_execute)
    event.listen(Engine, "handle_error", _on_error)
except Exception:
    pass


class _Log:
    # alembic.runtime.migration's logger without "Running <step>": Retort reports steps itself.
    def __init__(self, log):
        self._log = log

    def info(self, msg, *args, **kw):
        if msg != "Running %s":
            self._log.info(msg, *args, **kw)

    def __getattr__(self, name):
        return getattr(self._log, name)


migration.log = _Log(migration.log)
_run_migrations = migration.MigrationContext.run_migrations


def _steps(fn, ctx):
    def steps(heads, context):
        planned = list(fn(heads, context))
        _emit(planned=[str(s) for s in planned])
        for i, step in enumerate(planned):
            if _cancelled():
                _emit(cancelled=[str(s) for s in planned[i:]])
                return
            script = getattr(step, "revision", None)
            path = getattr(script, "path", None)
            _STATE.update(step=step, path=_real(path) if path else None, statements=[])
            _emit(start=str(step), revision=getattr(script, "revision", None), path=path)
            yield step
            # Resumed: the step ran, wrote its version row and ended its per-migration
            # transaction, if it had one.
            _STATE["step"] = None
            _STATE["finished"] += 1
            _emit(finish=str(step))
            in_tx = _in_transaction(_dbapi_of(ctx.connection))
            if in_tx is not None:
                _STATE["tracked"] = True
            if in_tx is False:
                _all_committed()

    return steps


def _retort_run_migrations(self, **kw):
    if self._migrations_fn is not None and not getattr(self, "_retort_wrapped", False):
        self._retort_wrapped = True
        self._migrations_fn = _steps(self._migrations_fn, self)
    return _run_migrations(self, **kw)


migration.MigrationContext.run_migrations = _retort_run_migrations


def _print_traceback(e):
    libs = [os.path.dirname(alembic.__file__) + os.sep]
    try:
        import sqlalchemy

        libs.append(os.path.dirname(sqlalchemy.__file__) + os.sep)
    except Exception:
        pass
    frames = [
        f
        for f in traceback.extract_tb(e.__traceback__)
        if not f.filename.startswith("<") and not f.filename.startswith(tuple(libs))
    ]
    text = ["Traceback (most recent call last; alembic's and SQLAlchemy's frames left out):\n"]
    text += traceback.format_list(frames)
    text += traceback.format_exception_only(type(e), e)
    sys.stderr.write("".join(text))
    sys.stderr.flush()


def _error_text(e):
    if isinstance(e, alembic.util.CommandError):
        return str(e)
    text = "".join(traceback.format_exception_only(type(e), e)).strip()
    if getattr(e, "orig", None) is not None and text.startswith(type(e).__module__):
        text = text.split(": ", 1)[-1]
    keep = [
        l
        for l in text.splitlines()
        if not l.startswith(("[SQL:", "[parameters:", "(Background on this error"))
        and l.strip() != "^"
    ]
    return "\n".join(keep).rstrip()


os.environ["DATABASE_URL"] = _URL
config = alembic.config.Config(file_=_INI or None, toml_file=_TOML or None)
config.set_main_option("sqlalchemy.url", _URL.replace("%", "%%"))
try:
    getattr(alembic.command, _COMMAND)(config, _TARGET, sql=_OFFLINE == "1")
except BaseException as e:
    command_error = isinstance(e, alembic.util.CommandError)
    if not command_error:
        _print_traceback(e)
    line = None
    path = _STATE["path"]
    for frame in traceback.extract_tb(e.__traceback__):
        if path and _real(frame.filename) == path:
            line = frame.lineno
    statement = getattr(e, "statement", None)
    _emit(
        error=_error_text(e),
        command_error=command_error,
        statement=statement if isinstance(statement, str) else None,
        line=line,
        committed_steps=_STATE["committed"],
        tracked=_STATE["tracked"],
        statements=_STATE["statements"] if _STATE["step"] is not None else [],
    )
    sys.exit(1)
_emit(done=True)
"###;

#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    held: Option<Held>,
    project: &Project,
    map: &RevisionMap,
    url: &DatabaseUrl,
    operation: &Operation,
    options: &RunOptions,
    sink: ProgressSink<'_>,
    observer: &dyn RunObserver,
) -> Result<RunReport, ExecutionError> {
    let dir = project_dir(project);
    let python = crate::project::python::find(options.python.as_deref(), &dir)
        .map_err(|e| ExecutionError::Alembic(e.to_string()))?;
    let child = ChildSpec {
        python,
        dir,
        operation,
        project,
        url,
        offline: options.offline,
    };
    if options.offline {
        if let Some(held) = held {
            held.release().await?;
        }
        return run_offline(&child, map, options, sink).await;
    }

    let mut held = Held::or_acquire(held, project, url, options, sink).await?;
    let result = run_locked(
        &child,
        map,
        &mut held.db,
        &held.table,
        options,
        sink,
        observer,
    )
    .await;
    held.release_after(result).await
}

/// The folder alembic runs in: the configuration file's.
pub(crate) fn project_dir(project: &Project) -> PathBuf {
    let dir = project
        .config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Everything needed to start the child.
struct ChildSpec<'a> {
    python: PathBuf,
    dir: PathBuf,
    operation: &'a Operation,
    project: &'a Project,
    url: &'a DatabaseUrl,
    offline: bool,
}

async fn run_locked(
    spec: &ChildSpec<'_>,
    map: &RevisionMap,
    db: &mut Database,
    table: &VersionTable,
    options: &RunOptions,
    sink: ProgressSink<'_>,
    observer: &dyn RunObserver,
) -> Result<RunReport, ExecutionError> {
    let rows = db.version_heads(table).await?;
    let heads_before = rows.clone().unwrap_or_default();
    // Retort's own plan gives the step count before Python has even started; alembic's own
    // list, when it comes, is the one that counts.
    let planned: Option<Vec<Step>> = plan::build(
        spec.project,
        map,
        spec.operation,
        rows.as_deref(),
        spec.url.backend,
    )
    .ok()
    .map(|p| p.steps);
    let mut report = RunReport {
        operation: spec.operation.clone(),
        url: spec.url.redacted(),
        outcome: Outcome::Completed,
        heads_before: heads_before.clone(),
        heads_after: Vec::new(),
        created_version_table: false,
        completed: Vec::new(),
        not_run: Vec::new(),
        failure: None,
    };
    if options.cancel.is_cancelled() {
        report.outcome = Outcome::Cancelled;
        report.not_run = planned
            .iter()
            .flatten()
            .map(|s| s.description.clone())
            .collect();
        report.heads_after = heads_before;
        return Ok(report);
    }
    // Retort's plan is what a killed run is later reconciled against (the version table
    // says which of its steps committed); alembic itself decides when they commit.
    if let Some(steps) = &planned {
        observer.planned(steps).await;
    }
    let announced = planned.as_ref().map(|steps| {
        sink(ProgressEvent::Planned {
            total: steps.len(),
            creates_version_table: rows.is_none() && !steps.is_empty(),
        });
        steps.len()
    });

    let run = drive(spec, options, sink, announced, rows.is_none()).await?;

    let rows_after = db.version_heads(table).await;
    report.created_version_table = rows.is_none() && matches!(rows_after, Ok(Some(_)));
    report.completed = run.completed;
    if let Some(error) = run.error {
        let version_rows = match &rows_after {
            Ok(r) => r.clone().unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let Some(step) = run.running else {
            if report.completed.is_empty() {
                return Err(ExecutionError::Alembic(before_steps_message(&error)));
            }
            // Every step ran; what failed came after them (the final commit, say).
            let last = report.completed.last().map(|s| s.description.clone());
            let failure = StepFailure {
                description: format!("alembic, after {}", last.unwrap_or_default()),
                revision: None,
                path: None,
                line: None,
                statement: None,
                error: error.error.clone(),
                rolled_back: false,
                committed_statements: Vec::new(),
                version_rows: version_rows.clone(),
                advice: vec![format!(
                    "Check the version table (it names {}) against the database before running `{}` again.",
                    super::rows_text(&version_rows),
                    spec.operation.command_line()
                )],
            };
            report.outcome = Outcome::Failed;
            report.failure = Some(failure);
            report.heads_after = version_rows;
            return Ok(report);
        };
        let undone = undone_steps(
            &report.completed,
            &error,
            &heads_before,
            &version_rows,
            spec.url.backend,
        );
        let undone_steps: Vec<CompletedStep> =
            report.completed.split_off(report.completed.len() - undone);
        let failure = failure_report(
            spec,
            map,
            &step,
            &error,
            version_rows.clone(),
            &undone_steps,
        );
        report.outcome = Outcome::Failed;
        report.failure = Some(failure);
        report.not_run = undone_steps
            .into_iter()
            .map(|s| s.description)
            .chain(run.planned.iter().skip(run.started).cloned())
            .collect();
        report.heads_after = version_rows;
        return Ok(report);
    }
    report.heads_after = rows_after?.unwrap_or_default();
    if let Some(rest) = run.cancelled {
        report.outcome = Outcome::Cancelled;
        report.not_run = rest;
    }
    Ok(report)
}

async fn run_offline(
    spec: &ChildSpec<'_>,
    map: &RevisionMap,
    options: &RunOptions,
    sink: ProgressSink<'_>,
) -> Result<RunReport, ExecutionError> {
    let run = drive(spec, options, sink, None, false).await?;
    let mut report = RunReport {
        operation: spec.operation.clone(),
        url: spec.url.redacted(),
        outcome: Outcome::Completed,
        heads_before: Vec::new(),
        heads_after: Vec::new(),
        created_version_table: false,
        completed: run.completed,
        not_run: Vec::new(),
        failure: None,
    };
    if let Some(error) = run.error {
        let Some(step) = run.running else {
            return Err(ExecutionError::Alembic(before_steps_message(&error)));
        };
        let mut failure = failure_report(spec, map, &step, &error, Vec::new(), &[]);
        failure.rolled_back = true;
        failure.advice = vec![format!(
            "Nothing was run against the database (--sql); fix the revision and run `{} --sql` again.",
            spec.operation.command_line()
        )];
        report.outcome = Outcome::Failed;
        report.failure = Some(failure);
        report.not_run = run.planned.iter().skip(run.started).cloned().collect();
    } else if let Some(rest) = run.cancelled {
        report.outcome = Outcome::Cancelled;
        report.not_run = rest;
    }
    Ok(report)
}

fn before_steps_message(error: &ErrorMarker) -> String {
    if error.command_error {
        error.error.clone()
    } else {
        format!(
            "alembic failed before running any migration: {}",
            error.error
        )
    }
}

/// How many of the finished steps (the last ones) were undone with the failing one: alembic
/// runs a whole upgrade in one transaction unless env.py asks for one per migration.
fn undone_steps(
    completed: &[CompletedStep],
    error: &ErrorMarker,
    before: &[String],
    after: &[String],
    backend: Backend,
) -> usize {
    if error.tracked {
        return completed.len().saturating_sub(error.committed_steps);
    }
    // The driver did not tell: the version table does.
    let mut a = before.to_vec();
    let mut b = after.to_vec();
    a.sort();
    b.sort();
    if backend != Backend::MySql && a == b {
        completed.len()
    } else {
        0
    }
}

fn failure_report(
    spec: &ChildSpec<'_>,
    map: &RevisionMap,
    step: &Running,
    error: &ErrorMarker,
    version_rows: Vec<String>,
    undone: &[CompletedStep],
) -> StepFailure {
    let path = step
        .revision
        .as_deref()
        .and_then(|r| map.lookup(r))
        .and_then(|idx| map.rev(idx).path.clone())
        .or_else(|| step.path.clone());
    let committed: Vec<(usize, String)> = error
        .statements
        .iter()
        .filter(|s| s.committed)
        .map(|s| (s.line.unwrap_or(0), super::statements::summarize(&s.sql)))
        .collect();
    let rolled_back = committed.is_empty();
    let rerun = spec.operation.command_line();
    let mut advice = Vec::new();
    if !undone.is_empty() {
        advice.push(format!(
            "alembic ran this {} in one transaction (env.py's context.begin_transaction()), so the {} step(s) before the failing one were rolled back with it.",
            spec.operation.name(),
            undone.len()
        ));
    }
    if rolled_back {
        advice.push(format!("Fix the revision and run `{rerun}` again."));
    } else {
        let why = if spec.url.backend == Backend::MySql {
            "MySQL/MariaDB commits DDL as it runs"
        } else if spec.url.backend == Backend::Sqlite {
            "SQLite's Python driver runs DDL outside a transaction when none is open"
        } else {
            "these statements ran outside a transaction (autocommit)"
        };
        advice.extend(super::partial_failure_advice(
            why,
            spec.operation,
            step.revision.as_deref(),
        ));
    }
    StepFailure {
        description: step.description.clone(),
        revision: step.revision.clone(),
        path,
        line: error.line,
        statement: error.statement.as_deref().map(super::statements::summarize),
        error: error.error.clone(),
        rolled_back,
        committed_statements: committed,
        version_rows,
        advice,
    }
}

// ---------------------------------------------------------------------------------------------
// The URL for SQLAlchemy

/// The URL as SQLAlchemy parses it, password included: only ever handed to the child's
/// environment.
#[cfg(test)]
fn sqlalchemy_url(url: &DatabaseUrl) -> String {
    sqlalchemy_url_with(url, url.password.as_ref())
}

/// [`sqlalchemy_url`] with `password` (a token fetched again for this child), reaching the
/// server where connections go ([`DatabaseUrl::connect_host`]: an SSH tunnel's local end).
pub(crate) fn sqlalchemy_url_with(
    url: &DatabaseUrl,
    password: Option<&crate::database::Secret>,
) -> String {
    let mut pairs: Vec<String> = url
        .query
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect();
    // A password with no user (`?password=` in the URL) stays a query option: the drivers
    // take `password` as a keyword.
    if url.user.is_none()
        && let Some(password) = password
    {
        pairs.push(format!("password={}", quote(password.expose())));
    }
    let query = if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    };
    if url.backend == Backend::Sqlite {
        return match &url.sqlite_path {
            Some(path) => format!("{}:///{}{query}", url.scheme, path.display()),
            None => format!("{}://{query}", url.scheme),
        };
    }
    let mut out = format!("{}://", url.scheme);
    if let Some(user) = &url.user {
        out.push_str(&quote(user));
        if let Some(password) = password {
            out.push(':');
            out.push_str(&quote(password.expose()));
        }
        out.push('@');
    }
    if let Some(host) = &url.connect_host() {
        if host.contains(':') {
            out.push_str(&format!("[{host}]"));
        } else {
            out.push_str(host);
        }
    }
    if let Some(port) = url.connect_port() {
        out.push_str(&format!(":{port}"));
    }
    if let Some(db) = &url.database {
        out.push('/');
        out.push_str(&quote(db));
    }
    out.push_str(&query);
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters (SQLAlchemy unquotes the
/// user, password and database, and parses the query with `parse_qsl`).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Removes the password from the child's output, as written and percent-encoded.
pub(crate) fn scrub(url: &DatabaseUrl, text: &str) -> String {
    let text = url.scrub(text);
    match &url.password {
        Some(p) if !p.expose().is_empty() && quote(p.expose()) != p.expose() => {
            text.replace(&quote(p.expose()), "***")
        }
        _ => text,
    }
}

// ---------------------------------------------------------------------------------------------
// The child and its output

/// What the shim reports, one JSON object per marker line.
#[derive(Debug, Default, Deserialize)]
struct Marker {
    planned: Option<Vec<String>>,
    start: Option<String>,
    revision: Option<String>,
    path: Option<PathBuf>,
    finish: Option<String>,
    cancelled: Option<Vec<String>>,
    #[serde(flatten)]
    error: Option<ErrorMarker>,
    missing: Option<String>,
    unsupported: Option<String>,
    done: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorMarker {
    error: String,
    #[serde(default)]
    command_error: bool,
    statement: Option<String>,
    line: Option<usize>,
    #[serde(default)]
    committed_steps: usize,
    #[serde(default)]
    tracked: bool,
    #[serde(default)]
    statements: Vec<ExecutedStatement>,
}

#[derive(Debug, Default, Deserialize)]
struct ExecutedStatement {
    line: Option<usize>,
    sql: String,
    committed: bool,
}

/// The step that was running.
#[derive(Debug, Clone)]
struct Running {
    description: String,
    revision: Option<String>,
    path: Option<PathBuf>,
    started: Instant,
}

/// What the child did.
#[derive(Debug, Default)]
struct ChildRun {
    /// Alembic's steps, in order.
    planned: Vec<String>,
    /// How many steps started.
    started: usize,
    completed: Vec<CompletedStep>,
    /// The step that started and did not finish.
    running: Option<Running>,
    cancelled: Option<Vec<String>>,
    error: Option<ErrorMarker>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// A marker no migration prints by accident: random per run.
pub(crate) fn run_nonce() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    format!("RETORT-{:016x}", hasher.finish())
}

/// The shim's first two arguments: the alembic.ini and the pyproject.toml alembic reads
/// (either may be empty), as the `alembic` script finds them in `dir`.
pub(crate) fn config_files(project: &Project, dir: &Path) -> (PathBuf, PathBuf) {
    let config = &project.config_path;
    if config.file_name().is_some_and(|n| n == "pyproject.toml") {
        return (PathBuf::new(), config.clone());
    }
    let toml = dir.join("pyproject.toml");
    (
        config.clone(),
        if toml.is_file() { toml } else { PathBuf::new() },
    )
}

/// Runs the shim and turns its output into progress events.
async fn drive(
    spec: &ChildSpec<'_>,
    options: &RunOptions,
    sink: ProgressSink<'_>,
    announced: Option<usize>,
    creates_version_table: bool,
) -> Result<ChildRun, ExecutionError> {
    let (command, target) = match spec.operation {
        Operation::Upgrade { target } => ("upgrade", target),
        Operation::Downgrade { target } => ("downgrade", target),
        Operation::Stamp { .. } => {
            return Err(ExecutionError::Alembic(
                "stamps are run by Retort itself, not through alembic".into(),
            ));
        }
    };
    let (ini, toml) = config_files(spec.project, &spec.dir);
    let nonce = run_nonce();
    let marker = format!("\u{1e}{nonce} ");
    let cancel_file = std::env::temp_dir().join(format!("{}-cancel", nonce.to_lowercase()));

    let password = spec.url.current_password()?;
    let mut child = tokio::process::Command::new(&spec.python)
        .arg("-c")
        .arg(SHIM)
        .arg(&ini)
        .arg(&toml)
        .arg(command)
        .arg(target)
        .arg(if spec.offline { "1" } else { "0" })
        .current_dir(&spec.dir)
        .env(
            "RETORT_DATABASE_URL",
            sqlalchemy_url_with(spec.url, password.as_ref()),
        )
        .env("RETORT_MARKER", &nonce)
        .env("RETORT_CANCEL_FILE", &cancel_file)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONIOENCODING", "utf-8:backslashreplace")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            ExecutionError::Alembic(format!("cannot run {}: {e}", spec.python.display()))
        })?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    if let Some(out) = child.stdout.take() {
        tokio::spawn(read_lines(out, Stream::Stdout, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_lines(err, Stream::Stderr, tx.clone()));
    }
    drop(tx);

    let mut run = ChildRun::default();
    let mut total = announced;
    let mut problem: Option<String> = None;
    let mut stderr_tail: Vec<String> = Vec::new();
    let mut cancel_sent = false;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        let (stream, line) = tokio::select! {
            message = rx.recv() => match message {
                Some(message) => message,
                None => break,
            },
            _ = ticker.tick() => {
                if !cancel_sent && options.cancel.is_cancelled() {
                    cancel_sent = true;
                    if let Err(e) = std::fs::write(&cancel_file, b"") {
                        // Without the file, SIGINT does the same between steps.
                        sink(ProgressEvent::Output { line: format!("cannot write {}: {e}", cancel_file.display()), stderr: true });
                    }
                }
                continue;
            }
        };
        let line = scrub(spec.url, &line);
        let parsed = match (stream, line.strip_prefix(&marker)) {
            (Stream::Stdout, Some(json)) => serde_json::from_str::<Marker>(json).ok(),
            _ => None,
        };
        let Some(m) = parsed else {
            if stream == Stream::Stderr {
                stderr_tail.push(line.clone());
                if stderr_tail.len() > 20 {
                    stderr_tail.remove(0);
                }
            }
            sink(ProgressEvent::Output {
                line,
                stderr: stream == Stream::Stderr,
            });
            continue;
        };
        if let Some(steps) = m.planned {
            let count = run.planned.len() + steps.len();
            run.planned.extend(steps);
            if !spec.offline && total != Some(count) {
                total = Some(count);
                sink(ProgressEvent::Planned {
                    total: count,
                    creates_version_table: creates_version_table && count > 0,
                });
            }
        } else if let Some(description) = m.start {
            let index = run.started;
            run.started += 1;
            if !spec.offline {
                sink(ProgressEvent::StepStarted {
                    index,
                    total: total.unwrap_or(0).max(index + 1),
                    description: description.clone(),
                });
            }
            run.running = Some(Running {
                description,
                revision: m.revision,
                path: m.path,
                started: Instant::now(),
            });
        } else if let Some(description) = m.finish {
            let index = run.completed.len();
            let running = run.running.take();
            let duration_ms = running
                .as_ref()
                .map_or(0, |r| r.started.elapsed().as_millis() as u64);
            let (revision, path) = running.map_or((None, None), |r| (r.revision, r.path));
            if !spec.offline {
                sink(ProgressEvent::StepFinished {
                    index,
                    total: total.unwrap_or(0).max(index + 1),
                    description: description.clone(),
                    duration_ms,
                });
            }
            run.completed.push(CompletedStep {
                description,
                revision,
                path,
                duration_ms,
            });
        } else if let Some(rest) = m.cancelled {
            run.cancelled = Some(rest);
        } else if let Some(missing) = m.missing {
            let python = spec.python.display();
            let detail = m.error.map(|e| e.error).unwrap_or_default();
            problem = Some(if missing == "alembic" {
                format!(
                    "alembic is not installed for {python}: run `{python} -m pip install alembic`, or pass --python with the project's Python"
                )
            } else {
                format!("alembic cannot be imported with {python}: {detail}")
            });
        } else if let Some(message) = m.unsupported {
            problem = Some(format!("{message} (Python: {})", spec.python.display()));
        } else if let Some(mut error) = m.error {
            error.error = scrub(spec.url, &error.error);
            error.statement = error.statement.map(|s| scrub(spec.url, &s));
            for s in &mut error.statements {
                s.sql = scrub(spec.url, &s.sql);
            }
            if let Some(running) = &run.running
                && !spec.offline
            {
                let index = run.started - 1;
                sink(ProgressEvent::StepFailed {
                    index,
                    total: total.unwrap_or(0).max(index + 1),
                    description: running.description.clone(),
                    duration_ms: running.started.elapsed().as_millis() as u64,
                    error: error.error.clone(),
                });
            }
            run.error = Some(error);
        } else if m.done == Some(true) {
            // The normal end.
        }
    }
    let status = child.wait().await;
    let _ = std::fs::remove_file(&cancel_file);
    let status = status.map_err(|e| {
        ExecutionError::Alembic(format!("waiting for {}: {e}", spec.python.display()))
    })?;
    if let Some(problem) = problem {
        return Err(ExecutionError::Alembic(problem));
    }
    if run.error.is_none() && !status.success() {
        // The child died without saying why (a signal, an interpreter too old for the shim).
        let how = status
            .code()
            .map_or_else(|| status.to_string(), |code| format!("exit status {code}"));
        let tail = stderr_tail.join("\n");
        let error = if tail.is_empty() {
            format!("{} stopped ({how})", spec.python.display())
        } else {
            format!("{} stopped ({how}): {tail}", spec.python.display())
        };
        run.error = Some(ErrorMarker {
            error,
            ..ErrorMarker::default()
        });
    }
    Ok(run)
}

async fn read_lines(
    pipe: impl AsyncRead + Unpin,
    stream: Stream,
    tx: mpsc::UnboundedSender<(Stream, String)>,
) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                let line = text.trim_end_matches(['\n', '\r']).to_string();
                if tx.send((stream, line)).is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DatabaseUrl {
        DatabaseUrl::parse(s, Path::new("/proj")).unwrap()
    }

    #[test]
    fn urls_for_sqlalchemy_keep_the_password_encoded() {
        let u =
            parse("postgresql+psycopg2://scott:t%40ger+x%25@db.example:5433/app?sslmode=require");
        assert_eq!(
            sqlalchemy_url(&u),
            "postgresql+psycopg2://scott:t%40ger%2Bx%25@db.example:5433/app?sslmode=require"
        );
        assert_eq!(
            sqlalchemy_url(&parse("mysql+pymysql://root@127.0.0.1/test")),
            "mysql+pymysql://root@127.0.0.1/test"
        );
        assert_eq!(
            sqlalchemy_url(&parse("sqlite:///rel.db")),
            "sqlite:////proj/rel.db"
        );
        assert_eq!(
            sqlalchemy_url(&parse("sqlite:////abs/x.db")),
            "sqlite:////abs/x.db"
        );
        assert_eq!(sqlalchemy_url(&parse("sqlite://")), "sqlite://");
        assert_eq!(
            sqlalchemy_url(&parse("postgresql://u@[::1]:5432/d")),
            "postgresql://u@[::1]:5432/d"
        );
        // Through an SSH tunnel alembic connects to its local end, with the token of now.
        let mut url = parse("postgresql://u@db.internal:6543/d");
        url.via = Some(crate::database::Via::new(
            "127.0.0.1:40125".parse().unwrap(),
            "SSH via b".into(),
            || None,
        ));
        let token = crate::database::Secret::new("tok");
        assert_eq!(
            sqlalchemy_url_with(&url, Some(&token)),
            "postgresql://u:tok@127.0.0.1:40125/d"
        );
    }

    #[test]
    fn output_is_scrubbed_of_the_password_in_both_spellings() {
        let u = parse("postgresql://u:p%40ss@h/d");
        assert_eq!(scrub(&u, "x p@ss y p%40ss"), "x *** y ***");
        let plain = parse("postgresql://u@h/d");
        assert_eq!(scrub(&plain, "nothing"), "nothing");
    }

    #[test]
    fn markers_parse() {
        let m: Marker = serde_json::from_str(
            r#"{"start": "upgrade  -> 1, a", "revision": "1", "path": "/p/1.py"}"#,
        )
        .unwrap();
        assert_eq!(m.start.as_deref(), Some("upgrade  -> 1, a"));
        assert!(m.error.is_none());
        let m: Marker = serde_json::from_str(
            r#"{"error": "boom", "command_error": false, "statement": "INSERT 1", "line": 16, "committed_steps": 2, "tracked": true, "statements": [{"line": 14, "sql": "CREATE TABLE t (x int)", "committed": true}]}"#,
        )
        .unwrap();
        let e = m.error.unwrap();
        assert_eq!((e.line, e.committed_steps, e.tracked), (Some(16), 2, true));
        assert!(e.statements[0].committed);
        let m: Marker = serde_json::from_str(r#"{"done": true}"#).unwrap();
        assert_eq!(m.done, Some(true));
        assert!(m.error.is_none());
        let m: Marker =
            serde_json::from_str(r#"{"missing": "alembic", "error": "ModuleNotFoundError: x"}"#)
                .unwrap();
        assert_eq!(m.missing.as_deref(), Some("alembic"));
    }

    #[test]
    fn the_shim_holds_no_secret_and_is_python_3() {
        assert!(!SHIM.contains("\"#"), "the raw string must survive");
        assert!(SHIM.contains("RETORT_DATABASE_URL"));
    }

    #[test]
    fn undone_steps_follow_the_driver_then_the_rows() {
        let done = vec![
            CompletedStep {
                description: "a".into(),
                revision: None,
                path: None,
                duration_ms: 1,
            },
            CompletedStep {
                description: "b".into(),
                revision: None,
                path: None,
                duration_ms: 1,
            },
        ];
        let tracked = ErrorMarker {
            tracked: true,
            committed_steps: 1,
            ..ErrorMarker::default()
        };
        assert_eq!(
            undone_steps(&done, &tracked, &[], &[], Backend::Postgres),
            1
        );
        let blind = ErrorMarker::default();
        assert_eq!(undone_steps(&done, &blind, &[], &[], Backend::Postgres), 2);
        assert_eq!(
            undone_steps(&done, &blind, &[], &["x".into()], Backend::Postgres),
            0
        );
    }
}
