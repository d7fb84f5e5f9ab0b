//! Autogenerate for Alembic projects: alembic's own `revision --autogenerate`, with a review
//! of its operations before anything is written.
//!
//! Why through alembic and not a diff of Retort's own: the desired schema is the project's
//! SQLAlchemy models, which only Python can import, and the file must be the one alembic
//! would write (its renderer, the project's `script.py.mako`, its post-write hooks). The
//! driver ([`DRIVER`], `autogenerate.py`) runs in the project's Python, in the project's folder,
//! with the URL in its environment as upgrades get it. It hooks in as the
//! `process_revision_directives` of `alembic.command.revision`, after env.py's own:
//! - [`propose`] lists the operations alembic would write (one per `op.` call, those inside a
//!   table's batch one by one), each with what it risks on a database with data, and empties
//!   the directives so that nothing is written;
//! - [`write`] runs it again, checks the operations are still the ones reviewed, keeps those
//!   chosen and makes the downgrade their reverse, as alembic makes it; alembic writes the
//!   file. Keeping everything writes exactly what `alembic revision --autogenerate` writes;
//! - [`preview`] does the same and has alembic render the two functions' bodies instead of
//!   writing the file.

use crate::database::{DatabaseError, DatabaseUrl};
use crate::execution::alembic::{config_files, project_dir, run_nonce, scrub, sqlalchemy_url_with};
use crate::project::{Project, ProjectKind};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The Python side. It holds no secret: the URL comes from the environment.
pub const DRIVER: &str = include_str!("autogenerate.py");

/// `revision`'s own arguments, as `alembic revision` takes them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RevisionArgs {
    pub message: Option<String>,
    pub head: Option<String>,
    pub splice: bool,
    pub branch_label: Option<String>,
    pub version_path: Option<PathBuf>,
    pub rev_id: Option<String>,
    pub depends_on: Vec<String>,
}

/// One operation alembic would write.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedOperation {
    /// `create_table`, `add_column`, `alter_column`, `drop_index`, …
    pub kind: String,
    pub table: String,
    /// As a person reads it: `alter column users.name: type VARCHAR(50) → VARCHAR(20)`.
    pub text: String,
    /// What it risks on a table with rows (loses data, fails on some rows, locks).
    pub risks: Vec<String>,
}

/// The revision alembic wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub revision: String,
    pub path: PathBuf,
    /// The operations kept, in the file's order.
    pub kept: Vec<ProposedOperation>,
}

#[derive(Debug, thiserror::Error)]
pub enum AutogenerateError {
    #[error(
        "autogenerate compares SQLAlchemy models with a database: this is a native SQL project"
    )]
    NotAlembic,
    #[error("{0}")]
    Python(String),
    #[error("{0}")]
    Database(#[from] DatabaseError),
    #[error("alembic is not installed for {python}: {error}")]
    MissingAlembic { python: String, error: String },
    #[error("{message}")]
    NoMetadata { message: String },
    #[error("{message}")]
    NotUpToDate { message: String },
    #[error("{message}{}", at.as_ref().map(|a| format!(" (at {a})")).unwrap_or_default())]
    Alembic {
        message: String,
        /// `file:line` of the project's own frame the error came from, if any.
        at: Option<String>,
    },
    #[error(
        "the operations are no longer the ones reviewed (the models or the database changed): review again"
    )]
    Changed { now: Vec<ProposedOperation> },
    #[error("no operation {0}: the review lists {1}")]
    NoSuchOperation(usize, usize),
    #[error("alembic wrote no revision")]
    NothingWritten,
    #[error("the autogenerate driver ended without a report ({status}){}", tail(.stderr))]
    NoReport { status: String, stderr: String },
}

fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(":\n{}", lines[lines.len().saturating_sub(8)..].join("\n"))
}

impl AutogenerateError {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            AutogenerateError::NoMetadata { .. } => Some(
                "in env.py, import your models and set target_metadata = Base.metadata (the models' MetaData)",
            ),
            AutogenerateError::NotUpToDate { .. } => Some(
                "autogenerate compares the models with a database at the heads: upgrade it first (retort --connection NAME upgrade heads), on a development database",
            ),
            AutogenerateError::Changed { .. } => Some("list the operations again and choose"),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct Request<'a> {
    mode: &'a str,
    args: &'a RevisionArgs,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep: Option<&'a [usize]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<Vec<&'a str>>,
}

/// What the driver reports, one JSON object per marker line.
#[derive(Debug, Default, Deserialize)]
struct Report {
    missing: Option<String>,
    error: Option<String>,
    #[serde(default)]
    command_error: bool,
    file: Option<PathBuf>,
    line: Option<u64>,
    operations: Option<Vec<ProposedOperation>>,
    preview: Option<Preview>,
    written: Option<Vec<WrittenFile>>,
    changed: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct WrittenFile {
    revision: String,
    path: PathBuf,
}

/// The operations `alembic revision --autogenerate` would write for the database at `url`;
/// writes nothing.
pub async fn propose(
    project: &Project,
    url: &DatabaseUrl,
    python: Option<&Path>,
    args: &RevisionArgs,
) -> Result<Vec<ProposedOperation>, AutogenerateError> {
    let request = Request {
        mode: "list",
        args,
        keep: None,
        expected: None,
    };
    let report = run(project, url, python, &request).await?;
    Ok(report.operations.unwrap_or_default())
}

/// The `upgrade()` and `downgrade()` bodies alembic renders for the kept operations.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub upgrade: String,
    pub downgrade: String,
}

/// What the file would say with the operations of `reviewed` numbered in `keep`; writes
/// nothing.
pub async fn preview(
    project: &Project,
    url: &DatabaseUrl,
    python: Option<&Path>,
    args: &RevisionArgs,
    reviewed: &[ProposedOperation],
    keep: &[usize],
) -> Result<Preview, AutogenerateError> {
    let report = run_kept("preview", project, url, python, args, reviewed, keep).await?;
    Ok(report.preview.unwrap_or_default())
}

/// Runs the driver in `mode` with `keep` of `reviewed`, refused when alembic now proposes
/// other operations.
async fn run_kept(
    mode: &str,
    project: &Project,
    url: &DatabaseUrl,
    python: Option<&Path>,
    args: &RevisionArgs,
    reviewed: &[ProposedOperation],
    keep: &[usize],
) -> Result<Report, AutogenerateError> {
    if let Some(&n) = keep.iter().find(|&&n| n >= reviewed.len()) {
        return Err(AutogenerateError::NoSuchOperation(n, reviewed.len()));
    }
    let request = Request {
        mode,
        args,
        keep: Some(keep),
        expected: Some(reviewed.iter().map(|o| o.text.as_str()).collect()),
    };
    let report = run(project, url, python, &request).await?;
    if report.changed.is_some() {
        return Err(AutogenerateError::Changed {
            now: report.operations.unwrap_or_default(),
        });
    }
    Ok(report)
}

/// Writes the revision with the operations of `reviewed` (what [`propose`] gave) numbered in
/// `keep`, through alembic. Refused, with nothing written, if alembic now proposes other
/// operations than `reviewed`.
pub async fn write(
    project: &Project,
    url: &DatabaseUrl,
    python: Option<&Path>,
    args: &RevisionArgs,
    reviewed: &[ProposedOperation],
    keep: &[usize],
) -> Result<Written, AutogenerateError> {
    let report = run_kept("write", project, url, python, args, reviewed, keep).await?;
    let file = report
        .written
        .and_then(|w| w.into_iter().next())
        .ok_or(AutogenerateError::NothingWritten)?;
    let mut kept_numbers = keep.to_vec();
    kept_numbers.sort_unstable();
    kept_numbers.dedup();
    Ok(Written {
        revision: file.revision,
        path: file.path,
        kept: kept_numbers.iter().map(|&n| reviewed[n].clone()).collect(),
    })
}

/// The journal's entry for a revision [`write`] wrote: what it revises (read back from the
/// file), and which of the reviewed operations it kept.
pub async fn record(
    store: &crate::store::Store,
    context: &crate::journal::Context,
    written: &Written,
    reviewed: usize,
    message: Option<&str>,
) -> Result<i64, crate::store::StoreError> {
    let down = std::fs::read_to_string(&written.path)
        .ok()
        .and_then(|source| {
            crate::project::python_revision::read_static(&written.path, &source).ok()
        })
        .and_then(|read| match read {
            crate::project::python_revision::StaticRead::Read(file) => Some(file.down_revision),
            _ => None,
        })
        .unwrap_or_default();
    super::record_file(
        store,
        context,
        crate::journal::EntryKind::Revision,
        message.map(str::to_string),
        down,
        &written.revision,
        &written.path,
        Some(format!(
            "autogenerate: kept {} of {reviewed} operations",
            written.kept.len()
        )),
    )
    .await
}

async fn run(
    project: &Project,
    url: &DatabaseUrl,
    python: Option<&Path>,
    request: &Request<'_>,
) -> Result<Report, AutogenerateError> {
    if project.kind != ProjectKind::Alembic {
        return Err(AutogenerateError::NotAlembic);
    }
    let dir = project_dir(project);
    let python = crate::project::python::find(python, &dir)
        .map_err(|e| AutogenerateError::Python(e.to_string()))?;
    let (ini, toml) = config_files(project, &dir);
    let nonce = run_nonce();
    let marker = format!("\u{1e}{nonce} ");
    let request_json = serde_json::to_string(request)
        .map_err(|e| AutogenerateError::Python(format!("cannot encode the request: {e}")))?;
    let password = url.current_password()?;
    let out = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(DRIVER)
        .arg(&ini)
        .arg(&toml)
        .current_dir(&dir)
        .env(
            "RETORT_DATABASE_URL",
            sqlalchemy_url_with(url, password.as_ref()),
        )
        .env("RETORT_MARKER", &nonce)
        .env("RETORT_AUTOGENERATE", request_json)
        .env("PYTHONIOENCODING", "utf-8:backslashreplace")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| AutogenerateError::Python(format!("cannot run {}: {e}", python.display())))?;
    let stdout = scrub(url, &String::from_utf8_lossy(&out.stdout));
    let stderr = scrub(url, &String::from_utf8_lossy(&out.stderr));
    // The last report counts.
    let report = stdout
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix(&marker))
        .find_map(|json| serde_json::from_str::<Report>(json).ok());
    let Some(report) = report else {
        return Err(AutogenerateError::NoReport {
            status: out.status.to_string(),
            stderr,
        });
    };
    if let Some(error) = report.missing {
        return Err(AutogenerateError::MissingAlembic {
            python: python.display().to_string(),
            error: report.error.unwrap_or(error),
        });
    }
    if let Some(message) = report.error.clone() {
        return Err(classify(message, &report, &dir));
    }
    Ok(report)
}

/// alembic's errors, with the ones a user meets first made clear.
fn classify(message: String, report: &Report, dir: &Path) -> AutogenerateError {
    if report.command_error {
        if message.starts_with("Can't proceed with --autogenerate option") {
            return AutogenerateError::NoMetadata { message };
        }
        if message == "Target database is not up to date." {
            return AutogenerateError::NotUpToDate { message };
        }
    }
    let real = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let at = report.file.as_ref().map(|file| {
        let shown = file
            .strip_prefix(&real)
            .or_else(|_| file.strip_prefix(dir))
            .unwrap_or(file);
        match report.line {
            Some(line) => format!("{}:{line}", shown.display()),
            None => shown.display().to_string(),
        }
    });
    AutogenerateError::Alembic { message, at }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alembic_s_first_errors_are_named_with_what_to_do() {
        let report = Report {
            command_error: true,
            ..Report::default()
        };
        let dir = Path::new("/p");
        let e = classify("Can't proceed with --autogenerate option; environment script /p/migrations/env.py does not provide a MetaData object or sequence of objects to the context.".into(), &report, dir);
        assert!(matches!(e, AutogenerateError::NoMetadata { .. }), "{e}");
        assert!(e.hint().unwrap().contains("target_metadata"));
        let e = classify("Target database is not up to date.".into(), &report, dir);
        assert!(e.hint().unwrap().contains("upgrade it first"), "{e}");
        let report = Report {
            file: Some(PathBuf::from("/p/migrations/env.py")),
            line: Some(21),
            ..Report::default()
        };
        let e = classify(
            "ModuleNotFoundError: No module named 'models'".into(),
            &report,
            dir,
        );
        assert_eq!(
            e.to_string(),
            "ModuleNotFoundError: No module named 'models' (at migrations/env.py:21)"
        );
    }
}
