//! A small `.env` reader: `KEY=VALUE` lines, an optional `export ` prefix, `#` comments,
//! single quotes (taken literally), double quotes (with `\n`, `\"`, `\\` escapes), and
//! trailing comments after unquoted values.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))] // no panic on any input (docs/fuzzing.md)

/// The file's assignments in order; lines that are not assignments are skipped.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        out.push((key.to_string(), value_of(value.trim())));
    }
    out
}

/// The last assignment of `key`, as a shell would leave it.
pub fn lookup(text: &str, key: &str) -> Option<String> {
    parse(text)
        .into_iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn value_of(raw: &str) -> String {
    if let Some(rest) = raw.strip_prefix('\'') {
        return rest.split_once('\'').map_or(rest, |(v, _)| v).to_string();
    }
    if let Some(rest) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return out;
    }
    // Unquoted: a ` #` starts a comment.
    let value = raw.split_once(" #").map_or(raw, |(value, _)| value);
    value.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let text = r#"
# a comment
DATABASE_URL=postgresql://u:p@h/db   # trailing
export QUOTED="postgresql://u:p#x@h/db"
SINGLE='a "b" \n c'
ESC="line\nnext \"q\""
not an assignment
EMPTY=
DATABASE_URL="sqlite:///last.db"
"#;
        let all = parse(text);
        assert_eq!(
            all[0],
            ("DATABASE_URL".into(), "postgresql://u:p@h/db".into())
        );
        assert_eq!(all[1].1, "postgresql://u:p#x@h/db");
        assert_eq!(all[2].1, r#"a "b" \n c"#);
        assert_eq!(all[3].1, "line\nnext \"q\"");
        assert_eq!(all[4], ("EMPTY".into(), String::new()));
        assert_eq!(
            lookup(text, "DATABASE_URL").as_deref(),
            Some("sqlite:///last.db")
        );
        assert_eq!(lookup(text, "MISSING"), None);
    }
}
