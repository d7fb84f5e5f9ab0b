//! Static project checks (`retort check`, and the desktop's checks panel): one head (or
//! which heads, with the merge to make), revisions whose downgrade is empty while their
//! upgrade is not, and revision names against the team's naming conventions (hints, off
//! unless the project turns them on). Other checks (files changed since applied, round
//! trips) add their [`Finding`]s to the same [`CheckReport`].
//!
//! Turning the naming conventions on:
//! - `retort.toml`: `[checks]` with `naming_conventions = true` and optionally
//!   `naming_patterns = ["add_<table>", ...]`;
//! - `alembic.ini`: a `[retort]` section with `naming_conventions = true` and optionally
//!   `naming_patterns = add_<table>, alter_<table>` (commas or new lines);
//! - `pyproject.toml`: `[tool.retort]` with the same keys as `retort.toml`'s `[checks]`.
//!
//! A pattern is literal text with `<placeholders>`; a placeholder stands for one or more
//! of `a-z`, `0-9`, `_`. A revision's name is the slug of its message (`Add users` →
//! `add_users`); merge revisions are not checked.

use super::naming;
use crate::database::Backend;
use crate::execution::statements;
use crate::graph::RevisionMap;
use crate::project::alembic_config::IniFile;
use crate::project::{Project, ProjectKind, Severity};
use ruff_python_ast::Stmt;
use ruff_python_parser::parse_module;
use ruff_text_size::Ranged;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The conventions of the issue, used when a project turns naming checks on without
/// listing its own.
pub const DEFAULT_NAMING_PATTERNS: &[&str] = &[
    "add_<table>",
    "alter_<table>",
    "remove_<table>",
    "add_<column>_to_<table>",
    "rename_<column>_in_<table>",
    "create_index_on_<table>",
];

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fails `retort check`.
    Error,
    Warning,
    Hint,
}

/// One result of a check.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which check: `single_head`, `empty_downgrade`, `naming`, `project`, ...
    pub check: String,
    pub level: Level,
    pub revision: Option<String>,
    pub path: Option<PathBuf>,
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub line: Option<usize>,
    pub message: String,
    /// What to do about it (a command to run, a name to use).
    pub suggestion: Option<String>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub heads: Vec<String>,
    pub naming_conventions: bool,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Error)
    }
    pub fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }
}

/// Overrides of what the project configures.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// `Some(true)` / `Some(false)`: naming checks on/off whatever the project says.
    pub naming: Option<bool>,
}

/// The naming settings a project configures.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamingConfig {
    pub enabled: bool,
    pub patterns: Vec<String>,
}

impl Default for NamingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            patterns: DEFAULT_NAMING_PATTERNS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// Reads the naming settings from the project's configuration (see the module docs).
pub fn naming_config(project: &Project) -> Result<NamingConfig, String> {
    let path = &project.config_path;
    let mut config = NamingConfig::default();
    let from_toml = |table: Option<&toml::Value>,
                     config: &mut NamingConfig,
                     what: &str|
     -> Result<(), String> {
        let Some(table) = table else { return Ok(()) };
        let table = table
            .as_table()
            .ok_or_else(|| format!("{}: [{what}] must be a table", path.display()))?;
        for (key, value) in table {
            match key.as_str() {
                "naming_conventions" => {
                    config.enabled = value.as_bool().ok_or_else(|| {
                        format!(
                            "{}: [{what}] naming_conventions must be true or false",
                            path.display()
                        )
                    })?
                }
                "naming_patterns" => {
                    let items = value.as_array().ok_or_else(|| {
                        format!(
                            "{}: [{what}] naming_patterns must be a list of strings",
                            path.display()
                        )
                    })?;
                    config.patterns = items
                        .iter()
                        .map(|i| {
                            i.as_str().map(str::to_string).ok_or_else(|| {
                                format!(
                                    "{}: [{what}] naming_patterns must be a list of strings",
                                    path.display()
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?;
                }
                other => {
                    return Err(format!(
                        "{}: unknown key '{other}' in [{what}]; expected naming_conventions, naming_patterns",
                        path.display()
                    ));
                }
            }
        }
        Ok(())
    };
    let read_toml = |p: &Path| -> Result<Option<toml::Table>, String> {
        match std::fs::read_to_string(p) {
            Ok(text) => text
                .parse::<toml::Table>()
                .map(Some)
                .map_err(|e| format!("{}: {e}", p.display())),
            Err(_) => Ok(None),
        }
    };
    match project.kind {
        ProjectKind::Native => {
            if let Some(t) = read_toml(path)? {
                from_toml(t.get("checks"), &mut config, "checks")?;
            }
        }
        ProjectKind::Alembic => {
            if path.extension().is_some_and(|e| e == "ini") {
                let ini = IniFile::read(path).map_err(|e| e.to_string())?;
                if let Some(v) = ini
                    .get("retort", "naming_conventions")
                    .map_err(|d| d.to_string())?
                {
                    config.enabled = match v.trim().to_ascii_lowercase().as_str() {
                        "true" | "yes" | "on" | "1" => true,
                        "false" | "no" | "off" | "0" => false,
                        _ => {
                            return Err(format!(
                                "{}: [retort] naming_conventions must be true or false, not '{v}'",
                                path.display()
                            ));
                        }
                    };
                }
                if let Some(v) = ini
                    .get("retort", "naming_patterns")
                    .map_err(|d| d.to_string())?
                {
                    config.patterns = v
                        .split([',', '\n'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                }
            }
            let pyproject = path.with_file_name("pyproject.toml");
            if let Some(t) = read_toml(&pyproject)? {
                from_toml(
                    t.get("tool").and_then(|t| t.get("retort")),
                    &mut config,
                    "tool.retort",
                )?;
            }
        }
    }
    for p in &config.patterns {
        parse_pattern(p).map_err(|e| format!("{}: naming pattern '{p}': {e}", path.display()))?;
    }
    Ok(config)
}

/// Runs the static checks.
pub fn check_project(project: &Project, map: &RevisionMap, options: &CheckOptions) -> CheckReport {
    let mut report = CheckReport {
        heads: map.ids(map.heads()),
        ..CheckReport::default()
    };

    for d in &project.warnings {
        report.findings.push(Finding {
            check: "project".into(),
            level: match d.severity {
                Severity::Error => Level::Error,
                Severity::Warning => Level::Warning,
            },
            revision: None,
            path: Some(d.path.clone()),
            line: d.line,
            message: d.message.clone(),
            suggestion: None,
        });
    }
    for w in &map.warnings {
        report.findings.push(Finding {
            check: "project".into(),
            level: Level::Warning,
            revision: None,
            path: None,
            line: None,
            message: w.message.clone(),
            suggestion: None,
        });
    }

    single_head(map, &mut report);
    empty_downgrades(project, &mut report);

    let naming = match naming_config(project) {
        Ok(c) => c,
        Err(e) => {
            report.findings.push(Finding {
                check: "naming".into(),
                level: Level::Error,
                revision: None,
                path: Some(project.config_path.clone()),
                line: None,
                message: e,
                suggestion: None,
            });
            NamingConfig::default()
        }
    };
    report.naming_conventions = options.naming.unwrap_or(naming.enabled);
    if report.naming_conventions {
        naming_hints(map, &naming.patterns, &mut report);
    }
    report
}

fn single_head(map: &RevisionMap, report: &mut CheckReport) {
    let heads = map.heads();
    if heads.len() <= 1 {
        return;
    }
    let listed: Vec<String> = heads
        .iter()
        .map(|&h| {
            let r = map.rev(h);
            format!("{} ({})", r.revision, r.doc())
        })
        .collect();
    report.findings.push(Finding {
        check: "single_head".into(),
        level: Level::Error,
        revision: None,
        path: None,
        line: None,
        message: format!("{} heads: {}", heads.len(), listed.join(", ")),
        suggestion: Some(format!(
            "retort merge {} -m \"merge heads\" (see what the branches change first: retort merge heads --explain)",
            map.ids(heads).join(" ")
        )),
    });
}

fn empty_downgrades(project: &Project, report: &mut CheckReport) {
    for file in &project.revisions {
        if let Some((line, message)) = empty_downgrade(project, file) {
            report.findings.push(Finding {
                check: "empty_downgrade".into(),
                level: Level::Warning,
                revision: Some(file.revision.clone()),
                path: Some(file.path.clone()),
                line,
                message: message.into(),
                suggestion: Some("write the statements that undo the upgrade, or say in the message that it is irreversible".into()),
            });
        }
    }
}

/// Whether `file`'s upgrade does something its downgrade does not undo: the downgrade's line
/// (where known) and why. SQL sections are split as the run would; Python is parsed.
pub fn empty_downgrade(
    project: &Project,
    file: &crate::project::RevisionFile,
) -> Option<(Option<usize>, &'static str)> {
    let backend = super::merge::backend_of(project);
    match (&file.sql, project.kind) {
        (Some(body), _) => {
            let up = has_statements(&body.upgrade.sql, backend);
            let down = body
                .downgrade
                .as_ref()
                .is_some_and(|d| has_statements(&d.sql, backend));
            let line = body
                .downgrade
                .as_ref()
                .map_or(body.upgrade.line, |d| d.line);
            (up && !down).then(|| {
                (
                    Some(line),
                    if body.downgrade.is_none() {
                        "no '-- migrate:down' section: this revision cannot be downgraded"
                    } else {
                        "the '-- migrate:down' section is empty: downgrading this revision changes nothing"
                    },
                )
            })
        }
        (None, ProjectKind::Alembic) => {
            let source = std::fs::read_to_string(&file.path).ok()?;
            python_empty_downgrade(&source).map(|line| {
                (
                    line,
                    "downgrade() does nothing (`pass`) while upgrade() does: this revision cannot be undone",
                )
            })
        }
        _ => None,
    }
}

fn has_statements(sql: &str, backend: Backend) -> bool {
    statements::split(sql, backend).iter().any(|s| {
        s.sql.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with("--")
        })
    })
}

/// `Some(line of def downgrade)` when the upgrade functions do something and the downgrade
/// functions do not (docstrings, `pass`, `...` only). multidb's dispatchers (`upgrade(engine_name)`
/// next to `upgrade_<engine>()`) are skipped.
fn python_empty_downgrade(source: &str) -> Option<Option<usize>> {
    let parsed = parse_module(source).ok()?;
    let body = &parsed.syntax().body;
    let defs: Vec<_> = body
        .iter()
        .filter_map(|s| match s {
            Stmt::FunctionDef(d) => Some(d),
            _ => None,
        })
        .collect();
    let pick = |prefix: &str| -> Vec<_> {
        let specific: Vec<_> = defs
            .iter()
            .filter(|d| d.name.as_str().starts_with(&format!("{prefix}_")))
            .collect();
        if specific.is_empty() {
            defs.iter().filter(|d| d.name.as_str() == prefix).collect()
        } else {
            specific
        }
    };
    let trivial = |stmts: &[Stmt]| {
        stmts.iter().all(|s| match s {
            Stmt::Pass(_) => true,
            Stmt::Expr(e) => matches!(
                e.value.as_ref(),
                ruff_python_ast::Expr::StringLiteral(_) | ruff_python_ast::Expr::EllipsisLiteral(_)
            ),
            _ => false,
        })
    };
    let ups = pick("upgrade");
    let downs = pick("downgrade");
    let up_does = ups.iter().any(|d| !trivial(&d.body));
    if !up_does {
        return None;
    }
    if downs.is_empty() {
        return Some(None);
    }
    if downs.iter().all(|d| trivial(&d.body)) {
        let offset = usize::from(downs[0].range().start()).min(source.len());
        return Some(Some(source[..offset].matches('\n').count() + 1));
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Slot(String),
}

fn parse_pattern(p: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = p;
    while !rest.is_empty() {
        match rest.find('<') {
            Some(0) => {
                let end = rest.find('>').ok_or("a '<' without '>'")?;
                let name = &rest[1..end];
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!("bad placeholder '<{name}>'"));
                }
                if matches!(out.last(), Some(Piece::Slot(_))) {
                    return Err("two placeholders must be separated by text".into());
                }
                out.push(Piece::Slot(name.to_string()));
                rest = &rest[end + 1..];
            }
            Some(i) => {
                out.push(Piece::Text(rest[..i].to_string()));
                rest = &rest[i..];
            }
            None => {
                out.push(Piece::Text(rest.to_string()));
                rest = "";
            }
        }
    }
    if out.is_empty() {
        return Err("empty pattern".into());
    }
    Ok(out)
}

fn matches_pattern(pieces: &[Piece], s: &str) -> bool {
    match pieces.split_first() {
        None => s.is_empty(),
        Some((Piece::Text(t), rest)) => s
            .strip_prefix(t.as_str())
            .is_some_and(|r| matches_pattern(rest, r)),
        Some((Piece::Slot(_), rest)) => {
            let ok = |c: char| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || c == '_'
                    || (c.is_alphanumeric() && !c.is_uppercase())
            };
            let mut end = 0;
            for (i, c) in s.char_indices() {
                if !ok(c) {
                    break;
                }
                end = i + c.len_utf8();
                if matches_pattern(rest, &s[end..]) {
                    return true;
                }
            }
            let _ = end;
            false
        }
    }
}

/// Whether `name` follows one of `patterns`.
pub fn follows_conventions(name: &str, patterns: &[String]) -> bool {
    patterns
        .iter()
        .filter_map(|p| parse_pattern(p).ok())
        .any(|p| matches_pattern(&p, name))
}

fn naming_hints(map: &RevisionMap, patterns: &[String], report: &mut CheckReport) {
    for rev in map.revisions() {
        if rev.is_merge_point() {
            continue;
        }
        let first_line = rev.doc().lines().next().unwrap_or("");
        let name = naming::slug(first_line, Some(usize::MAX));
        if follows_conventions(&name, patterns) {
            continue;
        }
        report.findings.push(Finding {
            check: "naming".into(),
            level: Level::Hint,
            revision: Some(rev.revision.clone()),
            path: rev.path.clone(),
            line: None,
            message: if name.is_empty() {
                "the revision has no message to name it".to_string()
            } else {
                format!("'{name}' follows none of the naming conventions")
            },
            suggestion: Some(format!("name it like {}", patterns.join(", "))),
        });
    }
}

/// Findings from a database's status: applied revisions whose file changed since Retort
/// applied it there (from the journal's checksums).
pub fn applied_file_findings(status: &crate::journal::status::ConnectionStatus) -> Vec<Finding> {
    status
        .changed
        .iter()
        .map(|changed| Finding {
            check: "applied_file_changed".into(),
            level: Level::Warning,
            revision: Some(changed.revision.clone()),
            path: changed.path.clone(),
            line: None,
            message: format!(
                "{} since it was applied to {} ({}, journal #{})",
                if changed.sha256_now.is_some() { "changed" } else { "is gone" },
                status.connection.label(),
                changed.applied.applied_at,
                changed.applied.entry_id
            ),
            suggestion: Some(
                "an applied revision should not change: put the change in a new revision (`retort revision`), or restore the file".into(),
            ),
        })
        .collect()
}

/// A round trip's verdict as a check finding: none when every revision passed.
pub fn round_trip_findings(report: &crate::execution::round_trip::RoundTripReport) -> Vec<Finding> {
    use crate::execution::round_trip::Problem;
    let Some(failure) = &report.failure else {
        return Vec::new();
    };
    let line = match &failure.problem {
        Problem::StepFailed { failure } => failure.line,
        _ => None,
    };
    vec![Finding {
        check: "round_trip".into(),
        level: Level::Error,
        revision: Some(failure.revision.clone()),
        path: failure.path.clone(),
        line,
        message: failure.to_string().trim_end().to_string(),
        suggestion: Some(format!(
            "fix the revision so that upgrade, downgrade and upgrade again leave the same schema (tested in {})",
            report.scratch
        )),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p: Vec<String> = DEFAULT_NAMING_PATTERNS
            .iter()
            .map(|s| s.to_string())
            .collect();
        for ok in [
            "add_users",
            "alter_orders",
            "remove_sessions",
            "add_email_to_users",
            "rename_name_in_users",
            "create_index_on_users",
            "add_user_roles",
        ] {
            assert!(follows_conventions(ok, &p), "{ok}");
        }
        for bad in [
            "users",
            "create_users",
            "add_",
            "fix_stuff",
            "",
            "rename_x_users",
        ] {
            assert!(!follows_conventions(bad, &p), "{bad}");
        }
        assert!(parse_pattern("<a><b>").is_err());
        assert!(parse_pattern("add_<").is_err());
    }

    #[test]
    fn python_downgrades() {
        let empty = "def upgrade():\n    op.create_table('t')\n\n\ndef downgrade():\n    \"\"\"Downgrade.\"\"\"\n    pass\n";
        assert_eq!(python_empty_downgrade(empty), Some(Some(5)));
        let both_empty = "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n";
        assert_eq!(python_empty_downgrade(both_empty), None);
        let fine = "def upgrade():\n    op.create_table('t')\n\ndef downgrade():\n    op.drop_table('t')\n";
        assert_eq!(python_empty_downgrade(fine), None);
        let missing = "def upgrade():\n    op.create_table('t')\n";
        assert_eq!(python_empty_downgrade(missing), Some(None));
        let multidb = "def upgrade(engine_name):\n    globals()['upgrade_%s' % engine_name]()\n\ndef downgrade(engine_name):\n    globals()['downgrade_%s' % engine_name]()\n\ndef upgrade_a():\n    op.create_table('t')\n\ndef downgrade_a():\n    pass\n";
        assert_eq!(python_empty_downgrade(multidb), Some(Some(10)));
    }
}
