//! Python's literals as Retort reads and writes them: `repr(str)` for messages that quote
//! Python's and for templates, and `int(str)` for configuration values and revision
//! identifiers. One copy each, here, below every module that needs them (`project` reaches
//! no other part of the core but `home` and `private`).

/// Python's `repr(str)`: single quotes unless the text holds `'` and no `"`; `\\`, `\n`,
/// `\r`, `\t` escaped; characters `str.isprintable()` rejects as `\xNN`, `\uNNNN` or
/// `\UNNNNNNNN`. Non-printable characters outside ASCII are recognised from the Unicode
/// categories Cc, Cf, Zs, Zl, Zp and Co (unassigned code points, Cn, are printed as they are).
pub fn py_repr(s: &str) -> String {
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

/// Python's `int(str)` for base 10: surrounding whitespace, a sign, ASCII digits with single
/// `_` between them. `None` where Python raises `ValueError`. Python's integers have no
/// bound; beyond `i64` the value saturates to `i64::MAX` or `-i64::MAX` (a walk of that many
/// steps, or a slug that long, is as good as endless).
pub(crate) fn python_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (negative, digits) = if let Some(digits) = s.strip_prefix('-') {
        (true, digits)
    } else {
        (false, s.strip_prefix('+').unwrap_or(s))
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let digits = digits.replace('_', "");
    let signed = if negative {
        format!("-{digits}")
    } else {
        digits
    };
    Some(
        signed
            .parse()
            .unwrap_or(if negative { -i64::MAX } else { i64::MAX }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_repr_quotes_like_python() {
        assert_eq!(py_repr("a"), "'a'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("x\ny\\"), "'x\\ny\\\\'");
    }

    #[test]
    fn str_repr_as_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("'\""), "'\\'\"'");
        assert_eq!(py_repr("a\\b\n\t\u{7}"), "'a\\\\b\\n\\t\\x07'");
        assert_eq!(
            py_repr("é\u{a0}\u{200b}\u{e000}\u{1f600}"),
            "'é\\xa0\\u200b\\ue000\u{1f600}'"
        );
        assert_eq!(py_repr("\u{85}"), "'\\x85'");
    }

    /// The two copies this replaces agreed on what is an integer and differed beyond `i64`:
    /// the revision map's saturated (as here), the configuration's refused the value, which
    /// Python's `int()` accepts.
    #[test]
    fn int_as_python() {
        for (text, value) in [
            ("0", Some(0)),
            (" +2_0\n", Some(20)),
            ("-3", Some(-3)),
            ("007", Some(7)),
            ("1_000_000", Some(1_000_000)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("99999999999999999999", Some(i64::MAX)),
            ("-99999999999999999999", Some(-i64::MAX)),
            ("", None),
            ("-", None),
            ("+-1", None),
            ("_1", None),
            ("1_", None),
            ("1__0", None),
            ("1 0", None),
            ("0x10", None),
            ("forty", None),
            // Python's int() also takes other scripts' decimal digits; Retort does not.
            ("١", None),
        ] {
            assert_eq!(python_int(text), value, "{text:?}");
        }
    }
}
