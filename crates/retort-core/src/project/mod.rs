//! Migration projects on disk: finding one, reading its configuration, and reading its
//! revision files in Alembic's load order.
//!
//! Two kinds share one shape: Alembic projects (`alembic.ini` / `pyproject.toml` plus Python
//! revision files, read statically) and native SQL projects (`retort.toml` plus `.sql` files).

pub mod alembic_config;
pub mod native_config;
pub mod python;
pub mod python_literal;
pub mod python_revision;
pub mod sql_revision;

mod discovery;
mod header_cache;
mod loading;

pub use discovery::{ConfigFile, find_config};
pub use loading::{load_project, load_project_with_python};

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Which kind of project this is; decides how revision files are read and, later, executed.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectKind {
    Alembic,
    Native,
}

/// Everything the project's configuration says, with paths already made absolute.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectSettings {
    /// The Alembic script directory (holds `env.py`, `script.py.mako`); `None` for native projects.
    pub script_location: Option<PathBuf>,
    /// Where revision files live, in configuration order.
    pub version_locations: Vec<PathBuf>,
    pub recursive_version_locations: bool,
    /// Alembic's `sourceless` option: `.pyc` files count as revisions (they cannot be read statically).
    pub sourceless: bool,
    pub file_template: String,
    pub truncate_slug_length: Option<usize>,
    /// `sqlalchemy.url` (Alembic) or `url` (native); may hold a password, so never print it raw.
    pub url: Option<String>,
    /// The line of the configuration file that sets `url`, for errors about it.
    #[serde(skip)]
    pub url_line: Option<usize>,
    pub version_table: String,
    pub version_table_schema: Option<String>,
    /// Alembic's `prepend_sys_path`, used by the Python fallback reader.
    pub prepend_sys_path: Vec<PathBuf>,
    pub timezone: Option<String>,
    pub revision_environment: bool,
}

impl ProjectSettings {
    pub const DEFAULT_FILE_TEMPLATE: &'static str = "%(rev)s_%(slug)s";
    pub const DEFAULT_VERSION_TABLE: &'static str = "alembic_version";
}

/// One revision file as declared on disk. Empty lists stand for Alembic's `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevisionFile {
    pub revision: String,
    /// `down_revision`, in declared order (the order of a merge tuple matters).
    pub down_revision: Vec<String>,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    /// The module docstring (Alembic) or `message` (native), stripped; `doc` is its first paragraph.
    pub longdoc: String,
    pub create_date: Option<String>,
    pub path: PathBuf,
    /// The SQL bodies of a native revision; `None` for Python revisions.
    pub sql: Option<SqlBody>,
}

impl RevisionFile {
    /// The 1-based line of this file that declares `name` (`down_revision`, `depends_on`, …),
    /// read again from disk with the file's own reader: for pointing at a value found wrong
    /// after reading (a parent the project lacks, a cycle).
    pub fn declaration_line(&self, name: &str) -> Option<usize> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        match self.sql {
            Some(_) => sql_revision::header_line(&text, name),
            None => python_revision::binding_line(&text, name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlBody {
    pub upgrade: SqlSection,
    pub downgrade: Option<SqlSection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlSection {
    pub sql: String,
    /// `false` when the section marker carries `transaction:false`.
    pub transactional: bool,
    /// 1-based line of the section's marker, for error reports.
    pub line: usize,
    /// 1-based line on which `sql` starts (after any blank lines below the marker).
    pub sql_line: usize,
}

/// A problem found while reading a project, tied to a file and, where known, a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Diagnostic {
    pub fn error(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Error,
            path: path.into(),
            line,
            message: message.into(),
        }
    }
    pub fn warning(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// A project read from disk: its settings, its revision files in load order, and the
/// warnings met on the way (the errors stop loading; see [`ProjectError`]).
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub kind: ProjectKind,
    /// The configuration file the project was read from.
    pub config_path: PathBuf,
    pub settings: ProjectSettings,
    pub revisions: Vec<RevisionFile>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(
        "no migration project found in {searched}: expected alembic.ini, pyproject.toml with [tool.alembic], or retort.toml"
    )]
    NotFound { searched: PathBuf },
    #[error("{path}: cannot read: {message}")]
    Unreadable { path: PathBuf, message: String },
    /// A configuration file that is malformed or lacks a required key.
    #[error("{0}")]
    Config(Diagnostic),
    /// Revision files that could not be read; every one is listed.
    #[error("{}", join_lines(.0))]
    Revisions(Vec<Diagnostic>),
}

fn join_lines(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
