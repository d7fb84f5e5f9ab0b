//! Which tables a revision's upgrade touches, read statically: from the SQL statements of a
//! native revision (split by the execution splitter), and from the `op.*` calls in an
//! Alembic revision's `upgrade()` (parsed with ruff's Python parser, never run). What cannot
//! be known without running (`op.execute(variable)`, `op.bulk_insert(table_obj)`, SQL that
//! is not about one table) is reported as unknown, with its line.

use crate::database::Backend;
use crate::execution::statements;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, Stmt};
use ruff_python_parser::parse_module;
use ruff_text_size::Ranged;
use serde::Serialize;

/// What a statement or call does to a table.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableAction {
    Create,
    Alter,
    Drop,
    Rename,
    Index,
    Data,
}

impl TableAction {
    pub fn as_str(self) -> &'static str {
        match self {
            TableAction::Create => "create",
            TableAction::Alter => "alter",
            TableAction::Drop => "drop",
            TableAction::Rename => "rename",
            TableAction::Index => "index",
            TableAction::Data => "data",
        }
    }
}

/// One table touched, where.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableTouch {
    /// The table name as written, unquoted; lower-cased unless it was quoted. A schema
    /// prefix is kept (`audit.events`).
    pub table: String,
    pub action: TableAction,
    /// 1-based line in the revision file.
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub line: usize,
}

/// A statement or call whose tables cannot be known statically.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unknown {
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub line: usize,
    pub what: String,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TablesTouched {
    pub touches: Vec<TableTouch>,
    pub unknown: Vec<Unknown>,
}

impl TablesTouched {
    /// The distinct table names, sorted.
    pub fn tables(&self) -> Vec<String> {
        let mut t: Vec<String> = self.touches.iter().map(|t| t.table.clone()).collect();
        t.sort();
        t.dedup();
        t
    }
}

/// The tables of a block of SQL; `first_line` is the file line the text starts on.
pub fn sql_tables(sql: &str, backend: Backend, first_line: usize) -> TablesTouched {
    let mut out = TablesTouched::default();
    for stmt in statements::split(sql, backend) {
        let line = first_line + stmt.line.saturating_sub(1);
        match statement_tables(&stmt.sql) {
            Some(found) => {
                for (table, action) in found {
                    out.touches.push(TableTouch {
                        table,
                        action,
                        line,
                    });
                }
            }
            None => out.unknown.push(Unknown {
                line,
                what: statements::summarize(&stmt.sql),
            }),
        }
    }
    out
}

/// A lexical token of a statement: a word (keyword or identifier) or punctuation.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Punct(char),
}

fn lex(sql: &str) -> Vec<Tok> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' || c == '`' || c == '[' {
            let close = if c == '[' { ']' } else { c };
            let mut s = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == close {
                    if chars.get(i + 1) == Some(&close) && close != ']' {
                        s.push(close);
                        i += 2;
                        continue;
                    }
                    break;
                }
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Tok::Quoted(s));
        } else if c == '\'' {
            // A string literal: skipped, it names no table.
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Punct('\''));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let mut s = String::new();
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                s.push(chars[i]);
                i += 1;
            }
            out.push(Tok::Word(s));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

struct Cursor {
    toks: Vec<Tok>,
    pos: usize,
}

impl Cursor {
    fn kw(&self, word: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }
    fn eat(&mut self, word: &str) -> bool {
        if self.kw(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_all(&mut self, words: &[&str]) -> bool {
        let save = self.pos;
        for w in words {
            if !self.eat(w) {
                self.pos = save;
                return false;
            }
        }
        true
    }
    fn punct(&self, c: char) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Punct(p)) if *p == c)
    }
    /// A possibly schema-qualified name.
    fn name(&mut self) -> Option<String> {
        let mut parts = Vec::new();
        loop {
            let part = match self.toks.get(self.pos)? {
                Tok::Word(w) => w.to_lowercase(),
                Tok::Quoted(q) => q.clone(),
                Tok::Punct(_) => return None,
            };
            parts.push(part);
            self.pos += 1;
            if self.punct('.') {
                self.pos += 1;
            } else {
                break;
            }
        }
        Some(parts.join("."))
    }
}

/// The tables one statement touches; `None` when it is not a statement about tables that
/// this recogniser knows.
fn statement_tables(sql: &str) -> Option<Vec<(String, TableAction)>> {
    let mut c = Cursor {
        toks: lex(sql),
        pos: 0,
    };
    if c.toks.is_empty() {
        return Some(Vec::new());
    }
    if c.eat("CREATE") {
        c.eat_all(&["OR", "REPLACE"]);
        for w in ["GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED"] {
            c.eat(w);
        }
        if c.eat("TABLE") {
            c.eat_all(&["IF", "NOT", "EXISTS"]);
            return Some(vec![(c.name()?, TableAction::Create)]);
        }
        if c.eat("TRIGGER") {
            // CREATE TRIGGER name {BEFORE|AFTER|INSTEAD OF} event [OR event] ON table
            while c.pos < c.toks.len() && !c.kw("ON") {
                c.pos += 1;
            }
            if !c.eat("ON") {
                return None;
            }
            return Some(vec![(c.name()?, TableAction::Alter)]);
        }
        c.eat("UNIQUE");
        for w in ["CLUSTERED", "NONCLUSTERED", "FULLTEXT", "SPATIAL"] {
            c.eat(w);
        }
        if c.eat("INDEX") {
            // Everything up to ON is the index name and options.
            while c.pos < c.toks.len() && !c.kw("ON") {
                c.pos += 1;
            }
            if !c.eat("ON") {
                return None;
            }
            c.eat("ONLY");
            return Some(vec![(c.name()?, TableAction::Index)]);
        }
        return None;
    }
    if c.eat("ALTER") {
        if !c.eat("TABLE") {
            return None;
        }
        c.eat_all(&["IF", "EXISTS"]);
        c.eat("ONLY");
        let table = c.name()?;
        let mut out = vec![(table, TableAction::Alter)];
        // ALTER TABLE a RENAME TO b
        while c.pos < c.toks.len() {
            if c.eat_all(&["RENAME", "TO"]) || c.eat_all(&["RENAME", "AS"]) {
                if let Some(new) = c.name() {
                    out[0].1 = TableAction::Rename;
                    out.push((new, TableAction::Rename));
                }
                break;
            }
            c.pos += 1;
        }
        return Some(out);
    }
    if c.eat("DROP") {
        if c.eat("TABLE") {
            c.eat_all(&["IF", "EXISTS"]);
            let mut out = vec![(c.name()?, TableAction::Drop)];
            while c.punct(',') {
                c.pos += 1;
                out.push((c.name()?, TableAction::Drop));
            }
            return Some(out);
        }
        if c.eat("INDEX") {
            // MySQL: DROP INDEX name ON table.
            while c.pos < c.toks.len() && !c.kw("ON") {
                c.pos += 1;
            }
            if c.eat("ON") {
                return Some(vec![(c.name()?, TableAction::Index)]);
            }
            return None;
        }
        return None;
    }
    if c.eat("RENAME") {
        if !c.eat("TABLE") {
            return None;
        }
        let mut out = Vec::new();
        loop {
            let old = c.name()?;
            if !c.eat("TO") {
                return None;
            }
            let new = c.name()?;
            out.push((old, TableAction::Rename));
            out.push((new, TableAction::Rename));
            if c.punct(',') {
                c.pos += 1;
            } else {
                break;
            }
        }
        return Some(out);
    }
    if c.eat("INSERT") || c.eat("REPLACE") {
        for w in ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE"] {
            c.eat(w);
        }
        c.eat_all(&["OR", "REPLACE"]);
        c.eat_all(&["OR", "IGNORE"]);
        c.eat("INTO");
        return Some(vec![(c.name()?, TableAction::Data)]);
    }
    if c.eat("UPDATE") {
        c.eat("ONLY");
        return Some(vec![(c.name()?, TableAction::Data)]);
    }
    if c.eat("DELETE") {
        if !c.eat("FROM") {
            return None;
        }
        c.eat("ONLY");
        return Some(vec![(c.name()?, TableAction::Data)]);
    }
    if c.eat("TRUNCATE") {
        c.eat("TABLE");
        c.eat("ONLY");
        let mut out = vec![(c.name()?, TableAction::Data)];
        while c.punct(',') {
            c.pos += 1;
            out.push((c.name()?, TableAction::Data));
        }
        return Some(out);
    }
    if c.eat("COMMENT") && c.eat("ON") && c.eat("TABLE") {
        return Some(vec![(c.name()?, TableAction::Alter)]);
    }
    None
}

/// The tables the `upgrade()` functions (`upgrade`, and multidb's `upgrade_<engine>`) of a
/// Python revision touch. `Err` when the file is not valid Python.
pub fn python_tables(source: &str, backend: Backend) -> Result<TablesTouched, String> {
    let parsed = parse_module(source).map_err(|e| format!("invalid Python: {}", e.error))?;
    let mut finder = OpFinder {
        source,
        backend,
        out: TablesTouched::default(),
    };
    for stmt in &parsed.syntax().body {
        if let Stmt::FunctionDef(def) = stmt
            && (def.name.as_str() == "upgrade" || def.name.as_str().starts_with("upgrade_"))
        {
            for s in &def.body {
                finder.visit_stmt(s);
            }
        }
    }
    Ok(finder.out)
}

struct OpFinder<'s> {
    source: &'s str,
    backend: Backend,
    out: TablesTouched,
}

impl OpFinder<'_> {
    fn line(&self, offset: ruff_text_size::TextSize) -> usize {
        let end = usize::from(offset).min(self.source.len());
        self.source[..end].matches('\n').count() + 1
    }
}

fn literal(e: Option<&Expr>) -> Option<String> {
    match e? {
        Expr::StringLiteral(s) => Some(s.value.to_str().to_string()),
        _ => None,
    }
}

impl<'a> Visitor<'a> for OpFinder<'_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Call(call) = expr
            && let Expr::Attribute(attr) = call.func.as_ref()
            && let Expr::Name(base) = attr.value.as_ref()
            && base.id.as_str() == "op"
        {
            let line = self.line(call.range().start());
            let args = &call.arguments;
            let method = attr.attr.as_str();
            // (keyword, position, action) of the table arguments.
            let spec: &[(&str, usize, TableAction)] = match method {
                "create_table" => &[("table_name", 0, TableAction::Create)],
                "drop_table" => &[("table_name", 0, TableAction::Drop)],
                "rename_table" => &[
                    ("old_table_name", 0, TableAction::Rename),
                    ("new_table_name", 1, TableAction::Rename),
                ],
                "add_column"
                | "drop_column"
                | "alter_column"
                | "batch_alter_table"
                | "create_table_comment"
                | "drop_table_comment" => &[("table_name", 0, TableAction::Alter)],
                "create_index" | "drop_index" => &[("table_name", 1, TableAction::Index)],
                "create_foreign_key" => &[
                    ("source_table", 1, TableAction::Alter),
                    ("referent_table", 2, TableAction::Alter),
                ],
                "create_unique_constraint"
                | "create_primary_key"
                | "create_check_constraint"
                | "create_exclude_constraint"
                | "drop_constraint" => &[("table_name", 1, TableAction::Alter)],
                "execute" => {
                    match literal(args.find_argument_value("sqltext", 0)) {
                        Some(sql) => {
                            let found = sql_tables(&sql, self.backend, line);
                            // The SQL's own lines do not map onto the file: use the call's.
                            for mut t in found.touches {
                                t.line = line;
                                self.out.touches.push(t);
                            }
                            for mut u in found.unknown {
                                u.line = line;
                                self.out.unknown.push(u);
                            }
                        }
                        None => self.out.unknown.push(Unknown {
                            line,
                            what: "op.execute() with SQL built at run time".into(),
                        }),
                    }
                    visitor::walk_expr(self, expr);
                    return;
                }
                "bulk_insert" => {
                    self.out.unknown.push(Unknown {
                        line,
                        what: "op.bulk_insert() (the table is a run-time object)".into(),
                    });
                    visitor::walk_expr(self, expr);
                    return;
                }
                "get_bind" | "get_context" | "f" | "inline_literal" | "implementation_for"
                | "register_operation" | "invoke" => &[],
                other => {
                    self.out.unknown.push(Unknown {
                        line,
                        what: format!("op.{other}()"),
                    });
                    visitor::walk_expr(self, expr);
                    return;
                }
            };
            for (kw, pos, action) in spec {
                match literal(args.find_argument_value(kw, *pos)) {
                    Some(table) => self.out.touches.push(TableTouch {
                        table,
                        action: *action,
                        line,
                    }),
                    None if method == "drop_index"
                        && args.find_argument_value(kw, *pos).is_none() =>
                    {
                        self.out.unknown.push(Unknown {
                            line,
                            what: "op.drop_index() without table_name".into(),
                        })
                    }
                    None => self.out.unknown.push(Unknown {
                        line,
                        what: format!("op.{method}() with a table name computed at run time"),
                    }),
                }
            }
        }
        visitor::walk_expr(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &TablesTouched) -> Vec<(String, TableAction, usize)> {
        t.touches
            .iter()
            .map(|t| (t.table.clone(), t.action, t.line))
            .collect()
    }

    #[test]
    fn sql_statements() {
        let sql = "CREATE TABLE IF NOT EXISTS Users (id int);\n\
                   ALTER TABLE ONLY \"Orders\" ADD COLUMN x int;\n\
                   CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON public.users (email);\n\
                   INSERT INTO users VALUES ('DROP TABLE x');\n\
                   UPDATE `items` SET a = 1;\n\
                   DELETE FROM logs;\n\
                   DROP TABLE IF EXISTS a, b;\n\
                   ALTER TABLE old RENAME TO new;\n\
                   RENAME TABLE p TO q;\n\
                   CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;\n\
                   CREATE TRIGGER t AFTER UPDATE OF a ON books FOR EACH ROW EXECUTE FUNCTION f();\n\
                   -- only a comment\n";
        let t = sql_tables(sql, Backend::Postgres, 10);
        assert_eq!(
            names(&t),
            vec![
                ("users".into(), TableAction::Create, 10),
                ("Orders".into(), TableAction::Alter, 11),
                ("public.users".into(), TableAction::Index, 12),
                ("users".into(), TableAction::Data, 13),
                ("items".into(), TableAction::Data, 14),
                ("logs".into(), TableAction::Data, 15),
                ("a".into(), TableAction::Drop, 16),
                ("b".into(), TableAction::Drop, 16),
                ("old".into(), TableAction::Rename, 17),
                ("new".into(), TableAction::Rename, 17),
                ("p".into(), TableAction::Rename, 18),
                ("q".into(), TableAction::Rename, 18),
                ("books".into(), TableAction::Alter, 20),
            ]
        );
        assert_eq!(t.unknown.len(), 1);
        assert_eq!(t.unknown[0].line, 19);
        assert_eq!(t.tables()[0], "Orders");
    }

    #[test]
    fn python_ops() {
        let src = [
            "\"\"\"doc\"\"\"",
            "from alembic import op",
            "import sqlalchemy as sa",
            "",
            "def upgrade():",
            "    op.create_table('users', sa.Column('id', sa.Integer))",
            "    op.add_column(table_name='orders', column=sa.Column('x', sa.Integer))",
            "    op.create_index('ix_users_email', 'users', ['email'])",
            "    with op.batch_alter_table('items') as batch_op:",
            "        batch_op.drop_column('x')",
            "    op.execute(\"UPDATE prices SET a = 1\")",
            "    op.execute(stmt)",
            "    op.create_foreign_key('fk', 'orders', 'users', ['uid'], ['id'])",
            "    op.drop_index('ix_old')",
            "",
            "def downgrade():",
            "    op.drop_table('users')",
            "",
        ]
        .join("\n");
        let src = src.as_str();
        let t = python_tables(src, Backend::Sqlite).unwrap();
        assert_eq!(
            names(&t),
            vec![
                ("users".into(), TableAction::Create, 6),
                ("orders".into(), TableAction::Alter, 7),
                ("users".into(), TableAction::Index, 8),
                ("items".into(), TableAction::Alter, 9),
                ("prices".into(), TableAction::Data, 11),
                ("orders".into(), TableAction::Alter, 13),
                ("users".into(), TableAction::Alter, 13),
            ]
        );
        let unknown: Vec<usize> = t.unknown.iter().map(|u| u.line).collect();
        assert_eq!(unknown, vec![12, 14]);
        assert!(python_tables("def upgrade(:\n", Backend::Sqlite).is_err());
    }
}
