//! A small, strict renderer for the part of Mako that alembic's `script.py.mako` templates
//! use (`generic`, `async`, `multidb`, `pyproject`, `pyproject_async`).
//!
//! Supported: `${expr}` and `${expr | filter, ...}` (filters `n`, `comma`, `str`, `trim`),
//! control lines `% if` / `% elif` / `% else` / `% endif` and `% for NAME in EXPR:` /
//! `% endfor`, `## comment` lines, `\` at the end of a line, `%%` at the start of a line,
//! `<%text>...</%text>`, a `<%! import re %>` module block, and `<% NAME = EXPR %>` blocks of
//! plain assignments. Expressions are a Python subset: names, string literals, `None`,
//! `True`, `False`, integers, `x if c else y`, `and`, `or`, `not`, `==`, `!=`, `is [not]
//! None`, `%` string formatting, `repr(x)`, `str(x)`, `len(x)`, `context.get(k, default)`,
//! `config.get_main_option(k[, default])`, `re.split(pattern, s)` (patterns of literal
//! characters and `\s`, `\d`, `\w`, `.` with `*`, `+`, `?`).
//!
//! Anything else is an error naming the template file and line; the caller writes nothing.
//! As in Mako, a name that was not passed is `UNDEFINED`: false in a test, an error when
//! printed.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))] // no panic on any input (docs/fuzzing.md)

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// A template that cannot be rendered (or that Retort's subset does not cover).
/// `line` is 0 when the problem is the template as a whole (e.g. what it renders).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}{}: {message}", .path.display(), if *.line > 0 { format!(":{}", .line) } else { String::new() })]
pub struct TemplateError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

/// A value passed to a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// A `datetime`: printed as its text, refused by `repr`.
    Date(String),
    /// What `comma` is bound to in alembic (`util.format_as_comma`).
    CommaFilter,
    /// alembic's `config` object; `get_main_option` reads through the closure.
    Config,
    Context,
    ReModule,
    Undefined(String),
    Method(Box<Value>, String),
    Builtin(&'static str),
}

impl Value {
    pub fn str_tuple<S: AsRef<str>>(items: &[S]) -> Value {
        Value::Tuple(
            items
                .iter()
                .map(|s| Value::Str(s.as_ref().to_string()))
                .collect(),
        )
    }
    pub fn str_list<S: AsRef<str>>(items: &[S]) -> Value {
        Value::List(
            items
                .iter()
                .map(|s| Value::Str(s.as_ref().to_string()))
                .collect(),
        )
    }

    fn truthy(&self) -> bool {
        match self {
            Value::None | Value::Undefined(_) => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Str(s) | Value::Date(s) => !s.is_empty(),
            Value::Tuple(v) | Value::List(v) => !v.is_empty(),
            _ => true,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "str",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Date(_) => "datetime",
            Value::Undefined(_) => "Undefined",
            _ => "object",
        }
    }

    /// `str(value)`.
    fn to_str(&self) -> Result<String, String> {
        match self {
            Value::Str(s) | Value::Date(s) => Ok(s.clone()),
            Value::Undefined(name) => Err(format!("NameError: '{name}' is not defined")),
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Tuple(_) | Value::List(_) => {
                self.repr()
            }
            other => Err(format!("cannot print {}", other.type_name())),
        }
    }

    /// `repr(value)`.
    fn repr(&self) -> Result<String, String> {
        Ok(match self {
            Value::None => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(n) => n.to_string(),
            Value::Str(s) => py_str_repr(s),
            Value::Tuple(items) => {
                let parts = items
                    .iter()
                    .map(Value::repr)
                    .collect::<Result<Vec<_>, _>>()?;
                if let [only] = parts.as_slice() {
                    format!("({only},)")
                } else {
                    format!("({})", parts.join(", "))
                }
            }
            Value::List(items) => {
                let parts = items
                    .iter()
                    .map(Value::repr)
                    .collect::<Result<Vec<_>, _>>()?;
                format!("[{}]", parts.join(", "))
            }
            Value::Undefined(name) => return Err(format!("NameError: '{name}' is not defined")),
            other => {
                return Err(format!(
                    "repr() of a {} is not supported by Retort's template renderer",
                    other.type_name()
                ));
            }
        })
    }
}

/// What a template sees: its variables and alembic's `config.get_main_option`.
pub struct Context<'a> {
    pub vars: BTreeMap<String, Value>,
    /// `config.get_main_option(name)`; `Err` names a configuration problem.
    pub main_option: &'a dyn Fn(&str) -> Result<Option<String>, String>,
}

/// Renders the template file at `path`.
pub fn render_file(path: &Path, ctx: &Context<'_>) -> Result<String, TemplateError> {
    let bytes = std::fs::read(path).map_err(|e| TemplateError {
        path: path.to_path_buf(),
        line: 0,
        message: format!("cannot read the template: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| TemplateError {
        path: path.to_path_buf(),
        line: 0,
        message: format!("the template is not UTF-8: {e}"),
    })?;
    render(path, &text, ctx)
}

/// Renders template `text`; `path` names it in errors.
pub fn render(path: &Path, text: &str, ctx: &Context<'_>) -> Result<String, TemplateError> {
    let nodes = Parser::new(path, text).parse()?;
    let mut scope = Scope {
        ctx,
        locals: BTreeMap::new(),
        re_imported: false,
        path,
    };
    let mut out = String::new();
    scope.run(&nodes, &mut out)?;
    Ok(out)
}

// ----- parsing ---------------------------------------------------------------------------

#[derive(Debug)]
enum Node {
    Text(String),
    Expr {
        expr: Expr,
        filters: Vec<String>,
        line: usize,
    },
    If {
        branches: Vec<(Option<Expr>, Vec<Node>)>,
        line: usize,
    },
    For {
        var: String,
        iter: Expr,
        body: Vec<Node>,
        line: usize,
    },
    Assign {
        name: String,
        expr: Expr,
        line: usize,
    },
    ImportRe,
}

/// An open control block while parsing.
enum Open {
    If {
        branches: Vec<(Option<Expr>, Vec<Node>)>,
        line: usize,
        has_else: bool,
    },
    For {
        var: String,
        iter: Expr,
        line: usize,
    },
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Self {
            path,
            text,
            pos: 0,
            line: 1,
        }
    }

    fn err(&self, line: usize, message: impl Into<String>) -> TemplateError {
        TemplateError {
            path: self.path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn advance(&mut self, n: usize) -> &'a str {
        let s = self.text.get(self.pos..self.pos + n).unwrap_or_default();
        self.line += s.matches('\n').count();
        self.pos += n;
        s
    }

    fn parse(mut self) -> Result<Vec<Node>, TemplateError> {
        // The stack of open blocks; `bodies[i]` collects the nodes of level `i`.
        let mut bodies: Vec<Vec<Node>> = vec![Vec::new()];
        let mut open: Vec<Open> = Vec::new();
        let mut text = String::new();
        let flush = |text: &mut String, bodies: &mut Vec<Vec<Node>>| {
            if !text.is_empty() {
                bodies
                    .last_mut()
                    .expect("a body")
                    .push(Node::Text(std::mem::take(text)));
            }
        };
        let mut at_line_start = true;
        while self.pos < self.text.len() {
            let rest = self.rest();
            if at_line_start {
                at_line_start = false;
                let indent = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                let (indentation, after) = rest.split_at_checked(indent).unwrap_or_default();
                if after.starts_with("##") {
                    let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
                    self.advance(end);
                    at_line_start = true;
                    continue;
                }
                if after.starts_with("%%") {
                    text.push_str(indentation);
                    text.push('%');
                    self.advance(indent + 2);
                    continue;
                }
                if after.starts_with('%') {
                    let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
                    let line = self.line;
                    let control = self.advance(end).get(indent + 1..).unwrap_or_default();
                    let control = control.trim().to_string();
                    at_line_start = true;
                    flush(&mut text, &mut bodies);
                    self.control(&control, line, &mut bodies, &mut open)?;
                    continue;
                }
            }
            if rest.starts_with("\\\n") {
                self.advance(2);
                at_line_start = true;
                continue;
            }
            if rest.starts_with("\\\r\n") {
                self.advance(3);
                at_line_start = true;
                continue;
            }
            if rest.starts_with("${") {
                let line = self.line;
                let end = expression_end(rest)
                    .ok_or_else(|| self.err(line, "unterminated ${ expression"))?;
                let inner = rest.get(2..end).unwrap_or_default();
                self.advance(end + 1);
                let (expr_text, filters) = split_filters(inner);
                let expr = parse_expr(expr_text).map_err(|m| self.err(line, m))?;
                flush(&mut text, &mut bodies);
                bodies.last_mut().expect("a body").push(Node::Expr {
                    expr,
                    filters,
                    line,
                });
                continue;
            }
            if rest.starts_with("<%text>") {
                let line = self.line;
                let end = rest
                    .find("</%text>")
                    .ok_or_else(|| self.err(line, "<%text> without </%text>"))?;
                text.push_str(rest.get("<%text>".len()..end).unwrap_or_default());
                self.advance(end + 8);
                continue;
            }
            if rest.starts_with("<%!") {
                let line = self.line;
                let end = rest
                    .find("%>")
                    .ok_or_else(|| self.err(line, "<%! block without %>"))?;
                let code = rest.get("<%!".len()..end).unwrap_or_default();
                for (i, stmt) in code.lines().enumerate() {
                    let stmt = stmt.trim();
                    if stmt.is_empty() || stmt.starts_with('#') {
                        continue;
                    }
                    if stmt != "import re" {
                        return Err(self.err(
                            line + i,
                            format!(
                                "module-level code '{stmt}' is not supported by Retort's template renderer (only 'import re')"
                            ),
                        ));
                    }
                    flush(&mut text, &mut bodies);
                    bodies.last_mut().expect("a body").push(Node::ImportRe);
                }
                self.advance(end + 2);
                continue;
            }
            if rest
                .strip_prefix("<%")
                .is_some_and(|r| r.starts_with(char::is_whitespace))
            {
                let line = self.line;
                let end = rest
                    .find("%>")
                    .ok_or_else(|| self.err(line, "<% block without %>"))?;
                let code = rest.get(2..end).unwrap_or_default();
                flush(&mut text, &mut bodies);
                for (i, stmt) in code.lines().enumerate() {
                    let stmt = stmt.trim();
                    if stmt.is_empty() || stmt.starts_with('#') {
                        continue;
                    }
                    let (name, value) = split_assignment(stmt).ok_or_else(|| {
                        self.err(
                            line + i,
                            format!(
                                "Python code '{stmt}' is not supported by Retort's template renderer (only NAME = EXPRESSION)"
                            ),
                        )
                    })?;
                    let expr = parse_expr(value).map_err(|m| self.err(line + i, m))?;
                    bodies.last_mut().expect("a body").push(Node::Assign {
                        name: name.to_string(),
                        expr,
                        line: line + i,
                    });
                }
                self.advance(end + 2);
                continue;
            }
            if rest.starts_with("<%") || rest.starts_with("</%") {
                let tag: String = rest
                    .chars()
                    .take_while(|c| *c != '>' && *c != '\n')
                    .collect();
                return Err(self.err(
                    self.line,
                    format!("Mako tag '{tag}' is not supported by Retort's template renderer"),
                ));
            }
            let c = rest.chars().next().expect("not at the end");
            text.push(c);
            self.advance(c.len_utf8());
            if c == '\n' {
                at_line_start = true;
            }
        }
        flush(&mut text, &mut bodies);
        if let Some(block) = open.last() {
            let (what, line) = match block {
                Open::If { line, .. } => ("% if", *line),
                Open::For { line, .. } => ("% for", *line),
            };
            return Err(self.err(line, format!("'{what}' is never closed")));
        }
        Ok(bodies.pop().expect("the top body"))
    }

    fn control(
        &self,
        control: &str,
        line: usize,
        bodies: &mut Vec<Vec<Node>>,
        open: &mut Vec<Open>,
    ) -> Result<(), TemplateError> {
        let word: String = control
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let rest = control.get(word.len()..).unwrap_or_default().trim();
        let condition = |rest: &str| -> Result<Expr, TemplateError> {
            let body = rest
                .strip_suffix(':')
                .ok_or_else(|| self.err(line, format!("'% {control}' must end with ':'")))?;
            parse_expr(body).map_err(|m| self.err(line, m))
        };
        match word.as_str() {
            "if" => {
                let cond = condition(rest)?;
                open.push(Open::If {
                    branches: vec![(Some(cond), Vec::new())],
                    line,
                    has_else: false,
                });
                bodies.push(Vec::new());
            }
            "elif" | "else" => {
                let Some(Open::If {
                    branches, has_else, ..
                }) = open.last_mut()
                else {
                    return Err(self.err(line, format!("'% {word}' outside '% if'")));
                };
                if *has_else {
                    return Err(self.err(line, format!("'% {word}' after '% else'")));
                }
                let body = bodies.pop().expect("the if body");
                branches.last_mut().expect("a branch").1 = body;
                if word == "else" {
                    if rest != ":" {
                        return Err(self.err(line, "'% else' must be '% else:'"));
                    }
                    *has_else = true;
                    branches.push((None, Vec::new()));
                } else {
                    let cond = condition(rest)?;
                    branches.push((Some(cond), Vec::new()));
                }
                bodies.push(Vec::new());
            }
            "endif" => {
                let Some(Open::If { .. }) = open.last() else {
                    return Err(self.err(line, "'% endif' without '% if'"));
                };
                let Some(Open::If {
                    mut branches,
                    line: start,
                    ..
                }) = open.pop()
                else {
                    unreachable!("checked above")
                };
                branches.last_mut().expect("a branch").1 = bodies.pop().expect("the body");
                bodies.last_mut().expect("a body").push(Node::If {
                    branches,
                    line: start,
                });
            }
            "for" => {
                let body = rest
                    .strip_suffix(':')
                    .ok_or_else(|| self.err(line, "'% for' must end with ':'"))?;
                let (var, iter) = body
                    .split_once(" in ")
                    .ok_or_else(|| self.err(line, "'% for' must read '% for NAME in EXPR:'"))?;
                let var = var.trim();
                if !is_identifier(var) {
                    return Err(self.err(
                        line,
                        format!("'% for {var}': only a single loop name is supported"),
                    ));
                }
                let iter = parse_expr(iter).map_err(|m| self.err(line, m))?;
                open.push(Open::For {
                    var: var.to_string(),
                    iter,
                    line,
                });
                bodies.push(Vec::new());
            }
            "endfor" => {
                let Some(Open::For { .. }) = open.last() else {
                    return Err(self.err(line, "'% endfor' without '% for'"));
                };
                let Some(Open::For {
                    var,
                    iter,
                    line: start,
                }) = open.pop()
                else {
                    unreachable!("checked above")
                };
                let body = bodies.pop().expect("the body");
                bodies.last_mut().expect("a body").push(Node::For {
                    var,
                    iter,
                    body,
                    line: start,
                });
            }
            _ => {
                return Err(self.err(
                    line,
                    format!(
                        "control line '% {control}' is not supported by Retort's template renderer"
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

fn split_assignment(stmt: &str) -> Option<(&str, &str)> {
    let (name, value) = stmt.split_once('=')?;
    let name = name.trim();
    if value.starts_with('=') || !is_identifier(name) {
        return None;
    }
    Some((name, value.trim()))
}

/// Where the `}` closing a `${` is (index into `rest`), skipping strings and nested braces.
fn expression_end(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let mut depth = 0usize;
    let mut i = 2;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\'' | b'"' => i = quoted_end(bytes, i),
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote that closes the string opening at `bytes[open]` (backslash escapes
/// skipped), or the length of `bytes` when none does.
fn quoted_end(bytes: &[u8], open: usize) -> usize {
    let quote = bytes.get(open).copied();
    let mut i = open + 1;
    while let Some(&byte) = bytes.get(i) {
        if Some(byte) == quote {
            break;
        }
        if byte == b'\\' {
            i += 1;
        }
        i += 1;
    }
    i
}

/// `expr | f1, f2`: Mako's filters follow the last top-level `|`.
fn split_filters(inner: &str) -> (&str, Vec<String>) {
    let bytes = inner.as_bytes();
    let mut depth = 0i32;
    let mut last_bar = None;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\'' | b'"' => i = quoted_end(bytes, i),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'|' if depth == 0 => last_bar = Some(i),
            _ => {}
        }
        i += 1;
    }
    if let Some((expr, bar_filters)) = last_bar.and_then(|bar| inner.split_at_checked(bar)) {
        let filters = bar_filters.strip_prefix('|').unwrap_or(bar_filters);
        if filters
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ',' || c.is_whitespace())
        {
            return (
                expr,
                filters
                    .split(',')
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect(),
            );
        }
    }
    (inner, Vec::new())
}

// ----- expressions -----------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Expr {
    Const(Value),
    Name(String),
    Attr(Box<Expr>, String),
    Call(Box<Expr>, Vec<Expr>),
    IfElse(Box<Expr>, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Box<Expr>, CmpOp, Box<Expr>),
    Mod(Box<Expr>, Box<Expr>),
    Tuple(Vec<Expr>),
}

#[derive(Debug, Clone, Copy)]
enum CmpOp {
    Eq,
    Ne,
    Is,
    IsNot,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Int(i64),
    Op(&'static str),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // String literal, with an optional r/u/b prefix.
        let mut j = i;
        let mut raw = false;
        while let Some(&prefix) = chars.get(j).filter(|p| j - i < 2 && "rRuU".contains(**p)) {
            raw |= prefix == 'r' || prefix == 'R';
            j += 1;
        }
        if let Some(&q) = chars.get(j).filter(|q| matches!(q, '\'' | '"')) {
            if chars.get(j + 1) == Some(&q) && chars.get(j + 2) == Some(&q) {
                return Err(
                    "triple-quoted strings are not supported in template expressions".into(),
                );
            }
            let mut s = String::new();
            j += 1;
            loop {
                let Some(&ch) = chars.get(j) else {
                    return Err("unterminated string literal".into());
                };
                if ch == q {
                    break;
                }
                if ch == '\\' {
                    let next = *chars.get(j + 1).ok_or("unterminated string literal")?;
                    if raw {
                        s.push('\\');
                        s.push(next);
                    } else {
                        match next {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            '\\' | '\'' | '"' => s.push(next),
                            other => {
                                s.push('\\');
                                s.push(other);
                            }
                        }
                    }
                    j += 2;
                    continue;
                }
                s.push(ch);
                j += 1;
            }
            out.push(Tok::Str(s));
            i = j + 1;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut name = String::new();
            while let Some(&ch) = chars.get(i).filter(|c| c.is_alphanumeric() || **c == '_') {
                name.push(ch);
                i += 1;
            }
            out.push(Tok::Name(name));
            continue;
        }
        if c.is_ascii_digit() {
            let mut n = String::new();
            while let Some(&digit) = chars.get(i).filter(|c| c.is_ascii_digit()) {
                n.push(digit);
                i += 1;
            }
            out.push(Tok::Int(
                n.parse().map_err(|_| format!("number {n} is too large"))?,
            ));
            continue;
        }
        let two: String = chars.iter().skip(i).take(2).collect();
        let op: &'static str = match two.as_str() {
            "==" => "==",
            "!=" => "!=",
            _ => match c {
                '(' => "(",
                ')' => ")",
                ',' => ",",
                '.' => ".",
                '%' => "%",
                other => {
                    return Err(format!(
                        "'{other}' is not supported in template expressions by Retort's renderer"
                    ));
                }
            },
        };
        i += op.len();
        out.push(Tok::Op(op));
    }
    Ok(out)
}

fn parse_expr(src: &str) -> Result<Expr, String> {
    let toks = tokenize(src)?;
    let mut p = ExprParser { toks, pos: 0 };
    let e = p.expr()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unsupported expression '{}' (Retort's template renderer stops at {})",
            src.trim(),
            p.toks
                .get(p.pos)
                .map_or_else(String::new, |t| format!("{t:?}"))
        ));
    }
    Ok(e)
}

struct ExprParser {
    toks: Vec<Tok>,
    pos: usize,
}

impl ExprParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n == w)
    }
    fn is_op(&self, o: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(x)) if *x == o)
    }
    fn expect_op(&mut self, o: &str) -> Result<(), String> {
        if self.is_op(o) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{o}' in template expression"))
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let body = self.or_test()?;
        if self.is_word("if") {
            self.pos += 1;
            let cond = self.or_test()?;
            if !self.is_word("else") {
                return Err("'x if c' without 'else'".into());
            }
            self.pos += 1;
            let other = self.expr()?;
            return Ok(Expr::IfElse(
                Box::new(cond),
                Box::new(body),
                Box::new(other),
            ));
        }
        Ok(body)
    }
    fn or_test(&mut self) -> Result<Expr, String> {
        let mut left = self.and_test()?;
        while self.is_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and_test()?));
        }
        Ok(left)
    }
    fn and_test(&mut self) -> Result<Expr, String> {
        let mut left = self.not_test()?;
        while self.is_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not_test()?));
        }
        Ok(left)
    }
    fn not_test(&mut self) -> Result<Expr, String> {
        if self.is_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not_test()?)));
        }
        self.comparison()
    }
    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.arith()?;
        let op = if self.is_op("==") {
            CmpOp::Eq
        } else if self.is_op("!=") {
            CmpOp::Ne
        } else if self.is_word("is") {
            self.pos += 1;
            if self.is_word("not") {
                self.pos += 1;
                let right = self.arith()?;
                return Ok(Expr::Compare(Box::new(left), CmpOp::IsNot, Box::new(right)));
            }
            let right = self.arith()?;
            return Ok(Expr::Compare(Box::new(left), CmpOp::Is, Box::new(right)));
        } else {
            return Ok(left);
        };
        self.pos += 1;
        let right = self.arith()?;
        Ok(Expr::Compare(Box::new(left), op, Box::new(right)))
    }
    fn arith(&mut self) -> Result<Expr, String> {
        let mut left = self.primary()?;
        while self.is_op("%") {
            self.pos += 1;
            left = Expr::Mod(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }
    fn primary(&mut self) -> Result<Expr, String> {
        let mut e = self.atom()?;
        loop {
            if self.is_op(".") {
                self.pos += 1;
                match self.peek().cloned() {
                    Some(Tok::Name(n)) => {
                        self.pos += 1;
                        e = Expr::Attr(Box::new(e), n);
                    }
                    _ => return Err("expected a name after '.'".into()),
                }
            } else if self.is_op("(") {
                self.pos += 1;
                let mut args = Vec::new();
                while !self.is_op(")") {
                    args.push(self.expr()?);
                    if self.is_op(",") {
                        self.pos += 1;
                    } else if !self.is_op(")") {
                        return Err("expected ',' or ')' in a call".into());
                    }
                }
                self.pos += 1;
                e = Expr::Call(Box::new(e), args);
            } else {
                return Ok(e);
            }
        }
    }
    fn atom(&mut self) -> Result<Expr, String> {
        let tok = self
            .peek()
            .cloned()
            .ok_or("incomplete template expression")?;
        self.pos += 1;
        match tok {
            Tok::Str(mut s) => {
                // Implicit concatenation of adjacent literals.
                while let Some(Tok::Str(next)) = self.peek().cloned() {
                    s.push_str(&next);
                    self.pos += 1;
                }
                Ok(Expr::Const(Value::Str(s)))
            }
            Tok::Int(n) => Ok(Expr::Const(Value::Int(n))),
            Tok::Name(n) => Ok(match n.as_str() {
                "None" => Expr::Const(Value::None),
                "True" => Expr::Const(Value::Bool(true)),
                "False" => Expr::Const(Value::Bool(false)),
                "if" | "else" | "and" | "or" | "not" | "is" | "in" | "for" | "lambda" => {
                    return Err(format!("unexpected '{n}' in template expression"));
                }
                _ => Expr::Name(n),
            }),
            Tok::Op("(") => {
                if self.is_op(")") {
                    self.pos += 1;
                    return Ok(Expr::Tuple(Vec::new()));
                }
                let first = self.expr()?;
                if self.is_op(",") {
                    let mut items = vec![first];
                    while self.is_op(",") {
                        self.pos += 1;
                        if self.is_op(")") {
                            break;
                        }
                        items.push(self.expr()?);
                    }
                    self.expect_op(")")?;
                    return Ok(Expr::Tuple(items));
                }
                self.expect_op(")")?;
                Ok(first)
            }
            Tok::Op(o) => Err(format!("unexpected '{o}' in template expression")),
        }
    }
}

// ----- evaluation ------------------------------------------------------------------------

struct Scope<'a, 'b> {
    ctx: &'a Context<'b>,
    locals: BTreeMap<String, Value>,
    re_imported: bool,
    path: &'a Path,
}

impl Scope<'_, '_> {
    fn err(&self, line: usize, message: impl fmt::Display) -> TemplateError {
        TemplateError {
            path: self.path.to_path_buf(),
            line,
            message: message.to_string(),
        }
    }

    fn run(&mut self, nodes: &[Node], out: &mut String) -> Result<(), TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::ImportRe => self.re_imported = true,
                Node::Assign { name, expr, line } => {
                    let v = self.eval(expr).map_err(|m| self.err(*line, m))?;
                    self.locals.insert(name.clone(), v);
                }
                Node::Expr {
                    expr,
                    filters,
                    line,
                } => {
                    let v = self.eval(expr).map_err(|m| self.err(*line, m))?;
                    let text = self
                        .apply_filters(v, filters)
                        .map_err(|m| self.err(*line, m))?;
                    out.push_str(&text);
                }
                Node::If { branches, line } => {
                    for (cond, body) in branches {
                        let go = match cond {
                            Some(c) => self.eval(c).map_err(|m| self.err(*line, m))?.truthy(),
                            None => true,
                        };
                        if go {
                            self.run(body, out)?;
                            break;
                        }
                    }
                }
                Node::For {
                    var,
                    iter,
                    body,
                    line,
                } => {
                    let items = match self.eval(iter).map_err(|m| self.err(*line, m))? {
                        Value::Tuple(v) | Value::List(v) => v,
                        Value::Str(s) => s.chars().map(|c| Value::Str(c.to_string())).collect(),
                        other => {
                            return Err(self.err(
                                *line,
                                format!(
                                    "TypeError: '{}' object is not iterable",
                                    other.type_name()
                                ),
                            ));
                        }
                    };
                    for item in items {
                        self.locals.insert(var.clone(), item);
                        self.run(body, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn apply_filters(&self, v: Value, filters: &[String]) -> Result<String, String> {
        // Mako applies the default `str` unless `n` is among the filters.
        let mut escaped = !filters.iter().any(|f| f == "n");
        let mut v = v;
        for f in filters {
            match f.as_str() {
                "n" => {}
                "str" => v = Value::Str(v.to_str()?),
                "trim" => v = Value::Str(v.to_str()?.trim().to_string()),
                "comma" => v = Value::Str(format_as_comma(&v)?),
                other => {
                    // A filter may also be a template variable bound to `comma`.
                    match self.lookup(other) {
                        Value::CommaFilter => v = Value::Str(format_as_comma(&v)?),
                        _ => {
                            return Err(format!(
                                "filter '{other}' is not supported by Retort's template renderer"
                            ));
                        }
                    }
                }
            }
            escaped = escaped || f == "str";
        }
        let _ = escaped;
        v.to_str()
    }

    fn lookup(&self, name: &str) -> Value {
        if let Some(v) = self.locals.get(name) {
            return v.clone();
        }
        if let Some(v) = self.ctx.vars.get(name) {
            return v.clone();
        }
        match name {
            "context" => Value::Context,
            "repr" | "str" | "len" => Value::Builtin(match name {
                "repr" => "repr",
                "str" => "str",
                _ => "len",
            }),
            "re" if self.re_imported => Value::ReModule,
            _ => Value::Undefined(name.to_string()),
        }
    }

    fn eval(&self, e: &Expr) -> Result<Value, String> {
        Ok(match e {
            Expr::Const(v) => v.clone(),
            Expr::Name(n) => self.lookup(n),
            Expr::Tuple(items) => Value::Tuple(
                items
                    .iter()
                    .map(|i| self.eval(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Attr(base, name) => {
                let b = self.eval(base)?;
                match (&b, name.as_str()) {
                    (Value::Context, "get")
                    | (Value::Config, "get_main_option")
                    | (Value::ReModule, "split")
                    | (Value::Str(_), "join" | "upper" | "lower" | "strip") => {
                        Value::Method(Box::new(b), name.clone())
                    }
                    (Value::Undefined(n), _) => {
                        return Err(format!("NameError: '{n}' is not defined"));
                    }
                    _ => {
                        return Err(format!(
                            "attribute '{name}' of a {} is not supported by Retort's template renderer",
                            b.type_name()
                        ));
                    }
                }
            }
            Expr::Call(f, args) => {
                let f = self.eval(f)?;
                let args: Vec<Value> = args
                    .iter()
                    .map(|a| self.eval(a))
                    .collect::<Result<_, _>>()?;
                self.call(f, args)?
            }
            Expr::IfElse(c, a, b) => {
                if self.eval(c)?.truthy() {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            Expr::And(a, b) => {
                let l = self.eval(a)?;
                if l.truthy() { self.eval(b)? } else { l }
            }
            Expr::Or(a, b) => {
                let l = self.eval(a)?;
                if l.truthy() { l } else { self.eval(b)? }
            }
            Expr::Not(a) => Value::Bool(!self.eval(a)?.truthy()),
            Expr::Compare(a, op, b) => {
                let (l, r) = (self.eval(a)?, self.eval(b)?);
                Value::Bool(match op {
                    CmpOp::Eq => l == r,
                    CmpOp::Ne => l != r,
                    CmpOp::Is | CmpOp::IsNot => {
                        let same = match (&l, &r) {
                            (Value::None, Value::None) => true,
                            (Value::Bool(x), Value::Bool(y)) => x == y,
                            (_, Value::None | Value::Bool(_))
                            | (Value::None | Value::Bool(_), _) => false,
                            _ => {
                                return Err(
                                    "'is' is supported only against None, True and False".into()
                                );
                            }
                        };
                        if matches!(op, CmpOp::Is) { same } else { !same }
                    }
                })
            }
            Expr::Mod(a, b) => {
                let fmt = match self.eval(a)? {
                    Value::Str(s) => s,
                    other => {
                        return Err(format!(
                            "'%' on a {} is not supported by Retort's template renderer",
                            other.type_name()
                        ));
                    }
                };
                let args = match self.eval(b)? {
                    Value::Tuple(items) => items,
                    other => vec![other],
                };
                positional_format(&fmt, &args)?
            }
        })
    }

    fn call(&self, f: Value, args: Vec<Value>) -> Result<Value, String> {
        let arity = |n: std::ops::RangeInclusive<usize>, what: &str| -> Result<(), String> {
            if n.contains(&args.len()) {
                Ok(())
            } else {
                Err(format!(
                    "{what}() takes {:?} arguments, {} given",
                    n,
                    args.len()
                ))
            }
        };
        // The arguments that `arity` has checked are there; `None` stands in for the others.
        let none = Value::None;
        let first = args.first().unwrap_or(&none);
        let second = args.get(1).unwrap_or(&none);
        match f {
            Value::Builtin("repr") => {
                arity(1..=1, "repr")?;
                Ok(Value::Str(first.repr()?))
            }
            Value::Builtin("str") => {
                arity(1..=1, "str")?;
                Ok(Value::Str(first.to_str()?))
            }
            Value::Builtin("len") => {
                arity(1..=1, "len")?;
                match first {
                    Value::Str(s) => Ok(Value::Int(s.chars().count() as i64)),
                    Value::Tuple(v) | Value::List(v) => Ok(Value::Int(v.len() as i64)),
                    other => Err(format!(
                        "TypeError: object of type '{}' has no len()",
                        other.type_name()
                    )),
                }
            }
            Value::CommaFilter => {
                arity(1..=1, "comma")?;
                Ok(Value::Str(format_as_comma(first)?))
            }
            Value::Method(base, name) => {
                match (*base, name.as_str()) {
                    (Value::Context, "get") => {
                        arity(1..=2, "context.get")?;
                        let Value::Str(key) = first else {
                            return Err("context.get() needs a string key".into());
                        };
                        Ok(self
                            .locals
                            .get(key)
                            .or_else(|| self.ctx.vars.get(key))
                            .cloned()
                            .unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::None)))
                    }
                    (Value::Config, "get_main_option") => {
                        arity(1..=2, "config.get_main_option")?;
                        let Value::Str(key) = first else {
                            return Err("config.get_main_option() needs a string name".into());
                        };
                        Ok(match (self.ctx.main_option)(key)? {
                            Some(v) => Value::Str(v),
                            None => args.get(1).cloned().unwrap_or(Value::None),
                        })
                    }
                    (Value::ReModule, "split") => {
                        arity(2..=2, "re.split")?;
                        let (Value::Str(pattern), Value::Str(s)) = (first, second) else {
                            return Err(format!(
                                "TypeError: re.split() expects strings, got {} and {}",
                                first.type_name(),
                                second.type_name()
                            ));
                        };
                        let pattern = Pattern::parse(pattern)?;
                        Ok(Value::List(
                            pattern.split(s).into_iter().map(Value::Str).collect(),
                        ))
                    }
                    (Value::Str(sep), "join") => {
                        arity(1..=1, "str.join")?;
                        match first {
                        Value::Tuple(v) | Value::List(v) => Ok(Value::Str(
                            v.iter()
                                .map(|x| match x {
                                    Value::Str(s) => Ok(s.clone()),
                                    other => Err(format!(
                                        "TypeError: sequence item: expected str instance, {} found",
                                        other.type_name()
                                    )),
                                })
                                .collect::<Result<Vec<_>, _>>()?
                                .join(&sep),
                        )),
                        other => Err(format!("TypeError: can only join an iterable, not {}", other.type_name())),
                    }
                    }
                    (Value::Str(s), "upper") => Ok(Value::Str(s.to_uppercase())),
                    (Value::Str(s), "lower") => Ok(Value::Str(s.to_lowercase())),
                    (Value::Str(s), "strip") => Ok(Value::Str(s.trim().to_string())),
                    (_, other) => Err(format!("method '{other}' is not supported")),
                }
            }
            Value::Undefined(n) => Err(format!("NameError: '{n}' is not defined")),
            other => Err(format!(
                "TypeError: '{}' object is not callable",
                other.type_name()
            )),
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text holds `'` and no `"`; `\\`, `\n`,
/// `\r`, `\t` escaped; characters `str.isprintable()` rejects as `\xNN`, `\uNNNN` or
/// `\UNNNNNNNN`. Non-printable characters outside ASCII are recognised from the Unicode
/// categories Cc, Cf, Zs, Zl, Zp and Co (unassigned code points, Cn, are printed as they are).
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !py_printable(c) => {
                let n = c as u32;
                out.push_str(&if n < 0x100 {
                    format!("\\x{n:02x}")
                } else if n < 0x10000 {
                    format!("\\u{n:04x}")
                } else {
                    format!("\\U{n:08x}")
                });
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn py_printable(c: char) -> bool {
    let n = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() {
        return false;
    }
    !matches!(n,
        // Zs, Zl, Zp (space separators other than ' ')
        0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000
        // Cf (format characters)
        | 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890 | 0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        // Co (private use)
        | 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

/// `alembic.util.format_as_comma`.
fn format_as_comma(v: &Value) -> Result<String, String> {
    match v {
        Value::None => Ok(String::new()),
        Value::Str(s) => Ok(s.clone()),
        Value::Tuple(items) | Value::List(items) => Ok(items
            .iter()
            .map(Value::to_str)
            .collect::<Result<Vec<_>, _>>()?
            .join(", ")),
        Value::Undefined(n) => Err(format!("NameError: '{n}' is not defined")),
        other => Err(format!(
            "ValueError: Don't know how to comma-format {}",
            other.type_name()
        )),
    }
}

/// Python's `fmt % args` with positional `%s`, `%r`, `%d` and `%%`.
fn positional_format(fmt: &str, args: &[Value]) -> Result<Value, String> {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(conv @ ('s' | 'r' | 'd')) => {
                let v = it
                    .next()
                    .ok_or("TypeError: not enough arguments for format string")?;
                out.push_str(&match (conv, v) {
                    ('s', v) => v.to_str()?,
                    ('r', v) => v.repr()?,
                    ('d', Value::Int(n)) => n.to_string(),
                    ('d', Value::Bool(b)) => (*b as i64).to_string(),
                    (_, v) => {
                        return Err(format!(
                            "TypeError: %d format: a real number is required, not {}",
                            v.type_name()
                        ));
                    }
                });
            }
            other => {
                return Err(format!(
                    "'%{}' formatting is not supported by Retort's template renderer",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        }
    }
    if it.next().is_some() {
        return Err("TypeError: not all arguments converted during string formatting".into());
    }
    Ok(Value::Str(out))
}

/// A regular expression of the small kind templates split on: literal characters and the
/// classes `\s`, `\d`, `\w`, `.`, each optionally followed by `*`, `+` or `?`.
struct Pattern(Vec<(Atom, Rep)>);

#[derive(Clone, Copy)]
enum Atom {
    Char(char),
    Space,
    Digit,
    Word,
    Any,
}

#[derive(Clone, Copy, PartialEq)]
enum Rep {
    One,
    Star,
    Plus,
    Opt,
}

impl Atom {
    fn matches(self, c: char) -> bool {
        match self {
            Atom::Char(x) => x == c,
            Atom::Space => c.is_whitespace(),
            Atom::Digit => c.is_numeric(),
            Atom::Word => c.is_alphanumeric() || c == '_',
            Atom::Any => c != '\n',
        }
    }
}

impl Pattern {
    fn parse(src: &str) -> Result<Self, String> {
        let mut atoms = Vec::new();
        let mut chars = src.chars().peekable();
        while let Some(c) = chars.next() {
            let atom = match c {
                '\\' => match chars.next() {
                    Some('s') => Atom::Space,
                    Some('d') => Atom::Digit,
                    Some('w') => Atom::Word,
                    Some(x) if !x.is_alphanumeric() => Atom::Char(x),
                    other => {
                        return Err(format!(
                            "regular expression '{src}': '\\{}' is not supported by Retort's template renderer",
                            other.map(String::from).unwrap_or_default()
                        ));
                    }
                },
                '.' => Atom::Any,
                '[' | ']' | '(' | ')' | '{' | '}' | '|' | '^' | '$' | '*' | '+' | '?' => {
                    return Err(format!(
                        "regular expression '{src}': '{c}' is not supported by Retort's template renderer"
                    ));
                }
                other => Atom::Char(other),
            };
            let rep = match chars.peek() {
                Some('*') => Rep::Star,
                Some('+') => Rep::Plus,
                Some('?') => Rep::Opt,
                _ => Rep::One,
            };
            if rep != Rep::One {
                chars.next();
            }
            atoms.push((atom, rep));
        }
        Ok(Pattern(atoms))
    }

    /// Length of the leftmost-longest-first (backtracking, greedy) match of atoms `k..` at
    /// `s[at..]`. `memo` holds the answers found so far for `(at, k)`: each is asked once, so
    /// `\s*\s*\s*…x` takes polynomial time, not exponential (backtracking alone hung on it).
    fn match_at(
        &self,
        s: &[char],
        at: usize,
        k: usize,
        memo: &mut HashMap<(usize, usize), Option<usize>>,
    ) -> Option<usize> {
        let Some(&(atom, rep)) = self.0.get(k) else {
            return Some(0);
        };
        if let Some(&known) = memo.get(&(at, k)) {
            return known;
        }
        let (min, max) = match rep {
            Rep::One => (1, 1),
            Rep::Star => (0, usize::MAX),
            Rep::Plus => (1, usize::MAX),
            Rep::Opt => (0, 1),
        };
        let mut n = 0;
        while n < max && s.get(at + n).is_some_and(|c| atom.matches(*c)) {
            n += 1;
        }
        let mut found = None;
        if n >= min {
            let mut taken = n;
            loop {
                if let Some(rest) = self.match_at(s, at + taken, k + 1, memo) {
                    found = Some(taken + rest);
                    break;
                }
                if taken == min {
                    break;
                }
                taken -= 1;
            }
        }
        memo.insert((at, k), found);
        found
    }

    /// `re.split(pattern, s)` (no groups in these patterns).
    fn split(&self, s: &str) -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        // Python 3.7+: empty matches split too, but not adjacent to a previous match.
        let mut last_end: Option<usize> = None;
        let mut memo = HashMap::new();
        while i <= chars.len() {
            match self.match_at(&chars, i, 0, &mut memo) {
                Some(len) if !(len == 0 && last_end == Some(i)) => {
                    out.push(chars.get(start..i).unwrap_or_default().iter().collect());
                    start = i + len;
                    last_end = Some(start);
                    i = if len == 0 { i + 1 } else { i + len };
                }
                _ => i += 1,
            }
        }
        out.push(chars.get(start..).unwrap_or_default().iter().collect());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_config(_: &str) -> Result<Option<String>, String> {
        Ok(None)
    }

    fn run(text: &str, vars: &[(&str, Value)]) -> Result<String, TemplateError> {
        let ctx = Context {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            main_option: &no_config,
        };
        render(Path::new("t.mako"), text, &ctx)
    }

    #[test]
    fn expressions_and_filters() {
        let vars = [
            ("down_revision", Value::str_tuple(&["a", "b"])),
            ("one", Value::Str("x'y".into())),
            ("none", Value::None),
            ("comma", Value::CommaFilter),
            ("labels", Value::str_tuple(&["l"])),
            ("deps", Value::str_list(&["d1", "d2"])),
        ];
        assert_eq!(
            run(
                "Revises: ${down_revision | comma,n}|${none | comma,n}|${one | comma,n}\n",
                &vars
            )
            .unwrap(),
            "Revises: a, b||x'y\n"
        );
        assert_eq!(
            run(
                "${repr(down_revision)} ${repr(one)} ${repr(none)} ${repr(labels)} ${repr(deps)} ${none}",
                &vars
            )
            .unwrap(),
            "('a', 'b') \"x'y\" None ('l',) ['d1', 'd2'] None"
        );
        assert_eq!(
            run(
                "${imports if imports else \"\"}|${upgrades if upgrades else \"pass\"}",
                &vars
            )
            .unwrap(),
            "|pass"
        );
        let err = run("a\nb ${nothing}", &vars).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("'nothing' is not defined"), "{err}");
    }

    #[test]
    fn control_lines_comments_and_text() {
        let out = run(
            "a\\\nb\n## gone\n<%text>${x}\n</%text>\n% if x:\nyes ${x}\n% elif y:\nelif\n% else:\nno\n% endif\n%% literal\n",
            &[("x", Value::Int(0)), ("y", Value::Int(1))],
        )
        .unwrap();
        assert_eq!(out, "ab\n${x}\n\nelif\n% literal\n");
    }

    #[test]
    fn multidb_constructs() {
        let opt = |k: &str| -> Result<Option<String>, String> {
            Ok((k == "databases").then(|| "engine1, engine2".to_string()))
        };
        let ctx = Context {
            vars: BTreeMap::new(),
            main_option: &opt,
        };
        let text = "<%!\nimport re\n\n%>top\n<%\n    db_names = config.get_main_option(\"databases\")\n%>\n% for db_name in re.split(r',\\s*', db_names):\nup_${db_name}: ${context.get(\"%s_upgrades\" % db_name, \"pass\")}\n% endfor\n";
        let mut ctx2 = ctx;
        ctx2.vars.insert("config".into(), Value::Config);
        ctx2.vars
            .insert("engine2_upgrades".into(), Value::Str("op.x()".into()));
        assert_eq!(
            render(Path::new("m"), text, &ctx2).unwrap(),
            "top\n\nup_engine1: pass\nup_engine2: op.x()\n"
        );
    }

    #[test]
    fn unsupported_constructs_name_the_line() {
        for (text, line) in [
            ("x\n<%inherit file=\"base\"/>", 2),
            ("% while x:\n% endwhile", 1),
            ("\n\n${x | h}", 3),
            ("<%\nimport os\n%>", 2),
            ("<%!\nimport os\n%>", 2),
            ("% if x:\n", 1),
            ("${x[0]}", 1),
            ("${lambda: 1}", 1),
        ] {
            let err = run(text, &[("x", Value::Str("s".into()))]).unwrap_err();
            assert_eq!(err.line, line, "{text}: {err}");
            assert_eq!(err.path, Path::new("t.mako"));
        }
    }

    #[test]
    fn str_repr_as_python() {
        assert_eq!(py_str_repr("abc"), "'abc'");
        assert_eq!(py_str_repr("it's"), "\"it's\"");
        assert_eq!(py_str_repr("'\""), "'\\'\"'");
        assert_eq!(py_str_repr("a\\b\n\t\u{7}"), "'a\\\\b\\n\\t\\x07'");
        assert_eq!(
            py_str_repr("é\u{a0}\u{200b}\u{e000}\u{1f600}"),
            "'é\\xa0\\u200b\\ue000\u{1f600}'"
        );
        assert_eq!(py_str_repr("\u{85}"), "'\\x85'");
    }

    #[test]
    fn re_split_with_many_stars_ends() {
        // Plain backtracking tried every way to share the spaces between the stars: it never
        // finished on this (a template `re.split` hung `retort revision`).
        let p = Pattern::parse(r"\s*\s*\s*\s*\s*\s*\s*\s*\s*\s*\s*\s*x").unwrap();
        let text = format!("{}y", " ".repeat(60));
        assert_eq!(p.split(&text), vec![text.clone()]);
        assert_eq!(p.split("a  xb x"), vec!["a", "b", ""]);
        let rendered = run(
            &format!("<%! import re %>${{re.split(r\"\\s*\\s*\\s*\\s*\\s*\\s*\\s*\\s*\\s*\\s*x\", \"{text}\")}}"),
            &[],
        )
        .unwrap();
        assert_eq!(rendered, format!("['{text}']"));
    }

    #[test]
    fn re_split_as_python() {
        let p = Pattern::parse(r",\s*").unwrap();
        assert_eq!(p.split("a, b,c,  d"), vec!["a", "b", "c", "d"]);
        assert_eq!(p.split("a"), vec!["a"]);
        assert_eq!(p.split(""), vec![""]);
        assert_eq!(p.split("a,"), vec!["a", ""]);
        let q = Pattern::parse(r"\s*,\s*").unwrap();
        assert_eq!(q.split("x , y"), vec!["x", "y"]);
        assert!(Pattern::parse("[ab]").is_err());
    }
}
