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
//!
//! Why by hand: no crate renders Mako. Mako compiles each template into a Python module and
//! runs it, so the only complete renderer is Mako itself, which would make authoring a
//! revision need the project's Python. alembic's templates use a small, stable part of Mako;
//! Retort renders exactly that part and refuses the rest, naming the line, rather than guess.
//!
//! The pieces: `parser` turns the Mako text into nodes (with `expr`, the syntax of the Python
//! expressions inside them), `evaluator` computes those expressions against the revision's
//! values (`Scope`), and `renderer` walks the nodes into text.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))] // no panic on any input (docs/fuzzing.md)

mod evaluator;
mod expr;
mod parser;
mod renderer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::project::python_literal::py_repr as py_str_repr;

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
    let nodes = parser::Parser::new(path, text).parse()?;
    let mut scope = evaluator::Scope {
        ctx,
        locals: BTreeMap::new(),
        re_imported: false,
        path,
    };
    let mut out = String::new();
    scope.run(&nodes, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_config(_: &str) -> Result<Option<String>, String> {
        Ok(None)
    }

    pub(super) fn run(text: &str, vars: &[(&str, Value)]) -> Result<String, TemplateError> {
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
}
