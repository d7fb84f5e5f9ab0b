//! Splitting a revision's SQL into statements, so that each runs on its own and a failure
//! names its line. Lexical only: it knows each dialect's quotes and comments, PostgreSQL's
//! dollar quoting and `BEGIN ATOMIC` bodies, SQLite trigger bodies, and the MySQL client's
//! `DELIMITER` directive.
//!
//! It walks the text byte by byte (every byte it acts on is ASCII, and UTF-8 never uses those
//! bytes inside a multi-byte character) and never indexes or slices without a check: any text
//! splits, none panics (fuzzed: docs/fuzzing.md).
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::database::Backend;

/// One statement of a SQL section, without its terminating delimiter.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Statement {
    pub sql: String,
    /// 1-based line of the statement's first token within the text that was split.
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub line: usize,
}

impl Statement {
    /// The statement's first line, shortened, for reports.
    pub fn summary(&self) -> String {
        summarize(&self.sql)
    }

    /// `BEGIN`, `COMMIT` and friends: Retort runs each revision in its own transaction.
    pub fn is_transaction_control(&self) -> bool {
        let words: Vec<String> = self
            .sql
            .split(|c: char| c.is_whitespace() || c == ';')
            .filter(|w| !w.is_empty())
            .take(2)
            .map(str::to_ascii_uppercase)
            .collect();
        match words.first().map(String::as_str) {
            Some("COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE") => {
                !matches!(words.get(1).map(String::as_str), Some("TO"))
                    || words.first().is_some_and(|w| w == "ROLLBACK")
            }
            Some("BEGIN") => !matches!(words.get(1).map(String::as_str), Some("ATOMIC")),
            Some("START") => matches!(words.get(1).map(String::as_str), Some("TRANSACTION")),
            Some("END") => words.len() == 1,
            _ => false,
        }
    }
}

/// A statement in one line for reports: its first line, cut at 80 characters.
pub fn summarize(sql: &str) -> String {
    let sql = sql.trim();
    let first = sql.lines().next().unwrap_or("").trim();
    let mut s: String = first.chars().take(80).collect();
    if s.len() < first.len() || sql.lines().nth(1).is_some() {
        s.push_str(" …");
    }
    s
}

/// Splits `text` into statements for `backend`'s dialect.
pub fn split(text: &str, backend: Backend) -> Vec<Statement> {
    Splitter::new(text, backend).run()
}

struct Splitter<'a> {
    text: &'a str,
    bytes: &'a [u8],
    backend: Backend,
    pos: usize,
    line: usize,
    out: Vec<Statement>,
}

/// What the current statement has shown so far, for the block bodies whose inner semicolons
/// do not end it.
#[derive(Default)]
struct Shape {
    words: Vec<String>,
    in_block: bool,
    last_word_is_end: bool,
    previous: String,
}

impl Shape {
    fn word(&mut self, word: &str, backend: Backend) {
        let upper = word.to_ascii_uppercase();
        if self.words.len() < 4 {
            self.words.push(upper.clone());
            let w: Vec<&str> = self.words.iter().map(String::as_str).collect();
            if backend == Backend::Sqlite
                && matches!(
                    w.as_slice(),
                    ["CREATE", "TRIGGER", ..] | ["CREATE", "TEMP" | "TEMPORARY", "TRIGGER", ..]
                )
            {
                self.in_block = true;
            }
        }
        if backend == Backend::Postgres && upper == "ATOMIC" && self.previous == "BEGIN" {
            self.in_block = true;
        }
        self.last_word_is_end = upper == "END";
        self.previous = upper;
    }
}

impl<'a> Splitter<'a> {
    fn new(text: &'a str, backend: Backend) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            backend,
            pos: 0,
            line: 1,
            out: Vec::new(),
        }
    }

    fn peek(&self, offset: usize) -> u8 {
        self.bytes.get(self.pos + offset).copied().unwrap_or(0)
    }

    fn advance(&mut self, n: usize) {
        for _ in 0..n {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return;
            };
            if byte == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
    }

    /// The text from the current position on, as bytes.
    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// The text of `range`; empty if it does not fall on character boundaries (it always does:
    /// every range ends next to an ASCII byte or at the end of the text).
    fn text_of(&self, range: std::ops::Range<usize>) -> &'a str {
        self.text.get(range).unwrap_or_default()
    }

    fn run(mut self) -> Vec<Statement> {
        let mut delimiter = ";".to_string();
        let mut start: Option<(usize, usize)> = None;
        let mut shape = Shape::default();
        while self.pos < self.bytes.len() {
            let c = self.peek(0);
            // The MySQL client's DELIMITER directive, only between statements.
            if self.backend == Backend::MySql && start.is_none() && self.at_word("DELIMITER") {
                let end = self
                    .rest()
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.bytes.len(), |i| self.pos + i);
                let new = self.text_of(self.pos + "DELIMITER".len()..end).trim();
                if !new.is_empty() {
                    delimiter = new.to_string();
                }
                self.advance(end - self.pos);
                continue;
            }
            if c.is_ascii_whitespace() {
                self.advance(1);
                continue;
            }
            if self.skip_comment() {
                continue;
            }
            if (!shape.in_block || shape.last_word_is_end)
                && self.rest().starts_with(delimiter.as_bytes())
            {
                self.finish(start.take(), self.pos);
                shape = Shape::default();
                self.advance(delimiter.len());
                continue;
            }
            if start.is_none() {
                start = Some((self.pos, self.line));
            }
            if self.skip_quoted() {
                shape.last_word_is_end = false;
                continue;
            }
            // Words: identifiers and keywords (any non-ASCII character is a letter, as in
            // PostgreSQL's and MySQL's lexers).
            if c.is_ascii_alphabetic() || c == b'_' || !c.is_ascii() {
                let begin = self.pos;
                while self.pos < self.bytes.len()
                    && is_word_byte(self.peek(0))
                    && !(delimiter != ";" && self.rest().starts_with(delimiter.as_bytes()))
                {
                    self.advance(1);
                }
                shape.word(self.text_of(begin..self.pos), self.backend);
                continue;
            }
            shape.last_word_is_end = false;
            self.advance(1);
        }
        let end = self.bytes.len();
        self.finish(start, end);
        self.out
    }

    fn at_word(&self, word: &str) -> bool {
        let rest = self.rest();
        rest.get(..word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
            && rest.get(word.len()).is_none_or(|b| b.is_ascii_whitespace())
    }

    fn finish(&mut self, start: Option<(usize, usize)>, end: usize) {
        if let Some((begin, line)) = start {
            let sql = self.text_of(begin..end).trim_end();
            if !sql.is_empty() {
                self.out.push(Statement {
                    sql: sql.to_string(),
                    line,
                });
            }
        }
    }

    fn skip_comment(&mut self) -> bool {
        let (c, next) = (self.peek(0), self.peek(1));
        // MySQL: `--` starts a comment only before a space or control character (`5--1` is 6).
        let dashes = c == b'-'
            && next == b'-'
            && (self.backend != Backend::MySql
                || self.bytes.get(self.pos + 2).is_none_or(|b| *b <= b' '));
        if dashes || (c == b'#' && self.backend == Backend::MySql) {
            while self.pos < self.bytes.len() && self.peek(0) != b'\n' {
                self.advance(1);
            }
            return true;
        }
        if c == b'/' && next == b'*' {
            // PostgreSQL nests block comments; the others end at the first `*/`.
            let nests = self.backend == Backend::Postgres;
            let mut depth = 0usize;
            while self.pos < self.bytes.len() {
                if self.peek(0) == b'/' && self.peek(1) == b'*' && (nests || depth == 0) {
                    depth += 1;
                    self.advance(2);
                } else if self.peek(0) == b'*' && self.peek(1) == b'/' {
                    depth = depth.saturating_sub(1);
                    self.advance(2);
                    if depth == 0 {
                        break;
                    }
                } else {
                    self.advance(1);
                }
            }
            return true;
        }
        false
    }

    /// Strings, quoted identifiers and dollar-quoted bodies; copied, never split.
    fn skip_quoted(&mut self) -> bool {
        let c = self.peek(0);
        // PostgreSQL: `E'...'`, where the `E` is not the end of a longer word.
        let backslash_escapes = |s: &Self| {
            s.backend == Backend::MySql
                || (s.backend == Backend::Postgres
                    && matches!(s.byte_before(1), Some(b'E' | b'e'))
                    && !s.byte_before(2).is_some_and(is_word_byte))
        };
        let close = match c {
            b'\'' => b'\'',
            b'"' => b'"',
            b'`' if self.backend != Backend::Postgres => b'`',
            b'[' if self.backend == Backend::Sqlite => b']',
            b'$' if self.backend == Backend::Postgres => return self.skip_dollar_quoted(),
            _ => return false,
        };
        let escapes =
            c == b'\'' && backslash_escapes(self) || (c == b'"' && self.backend == Backend::MySql);
        self.advance(1);
        while self.pos < self.bytes.len() {
            let b = self.peek(0);
            if escapes && b == b'\\' {
                self.advance(2);
            } else if b == close {
                if self.peek(1) == close && close != b']' {
                    self.advance(2);
                } else {
                    self.advance(1);
                    break;
                }
            } else {
                self.advance(1);
            }
        }
        true
    }

    /// The byte `n` places before the current one.
    fn byte_before(&self, n: usize) -> Option<u8> {
        self.bytes.get(self.pos.checked_sub(n)?).copied()
    }

    /// `$tag$ ... $tag$`, where the tag is empty or an identifier without `$` (PostgreSQL's
    /// `dolq_start`/`dolq_cont`: letters, digits after the first, `_`, any non-ASCII byte).
    /// A `$` inside a word (`a$b`) or before a digit (`$1`) starts none.
    fn skip_dollar_quoted(&mut self) -> bool {
        if self.byte_before(1).is_some_and(is_word_byte) {
            return false;
        }
        let after_dollar = self.rest().get(1..).unwrap_or_default();
        let tag_len = after_dollar
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || !b.is_ascii()))
            .unwrap_or(after_dollar.len());
        let (tag, after_tag) = after_dollar.split_at_checked(tag_len).unwrap_or_default();
        if tag.first().is_some_and(u8::is_ascii_digit) || after_tag.first() != Some(&b'$') {
            return false;
        }
        let marker_len = tag_len + 2;
        let marker = self.rest().get(..marker_len).unwrap_or_default();
        let body = self.rest().get(marker_len..).unwrap_or_default();
        let to_close = body
            .windows(marker_len)
            .position(|w| w == marker)
            .map_or(body.len(), |i| i + marker_len);
        self.advance(marker_len + to_close);
        true
    }
}

/// A byte that continues an identifier or keyword: ASCII letters and digits, `_`, `$`, and
/// the bytes of non-ASCII characters.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$') || !b.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(text: &str, backend: Backend) -> Vec<String> {
        split(text, backend).into_iter().map(|s| s.sql).collect()
    }

    #[test]
    fn plain_statements_with_lines() {
        let got = split(
            "-- leading comment\nCREATE TABLE a (id INT);\n\n  INSERT INTO a VALUES (1);\nSELECT 1",
            Backend::Sqlite,
        );
        assert_eq!(
            got,
            vec![
                Statement {
                    sql: "CREATE TABLE a (id INT)".into(),
                    line: 2
                },
                Statement {
                    sql: "INSERT INTO a VALUES (1)".into(),
                    line: 4
                },
                Statement {
                    sql: "SELECT 1".into(),
                    line: 5
                },
            ]
        );
    }

    #[test]
    fn quotes_and_comments_hide_semicolons() {
        assert_eq!(
            sqls(
                "INSERT INTO t VALUES ('a;b', 'it''s;'); /* x; */ SELECT \"c;d\" -- e;\n;",
                Backend::Postgres
            ),
            vec![
                "INSERT INTO t VALUES ('a;b', 'it''s;')",
                "SELECT \"c;d\" -- e;"
            ]
        );
        assert_eq!(
            sqls("SELECT 'a\\';b'; SELECT `x;y` # c;\n", Backend::MySql),
            vec!["SELECT 'a\\';b'", "SELECT `x;y` # c;"]
        );
        // In standard PostgreSQL strings a backslash is an ordinary character.
        assert_eq!(
            sqls("SELECT 'a\\'; SELECT E'b\\';c';", Backend::Postgres),
            vec!["SELECT 'a\\'", "SELECT E'b\\';c'"]
        );
        assert_eq!(
            sqls("/* a /* nested; */ still; */ SELECT 1;", Backend::Postgres),
            vec!["SELECT 1"]
        );
    }

    #[test]
    fn postgres_function_bodies() {
        let text = "CREATE FUNCTION f() RETURNS trigger AS $body$\nBEGIN\n  NEW.x := 1;\n  RETURN NEW;\nEND;\n$body$ LANGUAGE plpgsql;\nSELECT $1, $$a;b$$;";
        let got = sqls(text, Backend::Postgres);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].ends_with("LANGUAGE plpgsql"));
        assert_eq!(got[1], "SELECT $1, $$a;b$$");
        let atomic = "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3;";
        assert_eq!(
            sqls(atomic, Backend::Postgres),
            vec![
                "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
                "SELECT 3"
            ]
        );
    }

    #[test]
    fn sqlite_triggers() {
        let text = "CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\n  DELETE FROM b;\nEND;\nSELECT 1;";
        let got = sqls(text, Backend::Sqlite);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("CREATE TEMP TRIGGER") && got[0].ends_with("END"));
    }

    #[test]
    fn mysql_delimiter_directive() {
        let text = "DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END$$\nDELIMITER ;\nSELECT 3;";
        let got = split(text, Backend::MySql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0].sql,
            "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END"
        );
        assert_eq!((got[1].sql.as_str(), got[1].line), ("SELECT 3", 4));
    }

    #[test]
    fn non_ascii_text_is_split_on_every_dialect() {
        // Issue 15: the MySQL `DELIMITER` check sliced nine bytes into `'é'` and panicked.
        for backend in [Backend::MySql, Backend::Postgres, Backend::Sqlite] {
            assert_eq!(
                sqls("SELECT 'é';", backend),
                vec!["SELECT 'é'"],
                "{backend:?}"
            );
            assert_eq!(
                sqls(
                    "-- Größe ändern\nALTER TABLE t ADD größe INT;\nSELECT 'ß';",
                    backend
                ),
                vec!["ALTER TABLE t ADD größe INT", "SELECT 'ß'"],
                "{backend:?}"
            );
            assert_eq!(
                sqls("DELIMITEé;ééééééééé;/* ö; */ SELECT \"ü\";", backend),
                vec!["DELIMITEé", "ééééééééé", "SELECT \"ü\""],
                "{backend:?}"
            );
        }
        assert_eq!(
            sqls(
                "SELECT 1; -- Größe ändern\nSELECT 'é\\'', 'ö'; # Größe;\nSELECT 1;",
                Backend::MySql
            ),
            vec!["SELECT 1", "SELECT 'é\\'', 'ö'", "SELECT 1"]
        );
        // MySQL's `--` needs a space after it.
        assert_eq!(
            sqls("SELECT 5--1; SELECT 2;-- c\n", Backend::MySql),
            vec!["SELECT 5--1", "SELECT 2"]
        );
        // PostgreSQL: a dollar tag may hold any non-ASCII letter; `$` inside a word quotes nothing.
        assert_eq!(
            sqls(
                "SELECT $é$ a; $é$; SELECT é$x$; SELECT 'ä';",
                Backend::Postgres
            ),
            vec!["SELECT $é$ a; $é$", "SELECT é$x$", "SELECT 'ä'"]
        );
        assert_eq!(
            sqls(
                "SELECT $tag$ é; $tag$, E'ö\\';', _e'x\\'; /* ä /* ü; */ ; */ SELECT 2;",
                Backend::Postgres
            ),
            vec!["SELECT $tag$ é; $tag$, E'ö\\';', _e'x\\'", "SELECT 2"]
        );
    }

    #[test]
    fn transaction_control_is_recognised() {
        let is_tc = |s: &str| {
            Statement {
                sql: s.into(),
                line: 1,
            }
            .is_transaction_control()
        };
        assert!(is_tc("BEGIN") && is_tc("commit") && is_tc("START TRANSACTION") && is_tc("END"));
        assert!(!is_tc("BEGIN ATOMIC SELECT 1; END") && !is_tc("SELECT 1") && !is_tc("END IF"));
    }

    proptest::proptest! {
        #[test]
        fn statements_are_ordered_pieces_of_the_text(text in "[a-z ;'\"$\\-\\n/*]{0,60}") {
            for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
                let mut from = 0;
                for s in split(&text, backend) {
                    // The statement starts on its reported line, after the previous one.
                    let line_start = text
                        .match_indices('\n')
                        .nth(s.line.wrapping_sub(2))
                        .map_or(0, |(i, _)| i + 1)
                        .max(from);
                    let at = text[line_start..].find(&s.sql).map(|i| line_start + i);
                    proptest::prop_assert!(at.is_some(), "{:?} not found on line {}", s.sql, s.line);
                    let at = at.unwrap();
                    proptest::prop_assert_eq!(s.line, 1 + text[..at].matches('\n').count());
                    from = at + s.sql.len();
                }
            }
        }
    }
}
