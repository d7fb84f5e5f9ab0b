//! `retort.toml`, the configuration of a native SQL project.
//!
//! Every key is optional:
//!
//! ```toml
//! versions = ["versions"]            # version locations, relative to this file's folder
//! version_table = "alembic_version"
//! version_table_schema = "public"
//! url = "postgresql://localhost/app"
//! file_template = "%(rev)s_%(slug)s"
//! truncate_slug_length = 40
//! ```
//!
//! Unlike Alembic's configuration, unknown keys are errors (a typo must not be silently
//! ignored), and so are values of the wrong type; both name the file and the line.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))] // no panic on any input (docs/fuzzing.md)

use super::{Diagnostic, ProjectError, ProjectSettings};
use std::path::{Component, Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// The keys `retort.toml` understands.
pub const KNOWN_KEYS: &[&str] = &[
    "versions",
    "version_table",
    "version_table_schema",
    "url",
    "file_template",
    "truncate_slug_length",
    "checks",
];

/// Reads `retort.toml` at `path` (which should be absolute) into settings with absolute paths.
pub fn read_native_settings(path: &Path) -> Result<ProjectSettings, ProjectError> {
    let text = read_config_text(path)?;
    parse_native_settings(path, &text).map_err(ProjectError::Config)
}

/// Parses the text of a `retort.toml`; relative paths are resolved against `path`'s folder.
pub fn parse_native_settings(path: &Path, text: &str) -> Result<ProjectSettings, Diagnostic> {
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let root = DeTable::parse(text).map_err(|e| toml_error(path, text, &e))?;
    let err = |span: std::ops::Range<usize>, msg: String| {
        Diagnostic::error(path, Some(line_of(text, span.start)), msg)
    };

    let mut settings = ProjectSettings {
        script_location: None,
        version_locations: vec![clean_join(&base, "versions")],
        recursive_version_locations: false,
        sourceless: false,
        file_template: ProjectSettings::DEFAULT_FILE_TEMPLATE.to_string(),
        truncate_slug_length: None,
        url: None,
        url_line: None,
        version_table: ProjectSettings::DEFAULT_VERSION_TABLE.to_string(),
        version_table_schema: None,
        prepend_sys_path: Vec::new(),
        timezone: None,
        revision_environment: false,
    };

    // Walk the entries in source order so that the first problem in the file is the one reported.
    let mut entries: Vec<_> = root.get_ref().iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    for (key, value) in entries {
        let name: &str = key.get_ref();
        let span = value.span();
        let want_string = |what: &str| -> Result<String, Diagnostic> {
            match value.get_ref() {
                DeValue::String(s) => Ok(s.to_string()),
                other => Err(err(
                    span.clone(),
                    format!("'{name}' must be {what}, not {}", type_name(other)),
                )),
            }
        };
        match name {
            "versions" => {
                let DeValue::Array(items) = value.get_ref() else {
                    return Err(err(
                        span,
                        format!(
                            "'versions' must be a list of paths, not {}",
                            type_name(value.get_ref())
                        ),
                    ));
                };
                if items.is_empty() {
                    return Err(err(
                        span,
                        "'versions' must list at least one folder".to_string(),
                    ));
                }
                let mut locations = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) if !s.trim().is_empty() => {
                            locations.push(clean_join(&base, s))
                        }
                        DeValue::String(_) => {
                            return Err(err(
                                item.span(),
                                "'versions' holds an empty path".to_string(),
                            ));
                        }
                        other => {
                            return Err(err(
                                item.span(),
                                format!(
                                    "'versions' must be a list of paths; found {}",
                                    type_name(other)
                                ),
                            ));
                        }
                    }
                }
                settings.version_locations = locations;
            }
            "version_table" => {
                let table = want_string("a string")?;
                if table.trim().is_empty() {
                    return Err(err(span, "'version_table' must not be empty".to_string()));
                }
                settings.version_table = table;
            }
            "version_table_schema" => {
                settings.version_table_schema = Some(want_string("a string")?)
            }
            "url" => {
                settings.url = Some(want_string("a string")?);
                settings.url_line = Some(line_of(text, key.span().start));
            }
            "file_template" => settings.file_template = want_string("a string")?,
            "truncate_slug_length" => match value.get_ref() {
                DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) if n > 0 => settings.truncate_slug_length = Some(n as usize),
                    _ => {
                        return Err(err(
                            span,
                            format!("'truncate_slug_length' must be a positive integer, not {i}"),
                        ));
                    }
                },
                other => {
                    return Err(err(
                        span,
                        format!(
                            "'truncate_slug_length' must be an integer, not {}",
                            type_name(other)
                        ),
                    ));
                }
            },
            // The project checks' settings, read by `authoring::checks::naming_config`.
            "checks" => {
                if !matches!(value.get_ref(), DeValue::Table(_)) {
                    return Err(err(
                        span,
                        format!(
                            "'checks' must be a table, not {}",
                            type_name(value.get_ref())
                        ),
                    ));
                }
            }
            unknown => {
                return Err(err(
                    key.span(),
                    format!(
                        "unknown key '{unknown}' in retort.toml; expected one of: {}",
                        KNOWN_KEYS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(settings)
}

/// Reads a configuration file as UTF-8 (a leading byte-order mark is dropped).
pub(crate) fn read_config_text(path: &Path) -> Result<String, ProjectError> {
    let bytes = std::fs::read(path).map_err(|e| ProjectError::Unreadable {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => {
            let line = line_of_bytes(bytes, e.valid_up_to());
            Err(ProjectError::Config(Diagnostic::error(
                path,
                Some(line),
                "file is not valid UTF-8",
            )))
        }
    }
}

/// The 1-based line holding byte `offset` of `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    line_of_bytes(text.as_bytes(), offset)
}

fn line_of_bytes(bytes: &[u8], offset: usize) -> usize {
    bytes.iter().take(offset).filter(|&&b| b == b'\n').count() + 1
}

/// A TOML syntax error as a diagnostic with the file and line.
pub(crate) fn toml_error(path: &Path, text: &str, error: &toml::de::Error) -> Diagnostic {
    let line = error.span().map(|span| line_of(text, span.start));
    Diagnostic::error(
        path,
        line,
        format!("invalid TOML: {}", error.message().trim_end()),
    )
}

/// A short name for a TOML value's type, for error messages.
pub(crate) fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// `base` joined with `path` (an absolute `path` replaces `base`), without `.` components;
/// an empty `path` gives `base` (as Python's `Path("")` is the current folder).
pub(crate) fn clean_join(base: &Path, path: &str) -> PathBuf {
    let joined = base.join(path);
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProjectSettings, Diagnostic> {
        parse_native_settings(Path::new("/proj/retort.toml"), text)
    }

    #[test]
    fn empty_file_gives_defaults() {
        let s = parse("").unwrap();
        assert_eq!(s.version_locations, vec![PathBuf::from("/proj/versions")]);
        assert_eq!(s.version_table, "alembic_version");
        assert_eq!(s.version_table_schema, None);
        assert_eq!(s.file_template, "%(rev)s_%(slug)s");
        assert_eq!(s.truncate_slug_length, None);
        assert_eq!(s.url, None);
        assert_eq!(s.script_location, None);
        assert!(!s.recursive_version_locations && !s.sourceless && !s.revision_environment);
    }

    #[test]
    fn all_keys() {
        let s = parse(
            r#"
versions = ["db/versions", "./more", "/abs/elsewhere"]
version_table = "retort_version"
version_table_schema = "meta"
url = "sqlite:///app.db"
file_template = "%(year)d_%(rev)s"
truncate_slug_length = 20
"#,
        )
        .unwrap();
        assert_eq!(
            s.version_locations,
            vec![
                PathBuf::from("/proj/db/versions"),
                PathBuf::from("/proj/more"),
                PathBuf::from("/abs/elsewhere")
            ]
        );
        assert_eq!(s.version_table, "retort_version");
        assert_eq!(s.version_table_schema.as_deref(), Some("meta"));
        assert_eq!(s.url.as_deref(), Some("sqlite:///app.db"));
        assert_eq!(s.file_template, "%(year)d_%(rev)s");
        assert_eq!(s.truncate_slug_length, Some(20));
    }

    #[test]
    fn unknown_key_names_key_file_and_line() {
        let d = parse("url = \"x\"\n\nversion = [\"v\"]\n").unwrap_err();
        assert_eq!(d.path, PathBuf::from("/proj/retort.toml"));
        assert_eq!(d.line, Some(3));
        assert!(d.message.contains("unknown key 'version'"), "{}", d.message);
    }

    #[test]
    fn unknown_table_is_an_error() {
        let d = parse("url = \"x\"\n[extra]\na = 1\n").unwrap_err();
        assert_eq!(d.line, Some(2));
        assert!(d.message.contains("unknown key 'extra'"), "{}", d.message);
    }

    #[test]
    fn wrong_types_name_key_and_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("versions = \"versions\"\n", 1, "'versions' must be a list"),
            ("\nversions = [\"a\", 3]\n", 2, "found an integer"),
            ("versions = []\n", 1, "at least one"),
            ("url = 1\n", 1, "'url' must be a string, not an integer"),
            (
                "\n\nversion_table = true\n",
                3,
                "'version_table' must be a string",
            ),
            (
                "truncate_slug_length = \"40\"\n",
                1,
                "must be an integer, not a string",
            ),
            ("truncate_slug_length = -1\n", 1, "positive integer"),
            (
                "file_template = [\"x\"]\n",
                1,
                "'file_template' must be a string",
            ),
        ];
        for (text, line, needle) in cases {
            let d = parse(text).unwrap_err();
            assert_eq!(d.line, Some(*line), "{text:?}: {d}");
            assert!(d.message.contains(needle), "{text:?}: {}", d.message);
        }
    }

    #[test]
    fn malformed_toml_names_line() {
        let d = parse("url = \"x\"\nversions = [\"a\"\n\nversion_table = \n").unwrap_err();
        assert!(d.line.is_some_and(|l| l >= 2), "{d}");
        assert!(d.message.starts_with("invalid TOML"), "{}", d.message);
        let d = parse("url = \"a\"\nurl = \"b\"\n").unwrap_err();
        assert_eq!(d.line, Some(2), "{d}");
    }

    #[test]
    fn read_from_disk_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retort.toml");
        std::fs::write(&path, "versions = [\"v1\", \"v2\"]\n").unwrap();
        let s = read_native_settings(&path).unwrap();
        assert_eq!(
            s.version_locations,
            vec![dir.path().join("v1"), dir.path().join("v2")]
        );
        let missing = read_native_settings(&dir.path().join("nope.toml")).unwrap_err();
        assert!(matches!(missing, ProjectError::Unreadable { .. }));
        std::fs::write(&path, b"url = \"\xff\"\n").unwrap();
        let bad = read_native_settings(&path).unwrap_err();
        assert!(matches!(bad, ProjectError::Config(d) if d.line == Some(1)));
    }

    #[test]
    fn line_of_counts_newlines() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }

    #[test]
    fn clean_join_drops_dots() {
        assert_eq!(
            clean_join(Path::new("/p"), "./a/./b/"),
            PathBuf::from("/p/a/b")
        );
        assert_eq!(clean_join(Path::new("/p"), ""), PathBuf::from("/p"));
        assert_eq!(clean_join(Path::new("/p"), "/x"), PathBuf::from("/x"));
        assert_eq!(
            clean_join(Path::new("/p"), "../x"),
            PathBuf::from("/p/../x")
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_toml_text_reads_or_fails_cleanly(text in "((versions|url|version_table|truncate_slug_length|x) ?= ?(\\[\"[a-z]{0,5}\"\\]|\"[a-z:/]{0,9}\"|-?[0-9]{1,3}|true)|.{0,15})(\n((versions|url|version_table|truncate_slug_length|x) ?= ?(\"[a-z]{0,5}\"|[0-9]{1,3})|.{0,15})){0,6}") {
                let _ = parse_native_settings(Path::new("/p/retort.toml"), &text);
            }

            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = parse_native_settings(Path::new("/p/retort.toml"), &String::from_utf8_lossy(&bytes));
            }
        }
    }
}
