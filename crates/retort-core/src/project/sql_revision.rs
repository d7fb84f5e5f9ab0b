//! Native `.sql` revision files.
//!
//! ```sql
//! -- revision: 3000cccc0002
//! -- down_revision: 2000bbbbbbbb
//! -- branch_labels: one
//! -- depends_on:
//! -- message: branch two
//! -- create_date: 2026-11-24 14:42:16
//!
//! -- migrate:up
//! CREATE TABLE t (id INTEGER PRIMARY KEY);
//!
//! -- migrate:down
//! DROP TABLE t;
//! ```
//!
//! The grammar, line by line (`\n` or `\r\n` line ends; a UTF-8 byte-order mark is ignored):
//!
//! - **Header**: after optional blank lines, one contiguous block of `-- key: value` lines. It
//!   ends at the first line that is not a `--` comment holding a `:` (a blank line, SQL, a
//!   plain comment such as `-- creates t`, or a section marker). Inside the block every line
//!   must be `-- key: value` with a known key (`revision`, `down_revision`, `branch_labels`,
//!   `depends_on`, `message`, `create_date`), each key at most once. To put a comment with a
//!   colon right after the header, leave a blank line first.
//! - `revision` and `down_revision` are required. `down_revision` empty means a base revision;
//!   several comma-separated ids make a merge (order kept: it matters to Alembic's ordering).
//!   `branch_labels` and `depends_on` are optional comma-separated lists. `message` is the
//!   revision's description (Alembic's docstring), `create_date` free text.
//! - Between the header and `-- migrate:up` only blank lines and plain `--` comments.
//! - **Sections**: `-- migrate:up` (required), then optionally `-- migrate:down`, each once and
//!   in that order, each optionally followed by ` transaction:false` (run outside a
//!   transaction). A section's SQL is the text up to the next marker or the end of the file,
//!   kept verbatim except that leading and trailing blank lines are dropped and line ends are
//!   normalised to `\n`. Any line starting with `-- migrate:` is a marker.
//! - Ids follow Alembic's `Revision.verify_rev_id` (no `@ - + :`), and additionally may not be
//!   empty or contain whitespace or commas; an id may not list itself as its own
//!   `down_revision` or `depends_on` (Alembic's self-loop errors).
#![cfg_attr(not(test), deny(clippy::indexing_slicing))] // no panic on any input (docs/fuzzing.md)

use super::{Diagnostic, RevisionFile, SqlBody, SqlSection};
use std::path::Path;

/// The header keys, in the order [`render_sql_revision`] writes them.
pub const HEADER_KEYS: &[&str] = &[
    "revision",
    "down_revision",
    "branch_labels",
    "depends_on",
    "message",
    "create_date",
];

/// Alembic's `_revision_illegal_chars`.
const ILLEGAL_ID_CHARS: &[char] = &['@', '-', '+', ':'];

/// A classified line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    /// `-- migrate:...`: the text after `migrate:`.
    Marker,
    /// A `--` comment holding a `:` (a header line, inside the header).
    KeyValue,
    Comment,
    Sql,
}

fn classify(line: &str) -> Kind {
    if line.trim().is_empty() {
        Kind::Blank
    } else if marker_text(line).is_some() {
        Kind::Marker
    } else if let Some(body) = line.strip_prefix("--") {
        if body.contains(':') {
            Kind::KeyValue
        } else {
            Kind::Comment
        }
    } else {
        Kind::Sql
    }
}

/// The text after `-- migrate:` when `line` is a section marker.
fn marker_text(line: &str) -> Option<&str> {
    line.strip_prefix("--")?
        .trim_start()
        .strip_prefix("migrate:")
}

/// The 1-based line of the header's `-- key:` line, for pointing at a value found wrong later
/// (a `down_revision` naming a missing revision).
pub fn header_line(text: &str, key: &str) -> Option<usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .skip_while(|(_, l)| classify(l) == Kind::Blank)
        .take_while(|(_, l)| classify(l) == Kind::KeyValue)
        .find(|(_, l)| {
            l.get(2..)
                .and_then(|body| body.split_once(':'))
                .is_some_and(|(k, _)| k.trim() == key)
        })
        .map(|(i, _)| i + 1)
}

/// Parses a native revision file. `path` is recorded in the result and in errors.
pub fn parse_sql_revision(path: &Path, text: &str) -> Result<RevisionFile, Diagnostic> {
    let err = |line: usize, message: String| Diagnostic::error(path, Some(line), message);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    // `line_at(i)` is line `i + 1`; "" past the end.
    let line_at = |i: usize| lines.get(i).copied().unwrap_or_default();
    let mut i = 0;
    while i < lines.len() && classify(line_at(i)) == Kind::Blank {
        i += 1;
    }

    // The header.
    let header_start = i + 1;
    let mut values: Vec<(&'static str, String, usize)> = Vec::new();
    while i < lines.len() && classify(line_at(i)) == Kind::KeyValue {
        let lineno = i + 1;
        let body = line_at(i).get(2..).unwrap_or_default();
        let (key, value) = body.split_once(':').unwrap_or((body, ""));
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(
                lineno,
                format!(
                    "malformed header line {:?}: expected `-- key: value` (leave a blank line between \
                     the header and other comments)",
                    line_at(i).trim_end()
                ),
            ));
        }
        let Some(&known) = HEADER_KEYS.iter().find(|k| **k == key) else {
            return Err(err(
                lineno,
                format!(
                    "unknown header key '{key}'; expected one of: {}",
                    HEADER_KEYS.join(", ")
                ),
            ));
        };
        if let Some((_, _, first)) = values.iter().find(|(k, _, _)| *k == known) {
            return Err(err(
                lineno,
                format!("duplicate header key '{key}' (first on line {first})"),
            ));
        }
        values.push((known, value.trim().to_string(), lineno));
        i += 1;
    }
    if values.is_empty() {
        let at = i.min(lines.len().saturating_sub(1));
        if i < lines.len() && classify(line_at(i)) == Kind::Marker {
            return Err(err(
                i + 1,
                "section marker before the header; a revision file starts with \
                 `-- revision: <id>` and `-- down_revision: <ids>` lines"
                    .to_string(),
            ));
        }
        return Err(err(
            at + 1,
            "missing header; a revision file starts with `-- revision: <id>` and \
             `-- down_revision: <ids>` lines"
                .to_string(),
        ));
    }
    let header_end = i; // index of the first line after the header
    let get = |key: &str| {
        values
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, v, l)| (v.as_str(), *l))
    };
    // Between the header and `-- migrate:up`.
    while i < lines.len() {
        match classify(line_at(i)) {
            Kind::Blank | Kind::Comment => i += 1,
            Kind::KeyValue => {
                let body = line_at(i)
                    .get(2..)
                    .unwrap_or_default()
                    .split_once(':')
                    .map(|(k, _)| k.trim())
                    .unwrap_or("");
                if HEADER_KEYS.contains(&body) {
                    return Err(err(
                        i + 1,
                        format!(
                            "header line '-- {body}:' after the header ended on line {}; header lines \
                             must form one block",
                            header_end + 1
                        ),
                    ));
                }
                i += 1;
            }
            Kind::Sql => {
                return Err(err(
                    i + 1,
                    "SQL before `-- migrate:up`; only blank lines and comments may come between \
                     the header and the first section"
                        .to_string(),
                ));
            }
            Kind::Marker => break,
        }
    }

    // Checked after the scan above, which explains a header split in two.
    for required in ["revision", "down_revision"] {
        if get(required).is_none() {
            return Err(err(
                header_start,
                format!("missing required header key '{required}'"),
            ));
        }
    }

    // The sections.
    let mut upgrade: Option<SqlSection> = None;
    let mut downgrade: Option<SqlSection> = None;
    while i < lines.len() {
        let lineno = i + 1;
        let marker = marker_text(line_at(i)).unwrap_or_default();
        let mut words = marker.split_whitespace();
        let name = words.next().unwrap_or_default();
        let mut transactional = true;
        for option in words {
            match option {
                "transaction:false" => transactional = false,
                "transaction:true" => transactional = true,
                other => {
                    return Err(err(
                        lineno,
                        format!(
                            "unknown option '{other}' on section marker; expected 'transaction:false'"
                        ),
                    ));
                }
            }
        }
        let mut end = i + 1;
        while end < lines.len() && classify(line_at(end)) != Kind::Marker {
            end += 1;
        }
        let body = lines.get(i + 1..end).unwrap_or_default();
        let section = SqlSection {
            sql: section_text(body),
            transactional,
            line: lineno,
            sql_line: lineno + 1 + body.iter().take_while(|l| l.trim().is_empty()).count(),
        };
        match name {
            "up" if upgrade.is_some() => {
                return Err(err(lineno, "duplicate `-- migrate:up` section".to_string()));
            }
            "up" => upgrade = Some(section),
            "down" if downgrade.is_some() => {
                return Err(err(
                    lineno,
                    "duplicate `-- migrate:down` section".to_string(),
                ));
            }
            "down" if upgrade.is_none() => {
                return Err(err(
                    lineno,
                    "`-- migrate:down` before `-- migrate:up`".to_string(),
                ));
            }
            "down" => downgrade = Some(section),
            other => {
                return Err(err(
                    lineno,
                    format!(
                        "unknown section marker `-- migrate:{other}`; expected `-- migrate:up` or `-- migrate:down`"
                    ),
                ));
            }
        }
        i = end;
    }
    let Some(upgrade) = upgrade else {
        return Err(err(
            (header_end + 1).min(lines.len()),
            "missing `-- migrate:up` section".to_string(),
        ));
    };

    // The values.
    let (revision, revision_line) = get("revision").unwrap_or_default();
    if revision.is_empty() {
        return Err(err(revision_line, "empty revision id".to_string()));
    }
    check_id(revision).map_err(|m| err(revision_line, m))?;
    let list = |key: &str| -> Result<Vec<String>, Diagnostic> {
        match get(key) {
            None => Ok(Vec::new()),
            Some((value, line)) => parse_list(key, value).map_err(|m| err(line, m)),
        }
    };
    let down_revision = list("down_revision")?;
    let branch_labels = list("branch_labels")?;
    let depends_on = list("depends_on")?;
    if down_revision.iter().any(|d| d == revision) {
        let line = get("down_revision").map_or(header_start, |(_, l)| l);
        return Err(err(
            line,
            format!("Self-loop is detected in revisions ({revision})"),
        ));
    }
    if depends_on.iter().any(|d| d == revision) {
        let line = get("depends_on").map_or(header_start, |(_, l)| l);
        return Err(err(
            line,
            format!("Dependency self-loop is detected in revisions ({revision})"),
        ));
    }

    Ok(RevisionFile {
        revision: revision.to_string(),
        down_revision,
        branch_labels,
        depends_on,
        longdoc: get("message")
            .map(|(m, _)| m.to_string())
            .unwrap_or_default(),
        create_date: get("create_date")
            .map(|(d, _)| d.to_string())
            .filter(|d| !d.is_empty()),
        path: path.to_path_buf(),
        sql: Some(SqlBody { upgrade, downgrade }),
    })
}

/// A section's SQL: its lines without leading and trailing blank lines.
fn section_text(lines: &[&str]) -> String {
    let is_blank = |l: &&str| l.trim().is_empty();
    let start = lines
        .iter()
        .position(|l| !is_blank(l))
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !is_blank(l))
        .map_or(start, |p| p + 1);
    lines.get(start..end).unwrap_or_default().join("\n")
}

/// Alembic's id rule plus Retort's: no `@ - + :`, whitespace or commas.
fn check_id(id: &str) -> Result<(), String> {
    let mut illegal: Vec<char> = ILLEGAL_ID_CHARS
        .iter()
        .copied()
        .filter(|c| id.contains(*c))
        .collect();
    if !illegal.is_empty() {
        illegal.sort_unstable();
        let listed: Vec<String> = illegal.iter().map(char::to_string).collect();
        return Err(format!(
            "Character(s) '{}' not allowed in revision identifier '{id}'",
            listed.join(", ")
        ));
    }
    if id.contains(char::is_whitespace) || id.contains(',') {
        return Err(format!(
            "whitespace or ',' not allowed in revision identifier '{id}'"
        ));
    }
    Ok(())
}

/// A comma-separated list; empty text is an empty list.
fn parse_list(key: &str, value: &str) -> Result<Vec<String>, String> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut items: Vec<String> = Vec::new();
    for item in value.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!(
                "empty item in '{key}' (write ids separated by commas, or nothing)"
            ));
        }
        if item.contains(char::is_whitespace) {
            return Err(format!(
                "'{item}' in '{key}' contains whitespace; separate ids with commas"
            ));
        }
        if key != "branch_labels" {
            check_id(item)?;
        }
        if items.iter().any(|i| i == item) {
            return Err(format!("'{item}' is listed twice in '{key}'"));
        }
        items.push(item.to_string());
    }
    Ok(items)
}

/// Writes `rev` in the canonical native form read by [`parse_sql_revision`]: every header
/// key in [`HEADER_KEYS`] order (`create_date` only when set), a blank line, then the
/// sections. Line breaks in the message are written as spaces (a header value is one line).
/// A revision without SQL gets an empty `-- migrate:up` section.
pub fn render_sql_revision(rev: &RevisionFile) -> String {
    fn header(out: &mut String, key: &str, value: &str) {
        out.push_str("-- ");
        out.push_str(key);
        out.push(':');
        if !value.is_empty() {
            out.push(' ');
            out.push_str(value);
        }
        out.push('\n');
    }
    fn section(out: &mut String, name: &str, section: &SqlSection) {
        out.push_str("-- migrate:");
        out.push_str(name);
        if !section.transactional {
            out.push_str(" transaction:false");
        }
        out.push('\n');
        if !section.sql.is_empty() {
            out.push_str(&section.sql);
            out.push('\n');
        }
    }
    let message = rev.longdoc.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    header(&mut out, "revision", &rev.revision);
    header(&mut out, "down_revision", &rev.down_revision.join(", "));
    header(&mut out, "branch_labels", &rev.branch_labels.join(", "));
    header(&mut out, "depends_on", &rev.depends_on.join(", "));
    header(&mut out, "message", &message);
    if let Some(date) = &rev.create_date {
        header(&mut out, "create_date", date);
    }
    out.push('\n');
    let empty = SqlSection {
        sql: String::new(),
        transactional: true,
        line: 0,
        sql_line: 0,
    };
    let (up, down) = match &rev.sql {
        Some(body) => (&body.upgrade, body.downgrade.as_ref()),
        None => (&empty, None),
    };
    section(&mut out, "up", up);
    if let Some(down) = down {
        out.push('\n');
        section(&mut out, "down", down);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const EXAMPLE: &str = "-- revision: 3000cccc0002
-- down_revision: 2000bbbbbbbb
-- branch_labels: one
-- depends_on:
-- message: branch two
-- create_date: 2026-11-24 14:42:16

-- migrate:up
CREATE TABLE t (id INTEGER PRIMARY KEY);

-- migrate:down
DROP TABLE t;
";

    fn parse(text: &str) -> Result<RevisionFile, Diagnostic> {
        parse_sql_revision(Path::new("/p/versions/x.sql"), text)
    }

    /// The error's line and message.
    fn error(text: &str) -> (usize, String) {
        let d = parse(text).unwrap_err();
        assert_eq!(d.path, PathBuf::from("/p/versions/x.sql"));
        (d.line.expect("a line"), d.message)
    }

    fn header(rest: &str) -> String {
        format!("-- revision: a1\n-- down_revision:\n{rest}")
    }

    #[test]
    fn parses_the_example() {
        let rev = parse(EXAMPLE).unwrap();
        assert_eq!(rev.revision, "3000cccc0002");
        assert_eq!(rev.down_revision, vec!["2000bbbbbbbb"]);
        assert_eq!(rev.branch_labels, vec!["one"]);
        assert!(rev.depends_on.is_empty());
        assert_eq!(rev.longdoc, "branch two");
        assert_eq!(rev.create_date.as_deref(), Some("2026-11-24 14:42:16"));
        assert_eq!(rev.path, PathBuf::from("/p/versions/x.sql"));
        let sql = rev.sql.unwrap();
        assert_eq!(
            sql.upgrade,
            SqlSection {
                sql: "CREATE TABLE t (id INTEGER PRIMARY KEY);".into(),
                transactional: true,
                line: 8,
                sql_line: 9
            }
        );
        assert_eq!(
            sql.downgrade,
            Some(SqlSection {
                sql: "DROP TABLE t;".into(),
                transactional: true,
                line: 11,
                sql_line: 12
            })
        );
    }

    #[test]
    fn crlf_blank_lines_merge_and_options() {
        let text = "\r\n\r\n-- revision: m1\r\n-- down_revision: b2 ,a1\r\n-- depends_on: x, y\r\n\r\n\
                    -- plain comment\r\n-- note: a comment with a colon, after a blank line\r\n\r\n\
                    -- migrate:up transaction:false\r\n\r\n  SELECT 1;  \r\n\r\n  SELECT 2;\r\n\r\n\r\n\
                    -- migrate:down   transaction:false\r\n";
        let rev = parse(text).unwrap();
        assert_eq!(rev.revision, "m1");
        assert_eq!(rev.down_revision, vec!["b2", "a1"]);
        assert_eq!(rev.depends_on, vec!["x", "y"]);
        assert!(rev.branch_labels.is_empty());
        assert_eq!(rev.longdoc, "");
        assert_eq!(rev.create_date, None);
        let sql = rev.sql.unwrap();
        assert_eq!(sql.upgrade.sql, "  SELECT 1;  \n\n  SELECT 2;");
        assert!(!sql.upgrade.transactional);
        assert_eq!(sql.upgrade.line, 10);
        let down = sql.downgrade.unwrap();
        assert_eq!(
            (down.sql.as_str(), down.transactional, down.line),
            ("", false, 17)
        );
    }

    #[test]
    fn base_revision_without_down_section() {
        let rev = parse("-- revision: a1\n-- down_revision:\n-- migrate:up\nSELECT 1;").unwrap();
        assert!(rev.down_revision.is_empty());
        let sql = rev.sql.unwrap();
        assert_eq!(sql.upgrade.sql, "SELECT 1;");
        assert_eq!(sql.downgrade, None);
    }

    #[test]
    fn sql_comments_inside_sections_are_kept() {
        let rev = parse(&header(
            "\n-- migrate:up\n-- keep: me\nSELECT 1; -- and me\n",
        ))
        .unwrap();
        assert_eq!(
            rev.sql.unwrap().upgrade.sql,
            "-- keep: me\nSELECT 1; -- and me"
        );
    }

    #[test]
    fn header_errors() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "-- revision: a1\n-- down_revision:\n-- colour: red\n-- migrate:up\n",
                3,
                "unknown header key 'colour'",
            ),
            (
                "-- revision: a1\n-- revision: a2\n-- down_revision:\n-- migrate:up\n",
                2,
                "duplicate header key 'revision' (first on line 1)",
            ),
            (
                "\n-- down_revision:\n-- migrate:up\n",
                2,
                "missing required header key 'revision'",
            ),
            (
                "-- revision: a1\n\n-- migrate:up\n",
                1,
                "missing required header key 'down_revision'",
            ),
            (
                "-- revision: a1\n-- down revision: x\n-- migrate:up\n",
                2,
                "malformed header line",
            ),
            (
                "-- revision: a1\n-- : x\n-- migrate:up\n",
                2,
                "malformed header line",
            ),
            (
                "-- revision:\n-- down_revision:\n-- migrate:up\n",
                1,
                "empty revision id",
            ),
            (
                "-- revision: no@atsigns-ordashes\n-- down_revision:\n-- migrate:up\n",
                1,
                "Character(s) '-, @' not allowed in revision identifier 'no@atsigns-ordashes'",
            ),
            (
                "-- revision: a+b:c\n-- down_revision:\n-- migrate:up\n",
                1,
                "Character(s) '+, :' not allowed in revision identifier 'a+b:c'",
            ),
            (
                "-- revision: a b\n-- down_revision:\n-- migrate:up\n",
                1,
                "whitespace",
            ),
            (
                "-- revision: a1\n-- down_revision: x,,y\n-- migrate:up\n",
                2,
                "empty item in 'down_revision'",
            ),
            (
                "-- revision: a1\n-- down_revision: x,\n-- migrate:up\n",
                2,
                "empty item",
            ),
            (
                "-- revision: a1\n-- down_revision: x y\n-- migrate:up\n",
                2,
                "contains whitespace",
            ),
            (
                "-- revision: a1\n-- down_revision: x, x\n-- migrate:up\n",
                2,
                "listed twice",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- depends_on: q-1\n-- migrate:up\n",
                3,
                "Character(s) '-'",
            ),
            (
                "-- revision: a1\n-- down_revision: z, a1\n-- migrate:up\n",
                2,
                "Self-loop is detected in revisions (a1)",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- depends_on: a1\n-- migrate:up\n",
                3,
                "Dependency self-loop is detected in revisions (a1)",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- branch_labels: ,\n-- migrate:up\n",
                3,
                "empty item in 'branch_labels'",
            ),
        ];
        for (text, line, needle) in cases {
            let (l, m) = error(text);
            assert!(m.contains(needle), "{text:?}: {m}");
            assert_eq!(l, *line, "{text:?}: {m}");
        }
    }

    #[test]
    fn structure_errors() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "missing header"),
            ("\n\nCREATE TABLE t;\n", 3, "missing header"),
            ("-- just a comment\n", 1, "missing header"),
            (
                "\n-- migrate:up\nSELECT 1;\n",
                2,
                "section marker before the header",
            ),
            (
                "-- revision: a1\n-- down_revision:\n",
                3,
                "missing `-- migrate:up`",
            ),
            (
                "-- revision: a1\n-- down_revision:\nSELECT 1;\n-- migrate:up\n",
                3,
                "SQL before `-- migrate:up`",
            ),
            (
                "-- revision: a1\n-- down_revision:\n\nSELECT 1;\n-- migrate:up\n",
                4,
                "SQL before",
            ),
            (
                "-- revision: a1\n-- not a header\n-- down_revision:\n-- migrate:up\n",
                3,
                "header line '-- down_revision:' after the header ended on line 2",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- migrate:down\n",
                3,
                "`-- migrate:down` before `-- migrate:up`",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- migrate:up\n-- migrate:up\n",
                4,
                "duplicate `-- migrate:up`",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- migrate:up\n-- migrate:down\n-- migrate:down\n",
                5,
                "duplicate `-- migrate:down`",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- migrate:up\n-- migrate:down\n-- migrate:up\n",
                5,
                "duplicate `-- migrate:up`",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- migrate:sideways\n",
                3,
                "unknown section marker `-- migrate:sideways`",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- migrate:up\nx\n-- migrate:upgrade\n",
                5,
                "unknown section marker",
            ),
            (
                "-- revision: a1\n-- down_revision:\n-- migrate:up transaction:no\n",
                3,
                "unknown option 'transaction:no'",
            ),
        ];
        for (text, line, needle) in cases {
            let (l, m) = error(text);
            assert!(m.contains(needle), "{text:?}: {m}");
            assert_eq!(l, *line, "{text:?}: {m}");
        }
    }

    #[test]
    fn render_round_trips_the_canonical_form() {
        assert_eq!(render_sql_revision(&parse(EXAMPLE).unwrap()), EXAMPLE);
        let merge = "-- revision: m1\n-- down_revision: b2, a1\n-- branch_labels:\n-- depends_on: x, y\n\
                     -- message: merge\n\n-- migrate:up transaction:false\n\n-- migrate:down\nSELECT 1;\n";
        assert_eq!(render_sql_revision(&parse(merge).unwrap()), merge);
        let up_only = "-- revision: a1\n-- down_revision:\n-- branch_labels:\n-- depends_on:\n-- message:\n\n\
                       -- migrate:up\nCREATE TABLE t (\n  id INTEGER\n);\n";
        assert_eq!(render_sql_revision(&parse(up_only).unwrap()), up_only);
    }

    #[test]
    fn render_flattens_multi_line_messages() {
        let mut rev = parse(EXAMPLE).unwrap();
        rev.longdoc = "first line\n\nsecond paragraph".into();
        let text = render_sql_revision(&rev);
        assert!(
            text.contains("-- message: first line second paragraph\n"),
            "{text}"
        );
        assert_eq!(parse(&text).unwrap().longdoc, "first line second paragraph");
    }

    mod round_trip {
        use super::*;
        use proptest::prelude::*;

        fn id() -> impl Strategy<Value = String> {
            "[a-f0-9_]{1,12}"
        }
        fn ids() -> impl Strategy<Value = Vec<String>> {
            proptest::collection::btree_set(id(), 0..3).prop_map(|s| s.into_iter().collect())
        }
        fn sql() -> impl Strategy<Value = String> {
            // Non-blank first and last lines; no line may start with `-- migrate:`.
            proptest::collection::vec("[A-Za-z0-9 ;()'*,=-]{0,20}", 0..5).prop_map(|lines| {
                let lines: Vec<String> = lines
                    .into_iter()
                    .map(|l| {
                        if l.starts_with("--") {
                            format!("x{l}")
                        } else {
                            l
                        }
                    })
                    .collect();
                let start = lines
                    .iter()
                    .position(|l| !l.trim().is_empty())
                    .unwrap_or(lines.len());
                let end = lines
                    .iter()
                    .rposition(|l| !l.trim().is_empty())
                    .map_or(start, |p| p + 1);
                lines[start..end].join("\n")
            })
        }
        fn section() -> impl Strategy<Value = SqlSection> {
            (sql(), any::<bool>()).prop_map(|(sql, transactional)| SqlSection {
                sql,
                transactional,
                line: 0,
                sql_line: 0,
            })
        }

        proptest! {
            #[test]
            fn parse_inverts_render(
                revision in id(),
                down in ids(),
                labels in ids(),
                deps in ids(),
                message in "[A-Za-z0-9 ,.:]{0,30}",
                date in proptest::option::of("20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]"),
                up in section(),
                down_section in proptest::option::of(section()),
            ) {
                let down: Vec<String> = down.into_iter().filter(|d| *d != revision).collect();
                let deps: Vec<String> = deps.into_iter().filter(|d| *d != revision).collect();
                let rev = RevisionFile {
                    revision,
                    down_revision: down,
                    branch_labels: labels,
                    depends_on: deps,
                    longdoc: message.split_whitespace().collect::<Vec<_>>().join(" "),
                    create_date: date,
                    path: PathBuf::from("/p/versions/x.sql"),
                    sql: Some(SqlBody { upgrade: up, downgrade: down_section }),
                };
                let text = render_sql_revision(&rev);
                let mut back = parse(&text).unwrap();
                prop_assert_eq!(render_sql_revision(&back), text);
                // Lines are recomputed on parsing; everything else survives.
                if let Some(body) = back.sql.as_mut() {
                    body.upgrade.line = 0;
                    body.upgrade.sql_line = 0;
                    if let Some(d) = body.downgrade.as_mut() { d.line = 0; d.sql_line = 0; }
                }
                prop_assert_eq!(back, rev);
            }
        }
    }
}
