//! Mako's text into nodes: literal text, `${...}` expressions with their filters, control
//! lines (`% if`, `% for`), `<% %>` assignments and `<%! import re %>`, each with its line.

use super::TemplateError;
use super::expr::{Expr, parse_expr};
use std::path::Path;

#[derive(Debug)]
pub(super) enum Node {
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

pub(super) struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(path: &'a Path, text: &'a str) -> Self {
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

    pub(super) fn parse(mut self) -> Result<Vec<Node>, TemplateError> {
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
