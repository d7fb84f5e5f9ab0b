//! The Python of template expressions: what a `Value` is to `str()`, `repr()` and a test, and
//! the names, attributes, calls and operators of `expr` computed against the revision's
//! values (`Scope`), including the `re.split` of the `multidb` template.

use super::expr::{CmpOp, Expr};
use super::{Context, Value};
use crate::project::python_literal::py_repr;
use std::collections::BTreeMap;
use std::path::Path;

impl Value {
    pub(super) fn truthy(&self) -> bool {
        match self {
            Value::None | Value::Undefined(_) => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Str(s) | Value::Date(s) => !s.is_empty(),
            Value::Tuple(v) | Value::List(v) => !v.is_empty(),
            _ => true,
        }
    }

    pub(super) fn type_name(&self) -> &'static str {
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
    pub(super) fn to_str(&self) -> Result<String, String> {
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
    pub(super) fn repr(&self) -> Result<String, String> {
        Ok(match self {
            Value::None => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(n) => n.to_string(),
            Value::Str(s) => py_repr(s),
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

/// The names a template's code sees: its own assignments and loop names (`locals`) over the
/// caller's variables, then Mako's and Python's (`context`, `repr`, ..., `re` once imported).
pub(super) struct Scope<'a, 'b> {
    pub(super) ctx: &'a Context<'b>,
    pub(super) locals: BTreeMap<String, Value>,
    pub(super) re_imported: bool,
    /// The template, for errors.
    pub(super) path: &'a Path,
}

impl Scope<'_, '_> {
    pub(super) fn lookup(&self, name: &str) -> Value {
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

    pub(super) fn eval(&self, e: &Expr) -> Result<Value, String> {
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

/// `alembic.util.format_as_comma`.
pub(super) fn format_as_comma(v: &Value) -> Result<String, String> {
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

/// `re.split`'s pattern, of the small kind templates split on: literal characters and the
/// classes `\s`, `\d`, `\w`, `.`, each optionally followed by `*`, `+` or `?`. Anything else
/// is refused, so where the regex crate's syntax and Python's differ never comes up; the
/// classes are spelled out to mean what they always meant here. The regex crate matches in
/// linear time (a hand-written backtracker hung on `\s*\s*\s*…x`).
pub(super) struct Pattern(regex::Regex);

impl Pattern {
    pub(super) fn parse(src: &str) -> Result<Self, String> {
        let mut translated = String::new();
        let mut chars = src.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    // White_Space, as `char::is_whitespace`.
                    Some('s') => translated.push_str(r"\s"),
                    // Every numeric category (Nd, Nl, No), as `char::is_numeric`.
                    Some('d') => translated.push_str(r"\p{N}"),
                    // As `char::is_alphanumeric` or '_'.
                    Some('w') => translated.push_str(r"[\p{Alphabetic}\p{N}_]"),
                    Some(x) if !x.is_alphanumeric() => {
                        translated.push_str(&regex::escape(x.encode_utf8(&mut [0; 4])));
                    }
                    other => {
                        return Err(format!(
                            "regular expression '{src}': '\\{}' is not supported by Retort's template renderer",
                            other.map(String::from).unwrap_or_default()
                        ));
                    }
                },
                // Any character but a newline.
                '.' => translated.push('.'),
                '[' | ']' | '(' | ')' | '{' | '}' | '|' | '^' | '$' | '*' | '+' | '?' => {
                    return Err(format!(
                        "regular expression '{src}': '{c}' is not supported by Retort's template renderer"
                    ));
                }
                other => translated.push_str(&regex::escape(other.encode_utf8(&mut [0; 4]))),
            }
            if let Some(&repeat @ ('*' | '+' | '?')) = chars.peek() {
                translated.push(repeat);
                chars.next();
            }
        }
        regex::Regex::new(&translated)
            .map(Pattern)
            .map_err(|e| format!("regular expression '{src}': {e}"))
    }

    /// `re.split(pattern, s)` (no groups in these patterns). Empty matches split too, except
    /// one where the previous match ended.
    pub(super) fn split(&self, s: &str) -> Vec<String> {
        self.0.split(s).map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authoring::template::tests::run;

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

    /// The classes mean what the hand-written matcher made them mean, spelled out for the
    /// regex crate: `\d` any numeric character (Python's `re`: decimal digits only), `\w`
    /// alphabetic or numeric or `_`. And an empty match where the previous one ended does not
    /// split (Python 3.7+ splits there: `re.split(r'\s*', 'a b')` is `['', 'a', '', 'b', '']`).
    #[test]
    fn re_split_classes_as_before_the_regex_crate() {
        let d = Pattern::parse(r"\d").unwrap();
        assert_eq!(d.split("a1b²cⅧd"), vec!["a", "b", "c", "d"]);
        let w = Pattern::parse(r"\w+").unwrap();
        assert_eq!(w.split("-é_²-\u{301}-"), vec!["-", "-\u{301}-"]);
        let s = Pattern::parse(r"\s").unwrap();
        assert_eq!(s.split("a\u{a0}b\u{1c}c"), vec!["a", "b\u{1c}c"]);
        let dot = Pattern::parse(r"a.").unwrap();
        assert_eq!(dot.split("xaby a\nz"), vec!["x", "y a\nz"]);
        let empty = Pattern::parse(r"\s*").unwrap();
        assert_eq!(empty.split("a b"), vec!["", "a", "b", ""]);
        let literal = Pattern::parse(r"\.\,é").unwrap();
        assert_eq!(literal.split("1.,é2"), vec!["1", "2"]);
        for unsupported in [r"a|b", r"(a)", r"\b", r"a**", r"^a"] {
            assert!(Pattern::parse(unsupported).is_err(), "{unsupported}");
        }
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
