//! Nodes into text: literal text as it is, expressions through their filters, `% if` and
//! `% for` blocks run against the evaluator's scope. Errors carry the node's line.

use super::evaluator::{Scope, format_as_comma};
use super::parser::Node;
use super::{TemplateError, Value};
use std::fmt;

impl Scope<'_, '_> {
    fn err(&self, line: usize, message: impl fmt::Display) -> TemplateError {
        TemplateError {
            path: self.path.to_path_buf(),
            line,
            message: message.to_string(),
        }
    }

    pub(super) fn run(&mut self, nodes: &[Node], out: &mut String) -> Result<(), TemplateError> {
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
}
