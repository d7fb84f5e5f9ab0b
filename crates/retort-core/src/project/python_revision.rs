//! Reading Alembic's Python revision files.
//!
//! Alembic imports every revision file as a module and reads `revision`, `down_revision`,
//! `branch_labels`, `depends_on` and the module docstring (`Script._from_path`). Running Python
//! for every file is slow and needs an interpreter, while almost every real file assigns plain
//! literals, so [`read_static`] parses the source with ruff's Python parser and reads the
//! literal values without running anything. When a value is computed (a name, a call, an
//! assignment inside an `if`, …) it answers [`StaticRead::Computed`] rather than guess, and the
//! caller then hands those files to [`read_with_python`], which imports them the way Alembic
//! does, all in one Python process.
//!
//! Speed (thousands of files per command): almost all of a revision file is the bodies of
//! `upgrade()` and `downgrade()`, and almost all the rest is the template's plain literals. So
//! when a cheap recognizer of a plain subset of Python can vouch for the functions
//! (`function_section`), only the part before them is read: by that recognizer as well when
//! it can (`plain_read`), else by the parser. Whatever is not certain goes to the parser, on
//! the whole file, which also words every error; the tests check both ways agree.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))] // no panic on any input (docs/fuzzing.md)

use super::{Diagnostic, RevisionFile};
use ruff_python_ast::token::TokenKind;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ExprContext, Pattern, Stmt};
use ruff_python_parser::{Mode, lexer, parse_module};
use ruff_text_size::{Ranged, TextSize};
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Result of reading one file statically.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // `Read` is the common case; boxing it buys nothing.
pub enum StaticRead {
    Read(RevisionFile),
    /// The file is valid Python but a needed value is computed; `line` is where.
    Computed {
        line: usize,
        reason: String,
    },
}

/// The module-level names Alembic reads, in the order they are checked.
const NAMES: [&str; 4] = ["revision", "down_revision", "branch_labels", "depends_on"];
const REVISION: usize = 0;

/// Estimated nesting above which a file is left to Python: the parser recurses once per level,
/// so a pathological file could otherwise overflow the stack (CPython itself stops at 200
/// nested brackets and 100 indentation levels).
const MAX_NESTING: usize = 2_000;
/// Estimated nesting up to which the parser runs on the caller's stack. The parser takes about
/// 3 KiB a level in a debug build (far less in a release build), so this stays well within the
/// 2 MiB that Rust gives a spawned thread; ordinary revision files nest a few dozen levels.
const SHALLOW_NESTING: usize = 150;
/// Stack for threads that parse files nested up to `MAX_NESTING` levels (reserved, not
/// committed): far above what they need.
pub(crate) const PARSER_STACK: usize = 64 * 1024 * 1024;

/// Reads one revision file without running it.
///
/// Values may be string literals (any prefix or quoting, implicit concatenation included),
/// `None`, or tuples, lists and sets of string literals. A set is read in written order,
/// while Python would iterate it in hash order, which varies between runs.
///
/// Safe to call from any thread: a file nested too deeply for a small stack is parsed on a
/// thread of its own with a large one, and a panic inside the parser becomes a diagnostic.
pub fn read_static(path: &Path, source: &str) -> Result<StaticRead, Diagnostic> {
    read_static_with(path, source, false)
}

/// [`read_static`] on a thread started with at least [`PARSER_STACK`] of stack, which can
/// parse any file that passes the nesting guard itself.
pub(crate) fn read_static_on_large_stack(
    path: &Path,
    source: &str,
) -> Result<StaticRead, Diagnostic> {
    read_static_with(path, source, true)
}

fn read_static_with(
    path: &Path,
    source: &str,
    large_stack: bool,
) -> Result<StaticRead, Diagnostic> {
    let (lines, nesting) = match precheck(path, source, large_stack) {
        Ok(Checked::Parse { lines, nesting }) => (lines, nesting),
        Ok(Checked::Done(read)) => return Ok(read),
        Err(diagnostic) => return Err(diagnostic),
    };
    if large_stack || nesting <= SHALLOW_NESTING {
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_parsed(path, source, &lines)
        }))
        .unwrap_or_else(|panic| Err(parser_panic(path, panic.as_ref())));
    }
    let outcome = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("retort-python-parse".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || read_parsed(path, source, &LineIndex::new(source)))
            .map(|handle| handle.join())
    });
    match outcome {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(parser_panic(path, panic.as_ref())),
        // No thread could be started; the nesting guard keeps the current stack safe enough.
        Err(_) => read_parsed(path, source, &lines),
    }
}

fn parser_panic(path: &Path, panic: &(dyn std::any::Any + Send)) -> Diagnostic {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Diagnostic::error(
        path,
        None,
        format!("internal error while parsing this file: {detail}"),
    )
}

/// What the checks before parsing decided.
enum Checked<'s> {
    /// The answer, without parsing.
    Done(StaticRead),
    /// Parse the file; `nesting` is at least [`nesting_estimate`]'s figure, and at most
    /// `MAX_NESTING`.
    Parse {
        lines: LineIndex<'s>,
        nesting: usize,
    },
}

/// Everything that is decided before parsing: size, NUL bytes, encoding, nesting. With
/// `large_stack`, the nesting only needs to be known to be within `MAX_NESTING`; otherwise
/// also whether it is within `SHALLOW_NESTING`.
fn precheck<'s>(
    path: &Path,
    source: &'s str,
    large_stack: bool,
) -> Result<Checked<'s>, Diagnostic> {
    if u32::try_from(source.len()).is_err() {
        return Err(Diagnostic::error(
            path,
            None,
            "file is too large to read (4 GiB or more)",
        ));
    }
    let lines = LineIndex::new(source);
    if let Some(at) = source.find('\0') {
        let line = lines.line(TextSize::try_from(at).unwrap_or_default());
        return Err(Diagnostic::error(
            path,
            Some(line),
            "invalid Python: source code cannot contain null bytes",
        ));
    }

    if let Some((line, encoding)) = coding_cookie(source)
        && !is_utf8_name(&encoding)
        && !source.is_ascii()
    {
        return Ok(Checked::Done(StaticRead::Computed {
            line,
            reason: format!(
                "the file declares the encoding '{encoding}', so Python reads its text differently"
            ),
        }));
    }
    // The quick bound settles ordinary files without lexing them twice (the parser lexes too);
    // half of `MAX_NESTING` leaves a wide margin.
    let bound = nesting_bound(source);
    let settled = if large_stack {
        MAX_NESTING / 2
    } else {
        SHALLOW_NESTING
    };
    let nesting = if bound <= settled {
        bound
    } else {
        nesting_estimate(source)
    };
    if nesting > MAX_NESTING {
        return Ok(Checked::Done(StaticRead::Computed {
            line: 1,
            reason: format!(
                "the file nests expressions or blocks more than {MAX_NESTING} levels deep"
            ),
        }));
    }
    Ok(Checked::Parse { lines, nesting })
}

/// The 1-based line where the module binds `name` (one of the four values Alembic reads), for
/// pointing at a value found wrong later (a `down_revision` naming a missing revision). Reads
/// the file again with the parser: called on the error path only, so the fast paths that
/// read thousands of files need not keep lines for every value.
pub fn binding_line(source: &str, name: &str) -> Option<usize> {
    let index = name_index(name)?;
    let lines = LineIndex::new(source);
    let module = function_section(source)
        .and_then(|cut| parse_module(source.get(..cut)?).ok())
        .or_else(|| parse_module(source).ok())?;
    let bindings = collect_bindings(&module.syntax().body, &lines);
    match bindings.get(index)?.as_ref()? {
        Binding::Literal(expr) => Some(lines.line(expr.start())),
        Binding::Dynamic { line, .. } => Some(*line),
    }
}

/// Parses a file that passed [`precheck`] and reads its values.
fn read_parsed(path: &Path, source: &str, lines: &LineIndex<'_>) -> Result<StaticRead, Diagnostic> {
    // Usually only the part before the functions needs the parser (see `function_section`);
    // the part starts at line 1, so every line number it gives is the file's.
    if let Some(cut) = function_section(source) {
        let prefix = source.get(..cut).unwrap_or(source);
        // Most often it does not even need the parser (see `plain_read`).
        if let Some(file) = plain_read(path, prefix) {
            return Ok(StaticRead::Read(file));
        }
        if let Ok(parsed) = parse_module(prefix) {
            return read_module(path, &parsed.syntax().body, lines);
        }
    }
    read_whole(path, source, lines)
}

/// Reads the module-level part of a file without the parser, when it is plainly a successful
/// read: a docstring, imports, and assignments `NAME = VALUE` or `NAME: ANNOTATION = VALUE`,
/// all in the plain subset of [`plain_functions`] (the four names Alembic reads allowed), with
/// `revision` a string and `down_revision` set, each of the four (where set) a string literal,
/// `None`, or a tuple, list or set of string literals. Anything else, a computed value or an
/// error included, answers `None`, and the parser reads the file and words the outcome.
///
/// What makes this exact: the plain subset is valid Python (see [`plain_functions`]); its
/// strings have no backslashes, so a literal's value is the text between its quotes (a
/// `\r\n` in a triple-quoted string stays as it is, as the parser leaves it); imports that
/// name one of the four are refused, so only the assignments bind them, the last one winning,
/// as in [`collect_bindings`]; and nothing in the subset is something [`DynamicHints`] or
/// [`GlobalDecls`] look for.
fn plain_read(path: &Path, prefix: &str) -> Option<RevisionFile> {
    if prefix.as_bytes().contains(&b'\\') {
        return None;
    }
    let mut parser = PlainParser::with_lexer(PlainLexer::new(prefix, true));
    // The module docstring: a statement of one string literal, first.
    let mut docstring = None;
    if let (Tok::Str(text), Tok::Newline) = (parser.peek(), parser.peek2()) {
        docstring = Some(plain_string_value(text));
        parser.bump();
        parser.bump();
    }
    let mut values: [Option<Value>; 4] = [None, None, None, None];
    while parser.peek() != Tok::End {
        match parser.peek() {
            Tok::Name("import" | "from") => {
                parser.watch_value_names = true;
                parser.simple_statement()?;
                parser.watch_value_names = false;
                if parser.value_name_seen {
                    return None;
                }
            }
            Tok::Name(name) if !is_keyword(name) && !is_soft_keyword(name) => {
                parser.bump();
                if parser.eat_op(":") {
                    parser.test()?;
                }
                parser.expect_op("=")?;
                match name_index(name).and_then(|index| values.get_mut(index)) {
                    Some(slot) => *slot = Some(parser.plain_value()?),
                    None => {
                        parser.testlist()?;
                    }
                }
            }
            _ => return None,
        }
        parser.expect(Tok::Newline)?;
    }
    let [revision, down_revision, branch_labels, depends_on] = values;
    let Some(Value::Str(revision)) = revision else {
        return None;
    };
    let down_revision = down_revision?;
    let longdoc = docstring.map(py_strip).unwrap_or_default().to_string();
    let create_date = create_date(&longdoc);
    Some(RevisionFile {
        revision,
        down_revision: down_revision.into_list(),
        branch_labels: branch_labels.map(Value::into_list).unwrap_or_default(),
        depends_on: depends_on.map(Value::into_list).unwrap_or_default(),
        longdoc,
        create_date,
        path: path.to_path_buf(),
        sql: None,
    })
}

/// The value of a string literal of the plain subset (no backslashes): the text between its
/// quotes.
fn plain_string_value(literal: &str) -> &str {
    let text = literal.trim_start_matches(['r', 'R', 'u', 'U']);
    let b = text.as_bytes();
    let triple = b.len() >= 6 && b.get(1) == b.first() && b.get(2) == b.first();
    let quotes = if triple { 3 } else { 1 };
    // The quotes are ASCII: these are character boundaries.
    text.get(quotes..text.len().saturating_sub(quotes))
        .unwrap_or_default()
}

/// [`read_parsed`] without the fast path.
fn read_whole(path: &Path, source: &str, lines: &LineIndex<'_>) -> Result<StaticRead, Diagnostic> {
    let parsed = match parse_module(source) {
        Ok(parsed) => parsed,
        Err(error) => {
            let line = lines.line(error.location.start());
            return Err(Diagnostic::error(
                path,
                Some(line),
                format!("invalid Python: {}", error.error),
            ));
        }
    };
    read_module(path, &parsed.syntax().body, lines)
}

/// Reads the values from a parsed module body.
fn read_module(
    path: &Path,
    body: &[Stmt],
    lines: &LineIndex<'_>,
) -> Result<StaticRead, Diagnostic> {
    let mut bindings = collect_bindings(body, lines);
    let mut globals = GlobalDecls {
        lines,
        found: [None; 4],
    };
    globals.visit_body(body);
    for ((binding, line), name) in bindings.iter_mut().zip(globals.found).zip(NAMES) {
        if let Some(line) = line {
            // A function may assign it at any time; only running the module tells.
            *binding = Some(Binding::Dynamic {
                line,
                reason: format!("'{name}' is declared `global` and may be assigned by a function"),
            });
        }
    }

    let mut hints = DynamicHints {
        lines,
        function_depth: 0,
        found: None,
    };
    hints.scan_module(body);

    // Values, in Alembic's terms: None = attribute absent.
    let mut values: [Option<Value>; 4] = [None, None, None, None];
    let mut computed: Vec<(usize, String)> = Vec::new();
    for ((index, binding), name) in bindings.iter().enumerate().zip(NAMES) {
        match binding {
            None => {
                if let Some((line, what)) = &hints.found {
                    computed.push((
                        *line,
                        format!("'{name}' is not assigned at module level, and {what} on line {line} may define it"),
                    ));
                }
            }
            Some(Binding::Dynamic { line, reason }) => computed.push((*line, reason.clone())),
            Some(Binding::Literal(expr)) => {
                if index == REVISION
                    && let Some(kind) = non_string_literal(expr)
                {
                    let line = lines.line(expr.start());
                    return Err(Diagnostic::error(
                        path,
                        Some(line),
                        format!("'revision' must be a string, not {kind}"),
                    ));
                }
                match evaluate(expr, lines) {
                    Ok(value) => {
                        if let Some(slot) = values.get_mut(index) {
                            *slot = Some(value);
                        }
                    }
                    Err((line, what)) => {
                        computed.push((line, format!("'{name}' is {what}, not a string literal")))
                    }
                }
            }
        }
    }
    if let Some((line, reason)) = computed.into_iter().min_by_key(|(line, _)| *line) {
        return Ok(StaticRead::Computed { line, reason });
    }

    let [revision, down_revision, branch_labels, depends_on] = values;
    let Some(down_revision) = down_revision else {
        // Alembic reads `module.down_revision` unguarded and fails with AttributeError.
        return Err(Diagnostic::error(
            path,
            None,
            "revision file does not define 'down_revision'",
        ));
    };
    let revision = match revision {
        Some(Value::Str(revision)) => revision,
        // `non_string_literal` has already rejected these; kept as an error, not a panic.
        Some(_) => return Err(Diagnostic::error(path, None, "'revision' must be a string")),
        None => legacy_revision_id(path)?,
    };
    let longdoc = docstring(body)
        .map(py_strip)
        .unwrap_or_default()
        .to_string();
    let create_date = create_date(&longdoc);
    Ok(StaticRead::Read(RevisionFile {
        revision,
        down_revision: down_revision.into_list(),
        branch_labels: branch_labels.map(Value::into_list).unwrap_or_default(),
        depends_on: depends_on.map(Value::into_list).unwrap_or_default(),
        longdoc,
        create_date,
        path: path.to_path_buf(),
        sql: None,
    }))
}

/// A literal value as Alembic's `util.to_tuple` sees it.
#[derive(Debug)]
enum Value {
    Str(String),
    None,
    Seq(Vec<String>),
}

impl Value {
    fn into_list(self) -> Vec<String> {
        match self {
            Value::Str(s) => vec![s],
            Value::None => Vec::new(),
            Value::Seq(items) => items,
        }
    }
}

/// How a name is bound by the last module-level statement that binds it.
enum Binding<'a> {
    Literal(&'a Expr),
    Dynamic { line: usize, reason: String },
}

fn name_index(name: &str) -> Option<usize> {
    NAMES.iter().position(|n| *n == name)
}

/// Follows the module body in execution order; the last binding of each name wins.
fn collect_bindings<'a>(body: &'a [Stmt], lines: &LineIndex<'_>) -> [Option<Binding<'a>>; 4] {
    let mut bindings: [Option<Binding<'a>>; 4] = [None, None, None, None];
    for stmt in body {
        match stmt {
            Stmt::Assign(assign) => {
                for target in &assign.targets {
                    bind_target(target, Some(&assign.value), lines, &mut bindings);
                }
            }
            Stmt::AnnAssign(assign) => {
                // A bare annotation (`revision: str`) binds nothing.
                if let Some(value) = &assign.value {
                    bind_target(&assign.target, Some(value), lines, &mut bindings);
                }
            }
            Stmt::AugAssign(assign) => {
                if let Expr::Name(name) = assign.target.as_ref()
                    && let Some(slot) =
                        name_index(name.id.as_str()).and_then(|i| bindings.get_mut(i))
                {
                    *slot = Some(Binding::Dynamic {
                        line: lines.line(assign.start()),
                        reason: format!("'{}' is changed by an augmented assignment", name.id),
                    });
                }
            }
            other => {
                let mut finder = BindingFinder { found: [false; 4] };
                finder.visit_stmt(other);
                for ((binding, found), name) in bindings.iter_mut().zip(finder.found).zip(NAMES) {
                    if found {
                        *binding = Some(Binding::Dynamic {
                            line: lines.line(other.start()),
                            reason: format!("'{name}' is bound by {}", describe_stmt(other)),
                        });
                    }
                }
            }
        }
    }
    bindings
}

/// Binds one assignment target; `value` is `None` when the value is not known statically.
fn bind_target<'a>(
    target: &'a Expr,
    value: Option<&'a Expr>,
    lines: &LineIndex<'_>,
    bindings: &mut [Option<Binding<'a>>; 4],
) {
    match target {
        Expr::Name(name) => {
            if let Some(slot) = name_index(name.id.as_str()).and_then(|i| bindings.get_mut(i)) {
                *slot = Some(match value {
                    Some(value) => Binding::Literal(value),
                    None => Binding::Dynamic {
                        line: lines.line(target.start()),
                        reason: format!("'{}' is assigned by unpacking a value", name.id),
                    },
                });
            }
        }
        Expr::Tuple(ast_tuple) => bind_unpacking(&ast_tuple.elts, value, lines, bindings),
        Expr::List(list) => bind_unpacking(&list.elts, value, lines, bindings),
        Expr::Starred(starred) => bind_target(&starred.value, None, lines, bindings),
        // Attributes and subscripts do not bind module names.
        _ => {}
    }
}

/// `a, b = 'x', 'y'` pairs up when both sides are plain sequences of the same length.
fn bind_unpacking<'a>(
    targets: &'a [Expr],
    value: Option<&'a Expr>,
    lines: &LineIndex<'_>,
    bindings: &mut [Option<Binding<'a>>; 4],
) {
    let values = match value {
        Some(Expr::Tuple(t)) => Some(&t.elts),
        Some(Expr::List(l)) => Some(&l.elts),
        _ => None,
    };
    let starred = |e: &Expr| matches!(e, Expr::Starred(_));
    match values {
        Some(values)
            if values.len() == targets.len()
                && !values.iter().any(starred)
                && !targets.iter().any(starred) =>
        {
            for (target, value) in targets.iter().zip(values) {
                bind_target(target, Some(value), lines, bindings);
            }
        }
        _ => {
            for target in targets {
                bind_target(target, None, lines, bindings);
            }
        }
    }
}

fn describe_stmt(stmt: &Stmt) -> &'static str {
    match stmt {
        Stmt::If(_) => "an assignment inside an `if` block",
        Stmt::Try(_) => "an assignment inside a `try` block",
        Stmt::For(_) => "a `for` loop",
        Stmt::While(_) => "an assignment inside a `while` loop",
        Stmt::With(_) => "a `with` block",
        Stmt::Match(_) => "a `match` statement",
        Stmt::Import(_) | Stmt::ImportFrom(_) => "an import",
        Stmt::FunctionDef(_) => "a function definition",
        Stmt::ClassDef(_) => "a class definition",
        Stmt::Delete(_) => "a `del` statement",
        Stmt::TypeAlias(_) => "a `type` statement",
        _ => "a statement that is not a plain assignment",
    }
}

/// Finds the wanted names bound by one module-level statement, not counting the bodies of
/// functions and classes, whose assignments are local to them.
struct BindingFinder {
    found: [bool; 4],
}

impl BindingFinder {
    fn mark(&mut self, name: &str) {
        if let Some(found) = name_index(name).and_then(|i| self.found.get_mut(i)) {
            *found = true;
        }
    }
}

impl<'a> Visitor<'a> for BindingFinder {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(def) => self.mark(def.name.as_str()),
            Stmt::ClassDef(class) => self.mark(class.name.as_str()),
            Stmt::Import(import) => {
                for alias in &import.names {
                    match &alias.asname {
                        Some(asname) => self.mark(asname.as_str()),
                        // `import a.b` binds `a`.
                        None => {
                            self.mark(alias.name.as_str().split('.').next().unwrap_or_default())
                        }
                    }
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    self.mark(alias.asname.as_ref().unwrap_or(&alias.name).as_str());
                }
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Name(name) if matches!(name.ctx, ExprContext::Store | ExprContext::Del) => {
                self.mark(name.id.as_str());
            }
            Expr::Lambda(_) => {}
            _ => visitor::walk_expr(self, expr),
        }
    }

    fn visit_except_handler(&mut self, handler: &'a ruff_python_ast::ExceptHandler) {
        let ruff_python_ast::ExceptHandler::ExceptHandler(inner) = handler;
        if let Some(name) = &inner.name {
            self.mark(name.as_str());
        }
        visitor::walk_except_handler(self, handler);
    }

    fn visit_pattern(&mut self, pattern: &'a Pattern) {
        match pattern {
            Pattern::MatchAs(p) => {
                if let Some(name) = &p.name {
                    self.mark(name.as_str());
                }
            }
            Pattern::MatchStar(p) => {
                if let Some(name) = &p.name {
                    self.mark(name.as_str());
                }
            }
            Pattern::MatchMapping(p) => {
                if let Some(name) = &p.rest {
                    self.mark(name.as_str());
                }
            }
            _ => {}
        }
        visitor::walk_pattern(self, pattern);
    }
}

/// `global revision` anywhere in the file (usually inside a function).
struct GlobalDecls<'l> {
    lines: &'l LineIndex<'l>,
    found: [Option<usize>; 4],
}

impl<'a> Visitor<'a> for GlobalDecls<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if let Stmt::Global(global) = stmt {
            for name in &global.names {
                if let Some(found) = name_index(name.as_str()).and_then(|i| self.found.get_mut(i)) {
                    found.get_or_insert(self.lines.line(stmt.start()));
                }
            }
        }
        visitor::walk_stmt(self, stmt);
    }
}

/// Code that could create module globals without naming them: `globals()`, `setattr`,
/// `exec`, star imports, a module `__getattr__`, … Only consulted for names that are not
/// assigned at all, to prefer running the file over declaring the name missing.
struct DynamicHints<'l> {
    lines: &'l LineIndex<'l>,
    function_depth: usize,
    found: Option<(usize, String)>,
}

impl DynamicHints<'_> {
    fn scan_module(&mut self, body: &[Stmt]) {
        for stmt in body {
            if let Stmt::FunctionDef(def) = stmt
                && def.name.as_str() == "__getattr__"
            {
                self.note(stmt.start(), "a module-level `__getattr__`".into());
            }
        }
        self.visit_body(body);
    }

    fn note(&mut self, at: TextSize, what: String) {
        if self.found.is_none() {
            self.found = Some((self.lines.line(at), what));
        }
    }
}

impl<'a> Visitor<'a> for DynamicHints<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::ImportFrom(import) if import.names.iter().any(|a| a.name.as_str() == "*") => {
                self.note(stmt.start(), "the star import".into());
            }
            Stmt::FunctionDef(_) => {
                self.function_depth += 1;
                visitor::walk_stmt(self, stmt);
                self.function_depth -= 1;
                return;
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                // Inside a function only `globals()` reaches the module namespace.
                let dynamic = if self.function_depth == 0 {
                    matches!(
                        id,
                        "globals" | "vars" | "locals" | "exec" | "eval" | "setattr" | "__import__"
                    )
                } else {
                    id == "globals"
                };
                if dynamic {
                    self.note(expr.start(), format!("`{id}`"));
                }
            }
            Expr::Attribute(attribute) => {
                let attr = attribute.attr.as_str();
                let sys_modules = attr == "modules"
                    && matches!(attribute.value.as_ref(), Expr::Name(n) if n.id.as_str() == "sys");
                if attr == "__dict__" || sys_modules {
                    self.note(expr.start(), format!("`{attr}`"));
                }
            }
            Expr::Lambda(_) => {
                self.function_depth += 1;
                visitor::walk_expr(self, expr);
                self.function_depth -= 1;
                return;
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

/// Evaluates a literal value; `Err((line, what))` describes the first part that is not one.
fn evaluate(expr: &Expr, lines: &LineIndex<'_>) -> Result<Value, (usize, &'static str)> {
    match expr {
        Expr::StringLiteral(s) => Ok(Value::Str(s.value.to_str().to_string())),
        Expr::NoneLiteral(_) => Ok(Value::None),
        Expr::Tuple(t) => sequence(&t.elts, lines),
        Expr::List(l) => sequence(&l.elts, lines),
        Expr::Set(s) => sequence(&s.elts, lines),
        other => Err((lines.line(other.start()), describe_expr(other))),
    }
}

fn sequence(elts: &[Expr], lines: &LineIndex<'_>) -> Result<Value, (usize, &'static str)> {
    elts.iter()
        .map(|e| match e {
            Expr::StringLiteral(s) => Ok(s.value.to_str().to_string()),
            other => Err((lines.line(other.start()), describe_element(other))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Seq)
}

/// For `revision`: a literal that can never be a string, which Alembic cannot use as an id.
fn non_string_literal(expr: &Expr) -> Option<&'static str> {
    match expr {
        Expr::NoneLiteral(_)
        | Expr::NumberLiteral(_)
        | Expr::BooleanLiteral(_)
        | Expr::BytesLiteral(_)
        | Expr::EllipsisLiteral(_)
        | Expr::Tuple(_)
        | Expr::List(_)
        | Expr::Set(_)
        | Expr::Dict(_)
        | Expr::ListComp(_)
        | Expr::SetComp(_)
        | Expr::DictComp(_)
        | Expr::Generator(_)
        | Expr::Lambda(_) => Some(describe_expr(expr)),
        _ => None,
    }
}

fn describe_expr(expr: &Expr) -> &'static str {
    match expr {
        Expr::Name(_) => "a name",
        Expr::Call(_) => "a function call",
        Expr::Attribute(_) => "an attribute",
        Expr::Subscript(_) => "a subscript",
        Expr::FString(_) => "an f-string",
        Expr::TString(_) => "a t-string",
        Expr::BytesLiteral(_) => "a bytes literal",
        Expr::NumberLiteral(_) => "a number",
        Expr::BooleanLiteral(_) => "a boolean",
        Expr::NoneLiteral(_) => "None",
        Expr::EllipsisLiteral(_) => "an ellipsis",
        Expr::Tuple(_) => "a tuple",
        Expr::List(_) => "a list",
        Expr::Set(_) => "a set",
        Expr::Dict(_) => "a dict",
        Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => {
            "a comprehension"
        }
        Expr::Lambda(_) => "a lambda",
        Expr::Starred(_) => "an unpacked value",
        Expr::If(_) => "a conditional expression",
        _ => "a computed expression",
    }
}

fn describe_element(expr: &Expr) -> &'static str {
    match expr {
        Expr::Name(_) => "a sequence holding a name",
        Expr::Call(_) => "a sequence holding a function call",
        Expr::Starred(_) => "a sequence with an unpacked value",
        Expr::NoneLiteral(_)
        | Expr::NumberLiteral(_)
        | Expr::BooleanLiteral(_)
        | Expr::BytesLiteral(_) => "a sequence holding a non-string literal",
        _ => "a sequence holding a computed value",
    }
}

/// The module docstring as Python would set `__doc__`: only a plain string literal counts.
fn docstring(body: &[Stmt]) -> Option<&str> {
    match body.first() {
        Some(Stmt::Expr(stmt)) => match stmt.value.as_ref() {
            Expr::StringLiteral(s) => Some(s.value.to_str()),
            _ => None,
        },
        _ => None,
    }
}

/// Python's `str.isspace`: Unicode White_Space plus the four ASCII separators 0x1C–0x1F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` without arguments.
fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// The `Create Date:` line that Alembic's template writes into the docstring: the first line
/// that starts with it (after spaces) and has a date after it.
fn create_date(longdoc: &str) -> Option<String> {
    const LABEL: &str = "Create Date:";
    // Each place the label stands, in order, is a candidate line: the label must start it.
    longdoc.match_indices(LABEL).find_map(|(at, _)| {
        let (before, from_label) = longdoc.split_at_checked(at)?;
        let line_start = before.rsplit_once('\n').map_or(before, |(_, line)| line);
        if !line_start.chars().all(is_py_space) {
            return None;
        }
        let rest = from_label.strip_prefix(LABEL)?;
        let date = py_strip(rest.split_once('\n').map_or(rest, |(line, _)| line));
        (!date.is_empty()).then(|| date.to_string())
    })
}

/// Alembic 0.1 files had no `revision`; the id came from the file name (`_legacy_rev`).
fn legacy_revision_id(path: &Path) -> Result<String, Diagnostic> {
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `re.match(r"([a-f0-9]+)\.py$")`: anchored at the start; `$` also matches before a final newline.
    let name = filename.strip_suffix('\n').unwrap_or(&filename);
    match name.strip_suffix(".py") {
        Some(stem)
            if !stem.is_empty() && stem.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9')) =>
        {
            Ok(stem.to_string())
        }
        _ => Err(Diagnostic::error(path, None, legacy_error(&filename))),
    }
}

fn legacy_error(filename: &str) -> String {
    format!(
        "Could not determine revision id from filename {filename}. Be sure the 'revision' variable is declared \
         inside the script (please see 'Upgrading from Alembic 0.1 to 0.2' in the documentation)."
    )
}

/// A PEP 263 coding cookie on line 1, or on line 2 after a blank or comment-only line 1.
pub(super) fn coding_cookie(source: &str) -> Option<(usize, String)> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let (first, rest) = split_first_line(source);
    if let Some(name) = cookie_in(first) {
        return Some((1, name));
    }
    let first = first.trim_start_matches([' ', '\t', '\u{c}']);
    if !(first.is_empty() || first.starts_with('#')) {
        return None;
    }
    let (second, _) = split_first_line(rest?);
    cookie_in(second).map(|name| (2, name))
}

fn split_first_line(s: &str) -> (&str, Option<&str>) {
    match s.split_once(['\n', '\r']) {
        None => (s, None),
        Some((line, rest)) => {
            let crlf = s
                .get(line.len()..)
                .is_some_and(|end| end.starts_with("\r\n"));
            let rest = if crlf {
                rest.strip_prefix('\n').unwrap_or(rest)
            } else {
                rest
            };
            (line, Some(rest))
        }
    }
}

/// Python's `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`.
fn cookie_in(line: &str) -> Option<String> {
    let rest = line
        .trim_start_matches([' ', '\t', '\u{c}'])
        .strip_prefix('#')?;
    let mut search = rest;
    while let Some((_, after)) = search.split_once("coding") {
        if let Some(value) = after.strip_prefix([':', '=']) {
            let value = value.trim_start_matches([' ', '\t']);
            let name: String = value
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .collect();
            if !name.is_empty() {
                return Some(name);
            }
        }
        search = after;
    }
    None
}

/// Encodings under which a UTF-8 text decodes to itself (CPython's `get_normal_name` plus
/// the codec aliases of UTF-8).
pub(super) fn is_utf8_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "-");
    name == "utf-8" || name == "utf8" || name.starts_with("utf-8-") || name.starts_with("utf8-")
}

/// An upper estimate of how deeply the parser will recurse, from the tokens alone.
fn nesting_estimate(source: &str) -> usize {
    let mut lexer = lexer::lex(source, Mode::Module);
    // Operators seen at each open bracket level since the last comma: each may nest the AST.
    let mut levels: Vec<usize> = vec![0];
    let mut operators = 0usize;
    let mut indent = 0usize;
    let mut max = 0usize;
    // The lexer always ends, but a bound costs nothing.
    for _ in 0..=source.len().saturating_add(16) {
        let kind = lexer.next_token();
        match kind {
            TokenKind::EndOfFile => break,
            TokenKind::Lpar
            | TokenKind::Lsqb
            | TokenKind::Lbrace
            | TokenKind::FStringStart
            | TokenKind::TStringStart => {
                levels.push(0);
            }
            TokenKind::Rpar
            | TokenKind::Rsqb
            | TokenKind::Rbrace
            | TokenKind::FStringEnd
            | TokenKind::TStringEnd => {
                if levels.len() > 1 {
                    operators -= levels.pop().unwrap_or(0);
                }
                // `f()()()` nests calls at the enclosing level.
                bump(&mut levels, &mut operators);
            }
            TokenKind::Comma | TokenKind::Semi => {
                if let Some(top) = levels.last_mut() {
                    operators -= *top;
                    *top = 0;
                }
            }
            TokenKind::Newline => {
                levels.truncate(1);
                if let Some(first) = levels.first_mut() {
                    *first = 0;
                }
                operators = 0;
            }
            TokenKind::Indent => indent += 1,
            TokenKind::Dedent => indent = indent.saturating_sub(1),
            TokenKind::Name
            | TokenKind::Int
            | TokenKind::Float
            | TokenKind::Complex
            | TokenKind::String
            | TokenKind::FStringMiddle
            | TokenKind::TStringMiddle
            | TokenKind::Comment
            | TokenKind::NonLogicalNewline
            | TokenKind::Unknown => {}
            _ => bump(&mut levels, &mut operators),
        }
        // Each block level costs the parser several frames.
        max = max.max(operators + levels.len() + 4 * indent);
        if max > MAX_NESTING {
            break;
        }
    }
    max
}

/// An upper bound of [`nesting_estimate`] from the bytes alone, without lexing. What raises
/// the estimate: a bracket or operator token (each holds a punctuation byte of its own), a
/// keyword (a run of ASCII letters, digits and underscores of its own: a keyword ends its
/// run), the first bracket level, and each `Indent` token (one at most per line that starts
/// with whitespace) by 4. Names, numbers, strings, newlines and non-ASCII text raise nothing,
/// so counting every punctuation byte, every run and 4 per indented line is never less.
fn nesting_bound(source: &str) -> usize {
    fn word(b: u8) -> bool {
        (b | 0x20).is_ascii_lowercase() | b.is_ascii_digit() | (b == b'_')
    }
    fn punctuation(b: u8) -> bool {
        (0x21..=0x7e).contains(&b) & !word(b)
    }
    fn space(b: u8) -> bool {
        matches!(b, b' ' | b'\t' | b'\x0c')
    }
    fn newline(b: u8) -> bool {
        matches!(b, b'\n' | b'\r')
    }
    let bytes = source.as_bytes();
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let Some(&first) = bytes.first() else {
        return 1;
    };
    // Each byte with the one before it (the file starts as if after a newline). No state is
    // carried from byte to byte and the sums are kept small, so the compiler can vectorize.
    let mut bound = 1
        + usize::from(punctuation(first))
        + usize::from(word(first))
        + 4 * usize::from(space(first));
    let before = bytes.split_last().map_or(&[][..], |(_, rest)| rest);
    let after = bytes.get(1..).unwrap_or_default();
    for (before, after) in before.chunks(255).zip(after.chunks(255)) {
        // At most one each a byte: 255 bytes fit in a `u8`.
        let (mut punctuations, mut words, mut indented) = (0u8, 0u8, 0u8);
        for (&before, &b) in before.iter().zip(after) {
            punctuations = punctuations.wrapping_add(u8::from(punctuation(b)));
            words = words.wrapping_add(u8::from(word(b) & !word(before)));
            indented = indented.wrapping_add(u8::from(space(b) & newline(before)));
        }
        bound += usize::from(punctuations) + usize::from(words) + 4 * usize::from(indented);
    }
    bound
}

fn bump(levels: &mut [usize], operators: &mut usize) {
    if let Some(top) = levels.last_mut() {
        *top += 1;
        *operators += 1;
    }
}

/// Maps byte offsets to 1-based line numbers; `\n`, `\r\n` and `\r` all end a line, as in Python.
/// The table is built on the first question: most files never ask one.
struct LineIndex<'s> {
    source: &'s str,
    starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'s> LineIndex<'s> {
    fn new(source: &'s str) -> Self {
        LineIndex {
            source,
            starts: std::cell::OnceCell::new(),
        }
    }

    fn starts(&self) -> &[usize] {
        self.starts.get_or_init(|| {
            let bytes = self.source.as_bytes();
            let mut starts = vec![0];
            for (i, b) in bytes.iter().enumerate() {
                match b {
                    b'\n' => starts.push(i + 1),
                    b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i + 1),
                    _ => {}
                }
            }
            starts
        })
    }

    fn line(&self, offset: TextSize) -> usize {
        let offset = offset.to_usize();
        self.starts()
            .partition_point(|start| *start <= offset)
            .max(1)
    }
}

// ---------------------------------------------------------------------------------------------
// The fast paths: a plain subset of Python, recognized without the parser

/// Where the function section of a revision file starts, when the parser may skip it.
///
/// Almost all of a revision file is the bodies of `upgrade()` and `downgrade()`, which do not
/// matter for the values, yet a syntax error in them must still be reported exactly as the full
/// parse reports it. So the file is cut at the first line that starts with `def `, and the rest
/// is accepted only if [`plain_functions`] can tell, without building a syntax tree, that it is
/// valid Python that binds and reveals nothing: module-level `def` statements written in a
/// plain subset of the language. The caller reads the part before the cut alone (it starts at
/// line 1, so line numbers stay the file's); if that fails, it parses the whole file.
fn function_section(source: &str) -> Option<usize> {
    let cut = if source.starts_with("def ") {
        0
    } else {
        source.find("\ndef ")? + 1
    };
    // An empty prefix would lose nothing either, but there is nothing to gain.
    (cut > 0 && plain_functions(source.get(cut..).unwrap_or_default())).then_some(cut)
}

/// Names whose mere presence sends a file to the full parse: the four values (a function of
/// that name would rebind one), everything [`DynamicHints`] looks for, and `__debug__`
/// (which cannot be assigned).
fn is_doubtful_name(word: &str) -> bool {
    matches!(
        word,
        "revision"
            | "down_revision"
            | "branch_labels"
            | "depends_on"
            | "__getattr__"
            | "globals"
            | "vars"
            | "locals"
            | "exec"
            | "eval"
            | "setattr"
            | "__import__"
            | "__dict__"
            | "modules"
            | "__debug__"
    )
}

/// Python's keywords (3.14). Soft keywords (`match`, `case`, `type`, `_`) are names here, but
/// never start a statement.
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "False"
            | "None"
            | "True"
            | "and"
            | "as"
            | "assert"
            | "async"
            | "await"
            | "break"
            | "class"
            | "continue"
            | "def"
            | "del"
            | "elif"
            | "else"
            | "except"
            | "finally"
            | "for"
            | "from"
            | "global"
            | "if"
            | "import"
            | "in"
            | "is"
            | "lambda"
            | "nonlocal"
            | "not"
            | "or"
            | "pass"
            | "raise"
            | "return"
            | "try"
            | "while"
            | "with"
            | "yield"
    )
}

fn is_soft_keyword(word: &str) -> bool {
    matches!(word, "match" | "case" | "type" | "_")
}

/// Deepest bracket nesting the recognizer follows (it recurses once per level).
const PLAIN_MAX_DEPTH: usize = 64;

/// Whether `suffix` is certainly valid Python made only of plain module-level functions; see
/// [`function_section`]. `false` means "not sure", never "invalid".
///
/// The subset: text without backslashes, tabs or form feeds, ASCII except in strings and
/// comments; `def name(params) -> annotation:` with plain parameters; in the bodies `pass`,
/// `return`, imports, expression statements, assignments to names, attributes and subscripts,
/// `+=`/`-=`, and `if`/`elif`/`else`, `with` and `for` blocks; expressions of names, decimal
/// numbers, strings (prefix `r` or `u` only), calls, attributes, subscripts without slices,
/// tuples, lists, dicts, sets, unary and binary operators, comparisons, `not`, `and`, `or`.
/// Anything else answers `false`. The recognizer only accepts what ruff's parser accepts; the
/// tests check it on mutated real code.
fn plain_functions(suffix: &str) -> bool {
    if suffix.as_bytes().contains(&b'\\') {
        return false;
    }
    PlainParser::new(suffix).module().is_some()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok<'s> {
    /// A name or a keyword.
    Name(&'s str),
    Number,
    /// A string literal, prefix and quotes included.
    Str(&'s str),
    Op(&'static str),
    Newline,
    Indent,
    Dedent,
    End,
    /// Something outside the subset; nothing accepts it.
    Invalid,
}

fn is_ident_byte(b: u8) -> bool {
    const IDENT: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            // `b < 256`, the table's length (`get_mut` is not usable in a const block).
            #[allow(clippy::indexing_slicing)]
            {
                table[b] = (b as u8).is_ascii_alphanumeric() || b as u8 == b'_';
            }
            b += 1;
        }
        table
    };
    IDENT.get(usize::from(b)).copied().unwrap_or(false)
}

/// Deepest indentation the lexer follows.
const PLAIN_MAX_INDENTS: usize = 32;

/// The tokens of the subset, one at a time, without allocating; [`Tok::Invalid`] (for good)
/// at the first thing outside it. The text has no backslashes; other than ASCII is only
/// allowed in strings and comments.
struct PlainLexer<'s> {
    src: &'s str,
    at: usize,
    /// Indentation columns of the open blocks; `indents[0]` is 0.
    indents: [usize; PLAIN_MAX_INDENTS],
    depth: usize,
    /// `Dedent` tokens still to give.
    dedents: usize,
    brackets: usize,
    line_start: bool,
    invalid: bool,
    /// Whether the four names Alembic reads are allowed (see [`plain_read`]); the other
    /// names of [`is_doubtful_name`] never are.
    values: bool,
}

impl<'s> PlainLexer<'s> {
    fn new(src: &'s str, values: bool) -> Self {
        PlainLexer {
            src,
            at: 0,
            indents: [0; PLAIN_MAX_INDENTS],
            depth: 0,
            dedents: 0,
            brackets: 0,
            line_start: true,
            invalid: false,
            values,
        }
    }

    fn next_token(&mut self) -> Tok<'s> {
        if self.invalid {
            return Tok::Invalid;
        }
        let tok = self.lex().unwrap_or(Tok::Invalid);
        self.invalid = tok == Tok::Invalid;
        tok
    }

    fn lex(&mut self) -> Option<Tok<'s>> {
        let b = self.src.as_bytes();
        if self.dedents > 0 {
            self.dedents -= 1;
            return Some(Tok::Dedent);
        }
        let mut i = self.at;
        if self.line_start {
            loop {
                let mut j = i;
                while b.get(j) == Some(&b' ') {
                    j += 1;
                }
                match b.get(j) {
                    None => {
                        i = j;
                        break;
                    }
                    // Blank and comment-only lines do not count for indentation.
                    Some(b'\n' | b'\r' | b'#') => {
                        j = line_end(b, j);
                        match (b.get(j), b.get(j + 1)) {
                            (Some(b'\r'), Some(b'\n')) => j += 2,
                            (Some(b'\n'), _) => j += 1,
                            (None, _) => {}
                            // A lone `\r` ends a line in Python; not in the subset.
                            _ => return None,
                        }
                        i = j;
                    }
                    Some(_) => {
                        let column = j - i;
                        self.at = j;
                        self.line_start = false;
                        let indent = |lexer: &Self| lexer.indents.get(lexer.depth).copied();
                        if column > indent(self)? {
                            self.depth += 1;
                            *self.indents.get_mut(self.depth)? = column;
                            return Some(Tok::Indent);
                        }
                        let mut dedents = 0;
                        while column < indent(self)? {
                            self.depth -= 1;
                            dedents += 1;
                        }
                        if column != indent(self)? {
                            return None;
                        }
                        if dedents > 0 {
                            self.dedents = dedents - 1;
                            return Some(Tok::Dedent);
                        }
                        i = j;
                        break;
                    }
                }
            }
        }
        loop {
            // Spaces between tokens.
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
            let Some(&c) = b.get(i) else {
                // The end: close the last line, then the open blocks.
                self.at = i;
                if self.brackets != 0 {
                    return None;
                }
                if !self.line_start {
                    self.line_start = true;
                    return Some(Tok::Newline);
                }
                if self.depth > 0 {
                    self.depth -= 1;
                    return Some(Tok::Dedent);
                }
                return Some(Tok::End);
            };
            let next = b.get(i + 1).copied();
            let after = b.get(i + 2).copied();
            let op: &'static str = match c {
                b'\n' | b'\r' => {
                    if c == b'\r' {
                        if next != Some(b'\n') {
                            return None;
                        }
                        i += 1;
                    }
                    i += 1;
                    if self.brackets == 0 {
                        self.at = i;
                        self.line_start = true;
                        return Some(Tok::Newline);
                    }
                    continue;
                }
                b'#' => {
                    i = line_end(b, i);
                    continue;
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    let start = i;
                    let tail = b.get(i..).unwrap_or_default();
                    i += tail
                        .iter()
                        .position(|&c| !is_ident_byte(c))
                        .unwrap_or(tail.len());
                    let word = self.src.get(start..i)?;
                    let tok = if matches!(b.get(i), Some(b'\'' | b'"')) {
                        // A string prefix: only those that change nothing without backslashes.
                        if !matches!(word, "r" | "R" | "u" | "U") {
                            return None;
                        }
                        i = plain_string_end(b, i)?;
                        Tok::Str(self.src.get(start..i)?)
                    } else if is_doubtful_name(word) && !(self.values && name_index(word).is_some())
                    {
                        return None;
                    } else {
                        Tok::Name(word)
                    };
                    self.at = i;
                    return Some(tok);
                }
                b'0'..=b'9' => {
                    // Decimal integers without leading zeros, and `digits.digits`.
                    if c == b'0' && next.is_some_and(|n| n.is_ascii_digit()) {
                        return None;
                    }
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                    if b.get(i) == Some(&b'.') {
                        i += 1;
                        if !b.get(i).is_some_and(|d| d.is_ascii_digit()) {
                            return None;
                        }
                        while b.get(i).is_some_and(u8::is_ascii_digit) {
                            i += 1;
                        }
                    }
                    // `1if`, `1e5`, `1j`, `1_0`, `1.2.3`: not in the subset.
                    if b.get(i).is_some_and(|&n| is_ident_byte(n) || n == b'.') {
                        return None;
                    }
                    self.at = i;
                    return Some(Tok::Number);
                }
                b'\'' | b'"' => {
                    self.at = plain_string_end(b, i)?;
                    return Some(Tok::Str(self.src.get(i..self.at)?));
                }
                b'(' | b'[' | b'{' => {
                    self.brackets += 1;
                    match c {
                        b'(' => "(",
                        b'[' => "[",
                        _ => "{",
                    }
                }
                b')' | b']' | b'}' => {
                    self.brackets = self.brackets.checked_sub(1)?;
                    match c {
                        b')' => ")",
                        b']' => "]",
                        _ => "}",
                    }
                }
                // `...` and `.5` are not in the subset.
                b'.' if next == Some(b'.') || next.is_some_and(|n| n.is_ascii_digit()) => {
                    return None;
                }
                b'.' => ".",
                b',' => ",",
                b';' => ";",
                b':' if next == Some(b'=') => return None,
                b':' => ":",
                b'=' if next == Some(b'=') => "==",
                b'=' => "=",
                b'!' if next == Some(b'=') => "!=",
                b'<' => match next {
                    Some(b'=') => "<=",
                    Some(b'<') if after == Some(b'=') => return None,
                    Some(b'<') => "<<",
                    Some(b'>') => return None,
                    _ => "<",
                },
                b'>' => match next {
                    Some(b'=') => ">=",
                    Some(b'>') if after == Some(b'=') => return None,
                    Some(b'>') => ">>",
                    _ => ">",
                },
                b'-' => match next {
                    Some(b'>') => "->",
                    Some(b'=') => "-=",
                    _ => "-",
                },
                b'+' => match next {
                    Some(b'=') => "+=",
                    _ => "+",
                },
                b'*' => match next {
                    Some(b'*') if after == Some(b'=') => return None,
                    Some(b'*') => "**",
                    Some(b'=') => return None,
                    _ => "*",
                },
                b'/' => match next {
                    Some(b'/') if after == Some(b'=') => return None,
                    Some(b'/') => "//",
                    Some(b'=') => return None,
                    _ => "/",
                },
                b'%' | b'|' | b'&' | b'^' if next == Some(b'=') => return None,
                b'%' => "%",
                b'|' => "|",
                b'&' => "&",
                b'^' => "^",
                b'~' => "~",
                // Tabs, form feeds, `@`, `$`, `?`, `` ` ``, a lone `!`, control characters.
                _ => return None,
            };
            self.at = i + op.len();
            return Some(Tok::Op(op));
        }
    }
}

/// Where the line holding `at` ends: its `\n` or `\r`, or the end of the text.
fn line_end(b: &[u8], at: usize) -> usize {
    b.get(at..)
        .unwrap_or_default()
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(b.len(), |n| at + n)
}

/// The end of the string literal whose opening quote is at `start` (no backslashes).
fn plain_string_end(b: &[u8], start: usize) -> Option<usize> {
    let quote = *b.get(start)?;
    if b.get(start + 1) == Some(&quote) && b.get(start + 2) == Some(&quote) {
        let mut i = start + 3;
        loop {
            i += b.get(i..)?.iter().position(|&c| c == quote)?;
            if b.get(i + 1) == Some(&quote) && b.get(i + 2) == Some(&quote) {
                return Some(i + 3);
            }
            i += 1;
        }
    }
    let end = start
        + 1
        + b.get(start + 1..)?
            .iter()
            .position(|&c| c == quote || c == b'\n' || c == b'\r')?;
    (b.get(end) == Some(&quote)).then_some(end + 1)
}

/// What an expression can be assigned to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A plain name.
    Name,
    /// An attribute or a subscript.
    Target,
    /// An unparenthesized tuple of names, attributes and subscripts.
    Targets,
    Other,
}

impl Shape {
    fn assignable(self) -> bool {
        self != Shape::Other
    }
}

/// A recognizer for the subset of [`plain_functions`]: `None` as soon as anything is not in it.
struct PlainParser<'s> {
    lexer: PlainLexer<'s>,
    /// The next two tokens.
    ahead: [Tok<'s>; 2],
    depth: usize,
    /// Whether to note it when one of the four names Alembic reads goes by, and whether one
    /// did (see [`plain_read`]).
    watch_value_names: bool,
    value_name_seen: bool,
}

impl<'s> PlainParser<'s> {
    fn new(src: &'s str) -> Self {
        Self::with_lexer(PlainLexer::new(src, false))
    }

    fn with_lexer(mut lexer: PlainLexer<'s>) -> Self {
        let ahead = [lexer.next_token(), lexer.next_token()];
        PlainParser {
            lexer,
            ahead,
            depth: 0,
            watch_value_names: false,
            value_name_seen: false,
        }
    }

    fn peek(&self) -> Tok<'s> {
        self.ahead[0]
    }

    fn peek2(&self) -> Tok<'s> {
        self.ahead[1]
    }

    fn bump(&mut self) -> Tok<'s> {
        let tok = self.ahead[0];
        if self.watch_value_names
            && let Tok::Name(name) = tok
        {
            self.value_name_seen |= name_index(name).is_some();
        }
        self.ahead = [self.ahead[1], self.lexer.next_token()];
        tok
    }

    /// A value as [`evaluate`] reads it without error: a string literal (one, not several
    /// joined), `None`, or a tuple, list or set of single string literals.
    fn plain_value(&mut self) -> Option<Value> {
        let open = match self.bump() {
            Tok::Str(literal) => return Some(Value::Str(plain_string_value(literal).to_string())),
            Tok::Name("None") => return Some(Value::None),
            Tok::Op(open @ ("(" | "[" | "{")) => open,
            _ => return None,
        };
        let close = match open {
            "(" => ")",
            "[" => "]",
            _ => "}",
        };
        let mut items = Vec::new();
        let mut comma = false;
        while !self.eat_op(close) {
            let Tok::Str(literal) = self.bump() else {
                return None;
            };
            items.push(plain_string_value(literal).to_string());
            if self.eat_op(",") {
                comma = true;
            } else {
                self.expect_op(close)?;
                break;
            }
        }
        // `('a')` is a string in parentheses, not a tuple; `{}` is a dict.
        if (open == "(" && items.len() == 1 && !comma) || (open == "{" && items.is_empty()) {
            return None;
        }
        Some(Value::Seq(items))
    }

    fn eat(&mut self, tok: Tok<'_>) -> bool {
        let found = self.peek() == tok;
        if found {
            self.bump();
        }
        found
    }

    fn expect(&mut self, tok: Tok<'_>) -> Option<()> {
        self.eat(tok).then_some(())
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let found = self.is_op(op);
        if found {
            self.bump();
        }
        found
    }

    fn expect_op(&mut self, op: &str) -> Option<()> {
        self.eat_op(op).then_some(())
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if o == op)
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        self.peek() == Tok::Name(keyword)
    }

    /// A name that is not a keyword.
    fn identifier(&mut self) -> Option<&'s str> {
        match self.peek() {
            Tok::Name(name) if !is_keyword(name) => {
                self.bump();
                Some(name)
            }
            _ => None,
        }
    }

    fn module(&mut self) -> Option<()> {
        while self.peek() != Tok::End {
            self.expect(Tok::Name("def"))?;
            self.identifier()?;
            self.expect_op("(")?;
            let mut params: Vec<&str> = Vec::new();
            while !self.is_op(")") {
                let param = self.identifier()?;
                if params.contains(&param) {
                    return None;
                }
                params.push(param);
                if self.eat_op(":") {
                    self.test()?;
                }
                if !self.eat_op(",") {
                    break;
                }
            }
            self.expect_op(")")?;
            if self.eat_op("->") {
                self.test()?;
            }
            self.expect_op(":")?;
            self.suite()?;
        }
        Some(())
    }

    fn suite(&mut self) -> Option<()> {
        if !self.eat(Tok::Newline) {
            return self.simple_line();
        }
        self.expect(Tok::Indent)?;
        self.depth += 1;
        if self.depth > PLAIN_MAX_DEPTH {
            return None;
        }
        while !self.eat(Tok::Dedent) {
            self.statement()?;
        }
        self.depth -= 1;
        Some(())
    }

    fn statement(&mut self) -> Option<()> {
        match self.peek() {
            Tok::Name("if") => {
                self.bump();
                self.test()?;
                self.expect_op(":")?;
                self.suite()?;
                while self.eat(Tok::Name("elif")) {
                    self.test()?;
                    self.expect_op(":")?;
                    self.suite()?;
                }
                self.else_suite()
            }
            Tok::Name("with") => {
                self.bump();
                loop {
                    self.test()?;
                    if self.eat(Tok::Name("as")) && !self.primary()?.assignable() {
                        return None;
                    }
                    if !self.eat_op(",") {
                        break;
                    }
                }
                self.expect_op(":")?;
                self.suite()
            }
            Tok::Name("for") => {
                self.bump();
                loop {
                    if !self.primary()?.assignable() {
                        return None;
                    }
                    if !self.eat_op(",") || self.at_keyword("in") {
                        break;
                    }
                }
                self.expect(Tok::Name("in"))?;
                self.testlist()?;
                self.expect_op(":")?;
                self.suite()?;
                self.else_suite()
            }
            _ => self.simple_line(),
        }
    }

    fn else_suite(&mut self) -> Option<()> {
        if self.eat(Tok::Name("else")) {
            self.expect_op(":")?;
            self.suite()?;
        }
        Some(())
    }

    fn simple_line(&mut self) -> Option<()> {
        loop {
            self.simple_statement()?;
            if !self.eat_op(";") || self.peek() == Tok::Newline {
                break;
            }
        }
        self.expect(Tok::Newline)
    }

    fn simple_statement(&mut self) -> Option<()> {
        match self.peek() {
            Tok::Name("pass") => {
                self.bump();
            }
            Tok::Name("return") => {
                self.bump();
                if self.starts_expression() {
                    self.testlist()?;
                }
            }
            Tok::Name("import") => {
                self.bump();
                loop {
                    self.dotted_name()?;
                    if self.eat(Tok::Name("as")) {
                        self.identifier()?;
                    }
                    if !self.eat_op(",") {
                        break;
                    }
                }
            }
            Tok::Name("from") => {
                self.bump();
                let mut relative = false;
                while self.eat_op(".") {
                    relative = true;
                }
                if !(relative && self.at_keyword("import")) {
                    self.dotted_name()?;
                }
                self.expect(Tok::Name("import"))?;
                let parenthesized = self.eat_op("(");
                loop {
                    self.identifier()?;
                    if self.eat(Tok::Name("as")) {
                        self.identifier()?;
                    }
                    if !self.eat_op(",") || (parenthesized && self.is_op(")")) {
                        break;
                    }
                }
                if parenthesized {
                    self.expect_op(")")?;
                }
            }
            // Soft keywords could start a `match` or `type` statement.
            Tok::Name(word) if is_soft_keyword(word) => return None,
            _ => {
                let mut shape = self.testlist()?;
                if self.is_op("+=") || self.is_op("-=") {
                    if !matches!(shape, Shape::Name | Shape::Target) {
                        return None;
                    }
                    self.bump();
                    self.test()?;
                } else {
                    while self.eat_op("=") {
                        if !shape.assignable() {
                            return None;
                        }
                        shape = self.testlist()?;
                    }
                }
            }
        }
        Some(())
    }

    fn dotted_name(&mut self) -> Option<()> {
        self.identifier()?;
        while self.eat_op(".") {
            self.identifier()?;
        }
        Some(())
    }

    fn starts_expression(&self) -> bool {
        match self.peek() {
            Tok::Name(word) => {
                !is_keyword(word) || matches!(word, "None" | "True" | "False" | "not")
            }
            Tok::Number | Tok::Str(_) => true,
            Tok::Op(op) => matches!(op, "(" | "[" | "{" | "-" | "+" | "~"),
            Tok::Newline | Tok::Indent | Tok::Dedent | Tok::End | Tok::Invalid => false,
        }
    }

    /// Expressions separated by commas, a trailing one allowed; a tuple without parentheses.
    fn testlist(&mut self) -> Option<Shape> {
        let first = self.test()?;
        if !self.is_op(",") {
            return Some(first);
        }
        let mut all_targets = first.assignable();
        while self.eat_op(",") && self.starts_expression() {
            all_targets &= self.test()?.assignable();
        }
        Some(if all_targets {
            Shape::Targets
        } else {
            Shape::Other
        })
    }

    /// Comma-separated expressions up to `close`, a trailing comma allowed.
    fn items_until(&mut self, close: &str) -> Option<()> {
        while !self.is_op(close) {
            self.test()?;
            if !self.eat_op(",") {
                break;
            }
        }
        self.expect_op(close)
    }

    fn test(&mut self) -> Option<Shape> {
        self.depth += 1;
        if self.depth > PLAIN_MAX_DEPTH {
            return None;
        }
        let shape = self.operation();
        self.depth -= 1;
        shape
    }

    /// Operands (primaries) joined by binary operators, comparisons, `and` and `or`, each
    /// after any number of `-`, `+` and `~`; `not` only at the start and after `and`, `or`
    /// and `not`, since it binds more loosely than comparisons (`a == not b` is invalid).
    fn operation(&mut self) -> Option<Shape> {
        let mut operators = false;
        let mut after_boolean = true;
        loop {
            if after_boolean {
                while self.eat(Tok::Name("not")) {
                    operators = true;
                }
            }
            while let Tok::Op("-" | "+" | "~") = self.peek() {
                self.bump();
                operators = true;
            }
            let operand = self.primary()?;
            match (self.peek(), self.peek2()) {
                (Tok::Name("and" | "or"), _) => {
                    self.bump();
                    after_boolean = true;
                }
                (
                    Tok::Op(
                        "<" | ">" | "==" | ">=" | "<=" | "!=" | "+" | "-" | "*" | "/" | "//" | "%"
                        | "**" | "|" | "&" | "^" | "<<" | ">>",
                    ),
                    _,
                )
                | (Tok::Name("in"), _) => {
                    self.bump();
                    after_boolean = false;
                }
                (Tok::Name("not"), Tok::Name("in")) => {
                    self.bump();
                    self.bump();
                    after_boolean = false;
                }
                (Tok::Name("is"), _) => {
                    self.bump();
                    self.eat(Tok::Name("not"));
                    after_boolean = false;
                }
                _ => return Some(if operators { Shape::Other } else { operand }),
            }
            operators = true;
        }
    }

    fn primary(&mut self) -> Option<Shape> {
        let mut shape = self.atom()?;
        loop {
            if self.eat_op(".") {
                self.identifier()?;
                shape = Shape::Target;
            } else if self.eat_op("[") {
                // Subscripts without slices.
                if self.is_op("]") {
                    return None;
                }
                self.items_until("]")?;
                shape = Shape::Target;
            } else if self.eat_op("(") {
                self.arguments()?;
                shape = Shape::Other;
            } else {
                return Some(shape);
            }
        }
    }

    fn arguments(&mut self) -> Option<()> {
        let mut keywords: Vec<&str> = Vec::new();
        while !self.is_op(")") {
            if let (Tok::Name(name), Tok::Op("=")) = (self.peek(), self.peek2()) {
                if is_keyword(name) || keywords.contains(&name) {
                    return None;
                }
                keywords.push(name);
                self.bump();
                self.bump();
            } else if !keywords.is_empty() {
                // A positional argument after a keyword argument.
                return None;
            }
            self.test()?;
            if !self.eat_op(",") {
                break;
            }
        }
        self.expect_op(")")
    }

    fn atom(&mut self) -> Option<Shape> {
        match self.bump() {
            Tok::Name("None" | "True" | "False") | Tok::Number => Some(Shape::Other),
            Tok::Name(name) => (!is_keyword(name)).then_some(Shape::Name),
            Tok::Str(_) => {
                while let Tok::Str(_) = self.peek() {
                    self.bump();
                }
                Some(Shape::Other)
            }
            Tok::Op("(") => {
                if !self.eat_op(")") {
                    self.test()?;
                    if self.eat_op(",") {
                        self.items_until(")")?;
                    } else {
                        self.expect_op(")")?;
                    }
                }
                Some(Shape::Other)
            }
            Tok::Op("[") => {
                self.items_until("]")?;
                Some(Shape::Other)
            }
            Tok::Op("{") => {
                if self.eat_op("}") {
                    return Some(Shape::Other);
                }
                self.test()?;
                if self.eat_op(":") {
                    // A dict.
                    self.test()?;
                    while self.eat_op(",") && !self.is_op("}") {
                        self.test()?;
                        self.expect_op(":")?;
                        self.test()?;
                    }
                } else {
                    // A set.
                    while self.eat_op(",") && !self.is_op("}") {
                        self.test()?;
                    }
                }
                self.expect_op("}")?;
                Some(Shape::Other)
            }
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Finding and running Python

/// Runs as `python -c LOADER`. The request (paths) arrives on stdin as JSON; the answer is
/// `LOADER_READY`, then one JSON line per file, in order, written to a copy of stdout taken
/// before any revision code runs (fd 1 itself is pointed at stderr, so that `print` in a
/// revision cannot corrupt the answer).
const LOADER: &str = r#"
import sys
if sys.version_info[0] < 3:
    sys.stderr.write("Python 3 is required\n")
    sys.exit(3)
import importlib.util, json, os, re, traceback
try:
    from collections.abc import Iterable
except ImportError:
    from collections import Iterable

READY = "RETORT-LOADER-READY"
LEGACY = re.compile(r"([a-f0-9]+)\.py$")
LEGACY_ERROR = ("Could not determine revision id from filename %s. Be sure the 'revision' variable is declared "
                "inside the script (please see 'Upgrading from Alembic 0.1 to 0.2' in the documentation).")

def decode_path(p):
    if isinstance(p, str):
        return p
    return os.fsdecode(bytes.fromhex(p["hex"]))

def same_file(a, b):
    try:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))
    except Exception:
        return False

def to_list(value, name):
    # util.to_tuple: None -> (), str -> (str,), iterable -> tuple(it), other -> (other,)
    if value is None:
        return []
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        items = [value]
    for item in items:
        if not isinstance(item, str):
            raise TypeError("%s holds %r, which is not a string" % (name, item))
    return items

def load(path):
    # util.load_python_file / load_module_py, then Script._from_path and Script.__init__
    filename = os.path.basename(path)
    module_id = re.sub(r"\W", "_", filename)
    spec = importlib.util.spec_from_file_location(module_id, path)
    if spec is None or spec.loader is None:
        return {"error": "Python cannot load %s as a module" % filename, "line": None}
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "revision"):
        m = LEGACY.match(filename)
        if not m:
            return {"error": LEGACY_ERROR % filename, "line": None}
        revision = m.group(1)
    else:
        revision = module.revision
    if not isinstance(revision, str):
        raise TypeError("revision is %r, not a string" % (revision,))
    down_revision = to_list(module.down_revision, "down_revision")
    branch_labels = to_list(getattr(module, "branch_labels", None), "branch_labels")
    depends_on = to_list(getattr(module, "depends_on", None), "depends_on")
    doc = module.__doc__
    return {
        "revision": revision,
        "down_revision": down_revision,
        "branch_labels": branch_labels,
        "depends_on": depends_on,
        "doc": doc if isinstance(doc, str) else "",
    }

def safe_str(exc):
    try:
        return str(exc)
    except BaseException:
        return "<unprintable %s>" % type(exc).__name__

def failing_line(exc, path):
    if isinstance(exc, SyntaxError) and exc.lineno and same_file(exc.filename or "", path):
        return exc.lineno
    line = None
    try:
        for frame in traceback.extract_tb(exc.__traceback__):
            if same_file(frame.filename, path):
                line = frame.lineno
    except BaseException:
        pass
    return line

def main():
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    out = os.dup(1)
    os.dup2(2, 1)
    # Retort's working directory means nothing to the project; Alembic's own script
    # does not put it on sys.path either.
    if sys.path and sys.path[0] == "":
        del sys.path[0]
    sys.path[:0] = [decode_path(p) for p in request["sys_path"]]
    write(out, READY)
    for raw in request["files"]:
        path = decode_path(raw)
        try:
            answer = load(path)
        except BaseException as exc:
            answer = {"error": "%s: %s" % (type(exc).__name__, safe_str(exc)), "line": failing_line(exc, path)}
        try:
            data = json.dumps(answer)
        except BaseException as exc:
            data = json.dumps({"error": "cannot report the values: %s" % safe_str(exc), "line": None})
        write(out, data)

def write(fd, line):
    data = (line + "\n").encode("ascii")
    while data:
        data = data[os.write(fd, data):]

main()
"#;

/// The loader's first line, once it has read the request and set `sys.path` up.
const LOADER_READY: &str = "RETORT-LOADER-READY";

/// One line of the loader's answer.
#[derive(Deserialize)]
struct Answer {
    revision: Option<String>,
    down_revision: Option<Vec<String>>,
    branch_labels: Option<Vec<String>>,
    depends_on: Option<Vec<String>>,
    doc: Option<String>,
    error: Option<String>,
    line: Option<usize>,
}

/// The variable that bounds how long Python may take over one revision file, in seconds.
pub const PYTHON_TIMEOUT_VAR: &str = "RETORT_PYTHON_TIMEOUT";
/// How long Python may take over one revision file (or over starting) unless
/// [`PYTHON_TIMEOUT_VAR`] says otherwise: a revision file's module code rarely takes a second.
pub const DEFAULT_PYTHON_TIMEOUT: Duration = Duration::from_secs(30);

/// [`PYTHON_TIMEOUT_VAR`] read: a positive number of seconds, else the default; anything else
/// is an error naming the variable.
pub fn python_timeout(value: Option<&std::ffi::OsStr>) -> Result<Duration, String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_PYTHON_TIMEOUT);
    };
    let text = value.to_string_lossy();
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            format!("{PYTHON_TIMEOUT_VAR} is '{text}': give a positive number of seconds")
        })
}

/// Imports the given revision files with Python, as Alembic does, in a single process.
///
/// `sys_path` is Alembic's `prepend_sys_path`. The answer has one entry per file, in order.
/// A file whose import fails gets the exception (and the failing line of that file when the
/// traceback shows one); the files read before a crash of the interpreter keep their values.
/// Python gets [`python_timeout`] for each file (and for starting); past it, Python is
/// stopped and the file it was reading gets an error saying so.
pub fn read_with_python(
    python: &Path,
    files: &[PathBuf],
    sys_path: &[PathBuf],
) -> Vec<Result<RevisionFile, Diagnostic>> {
    match python_timeout(std::env::var_os(PYTHON_TIMEOUT_VAR).as_deref()) {
        Ok(timeout) => read_with_python_within(python, files, sys_path, timeout),
        Err(message) => files
            .iter()
            .map(|f| Err(Diagnostic::error(f, None, message.clone())))
            .collect(),
    }
}

/// [`read_with_python`] with Python given `timeout` for each file.
pub fn read_with_python_within(
    python: &Path,
    files: &[PathBuf],
    sys_path: &[PathBuf],
    timeout: Duration,
) -> Vec<Result<RevisionFile, Diagnostic>> {
    if files.is_empty() {
        return Vec::new();
    }
    let request = serde_json::json!({
        "sys_path": sys_path.iter().map(|p| path_to_json(p)).collect::<Vec<_>>(),
        "files": files.iter().map(|p| path_to_json(p)).collect::<Vec<_>>(),
    });
    let request = request.to_string().into_bytes();

    let child = Command::new(python)
        .arg("-c")
        .arg(LOADER)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            let message = format!("cannot start Python ({}): {error}", python.display());
            return files
                .iter()
                .map(|f| Err(Diagnostic::error(f, None, message.clone())))
                .collect();
        }
    };
    // Each pipe is served by a thread of its own, so that a child busy filling one cannot
    // deadlock us, and so that the answers can be waited for with a timeout.
    let writer = child.stdin.take().map(|mut stdin| {
        std::thread::spawn(move || {
            // A child that exits early closes the pipe; its exit status tells the story.
            let _ = stdin.write_all(&request);
        })
    });
    let (line_sender, answers) = std::sync::mpsc::channel::<String>();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line_sender.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let (stderr_done, stderr_finished) = std::sync::mpsc::channel::<()>();
    if let Some(mut pipe) = child.stderr.take() {
        let stderr = std::sync::Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match std::io::Read::read(&mut pipe, &mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => stderr
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                }
            }
            let _ = stderr_done.send(());
        });
    }

    // The loader's first line, then one per file; each waited for at most `timeout`.
    let mut lines: Vec<String> = Vec::with_capacity(files.len() + 1);
    let mut timed_out = false;
    while lines.len() <= files.len() {
        // Starting (the interpreter, `site`, the request) runs no revision code: it gets the
        // default when that is longer, so that a short limit still names the file at fault.
        let limit = if lines.is_empty() {
            timeout.max(DEFAULT_PYTHON_TIMEOUT)
        } else {
            timeout
        };
        match answers.recv_timeout(limit) {
            Ok(line) => lines.push(line),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait();
    if !timed_out && let Some(writer) = writer {
        let _ = writer.join();
    }
    // Whatever a grandchild still holding stderr open writes later is not waited for.
    let _ = stderr_finished.recv_timeout(timeout);
    let stderr = String::from_utf8_lossy(
        &stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned();
    let status = match status {
        Ok(status) => status.to_string(),
        Err(error) => format!("not known: {error}"),
    };
    let seconds = format_seconds(timeout);

    let mut answers = lines.iter().map(String::as_str);
    if answers.next() != Some(LOADER_READY) {
        let message = if timed_out {
            format!(
                "Python ({}) did not start Retort's loader within {} and was stopped{}",
                python.display(),
                format_seconds(timeout.max(DEFAULT_PYTHON_TIMEOUT)),
                stderr_tail(&stderr)
            )
        } else {
            format!(
                "Python ({}) could not run Retort's loader ({status}){}",
                python.display(),
                stderr_tail(&stderr)
            )
        };
        return files
            .iter()
            .map(|f| Err(Diagnostic::error(f, None, message.clone())))
            .collect();
    }
    let mut results = Vec::with_capacity(files.len());
    let mut stopped_at: Option<&Path> = None;
    for file in files {
        if let Some(first) = stopped_at {
            results.push(Err(Diagnostic::error(
                file,
                None,
                format!(
                    "not read: Python ({}) stopped while loading {}",
                    python.display(),
                    first.display()
                ),
            )));
            continue;
        }
        match answers.next() {
            Some(line) => results.push(answer_to_revision(file, line)),
            None => {
                stopped_at = Some(file);
                let message = if timed_out {
                    format!(
                        "Python ({}) was still reading this file after {seconds} and was stopped \
                         (a revision's module code that never returns? {PYTHON_TIMEOUT_VAR} sets \
                         the limit in seconds){}",
                        python.display(),
                        stderr_tail(&stderr)
                    )
                } else {
                    format!(
                        "Python ({}) stopped while loading this file ({status}){}",
                        python.display(),
                        stderr_tail(&stderr)
                    )
                };
                results.push(Err(Diagnostic::error(file, None, message)));
            }
        }
    }
    results
}

/// `2 s`, `0.5 s`.
fn format_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{seconds} s")
    }
}

fn answer_to_revision(path: &Path, line: &str) -> Result<RevisionFile, Diagnostic> {
    let answer: Answer = serde_json::from_str(line).map_err(|e| {
        Diagnostic::error(
            path,
            None,
            format!("cannot understand Python's answer for this file: {e}"),
        )
    })?;
    if let Some(error) = answer.error {
        return Err(Diagnostic::error(path, answer.line, error));
    }
    let (Some(revision), Some(down_revision)) = (answer.revision, answer.down_revision) else {
        return Err(Diagnostic::error(
            path,
            None,
            "Python's answer for this file lacks the revision values",
        ));
    };
    let longdoc = py_strip(answer.doc.as_deref().unwrap_or_default()).to_string();
    Ok(RevisionFile {
        revision,
        down_revision,
        branch_labels: answer.branch_labels.unwrap_or_default(),
        depends_on: answer.depends_on.unwrap_or_default(),
        create_date: create_date(&longdoc),
        longdoc,
        path: path.to_path_buf(),
        sql: None,
    })
}

/// Paths go as strings; on Unix a path that is not UTF-8 goes as its bytes in hex.
fn path_to_json(path: &Path) -> serde_json::Value {
    if let Some(s) = path.to_str() {
        return serde_json::Value::String(s.to_string());
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let hex: String = path
            .as_os_str()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        serde_json::json!({ "hex": hex })
    }
    #[cfg(not(unix))]
    {
        serde_json::Value::String(path.to_string_lossy().into_owned())
    }
}

/// The last lines of Python's stderr (a traceback ends with the useful part).
fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = lines
        .get(lines.len().saturating_sub(5)..)
        .unwrap_or_default();
    format!(": {}", tail.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(name: &str, source: &str) -> Result<StaticRead, Diagnostic> {
        read_static(&Path::new("/proj/versions").join(name), source)
    }

    fn read_ok(source: &str) -> RevisionFile {
        match read("x.py", source) {
            Ok(StaticRead::Read(file)) => file,
            other => panic!("expected a static read, got {other:?}"),
        }
    }

    fn computed(source: &str) -> (usize, String) {
        match read("x.py", source) {
            Ok(StaticRead::Computed { line, reason }) => (line, reason),
            other => panic!("expected Computed, got {other:?}"),
        }
    }

    fn error(name: &str, source: &str) -> Diagnostic {
        match read(name, source) {
            Err(diagnostic) => diagnostic,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// What `alembic merge -m "merge heads" 3000cccc0002 9000cccc0001` writes with 1.20.1.
    const TEMPLATE: &str = r#""""merge heads

Revision ID: 4000dddd0001
Revises: 3000cccc0002, 9000cccc0001
Create Date: 2026-11-24 14:42:16.219210

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '4000dddd0001'
down_revision: Union[str, Sequence[str], None] = ('3000cccc0002', '9000cccc0001')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
"#;

    #[test]
    fn reads_the_alembic_1_20_template() {
        let file = read_ok(TEMPLATE);
        assert_eq!(
            file,
            RevisionFile {
                revision: "4000dddd0001".into(),
                down_revision: strings(&["3000cccc0002", "9000cccc0001"]),
                branch_labels: vec![],
                depends_on: vec![],
                longdoc: "merge heads\n\nRevision ID: 4000dddd0001\nRevises: 3000cccc0002, 9000cccc0001\n\
                          Create Date: 2026-11-24 14:42:16.219210"
                    .into(),
                create_date: Some("2026-11-24 14:42:16.219210".into()),
                path: PathBuf::from("/proj/versions/x.py"),
                sql: None,
            }
        );
    }

    #[test]
    fn reads_the_old_unannotated_style_without_labels() {
        let file = read_ok(
            "\"\"\"create account table\n\nRevision ID: 1975ea83b712\nRevises: \nCreate Date: 2011-11-08 11:40:27.089406\n\n\"\"\"\n\
             revision = '1975ea83b712'\ndown_revision = None\n\nfrom alembic import op\n",
        );
        assert_eq!(file.revision, "1975ea83b712");
        assert!(
            file.down_revision.is_empty()
                && file.branch_labels.is_empty()
                && file.depends_on.is_empty()
        );
        assert_eq!(
            file.create_date.as_deref(),
            Some("2011-11-08 11:40:27.089406")
        );
        // `Revises: ` keeps its trailing space inside the docstring; only the ends are stripped.
        assert!(file.longdoc.contains("Revises: \n"));
    }

    #[test]
    fn any_annotation_is_accepted() {
        let file = read_ok(
            "revision: 'str' = 'a1'\ndown_revision: Union[str, None] = 'b2'\n\
             branch_labels: Optional[Sequence[str]] = ('lib',)\ndepends_on: str | None = 'c3'\n",
        );
        assert_eq!(file.revision, "a1");
        assert_eq!(file.down_revision, strings(&["b2"]));
        assert_eq!(file.branch_labels, strings(&["lib"]));
        assert_eq!(file.depends_on, strings(&["c3"]));
    }

    #[test]
    fn quotes_prefixes_and_implicit_concatenation() {
        let file = read_ok(
            "revision = r\"ab\\c\"\ndown_revision = u'def'\nbranch_labels = R'x'\ndepends_on = U\"y\" 'z'\n",
        );
        assert_eq!(file.revision, "ab\\c");
        assert_eq!(file.down_revision, strings(&["def"]));
        assert_eq!(file.branch_labels, strings(&["x"]));
        assert_eq!(file.depends_on, strings(&["yz"]));
        let file = read_ok("revision = '''abc'''\ndown_revision = \"\"\"d\"\"\" 'e'\n");
        assert_eq!(
            (file.revision.as_str(), file.down_revision),
            ("abc", strings(&["de"]))
        );
    }

    #[test]
    fn tuples_lists_sets_trailing_commas_and_none() {
        let file = read_ok(
            "revision = 'r'\ndown_revision = ['a', 'b',]\nbranch_labels = ('x',)\ndepends_on = {'q', 'p'}\n",
        );
        assert_eq!(file.down_revision, strings(&["a", "b"]));
        assert_eq!(file.branch_labels, strings(&["x"]));
        // Written order; Python would iterate the set in hash order.
        assert_eq!(file.depends_on, strings(&["q", "p"]));

        let file =
            read_ok("revision = 'r'\ndown_revision = ()\nbranch_labels = []\ndepends_on = None\n");
        assert!(
            file.down_revision.is_empty()
                && file.branch_labels.is_empty()
                && file.depends_on.is_empty()
        );

        let file = read_ok("revision = 'r'\ndown_revision = (\n    'a',\n    'b',\n)\n");
        assert_eq!(file.down_revision, strings(&["a", "b"]));
        // A bare tuple without parentheses.
        let file = read_ok("revision = 'r'\ndown_revision = 'a', 'b'\n");
        assert_eq!(file.down_revision, strings(&["a", "b"]));
    }

    #[test]
    fn docstring_forms() {
        let file = read_ok(
            "r'''  First line\\n\n\nSecond paragraph.\n\t'''\nrevision = 'r'\ndown_revision = None\n",
        );
        assert_eq!(file.longdoc, "First line\\n\n\nSecond paragraph.");
        // Escapes are processed as Python does; `str.strip()` also strips U+001C..U+001F.
        let file = read_ok(
            "\"\"\"\\x1c\\tTab\\u00e9\\N{BULLET}\\n \"\"\"\nrevision = 'r'\ndown_revision = None\n",
        );
        assert_eq!(file.longdoc, "Tab\u{e9}\u{2022}");
        assert_eq!(file.create_date, None);
        // Not a docstring: an f-string, a bytes literal, or a string after another statement.
        for source in [
            "f'doc'\nrevision = 'r'\ndown_revision = None\n",
            "b'doc'\nrevision = 'r'\ndown_revision = None\n",
            "import os\n'doc'\nrevision = 'r'\ndown_revision = None\n",
            "revision = 'r'\ndown_revision = None\n",
        ] {
            assert_eq!(read_ok(source).longdoc, "", "{source}");
        }
        let file = read_ok("'Single quoted'\nrevision = 'r'\ndown_revision = None\n");
        assert_eq!(file.longdoc, "Single quoted");
    }

    #[test]
    fn non_ascii_docstring() {
        let file = read_ok(
            "\"\"\"Añadir tabla ünïcode — 表 🎉\n\nCreate Date: 2026-11-24 14:47:46.681405+00:00\n\"\"\"\nrevision = 'r'\ndown_revision = None\n",
        );
        assert!(file.longdoc.starts_with("Añadir tabla ünïcode — 表 🎉\n"));
        assert_eq!(
            file.create_date.as_deref(),
            Some("2026-11-24 14:47:46.681405+00:00")
        );
    }

    #[test]
    fn bom_and_coding_cookie() {
        let source = "\u{feff}# -*- coding: utf-8 -*-\n\"\"\"Doc é\"\"\"\nrevision = 'r'\ndown_revision = None\nx = (\n  1 +\n)\n";
        let diagnostic = error("x.py", source);
        assert_eq!(diagnostic.line, Some(7), "{diagnostic}");
        let file = read_ok(&source.replace("x = (\n  1 +\n)\n", ""));
        assert_eq!(
            (file.revision.as_str(), file.longdoc.as_str()),
            ("r", "Doc é")
        );

        // A cookie on line 2 after a shebang; ASCII text reads the same under any ASCII-compatible codec.
        let file = read_ok(
            "#!/usr/bin/env python\n# vim: set fileencoding=latin-1 :\nrevision = 'r'\ndown_revision = None\n",
        );
        assert_eq!(file.revision, "r");
        // Non-ASCII text under a latin-1 cookie: Python would decode it differently.
        let (line, reason) = computed(
            "#!/usr/bin/env python\n# coding=latin-1\n'é'\nrevision = 'r'\ndown_revision = None\n",
        );
        assert_eq!(line, 2);
        assert!(reason.contains("latin-1"), "{reason}");
        assert_eq!(coding_cookie("x = 1\n# coding: latin-1\n"), None);
        assert_eq!(
            coding_cookie("\r\n# coding: cp1252\r\n"),
            Some((2, "cp1252".into()))
        );
    }

    #[test]
    fn legacy_files_take_the_id_from_the_file_name() {
        let source = "\"\"\"old\"\"\"\ndown_revision = None\n";
        match read("1975ea83b712.py", source) {
            Ok(StaticRead::Read(file)) => assert_eq!(file.revision, "1975ea83b712"),
            other => panic!("{other:?}"),
        }
        for name in ["1975ea83b712_add_table.py", "ABC123.py", ".py"] {
            let diagnostic = error(name, source);
            assert_eq!(
                diagnostic.message,
                format!(
                    "Could not determine revision id from filename {name}. Be sure the 'revision' variable is \
                     declared inside the script (please see 'Upgrading from Alembic 0.1 to 0.2' in the documentation)."
                )
            );
            assert_eq!(diagnostic.line, None);
        }
    }

    #[test]
    fn down_revision_is_required() {
        let diagnostic = error("x.py", "revision = 'abc'\nbranch_labels = None\n");
        assert_eq!(
            diagnostic.message,
            "revision file does not define 'down_revision'"
        );
        assert_eq!(diagnostic.path, PathBuf::from("/proj/versions/x.py"));
        // A bare annotation assigns nothing.
        error("x.py", "revision = 'abc'\ndown_revision: str\n");
        // Assigned only inside a function: local, so still missing.
        error(
            "x.py",
            "revision = 'abc'\ndef f():\n    down_revision = 'x'\n",
        );
    }

    #[test]
    fn missing_down_revision_with_dynamic_code_is_computed() {
        let (line, reason) = computed("revision = 'abc'\nif True:\n    down_revision = 'x'\n");
        assert_eq!(line, 2);
        assert!(
            reason.contains("'down_revision'") && reason.contains("`if`"),
            "{reason}"
        );
        assert_eq!(computed("revision = 'abc'\ntry:\n    import x\nexcept ImportError:\n    down_revision = None\n").0, 2);
        assert_eq!(
            computed("revision = 'abc'\nglobals()['down_revision'] = None\n").0,
            2
        );
        assert_eq!(computed("revision = 'abc'\nfrom common import *\n").0, 2);
        assert_eq!(
            computed("revision = 'abc'\nfrom common import down_revision\n").0,
            2
        );
        assert_eq!(
            computed("revision = 'abc'\n\ndef __getattr__(name):\n    return None\n").0,
            3
        );
        // `setattr` inside a function body cannot reach the module.
        error(
            "x.py",
            "revision = 'abc'\ndef upgrade():\n    setattr(obj, 'down_revision', 1)\n",
        );
    }

    #[test]
    fn computed_values_name_their_line() {
        let (line, reason) = computed(
            "\"\"\"doc\n\nmore\n\"\"\"\nrevision = \"7003\" + \"abcd\"\ndown_revision = None\n",
        );
        assert_eq!(line, 5);
        assert!(reason.contains("'revision'"), "{reason}");
        assert_eq!(computed("revision = 'a'\ndown_revision = PARENT\n").0, 2);
        assert_eq!(computed("revision = 'a'\ndown_revision = get()\n").0, 2);
        assert_eq!(computed("revision = 'a'\ndown_revision = f'{x}'\n").0, 2);
        assert_eq!(computed("revision = 'a'\ndown_revision = b'abc'\n").0, 2);
        assert_eq!(
            computed("revision = 'a'\ndown_revision = (\n    'b',\n    OTHER,\n)\n").0,
            4
        );
        assert_eq!(
            computed("revision = 'a'\ndown_revision = None\ndepends_on = ('x', *more)\n").0,
            3
        );
        assert_eq!(
            computed("revision = 'a'\ndown_revision = None\nbranch_labels = ('x', 1)\n").0,
            3
        );
        // The earliest computed value is reported; CRLF endings count as one line each.
        assert_eq!(
            computed("revision = 'a'\r\nbranch_labels = x\r\ndown_revision = y\r\n").0,
            2
        );
        assert_eq!(computed("revision = 'a'\rdown_revision = y\r").0, 2);
    }

    #[test]
    fn later_rebinding_makes_a_value_computed() {
        assert_eq!(
            computed("revision = 'a'\ndown_revision = None\nif X:\n    down_revision = 'b'\n").0,
            3
        );
        assert_eq!(
            computed("revision = 'a'\ndown_revision = ('b',)\ndown_revision += ('c',)\n").0,
            3
        );
        assert_eq!(
            computed("revision = 'a'\ndown_revision = None\nfor down_revision in []: pass\n").0,
            3
        );
        assert_eq!(
            computed("revision = 'a'\ndown_revision = None\ndel down_revision\n").0,
            3
        );
        assert_eq!(computed("revision, down_revision = pair()\n").0, 1);
        // A `global` declaration lets any function assign it.
        assert_eq!(computed("revision = 'a'\ndown_revision = None\ndef f():\n    global revision\n    revision = 'b'\n").0, 4);
        // ... but a later plain assignment wins over an earlier block.
        let file = read_ok("if X:\n    revision = 'z'\nrevision = 'a'\ndown_revision = None\n");
        assert_eq!(file.revision, "a");
    }

    #[test]
    fn last_assignment_wins_and_chained_forms() {
        let file = read_ok("revision = 'first'\ndown_revision = None\nrevision: str = 'second'\n");
        assert_eq!(file.revision, "second");
        let file = read_ok("revision = other = 'r1'\ndown_revision = branch_labels = None\n");
        assert_eq!(
            (file.revision.as_str(), file.down_revision.len()),
            ("r1", 0)
        );
        let file = read_ok(
            "revision, down_revision = 'r2', ('p',)\n(branch_labels, [depends_on]) = 'l', ['d']\n",
        );
        assert_eq!(file.revision, "r2");
        assert_eq!(file.down_revision, strings(&["p"]));
        assert_eq!(file.branch_labels, strings(&["l"]));
        assert_eq!(file.depends_on, strings(&["d"]));
    }

    #[test]
    fn revision_must_be_a_string() {
        for (source, kind) in [
            ("down_revision = None\nrevision = ('a',)\n", "a tuple"),
            ("down_revision = None\nrevision = 12\n", "a number"),
            ("down_revision = None\nrevision = None\n", "None"),
        ] {
            let diagnostic = error("x.py", source);
            assert_eq!(diagnostic.line, Some(2));
            assert_eq!(
                diagnostic.message,
                format!("'revision' must be a string, not {kind}")
            );
        }
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let diagnostic = error(
            "x.py",
            "revision = 'a'\ndown_revision = None\n\n\ndef upgrade(:\n    pass\n",
        );
        assert_eq!(diagnostic.line, Some(5));
        assert!(
            diagnostic.message.starts_with("invalid Python: "),
            "{}",
            diagnostic.message
        );
        assert_eq!(error("x.py", "revision = 'a\n").line, Some(1));
        assert_eq!(error("x.py", "\"\"\"doc\n\nrevision = 'a'\n").line, Some(1));
        assert_eq!(
            error("x.py", "revision = 'a'\n  down_revision = None\n").line,
            Some(2)
        );
        let nul = error("x.py", "revision = 'a'\ndown_revision = None\n# \0\n");
        assert_eq!(
            (nul.line, nul.message.as_str()),
            (
                Some(3),
                "invalid Python: source code cannot contain null bytes"
            )
        );
    }

    #[test]
    fn deep_nesting_is_left_to_python_instead_of_overflowing() {
        for source in [
            format!(
                "revision = 'a'\ndown_revision = {}None{}\n",
                "(".repeat(100_000),
                ")".repeat(100_000)
            ),
            format!("revision = 'a'\ndown_revision = {}1\n", "-".repeat(100_000)),
            format!(
                "revision = 'a'\ndown_revision = x{}\n",
                ".y".repeat(100_000)
            ),
            format!(
                "revision = 'a'\ndown_revision = 1{}\n",
                "+1".repeat(100_000)
            ),
        ] {
            let (line, reason) = computed(&source);
            assert_eq!(line, 1);
            assert!(reason.contains("levels deep"), "{reason}");
        }
        // Wide is fine: a long data literal is not deep.
        let data = format!(
            "revision = 'a'\ndown_revision = None\nrows = [{}]\n",
            "{'a': -1, 'b': (2, 3)}, ".repeat(20_000)
        );
        assert_eq!(read_ok(&data).revision, "a");
        // Moderately deep code still reads statically.
        let moderate = format!(
            "revision = 'a'\ndown_revision = None\nx = {}1{}\n",
            "(".repeat(150),
            ")".repeat(150)
        );
        assert_eq!(read_ok(&moderate).revision, "a");
    }

    #[test]
    fn line_index_and_strip() {
        let index = LineIndex::new("a\nb\r\nc\rd");
        let lines: Vec<usize> = (0..9u32).map(|o| index.line(TextSize::new(o))).collect();
        assert_eq!(lines, vec![1, 1, 2, 2, 2, 3, 3, 4, 4]);
        assert_eq!(py_strip("\u{1f}\u{3000} x \u{85}\u{a0}"), "x");
        assert_eq!(
            create_date("a\n  Create Date:   \nCreate Date: 2020-01-01 \n"),
            Some("2020-01-01".into())
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_any_text(source in "\\PC*") {
            let _ = read_static(Path::new("ab12.py"), &source);
        }

        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_static(Path::new("x.py"), &String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn never_panics_on_python_like_text(parts in proptest::collection::vec(prop_oneof![
            Just("revision"), Just("down_revision"), Just("branch_labels"), Just(" = "), Just(": str"),
            Just("'a'"), Just("\"b\""), Just("r'''c'''"), Just("u'\\N{BULLET}'"), Just("f'{x}'"), Just("b'x'"),
            Just("None"), Just("("), Just(")"), Just("["), Just("]"), Just("{"), Just("}"), Just(", "),
            Just("\n"), Just("\r\n"), Just("\r"), Just("    "), Just("\t"), Just("if x:"), Just("global "),
            Just("def f():"), Just("+"), Just("-"), Just("\\"), Just("#"), Just("# coding: latin-1\n"),
            Just("\u{feff}"), Just("\"\"\""), Just("é"), Just("\\ud800"), Just("*"), Just("import *"),
        ], 0..60)) {
            let source: String = parts.concat();
            let _ = read_static(Path::new("ab12.py"), &source);
        }
    }

    // -----------------------------------------------------------------------------------------
    // The Python fallback, with a real interpreter.

    fn python() -> Option<PathBuf> {
        let python = crate::project::python::find(None, Path::new(".")).ok();
        if python.is_none() {
            eprintln!("no python3/python on PATH: skipping the Python fallback test");
        }
        python
    }

    fn write(dir: &Path, name: &str, source: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, source).unwrap();
        path
    }

    #[test]
    fn python_reads_computed_files_errors_and_sys_path_imports() {
        let Some(python) = python() else { return };
        let dir = tempfile::tempdir().unwrap();
        let versions = dir.path().join("versions");
        let app = dir.path().join("app");
        std::fs::create_dir_all(&versions).unwrap();
        std::fs::create_dir_all(&app).unwrap();
        write(
            &app,
            "retort_test_helper.py",
            "PARENT = '7003abcd'\nLABELS = {'lib'}\n",
        );

        let files = vec![
            write(
                &versions,
                "7003abcd_computed.py",
                "\"\"\"Computed id\n\nCreate Date: 2026-01-02 03:04:05.000006\n\"\"\"\nprint('noise on stdout')\n\
                 revision = \"7003\" + \"abcd\"\ndown_revision = None\n",
            ),
            write(
                &versions,
                "boom.py",
                "\"\"\"doc\"\"\"\nrevision = 'b'\n\nraise RuntimeError('boom')\ndown_revision = None\n",
            ),
            write(
                &versions,
                "8000_imports.py",
                "from retort_test_helper import PARENT, LABELS\nrevision = '8000'\ndown_revision = PARENT\nbranch_labels = LABELS\n\
                 depends_on = ['x', 'y']\n",
            ),
            write(&versions, "nodown.py", "revision = 'n'\n"),
            write(&versions, "abc123.py", "down_revision = ('8000',)\n"),
            write(&versions, "not_hex.py", "down_revision = None\n"),
            write(&versions, "exits.py", "import sys\nsys.exit(3)\n"),
            write(&versions, "syntax.py", "revision = 'a'\n\ndef f(:\n"),
            write(
                &versions,
                "badtype.py",
                "revision = 'q'\ndown_revision = (1, 2)\n",
            ),
            write(
                &versions,
                "last.py",
                "revision = 'z'\ndown_revision = 'y'\n",
            ),
        ];
        let results = read_with_python(&python, &files, std::slice::from_ref(&app));
        assert_eq!(results.len(), files.len());

        let computed = results[0].as_ref().unwrap();
        assert_eq!(computed.revision, "7003abcd");
        assert!(computed.down_revision.is_empty());
        assert_eq!(
            computed.longdoc,
            "Computed id\n\nCreate Date: 2026-01-02 03:04:05.000006"
        );
        assert_eq!(
            computed.create_date.as_deref(),
            Some("2026-01-02 03:04:05.000006")
        );
        assert_eq!(computed.path, files[0]);
        assert_eq!(computed.sql, None);

        let boom = results[1].as_ref().unwrap_err();
        assert_eq!(boom.message, "RuntimeError: boom");
        assert_eq!(boom.line, Some(4));
        assert_eq!(boom.path, files[1]);

        let imports = results[2].as_ref().unwrap();
        assert_eq!(imports.revision, "8000");
        assert_eq!(imports.down_revision, strings(&["7003abcd"]));
        assert_eq!(imports.branch_labels, strings(&["lib"]));
        assert_eq!(imports.depends_on, strings(&["x", "y"]));

        let nodown = results[3].as_ref().unwrap_err();
        assert!(
            nodown.message.starts_with("AttributeError: ")
                && nodown.message.contains("down_revision"),
            "{nodown}"
        );

        assert_eq!(results[4].as_ref().unwrap().revision, "abc123");
        assert_eq!(
            results[5].as_ref().unwrap_err().message,
            legacy_error("not_hex.py")
        );
        assert_eq!(results[6].as_ref().unwrap_err().message, "SystemExit: 3");
        assert_eq!(results[6].as_ref().unwrap_err().line, Some(2));
        let syntax = results[7].as_ref().unwrap_err();
        assert!(syntax.message.starts_with("SyntaxError: "), "{syntax}");
        assert_eq!(syntax.line, Some(3));
        assert!(
            results[8]
                .as_ref()
                .unwrap_err()
                .message
                .starts_with("TypeError: down_revision holds 1")
        );
        assert_eq!(results[9].as_ref().unwrap().down_revision, strings(&["y"]));

        // PYTHONDONTWRITEBYTECODE: nothing written into the user's tree.
        assert!(!app.join("__pycache__").exists());
        assert!(!versions.join("__pycache__").exists());
    }

    #[test]
    fn python_and_static_reads_agree() {
        let Some(python) = python() else { return };
        let dir = tempfile::tempdir().unwrap();
        let sources = [
            ("4000dddd0001_merge_heads.py", TEMPLATE.to_string()),
            (
                "a1_x.py",
                "# -*- coding: utf-8 -*-\nr'''  Añadir\\n tabla\n\nCreate Date: 2026-11-24 14:47:46.681405+00:00\n\t'''\n\
                 revision = u'a1'\ndown_revision = 'b' 'c'\nbranch_labels = ['l1', 'l2',]\ndepends_on = ('d',)\n"
                    .to_string(),
            ),
            ("1975ea83b712.py", "\u{feff}\"\"\"legacy\"\"\"\ndown_revision = ()\n".to_string()),
            ("nodoc.py", "import os\nrevision = 'n'\nrevision = 'n2'\ndown_revision = None\ndepends_on = 'x'\n".to_string()),
        ];
        let files: Vec<PathBuf> = sources
            .iter()
            .map(|(name, source)| write(dir.path(), name, source))
            .collect();
        // Stand-ins for the packages the template imports.
        let stubs = tempfile::tempdir().unwrap();
        for package in ["alembic", "sqlalchemy"] {
            std::fs::create_dir(stubs.path().join(package)).unwrap();
            write(&stubs.path().join(package), "__init__.py", "op = None\n");
        }
        let from_python = read_with_python(&python, &files, &[stubs.path().to_path_buf()]);
        for ((path, (_, source)), python_result) in files.iter().zip(&sources).zip(from_python) {
            let Ok(StaticRead::Read(static_file)) = read_static(path, source) else {
                panic!("{path:?}")
            };
            assert_eq!(python_result.unwrap(), static_file, "{path:?}");
        }
    }

    #[test]
    fn python_that_cannot_start_fails_every_file() {
        let files = vec![PathBuf::from("/p/a.py"), PathBuf::from("/p/b.py")];
        let missing = Path::new("/nonexistent/retort/python3");
        let results = read_with_python(missing, &files, &[]);
        assert_eq!(results.len(), 2);
        for (result, file) in results.iter().zip(&files) {
            let diagnostic = result.as_ref().unwrap_err();
            assert_eq!(&diagnostic.path, file);
            assert!(
                diagnostic
                    .message
                    .starts_with("cannot start Python (/nonexistent/retort/python3)"),
                "{diagnostic}"
            );
        }
        assert!(read_with_python(missing, &[], &[]).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn python_failing_at_startup_fails_every_file_with_its_stderr() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = write(
            dir.path(),
            "python3",
            "#!/bin/sh\ncat >/dev/null\necho 'Traceback: bad python' >&2\nexit 1\n",
        );
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let files = vec![dir.path().join("a.py"), dir.path().join("b.py")];
        let results = read_with_python(&fake, &files, &[]);
        for result in &results {
            let message = &result.as_ref().unwrap_err().message;
            assert!(
                message.contains("could not run Retort's loader")
                    && message.ends_with(": Traceback: bad python"),
                "{message}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn python_dying_midway_keeps_earlier_answers() {
        let Some(python) = python() else { return };
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            write(dir.path(), "a.py", "revision = 'a'\ndown_revision = None\n"),
            write(dir.path(), "b.py", "import os\nos._exit(7)\n"),
            write(dir.path(), "c.py", "revision = 'c'\ndown_revision = 'a'\n"),
        ];
        let results = read_with_python(&python, &files, &[]);
        assert_eq!(results[0].as_ref().unwrap().revision, "a");
        let died = results[1].as_ref().unwrap_err();
        assert!(
            died.message.contains("stopped while loading this file") && died.message.contains('7'),
            "{died}"
        );
        let skipped = results[2].as_ref().unwrap_err();
        assert!(skipped.message.starts_with("not read: Python"), "{skipped}");
    }

    #[test]
    fn python_timeout_is_seconds_from_the_environment_or_the_default() {
        assert_eq!(python_timeout(None), Ok(DEFAULT_PYTHON_TIMEOUT));
        assert_eq!(
            python_timeout(Some("".as_ref())),
            Ok(DEFAULT_PYTHON_TIMEOUT)
        );
        assert_eq!(
            python_timeout(Some("2".as_ref())),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            python_timeout(Some(" 0.5 ".as_ref())),
            Ok(Duration::from_millis(500))
        );
        for bad in ["0", "-1", "abc", "inf", "NaN", "1e400"] {
            let error = python_timeout(Some(bad.as_ref())).unwrap_err();
            assert!(
                error.contains("RETORT_PYTHON_TIMEOUT") && error.contains(&format!("'{bad}'")),
                "{error}"
            );
        }
        assert_eq!(format_seconds(Duration::from_secs(30)), "30 s");
        assert_eq!(format_seconds(Duration::from_millis(1500)), "1.5 s");
    }

    #[cfg(unix)]
    #[test]
    fn python_that_never_returns_is_stopped_naming_the_file() {
        let Some(python) = python() else { return };
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            write(dir.path(), "a.py", "while True:\n    pass\n"),
            write(dir.path(), "b.py", "revision = 'b'\ndown_revision = None\n"),
        ];
        let results = read_with_python_within(&python, &files, &[], Duration::from_secs(1));
        let stuck = results[0].as_ref().unwrap_err();
        assert_eq!(stuck.path, files[0]);
        assert!(
            stuck
                .message
                .contains("still reading this file after 1 s and was stopped")
                && stuck.message.contains("RETORT_PYTHON_TIMEOUT"),
            "{stuck}"
        );
        let skipped = results[1].as_ref().unwrap_err();
        assert!(
            skipped.message.starts_with("not read: Python")
                && skipped.message.contains(&files[0].display().to_string()),
            "{skipped}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn python_handles_paths_that_are_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let Some(python) = python() else { return };
        let dir = tempfile::tempdir().unwrap();
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.py");
        let path = dir.path().join(name);
        if std::fs::write(&path, "revision = 'cafe'\ndown_revision = None\n").is_err() {
            return; // a file system that insists on UTF-8 names
        }
        let results = read_with_python(&python, std::slice::from_ref(&path), &[]);
        assert_eq!(results[0].as_ref().unwrap().revision, "cafe");
        assert_eq!(results[0].as_ref().unwrap().path, path);
    }
}

/// The fast paths (`plain_read`, `function_section`, `nesting_bound`) against the parser:
/// whatever they answer must be what parsing the whole file answers.
#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use proptest::prelude::*;

    /// What Alembic 1.20.1 writes for an autogenerated revision.
    const FILE: &str = r#""""create user table

Revision ID: 4cf7249f8a67
Revises: 6a1004812026
Create Date: 2026-06-17 15:38:47.192975

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '4cf7249f8a67'
down_revision: Union[str, Sequence[str], None] = '6a1004812026'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_name'), ['name'], unique=False)
    # ### end Alembic commands ###


def downgrade() -> None:
    """Downgrade schema."""
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table('user')
    # ### end Alembic commands ###
"#;

    /// Both ways of reading `source`, outside `read_static`'s `catch_unwind`, so that a panic
    /// fails the test instead of becoming a diagnostic.
    fn both_ways(source: &str) -> (String, String) {
        let path = Path::new("/proj/versions/ab12_x.py");
        let lines = LineIndex::new(source);
        let fast = read_parsed(path, source, &lines);
        let whole = read_whole(path, source, &lines);
        (format!("{fast:?}"), format!("{whole:?}"))
    }

    fn agree(source: &str) {
        let (fast, whole) = both_ways(source);
        assert_eq!(fast, whole, "for:\n{source}");
    }

    fn prefix(source: &str) -> &str {
        &source[..source.find("\ndef ").unwrap() + 1]
    }

    #[test]
    fn the_template_needs_no_parser() {
        assert!(function_section(FILE).is_some());
        let file = plain_read(Path::new("/p/x.py"), prefix(FILE)).unwrap();
        assert_eq!(file.revision, "4cf7249f8a67");
        assert_eq!(file.down_revision, ["6a1004812026"]);
        assert_eq!(
            file.create_date.as_deref(),
            Some("2026-06-17 15:38:47.192975")
        );
        agree(FILE);
        // Line endings and text other than ASCII in strings and comments change nothing.
        agree(&FILE.replace('\n', "\r\n"));
        assert!(plain_read(Path::new("/p/x.py"), &prefix(FILE).replace('\n', "\r\n")).is_some());
        let accented = FILE
            .replace("create user table", "créer la table")
            .replace("# ###", "# é");
        assert!(function_section(&accented).is_some());
        assert!(plain_read(Path::new("/p/x.py"), prefix(&accented)).is_some());
        agree(&accented);
    }

    #[test]
    fn function_bodies_outside_the_subset_go_to_the_parser() {
        for body in [
            // Invalid: the parser must word the error, with its line.
            "def upgrade(:\n    pass\n",
            "def upgrade():\n    op.execute('x'\n",
            "def upgrade():\n    f(a=1, a=2)\n",
            "def upgrade():\n    f(a=1, 2)\n",
            "def upgrade():\n    x = 01\n",
            "def upgrade():\n  pass\n def downgrade():\n  pass\n",
            "def upgrade():\n    if x:\n    pass\n",
            "def upgrade():\n    f() = 1\n",
            "def upgrade():\n    x: int = 1 = 2\n",
            "def upgrade():\n    a == not b\n",
            "def upgrade():\n    print 'x'\n",
            // Valid, but outside the subset.
            "def upgrade():\n    op.execute('a\\nb')\n",
            "def upgrade():\n    x = [i for i in y]\n",
            "def upgrade():\n    x = y if z else w\n",
            "def upgrade():\n    op.execute(f'x{y}')\n",
            "def upgrade():\n\top.drop_table('t')\n",
            "def upgrade():\n    x = a[1:2]\n",
            "def upgrade():\n    try:\n        pass\n    except Exception:\n        pass\n",
            "@decorator\ndef upgrade():\n    pass\n",
            "async def upgrade():\n    pass\n",
            "class Table:\n    pass\n",
            "def upgrade():\n    pass\nx = 1\n",
            "def upgrade():\n    match = 1\n",
            "def upgrade():\n    x = b'bytes'\n",
            "def upgrade():\n    x = 1.\n",
            "def upgrade():\n    x = ...\n",
            "def upgrade():\n    x = a @ b\n",
            "def upgrade():\n    x = 'é'\n    é = 1\n",
        ] {
            let source = format!("{}{body}", prefix(FILE));
            assert!(
                !plain_functions(&source[prefix(FILE).len()..]),
                "accepted:\n{body}"
            );
            agree(&source);
        }
        let invalid = format!("{}def upgrade(:\n    pass\n", prefix(FILE));
        let Err(diagnostic) = read_static(Path::new("x.py"), &invalid) else {
            panic!("expected an error");
        };
        assert_eq!(diagnostic.line, Some(21));
    }

    #[test]
    fn function_bodies_in_the_subset() {
        for body in [
            "def upgrade():\n    pass\n",
            "def upgrade() -> None:\n    \"\"\"Doc.\"\"\"\n    op.add_column('t', sa.Column('c', sa.String(length=50), nullable=True))\n",
            "def upgrade(engine_name: str) -> None:\n    globals_ = 1\n    if engine_name == 'a':\n        x = -1\n    elif not x:\n        pass\n    else:\n        return\n",
            "def upgrade():\n    conn = op.get_bind()\n    for row, n in conn.execute(q):\n        rows[n] += 1\n    x = y = 1\n",
            "def upgrade():\n    from sqlalchemy.dialects import postgresql\n    import os.path as p, sys\n    x = {'a': (1, 2.5), 'b': [], 'c': {1, 2}}\n    y = a, b\n    a.b, c[0] = 1, 2\n",
            "def upgrade():\n    x = a is not None and b not in c or d <= e ** -f // g % h | i & j ^ ~k << 2 >> 3\n",
            "def upgrade(): pass\n\ndef downgrade(): op.drop_table('t'); x = 1;\n",
            "def upgrade():\n    s = r'raw' u'uni' \"\"\"tri\nple\"\"\"\n    # comment é\n",
            "def upgrade():\n    with a as b, c:\n        f(x, *(), key=1) if False else None\n",
            // Text at column 0 inside a string is no statement.
            "def upgrade():\n    op.execute(\"\"\"\nUPDATE t SET a = 1\ndef x\n\"\"\")\n",
        ] {
            let plain = plain_functions(body);
            let source = format!("{}{body}", prefix(FILE));
            agree(&source);
            if !body.contains("*(") {
                assert!(plain, "refused:\n{body}");
                assert!(parse_module(body).is_ok());
            }
        }
    }

    #[test]
    fn what_the_functions_may_do_to_the_values() {
        for body in [
            "def revision():\n    pass\n",
            "def upgrade():\n    global revision\n    revision = 'b'\n",
            "def upgrade():\n    globals()['x'] = 1\n",
            "def __getattr__(name):\n    pass\n",
            "def upgrade():\n    setattr(sys.modules[__name__], 'x', 1)\n",
            "def upgrade():\n    vars()['x'] = 1\n",
            "def upgrade():\n    print(revision)\n",
        ] {
            let source = format!("{}{body}", prefix(FILE));
            assert!(function_section(&source).is_none(), "fast:\n{body}");
            agree(&source);
            // Without `branch_labels`, the dynamic code makes the file computed.
            let without_labels = source.replace(
                "branch_labels: Union[str, Sequence[str], None] = None\n",
                "",
            );
            agree(&without_labels);
        }
    }

    #[test]
    fn values_outside_the_plain_forms_go_to_the_parser() {
        for (assignment, plain) in [
            ("down_revision = ('a', 'b')", true),
            ("down_revision = ['a', 'b',]", true),
            ("down_revision = {'a'}", true),
            ("down_revision = ()", true),
            ("down_revision = u'a'", true),
            ("down_revision = R\"a\"", true),
            ("down_revision = '''a'''", true),
            ("down_revision: str = ''", true),
            ("down_revision = ('a')", false),
            ("down_revision = {}", false),
            ("down_revision = 'a' 'b'", false),
            ("down_revision = ('a' 'b',)", false),
            ("down_revision = 'a\\tb'", false),
            ("down_revision = b'a'", false),
            ("down_revision = f'a'", false),
            ("down_revision = x", false),
            ("down_revision = 'a' if x else 'b'", false),
            ("down_revision = revision = 'a'", false),
            ("down_revision: str", false),
            ("down_revision = None; x = 1", false),
            ("from m import down_revision", false),
            ("import os as down_revision", false),
            ("if True:\n    down_revision = None", false),
            ("revision = None", false),
            ("down_revision = 'a'\nrevision = ('x',)", false),
        ] {
            let source = FILE.replace(
                "down_revision: Union[str, Sequence[str], None] = '6a1004812026'",
                assignment,
            );
            let read = plain_read(Path::new("/p/x.py"), prefix(&source));
            assert_eq!(read.is_some(), plain, "{assignment}");
            agree(&source);
        }
        // No docstring, a docstring that is not first or not alone, a legacy file.
        for source in [
            FILE.replacen("\"\"\"create", "x = 1\n\"\"\"create", 1),
            FILE.replacen("\"\"\"create", "'a' \"\"\"create", 1),
            FILE.replacen("\n\"\"\"\n", "\n\"\"\"; x = 1\n", 1),
            FILE.replace("revision: str = '4cf7249f8a67'\n", ""),
        ] {
            assert!(plain_read(Path::new("/p/x.py"), prefix(&source)).is_none());
            agree(&source);
        }
    }

    /// Pieces to splice into a revision file at random places.
    const PIECES: &[&str] = &[
        "def revision():\n",
        "global revision\n",
        "    globals()\n",
        "x = 1\n",
        "class A:\n",
        "\n",
        "    ",
        "@dec\n",
        "revision = 'zz'\n",
        "branch_labels = None\n",
        "revision: str = 'zz'\n",
        "x: int = y = 1\n",
        "down_revision: Union[str, None] = ('a', 'b')\n",
        "\"\"\"\nrevision: str = 'in doc'\n\"\"\"\n",
        "x = 1 \\\n",
        "(revision): str = 'p'\n",
        "revision: str\n",
        "a, revision: str = 1, 2\n",
        "x = (\n",
        ")\n",
        "if x:\n",
        "else: y = 1\n",
        "import os\n",
        "from x import revision\n",
        "from x import *\n",
        "  import os\n",
        "revision = ('a')\n",
        "down_revision = {}\n",
        "depends_on = ('a' 'b',)\n",
        "'''doc'''\n",
        "revision = r'x'\n",
        "down_revision = u\"y\"\n",
        "x = revision\n",
        "revision = 'é'\n",
        "# é\n",
        "'é'",
        "é",
        "\u{a0}",
        "\u{ff47}lobals",
        "\r",
        "\r\n",
        "\t",
        "\\",
        "'",
        "\"",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ":",
        ",",
        "=",
        "==",
        "-",
        "*",
        "#",
        ".",
        ";",
        "0",
        "1.",
        "_",
        "def ",
        "async ",
        "lambda",
        "not ",
        "in ",
        "is ",
        "and ",
        "None",
        "pass",
        "return",
        "\0",
    ];

    fn splice(base: &str, edits: &[(usize, usize, bool)]) -> String {
        let mut text = base.to_string();
        for &(at, piece, delete) in edits {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if delete {
                let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                text.replace_range(at..end, "");
            } else {
                text.insert_str(at, PIECES[piece % PIECES.len()]);
            }
        }
        text
    }

    /// The original `create_date`, line by line.
    fn create_date_by_lines(longdoc: &str) -> Option<String> {
        longdoc.lines().find_map(|line| {
            let date = py_strip(py_strip(line).strip_prefix("Create Date:")?);
            (!date.is_empty()).then(|| date.to_string())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn fast_paths_agree_with_the_whole_parse(
            edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<bool>()), 0..6),
            crlf in any::<bool>(),
        ) {
            let mut source = splice(FILE, &edits);
            if crlf {
                source = source.replace('\n', "\r\n");
            }
            if !source.contains('\0') && nesting_estimate(&source) <= MAX_NESTING {
                let (fast, whole) = both_ways(&source);
                prop_assert_eq!(fast, whole, "for:\n{}", source);
            }
        }

        #[test]
        fn plain_functions_accepts_only_valid_python(
            lines in proptest::collection::vec(
                (0usize..3, proptest::collection::vec(0usize..PIECES.len() + 12, 0..8)),
                1..8,
            ),
        ) {
            const WORDS: [&str; 12] = [
                "op", "x", " ", "(", ")", ", ", "'a'", "=", "if", ":", "pass", "f(y=1)",
            ];
            let mut text = String::from("def upgrade():\n");
            for (indent, words) in &lines {
                text.push_str(&"    ".repeat(*indent + 1));
                for &w in words {
                    text.push_str(WORDS.get(w).copied().unwrap_or_else(|| PIECES[w - WORDS.len()]));
                }
                text.push('\n');
            }
            if plain_functions(&text) {
                prop_assert!(parse_module(&text).is_ok(), "accepted:\n{}", text);
            }
        }

        #[test]
        fn nesting_bound_is_never_below_the_estimate(
            edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<bool>()), 0..40),
        ) {
            let source = splice(FILE, &edits);
            let estimate = nesting_estimate(&source);
            let bound = nesting_bound(&source);
            if estimate <= MAX_NESTING {
                prop_assert!(estimate <= bound, "estimate {} > bound {}", estimate, bound);
            } else {
                prop_assert!(bound > MAX_NESTING);
            }
        }

        #[test]
        fn create_date_finds_the_first_dated_line(
            lines in proptest::collection::vec(prop_oneof![
                Just("Create Date:"), Just("Create Date: 2026-01-01"), Just("  Create Date:\t x "),
                Just("x Create Date: y"), Just(" \u{3000}Create Date: é"), Just("\r"), Just("\n"),
                Just(" "), Just("Create Date:Create Date: z"), Just("\u{85}"), Just("Revision ID: a"),
            ], 0..12),
        ) {
            let doc = lines.concat();
            prop_assert_eq!(create_date(&doc), create_date_by_lines(&doc));
        }
    }

    /// Both ways over every `.py` file of a folder, and over variants of each:
    /// `RETORT_FAST_PATH_CORPUS=dir cargo test -p retort-core --release -- --ignored corpus`.
    #[test]
    #[ignore = "needs RETORT_FAST_PATH_CORPUS, a folder of revision files"]
    fn fast_paths_agree_on_a_corpus() {
        let dir = std::env::var_os("RETORT_FAST_PATH_CORPUS").expect("RETORT_FAST_PATH_CORPUS");
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as usize
        };
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let Ok(source) = std::fs::read_to_string(&path) else {
                continue;
            };
            if path.extension().is_none_or(|e| e != "py") {
                continue;
            }
            for variant in 0..20 {
                let edits: Vec<_> = (0..variant % 5)
                    .map(|_| (random(), random(), random() % 3 == 0))
                    .collect();
                let source = splice(&source, &edits);
                if !source.contains('\0') && nesting_estimate(&source) <= MAX_NESTING {
                    let (fast, whole) = both_ways(&source);
                    assert_eq!(
                        fast,
                        whole,
                        "{}, variant {variant}:\n{source}",
                        path.display()
                    );
                }
            }
        }
    }
}
