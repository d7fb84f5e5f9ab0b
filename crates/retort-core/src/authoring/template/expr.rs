//! The Python expressions inside a template (`${...}`, `% if ...:`, `<% x = ... %>`): tokens
//! and a syntax tree for the subset the module docs list, with Python's precedence.

use super::Value;

#[derive(Debug, Clone)]
pub(super) enum Expr {
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
pub(super) enum CmpOp {
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

pub(super) fn parse_expr(src: &str) -> Result<Expr, String> {
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
