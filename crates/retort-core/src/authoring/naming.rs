//! Names of new revisions as alembic makes them (`alembic/script/base.py`, 1.20.1): the
//! random revision id (`util.rev_id()`), the create date (`_generate_create_date`, printed by
//! Python's `str(datetime)`), the slug and the file name (`_rev_path`, `file_template` with
//! Python's `%` formatting).

use jiff::Zoned;
use jiff::tz::TimeZone;

/// `alembic.util.rev_id()`: the last 12 hex digits of a random UUID, i.e. 12 random
/// lowercase hex digits.
pub fn new_rev_id() -> String {
    let mut bytes = [0u8; 6];
    if getrandom::getrandom(&mut bytes).is_err() {
        // No OS randomness: fall back on the clock and the process id, hashed.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        bytes.copy_from_slice(&h.finish().to_le_bytes()[..6]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The moment a revision is created, with what `_rev_path` and the template take from it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CreateDate {
    /// `str(create_date)`: `2026-11-24 19:49:41.111220`, with `+01:00` when a `timezone` is
    /// configured (Python omits `.ffffff` when the microseconds are 0).
    pub text: String,
    /// `int(create_date.timestamp())`.
    pub epoch: i64,
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
}

impl CreateDate {
    /// Now: local time without an offset (`datetime.now()`), or, with a configured
    /// `timezone`, that zone's time with its offset (`datetime.now(tz=utc).astimezone(tz)`).
    pub fn now(timezone: Option<&str>) -> Result<Self, String> {
        Self::at(jiff::Timestamp::now(), timezone)
    }

    /// The create date of a given instant (seconds and microseconds since the epoch).
    pub fn at_epoch(seconds: i64, micros: u32, timezone: Option<&str>) -> Result<Self, String> {
        let ts = jiff::Timestamp::new(seconds, (micros as i32) * 1000)
            .map_err(|e| format!("invalid create date: {e}"))?;
        Self::at(ts, timezone)
    }

    fn at(ts: jiff::Timestamp, timezone: Option<&str>) -> Result<Self, String> {
        let (zoned, aware) = match timezone {
            Some(name) => (ts.to_zoned(find_zone(name)?), true),
            None => (ts.to_zoned(TimeZone::system()), false),
        };
        Ok(Self::of(&zoned, aware))
    }

    fn of(zoned: &Zoned, aware: bool) -> Self {
        let micros = zoned.subsec_nanosecond() / 1000;
        let mut text = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            zoned.year(),
            zoned.month(),
            zoned.day(),
            zoned.hour(),
            zoned.minute(),
            zoned.second()
        );
        if micros != 0 {
            text.push_str(&format!(".{micros:06}"));
        }
        if aware {
            let offset = zoned.offset().seconds();
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            text.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60));
            if !abs.is_multiple_of(60) {
                text.push_str(&format!(":{:02}", abs % 60));
            }
        }
        Self {
            text,
            epoch: zoned.timestamp().as_second(),
            year: zoned.year().into(),
            month: zoned.month().into(),
            day: zoned.day().into(),
            hour: zoned.hour().into(),
            minute: zoned.minute().into(),
            second: zoned.second().into(),
        }
    }
}

/// `ZoneInfo(name)`, then `ZoneInfo(name.upper())`, as `_generate_create_date` tries them.
fn find_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name)
        .or_else(|_| TimeZone::get(&name.to_uppercase()))
        .map_err(|_| format!("Can't locate timezone: {name}"))
}

/// `"_".join(re.findall(r"\w+", message)).lower()`, cut as `_rev_path` cuts it: longer than
/// `truncate` characters → the first `truncate` characters up to their last `_`, plus `_`.
pub fn slug(message: &str, truncate: Option<usize>) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in message.chars() {
        if c.is_alphanumeric() || c == '_' {
            current.push(c);
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    let slug = words.join("_").to_lowercase();
    let limit = truncate.filter(|&n| n > 0).unwrap_or(40);
    if slug.chars().count() > limit {
        let cut: String = slug.chars().take(limit).collect();
        let kept = match cut.rfind('_') {
            Some(i) => &cut[..i],
            None => cut.as_str(),
        };
        format!("{kept}_")
    } else {
        slug
    }
}

/// A value a `%` format can take.
#[derive(Debug, Clone)]
pub(crate) enum PyArg {
    Str(String),
    Int(i64),
}

/// The file name `_rev_path` makes: `file_template % {...}` plus the extension (`py`, or
/// `sql` for native projects). Fails, naming the template, on what Python would refuse.
pub fn file_name(
    file_template: &str,
    rev_id: &str,
    slug: &str,
    date: &CreateDate,
    extension: &str,
) -> Result<String, String> {
    let lookup = |key: &str| -> Option<PyArg> {
        Some(match key {
            "rev" => PyArg::Str(rev_id.to_string()),
            "slug" => PyArg::Str(slug.to_string()),
            "epoch" => PyArg::Int(date.epoch),
            "year" => PyArg::Int(date.year),
            "month" => PyArg::Int(date.month),
            "day" => PyArg::Int(date.day),
            "hour" => PyArg::Int(date.hour),
            "minute" => PyArg::Int(date.minute),
            "second" => PyArg::Int(date.second),
            _ => return None,
        })
    };
    let name = percent_format(file_template, &lookup)
        .map_err(|e| format!("file_template '{file_template}': {e}"))?;
    Ok(format!("{name}.{extension}"))
}

/// Python's `template % mapping` for the conversions a file template can use:
/// `%(key)s`, `%(key)r`, `%(key)d`/`i`/`u`, `%(key)x`/`X`/`o`, with flags `-0 +#`, a width
/// and a precision, and `%%`.
pub(crate) fn percent_format(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<PyArg>,
) -> Result<String, String> {
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        if i < chars.len() && chars[i] == '%' {
            out.push('%');
            i += 1;
            continue;
        }
        if i >= chars.len() || chars[i] != '(' {
            return Err("format requires a mapping (use %(name)s)".into());
        }
        let mut depth = 1;
        let start = i + 1;
        i += 1;
        while i < chars.len() && depth > 0 {
            match chars[i] {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        if depth > 0 {
            return Err("incomplete format key".into());
        }
        let key: String = chars[start..i - 1].iter().collect();
        let mut flags = String::new();
        while i < chars.len() && "-+ #0".contains(chars[i]) {
            flags.push(chars[i]);
            i += 1;
        }
        let mut width = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            width.push(chars[i]);
            i += 1;
        }
        let mut precision: Option<usize> = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = String::new();
            while i < chars.len() && chars[i].is_ascii_digit() {
                p.push(chars[i]);
                i += 1;
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        // Python accepts and ignores a length modifier.
        while i < chars.len() && "hlL".contains(chars[i]) {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            return Err("incomplete format".into());
        };
        i += 1;
        let value = lookup(&key).ok_or_else(|| {
            format!(
                "unknown key '{key}' (known: rev, slug, epoch, year, month, day, hour, minute, second)"
            )
        })?;
        let width: usize = width.parse().unwrap_or(0);
        let left = flags.contains('-');
        let body = match conv {
            's' | 'r' | 'a' => {
                let mut s = match (&value, conv) {
                    (PyArg::Str(s), 's') => s.clone(),
                    (PyArg::Str(s), _) => crate::project::python_literal::py_repr(s),
                    (PyArg::Int(n), _) => n.to_string(),
                };
                if let Some(p) = precision {
                    s = s.chars().take(p).collect();
                }
                pad(s, width, left, false)
            }
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
                let PyArg::Int(n) = value else {
                    return Err(format!(
                        "%{conv} format: a real number is required, not str (key '{key}')"
                    ));
                };
                let digits = match conv {
                    'x' => format!("{:x}", n.unsigned_abs()),
                    'X' => format!("{:X}", n.unsigned_abs()),
                    'o' => format!("{:o}", n.unsigned_abs()),
                    _ => n.unsigned_abs().to_string(),
                };
                let digits = match precision {
                    Some(p) if digits.len() < p => {
                        format!("{}{digits}", "0".repeat(p - digits.len()))
                    }
                    _ => digits,
                };
                let prefix = match (flags.contains('#'), conv) {
                    (true, 'x') => "0x",
                    (true, 'X') => "0X",
                    (true, 'o') => "0o",
                    _ => "",
                };
                let sign = if n < 0 {
                    "-"
                } else if flags.contains('+') {
                    "+"
                } else if flags.contains(' ') {
                    " "
                } else {
                    ""
                };
                if flags.contains('0') && !left {
                    let used = sign.len() + prefix.len() + digits.len();
                    let zeros = "0".repeat(width.saturating_sub(used));
                    format!("{sign}{prefix}{zeros}{digits}")
                } else {
                    pad(format!("{sign}{prefix}{digits}"), width, left, false)
                }
            }
            other => return Err(format!("unsupported format character '{other}'")),
        };
        out.push_str(&body);
    }
    Ok(out)
}

fn pad(s: String, width: usize, left: bool, _zero: bool) -> String {
    let n = s.chars().count();
    if n >= width {
        return s;
    }
    let fill = " ".repeat(width - n);
    if left { s + &fill } else { fill + &s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date() -> CreateDate {
        // 2024-03-05 07:08:09.000042 UTC
        CreateDate::at_epoch(1_709_622_489, 42, Some("UTC")).unwrap()
    }

    #[test]
    fn rev_ids_are_twelve_hex_digits() {
        let a = new_rev_id();
        let b = new_rev_id();
        assert_eq!(a.len(), 12);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn create_date_prints_as_python() {
        let d = date();
        assert_eq!(d.text, "2024-03-05 07:08:09.000042+00:00");
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second),
            (2024, 3, 5, 7, 8, 9)
        );
        assert_eq!(d.epoch, 1_709_622_489);
        let whole = CreateDate::at_epoch(1_709_622_489, 0, Some("Asia/Kolkata")).unwrap();
        assert_eq!(whole.text, "2024-03-05 12:38:09+05:30");
        let lower = CreateDate::at_epoch(1_709_622_489, 0, Some("utc")).unwrap();
        assert_eq!(lower.text, "2024-03-05 07:08:09+00:00");
        assert_eq!(
            CreateDate::at_epoch(0, 0, Some("Nowhere/Atlantis")).unwrap_err(),
            "Can't locate timezone: Nowhere/Atlantis"
        );
    }

    #[test]
    fn slugs_follow_rev_path() {
        assert_eq!(slug("Add users table!", None), "add_users_table");
        assert_eq!(slug("  --  ", None), "");
        assert_eq!(slug("Ünïcode — ok", None), "ünïcode_ok");
        let long = "one two three four five six seven eight nine ten";
        // 40 characters: "one_two_three_four_five_six_seven_eight_" → cut at the last '_'.
        assert_eq!(slug(long, None), "one_two_three_four_five_six_seven_eight_");
        assert_eq!(slug(long, Some(10)), "one_two_");
        assert_eq!(slug("abcdefghijkl", Some(5)), "abcde_");
        assert_eq!(slug(long, Some(0)), slug(long, Some(40)));
    }

    #[test]
    fn file_names_follow_the_template() {
        let d = date();
        assert_eq!(
            file_name("%(rev)s_%(slug)s", "abc", "add_x", &d, "py").unwrap(),
            "abc_add_x.py"
        );
        assert_eq!(
            file_name(
                "%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d-%(rev)s_%(slug)s",
                "abc",
                "s",
                &d,
                "sql"
            )
            .unwrap(),
            "2024_03_05_0708-abc_s.sql"
        );
        assert_eq!(
            file_name(
                "%(epoch)s_%(rev)s%%_%(second)03d|%(rev)5s|%(rev)-5s|%(slug).1s",
                "ab",
                "xyz",
                &d,
                "py"
            )
            .unwrap(),
            "1709622489_ab%_009|   ab|ab   |x.py"
        );
        assert!(
            file_name("%(nope)s", "a", "b", &d, "py")
                .unwrap_err()
                .contains("unknown key 'nope'")
        );
        assert!(
            file_name("%(slug)d", "a", "b", &d, "py")
                .unwrap_err()
                .contains("real number")
        );
        assert!(file_name("%s", "a", "b", &d, "py").is_err());
    }
}
