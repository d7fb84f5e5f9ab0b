//! Alembic's configuration: `alembic.ini` and `pyproject.toml`'s `[tool.alembic]` table, read
//! the way Alembic's `Config` reads them (`alembic/config.py`, 1.20).
//!
//! - The ini file is read with the semantics of Python's `configparser.ConfigParser` in its
//!   default mode: `=`/`:` delimiters, lower-cased keys, `#`/`;` full-line comments,
//!   indented continuation lines (blank lines inside a value kept), a `DEFAULT` section, strict
//!   duplicate checks, and `BasicInterpolation` applied lazily when a value is read (`%(key)s`,
//!   `%%`), with `here` = the ini file's folder. [`IniFile`] is a small port of
//!   `RawConfigParser._read` and `BasicInterpolation._interpolate_some`.
//! - `[tool.alembic]` values get `%(here)s` (the pyproject's folder) substituted in strings and
//!   in list items, as `Config._get_toml_config_value` does.
//! - Each option is looked up in the ini's `[alembic]` section first, then in the TOML table.
//!
//! Deviations from Alembic, on purpose:
//! - Relative paths (`script_location`, `version_locations`, `prepend_sys_path`) are resolved
//!   against the folder of the file that supplied them, not the current directory: Retort is
//!   opened on a project folder rather than run from inside it, and the Alembic templates put
//!   the ini/pyproject in the folder Alembic is normally run from.
//! - A `package:resource` location is resolved only when the package is a folder under one of
//!   the `prepend_sys_path` entries; installed packages are reported as not supported.
//! - A UTF-8 byte-order mark at the start of the ini is ignored (ConfigParser would fail).
//! - Values Alembic would misuse are errors: a TOML `version_locations` string (Alembic would
//!   iterate its characters), a negative `truncate_slug_length`.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))] // no panic on any input (docs/fuzzing.md)

use super::native_config::{clean_join, line_of, read_config_text, toml_error, type_name};
use super::python_literal::{py_repr, python_int};
use super::{Diagnostic, ProjectError, ProjectSettings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// The ini section Alembic reads unless told otherwise (`alembic -n NAME`).
pub const DEFAULT_INI_SECTION: &str = "alembic";

/// ConfigParser's `MAX_INTERPOLATION_DEPTH`.
const MAX_INTERPOLATION_DEPTH: usize = 10;

// ---------------------------------------------------------------------------------------------
// The ini file
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct IniEntry {
    /// Joined value lines, uninterpolated.
    value: String,
    /// 1-based line of the key; `None` for the injected `here`.
    line: Option<usize>,
}

type IniSection = BTreeMap<String, IniEntry>;

/// An ini file as ConfigParser holds it after `read()`: raw values; interpolation happens in
/// [`IniFile::get`].
#[derive(Debug, Clone)]
pub struct IniFile {
    path: PathBuf,
    defaults: IniSection,
    sections: BTreeMap<String, IniSection>,
}

impl IniFile {
    /// Reads `path`, with `here` set to its folder (absolute, `/`-separated).
    pub fn read(path: &Path) -> Result<IniFile, ProjectError> {
        let text = read_config_text(path)?;
        IniFile::parse(path, &text, &here_of(path)).map_err(ProjectError::Config)
    }

    /// Parses ini text. `here` becomes the `DEFAULT` value `here`, as Alembic passes it.
    pub fn parse(path: &Path, text: &str, here: &str) -> Result<IniFile, Diagnostic> {
        let err = |line: usize, message: String| Diagnostic::error(path, Some(line), message);
        let mut defaults = IniSection::new();
        defaults.insert(
            "here".to_string(),
            IniEntry {
                value: here.to_string(),
                line: None,
            },
        );
        let mut sections: BTreeMap<String, IniSection> = BTreeMap::new();

        // Value lines are collected per option and joined at the end (`_join_multiline_values`).
        let mut pending: BTreeMap<(Option<String>, String), Vec<String>> = BTreeMap::new();
        let mut seen_sections: Vec<String> = Vec::new();
        let mut seen_options: Vec<(String, String)> = Vec::new();
        // `None` = no section yet; `Some(None)` = DEFAULT; `Some(Some(name))` = a section.
        let mut current: Option<Option<String>> = None;
        let mut option: Option<String> = None;
        let mut indent_level = 0usize;
        let mut bad_lines: Vec<(usize, String)> = Vec::new();

        for (index, line) in split_lines(text).into_iter().enumerate() {
            let lineno = index + 1;
            let value = line.trim();
            if value.starts_with('#') || value.starts_with(';') {
                continue; // a full-line comment, even inside a multi-line value
            }
            if value.is_empty() {
                // `empty_lines_in_values`: a blank line belongs to the value being read.
                if let (Some(section), Some(name)) = (&current, &option)
                    && let Some(lines) = pending.get_mut(&(section.clone(), name.clone()))
                {
                    lines.push(String::new());
                }
                continue;
            }
            let cur_indent = line.chars().take_while(|c| c.is_whitespace()).count();
            if let (Some(section), Some(name)) = (&current, &option)
                && cur_indent > indent_level
            {
                if let Some(lines) = pending.get_mut(&(section.clone(), name.clone())) {
                    lines.push(value.to_string());
                }
                continue;
            }
            indent_level = cur_indent;
            if let Some(header) = section_header(value) {
                if header == "DEFAULT" {
                    current = Some(None);
                } else {
                    if seen_sections.iter().any(|s| s == header) {
                        return Err(err(
                            lineno,
                            format!("section {} already exists", py_repr(header)),
                        ));
                    }
                    seen_sections.push(header.to_string());
                    sections.entry(header.to_string()).or_default();
                    current = Some(Some(header.to_string()));
                }
                option = None;
                continue;
            }
            let Some(section) = &current else {
                return Err(err(
                    lineno,
                    format!("File contains no section headers: {}", py_repr(line)),
                ));
            };
            match value.split_once(['=', ':']) {
                Some((name, _)) if name.trim_end().is_empty() => {
                    // `= value`: ConfigParser reports the line and forgets the current option.
                    bad_lines.push((lineno, line.to_string()));
                    option = None;
                }
                Some((name, first)) => {
                    let name = name.trim_end().to_lowercase();
                    let section_name = section.clone().unwrap_or_else(|| "DEFAULT".to_string());
                    let key = (section_name.clone(), name.clone());
                    if seen_options.contains(&key) {
                        return Err(err(
                            lineno,
                            format!(
                                "option {} in section {} already exists",
                                py_repr(&name),
                                py_repr(&section_name)
                            ),
                        ));
                    }
                    seen_options.push(key);
                    let first = first.trim().to_string();
                    let target = match section {
                        None => &mut defaults,
                        Some(s) => sections.entry(s.clone()).or_default(),
                    };
                    target.insert(
                        name.clone(),
                        IniEntry {
                            value: String::new(),
                            line: Some(lineno),
                        },
                    );
                    pending.insert((section.clone(), name.clone()), vec![first]);
                    option = Some(name);
                }
                None => {
                    // ConfigParser keeps going (the current option stays open for continuation
                    // lines) and reports every bad line at the end.
                    bad_lines.push((lineno, line.to_string()));
                }
            }
        }
        if let Some((first_line, _)) = bad_lines.first() {
            let listed: Vec<String> = bad_lines
                .iter()
                .map(|(n, l)| format!("[line {n}]: {}", py_repr(l)))
                .collect();
            return Err(err(
                *first_line,
                format!("Source contains parsing errors: {}", listed.join(", ")),
            ));
        }
        for ((section, name), lines) in pending {
            let target = match &section {
                None => &mut defaults,
                Some(s) => sections.entry(s.clone()).or_default(),
            };
            if let Some(entry) = target.get_mut(&name) {
                entry.value = lines.join("\n").trim_end().to_string();
            }
        }
        Ok(IniFile {
            path: path.to_path_buf(),
            defaults,
            sections,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn has_section(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }

    /// ConfigParser's `has_option`: the option is in the section or in `DEFAULT`; `false` when
    /// the section does not exist.
    pub fn has_option(&self, section: &str, option: &str) -> bool {
        self.entry(section, option).is_some()
    }

    fn entry(&self, section: &str, option: &str) -> Option<&IniEntry> {
        let option = option.to_lowercase();
        if section == "DEFAULT" {
            return self.defaults.get(&option);
        }
        let values = self.sections.get(section)?;
        values.get(&option).or_else(|| self.defaults.get(&option))
    }

    /// The raw (uninterpolated) value.
    pub fn get_raw(&self, section: &str, option: &str) -> Option<&str> {
        self.entry(section, option).map(|e| e.value.as_str())
    }

    /// The interpolated value, `None` when absent (ConfigParser's `get(..., fallback=None)`).
    /// A bad `%` reference is an error naming the option's line.
    pub fn get(&self, section: &str, option: &str) -> Result<Option<String>, Diagnostic> {
        let option = option.to_lowercase();
        let Some(entry) = self.entry(section, &option) else {
            return Ok(None);
        };
        let mut out = String::new();
        self.interpolate(section, &option, &entry.value, &entry.value, 1, &mut out)
            .map_err(|message| Diagnostic::error(&self.path, entry.line, message))?;
        Ok(Some(out))
    }

    /// `BasicInterpolation._interpolate_some`, with its messages.
    fn interpolate(
        &self,
        section: &str,
        option: &str,
        rawval: &str,
        mut rest: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), String> {
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(format!(
                "Recursion limit exceeded in value substitution: option {} in section {} contains an \
                 interpolation key which cannot be substituted in {MAX_INTERPOLATION_DEPTH} steps. Raw value: {}",
                py_repr(option),
                py_repr(section),
                py_repr(rawval)
            ));
        }
        while !rest.is_empty() {
            let Some((before, after_percent)) = rest.split_once('%') else {
                out.push_str(rest);
                return Ok(());
            };
            out.push_str(before);
            // The text from the `%` on, as the messages quote it.
            let reference = rest.get(before.len()..).unwrap_or_default();
            if let Some(tail) = after_percent.strip_prefix('%') {
                out.push('%');
                rest = tail;
            } else if let Some(inner) = after_percent.strip_prefix('(') {
                // `%\(([^)]+)\)s`
                let var_and_tail = inner
                    .split_once(')')
                    .and_then(|(var, tail)| Some((var, tail.strip_prefix('s')?)))
                    .filter(|(var, _)| !var.is_empty());
                let Some((var, tail)) = var_and_tail else {
                    return Err(format!(
                        "bad interpolation variable reference {}",
                        py_repr(reference)
                    ));
                };
                let var = var.to_lowercase();
                rest = tail;
                let Some(value) = self.entry(section, &var) else {
                    return Err(format!(
                        "Bad value substitution: option {} in section {} contains an interpolation key {} \
                         which is not a valid option name. Raw value: {}",
                        py_repr(option),
                        py_repr(section),
                        py_repr(&var),
                        py_repr(rawval)
                    ));
                };
                if value.value.contains('%') {
                    self.interpolate(section, option, rawval, &value.value, depth + 1, out)?;
                } else {
                    out.push_str(&value.value);
                }
            } else {
                return Err(format!(
                    "'%' must be followed by '%' or '(', found: {}",
                    py_repr(reference)
                ));
            }
        }
        Ok(())
    }
}

/// `[header]` per ConfigParser's `SECTCRE` (`\[(?P<header>.+)\]`, matched at the start only).
fn section_header(value: &str) -> Option<&str> {
    let inner = value.strip_prefix('[')?;
    let (header, _) = inner.rsplit_once(']')?;
    (!header.is_empty()).then_some(header)
}

/// Python's universal newlines: `\r\n`, `\r` and `\n` all end a line.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let line = |start: usize, end: usize| text.get(start..end).unwrap_or_default();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\n' => {
                lines.push(line(start, i));
                start = i + 1;
            }
            b'\r' => {
                lines.push(line(start, i));
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        lines.push(line(start, text.len()));
    }
    lines
}

/// `Path(file).absolute().parent.as_posix()`.
fn here_of(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let parent = absolute.parent().unwrap_or(Path::new("/"));
    let here = parent.to_string_lossy().into_owned();
    if cfg!(windows) {
        here.replace('\\', "/")
    } else {
        here
    }
}

// ---------------------------------------------------------------------------------------------
// pyproject.toml [tool.alembic]
// ---------------------------------------------------------------------------------------------

/// A `[tool.alembic]` value, owned.
#[derive(Debug, Clone, PartialEq)]
enum TomlValue {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<TomlValue>),
    Table(Vec<(String, TomlValue)>),
    /// A float, a date-time or an out-of-range integer: only its type name is kept.
    Other(&'static str),
}

impl TomlValue {
    fn from_de(value: &DeValue<'_>) -> TomlValue {
        match value {
            DeValue::String(s) => TomlValue::Str(s.to_string()),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => TomlValue::Int(n),
                Err(_) => TomlValue::Other("an integer"),
            },
            DeValue::Boolean(b) => TomlValue::Bool(*b),
            DeValue::Array(items) => TomlValue::List(
                items
                    .iter()
                    .map(|v| TomlValue::from_de(v.get_ref()))
                    .collect(),
            ),
            DeValue::Table(t) => TomlValue::Table(
                t.iter()
                    .map(|(k, v)| (k.get_ref().to_string(), TomlValue::from_de(v.get_ref())))
                    .collect(),
            ),
            other => TomlValue::Other(type_name(other)),
        }
    }
}

/// The `[tool.alembic]` table of a pyproject.toml, with each key's line.
#[derive(Debug, Clone)]
pub struct PyprojectAlembic {
    path: PathBuf,
    here: String,
    values: BTreeMap<String, (TomlValue, usize)>,
}

/// Parses a pyproject.toml's text; `Ok(None)` when it has no `[tool.alembic]` table.
fn parse_pyproject(path: &Path, text: &str) -> Result<Option<PyprojectAlembic>, Diagnostic> {
    let root = DeTable::parse(text).map_err(|e| toml_error(path, text, &e))?;
    let incorrect = |span: std::ops::Range<usize>| {
        // Alembic: `raise util.CommandError("Incorrect TOML format")`.
        Diagnostic::error(
            path,
            Some(line_of(text, span.start)),
            "Incorrect TOML format: [tool.alembic] must be a table",
        )
    };
    let Some(tool) = root.get_ref().get("tool") else {
        return Ok(None);
    };
    let DeValue::Table(tool_table) = tool.get_ref() else {
        return Err(incorrect(tool.span()));
    };
    let Some(alembic) = tool_table.get("alembic") else {
        return Ok(None);
    };
    let DeValue::Table(table) = alembic.get_ref() else {
        return Err(incorrect(alembic.span()));
    };
    let values = table
        .iter()
        .map(|(k, v)| {
            (
                k.get_ref().to_string(),
                (
                    TomlValue::from_de(v.get_ref()),
                    line_of(text, k.span().start),
                ),
            )
        })
        .collect();
    Ok(Some(PyprojectAlembic {
        path: path.to_path_buf(),
        here: here_of(path),
        values,
    }))
}

/// Reads a pyproject.toml; `Ok(None)` when it has no `[tool.alembic]` table.
pub fn read_pyproject(path: &Path) -> Result<Option<PyprojectAlembic>, ProjectError> {
    let text = read_config_text(path)?;
    parse_pyproject(path, &text).map_err(ProjectError::Config)
}

/// Whether the pyproject.toml at `path` has a `[tool.alembic]` table (a malformed file is an error).
pub fn pyproject_has_alembic(path: &Path) -> Result<bool, ProjectError> {
    Ok(read_pyproject(path)?.is_some())
}

/// Python's `value % {"here": ...}` for the forms a config value can sensibly hold:
/// `%(name)s` and `%%`.
fn percent_format(value: &str, here: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some((before, after_percent)) = rest.split_once('%') {
        out.push_str(before);
        rest = after_percent;
        if let Some(after) = rest.strip_prefix('%') {
            out.push('%');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('(') {
            let Some((key, after_key)) = after.split_once(')') else {
                return Err("incomplete format key".to_string());
            };
            let Some(tail) = after_key.strip_prefix('s') else {
                return Err(format!(
                    "unsupported format after %({key}); only %({key})s is supported"
                ));
            };
            if key != "here" {
                return Err(format!("unknown substitution key {}", py_repr(key)));
            }
            out.push_str(here);
            rest = tail;
        } else {
            return Err(
                "'%' must be followed by '%' or '(' (write %% for a percent sign)".to_string(),
            );
        }
    }
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The combined configuration
// ---------------------------------------------------------------------------------------------

/// Where a value came from; relative paths in it are resolved against `dir`.
#[derive(Debug, Clone)]
struct Origin {
    path: PathBuf,
    line: Option<usize>,
}

impl Origin {
    fn dir(&self) -> PathBuf {
        std::path::absolute(&self.path)
            .unwrap_or_else(|_| self.path.clone())
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
    fn error(&self, message: impl Into<String>) -> ProjectError {
        ProjectError::Config(Diagnostic::error(&self.path, self.line, message))
    }
}

/// A value as `Config.get_alembic_option` returns it.
#[derive(Debug, Clone, PartialEq)]
enum OptionValue {
    Str(String),
    List(Vec<String>),
    Int(i64),
    Bool(bool),
}

/// Alembic's `Config`: an ini file and/or a pyproject `[tool.alembic]` table.
#[derive(Debug, Clone)]
pub struct AlembicConfig {
    ini: Option<IniFile>,
    section: String,
    toml: Option<PyprojectAlembic>,
}

impl AlembicConfig {
    /// Reads the files; at least one should be given. `section` is the ini section (`alembic`).
    pub fn read(
        ini: Option<&Path>,
        pyproject: Option<&Path>,
        section: &str,
    ) -> Result<AlembicConfig, ProjectError> {
        let ini = ini.map(IniFile::read).transpose()?;
        let toml = match pyproject {
            Some(path) => read_pyproject(path)?,
            None => None,
        };
        Ok(AlembicConfig {
            ini,
            section: section.to_string(),
            toml,
        })
    }

    /// [`AlembicConfig::read`] from texts already in memory, each with the path it names in
    /// errors (and whose folder is `%(here)s`); the fuzz targets parse through this.
    pub fn parse(
        ini: Option<(&Path, &str)>,
        pyproject: Option<(&Path, &str)>,
        section: &str,
    ) -> Result<AlembicConfig, ProjectError> {
        let ini = ini
            .map(|(path, text)| IniFile::parse(path, text, &here_of(path)))
            .transpose()
            .map_err(ProjectError::Config)?;
        let toml = pyproject
            .map(|(path, text)| parse_pyproject(path, text))
            .transpose()
            .map_err(ProjectError::Config)?
            .flatten();
        Ok(AlembicConfig {
            ini,
            section: section.to_string(),
            toml,
        })
    }

    #[cfg(test)]
    fn from_parts(ini: Option<IniFile>, toml: Option<PyprojectAlembic>) -> AlembicConfig {
        AlembicConfig {
            ini,
            section: DEFAULT_INI_SECTION.to_string(),
            toml,
        }
    }

    /// The main configuration file (the ini when there is one).
    pub fn config_path(&self) -> PathBuf {
        match (&self.ini, &self.toml) {
            (Some(ini), _) => ini.path.clone(),
            (None, Some(toml)) => toml.path.clone(),
            (None, None) => PathBuf::new(),
        }
    }

    fn ini_has(&self, name: &str) -> bool {
        self.ini
            .as_ref()
            .is_some_and(|ini| ini.has_option(&self.section, name))
    }

    /// The interpolated ini value of `[section] name`, if present.
    fn ini_get(&self, name: &str) -> Result<Option<(String, Origin)>, ProjectError> {
        let Some(ini) = &self.ini else {
            return Ok(None);
        };
        let Some(entry) = ini.entry(&self.section, name) else {
            return Ok(None);
        };
        let origin = Origin {
            path: ini.path.clone(),
            line: entry.line,
        };
        let value = ini.get(&self.section, name).map_err(ProjectError::Config)?;
        Ok(value.map(|v| (v, origin)))
    }

    /// `Config._get_toml_config_value`: strings and list items get `%(here)s` substituted.
    fn toml_get(&self, name: &str) -> Result<Option<(OptionValue, Origin)>, ProjectError> {
        let Some(toml) = &self.toml else {
            return Ok(None);
        };
        let Some((value, line)) = toml.values.get(name) else {
            return Ok(None);
        };
        let origin = Origin {
            path: toml.path.clone(),
            line: Some(*line),
        };
        let format = |s: &str| {
            percent_format(s, &toml.here)
                .map_err(|e| origin.error(format!("TOML parameter {}: {e}", py_repr(name))))
        };
        let value = match value {
            TomlValue::Str(s) => OptionValue::Str(format(s)?),
            TomlValue::Int(n) => OptionValue::Int(*n),
            TomlValue::Bool(b) => OptionValue::Bool(*b),
            TomlValue::List(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        TomlValue::Str(s) => out.push(format(s)?),
                        _ => {
                            return Err(origin.error(format!(
                                "TOML parameter {} must be a list of strings",
                                py_repr(name)
                            )));
                        }
                    }
                }
                OptionValue::List(out)
            }
            TomlValue::Table(_) | TomlValue::Other(_) => {
                return Err(origin.error(format!(
                    "unsupported TOML value type for key: {}",
                    py_repr(name)
                )));
            }
        };
        Ok(Some((value, origin)))
    }

    /// `Config.get_alembic_option`: the ini section first, then `[tool.alembic]`.
    fn get_alembic_option(
        &self,
        name: &str,
    ) -> Result<Option<(OptionValue, Origin)>, ProjectError> {
        if self.ini_has(name) {
            return Ok(self.ini_get(name)?.map(|(v, o)| (OptionValue::Str(v), o)));
        }
        self.toml_get(name)
    }

    /// A string option; a TOML value of another type is an error.
    fn get_string_option(&self, name: &str) -> Result<Option<(String, Origin)>, ProjectError> {
        match self.get_alembic_option(name)? {
            None => Ok(None),
            Some((OptionValue::Str(s), origin)) => Ok(Some((s, origin))),
            Some((_, origin)) => {
                Err(origin.error(format!("TOML parameter {} must be a string", py_repr(name))))
            }
        }
    }

    /// `Config.get_alembic_boolean_option`: the ini value must be exactly `true`; a TOML value
    /// must be a boolean.
    fn get_alembic_boolean_option(&self, name: &str) -> Result<bool, ProjectError> {
        if self.ini_has(name) {
            return Ok(self.ini_get(name)?.is_some_and(|(v, _)| v == "true"));
        }
        let Some(toml) = &self.toml else {
            return Ok(false);
        };
        match toml.values.get(name) {
            None => Ok(false),
            Some((TomlValue::Bool(b), _)) => Ok(*b),
            Some((_, line)) => Err(ProjectError::Config(Diagnostic::error(
                &toml.path,
                Some(*line),
                format!(
                    "boolean value expected for TOML parameter {}",
                    py_repr(name)
                ),
            ))),
        }
    }

    /// `Config._get_file_separator_char`: the first of `names` present in the ini section.
    fn file_separator(&self, names: &[&str]) -> Result<Option<String>, ProjectError> {
        for name in names {
            if let Some((value, origin)) = self.ini_get(name)? {
                let sep = match value.as_str() {
                    "space" => " ",
                    "newline" => "\n",
                    "os" => {
                        if cfg!(windows) {
                            ";"
                        } else {
                            ":"
                        }
                    }
                    ":" => ":",
                    ";" => ";",
                    _ => {
                        return Err(origin.error(format!(
                            "'{value}' is not a valid value for {name}; expected 'space', 'newline', 'os', ':', ';'"
                        )));
                    }
                };
                return Ok(Some(sep.to_string()));
            }
        }
        Ok(None)
    }

    /// `Config.get_version_locations_list`, unresolved.
    fn version_locations_list(&self) -> Result<Option<(Vec<String>, Origin)>, ProjectError> {
        if let Some((value, origin)) = self.ini_get("version_locations")?
            && !value.is_empty()
        {
            let list = match self.file_separator(&["path_separator", "version_path_separator"])? {
                // Legacy (deprecated) splitting: `re.split(r", *|(?: +)", value)`.
                None => legacy_split(&value, false),
                Some(sep) => split_on(&value, &sep),
            };
            return Ok(Some((list, origin)));
        }
        self.toml_list("version_locations")
    }

    /// `Config.get_prepend_sys_paths_list`, unresolved.
    fn prepend_sys_paths_list(&self) -> Result<Option<(Vec<String>, Origin)>, ProjectError> {
        if let Some((value, origin)) = self.ini_get("prepend_sys_path")?
            && !value.is_empty()
        {
            let list = match self.file_separator(&["path_separator"])? {
                // Legacy: `re.split(r", *|(?: +)|\:", value)`.
                None => legacy_split(&value, true),
                Some(sep) => split_on(&value, &sep),
            };
            return Ok(Some((list, origin)));
        }
        self.toml_list("prepend_sys_path")
    }

    fn toml_list(&self, name: &str) -> Result<Option<(Vec<String>, Origin)>, ProjectError> {
        match self.toml_get(name)? {
            None => Ok(None),
            Some((OptionValue::List(items), origin)) => Ok(Some((items, origin))),
            Some((_, origin)) => Err(origin.error(format!(
                "TOML parameter {} must be a list of strings",
                py_repr(name)
            ))),
        }
    }

    /// The settings, in the order `ScriptDirectory.from_config` reads them (so the first
    /// problem Alembic would meet is the one reported).
    pub fn settings(&self) -> Result<ProjectSettings, ProjectError> {
        let config_path = self.config_path();
        let Some((script_location, script_origin)) = self.get_string_option("script_location")?
        else {
            return Err(ProjectError::Config(Diagnostic::error(
                &config_path,
                None,
                "No 'script_location' key found in configuration.",
            )));
        };

        let truncate_slug_length = match self.get_alembic_option("truncate_slug_length")? {
            None => None,
            Some((value, origin)) => {
                let n = match value {
                    OptionValue::Int(n) => n,
                    OptionValue::Str(s) => python_int(&s).ok_or_else(|| {
                        origin.error(format!(
                            "truncate_slug_length: invalid literal for int() with base 10: {}",
                            py_repr(&s)
                        ))
                    })?,
                    _ => return Err(origin.error("truncate_slug_length must be an integer")),
                };
                if n < 0 {
                    return Err(origin.error(format!(
                        "truncate_slug_length must not be negative, got {n}"
                    )));
                }
                // `self.truncate_slug_length = truncate_slug_length or 40`: 0 means the default.
                (n > 0).then_some(n as usize)
            }
        };

        let prepend_sys_path: Vec<PathBuf> = match self.prepend_sys_paths_list()? {
            None => Vec::new(),
            Some((items, origin)) => {
                let dir = origin.dir();
                items.iter().map(|item| clean_join(&dir, item)).collect()
            }
        };

        let recursive_version_locations =
            self.get_alembic_boolean_option("recursive_version_locations")?;
        let script_location = resolve_location(
            &script_location,
            &script_origin,
            &prepend_sys_path,
            "script_location",
        )?;
        let file_template = self
            .get_string_option("file_template")?
            .map(|(s, _)| s)
            .unwrap_or_else(|| ProjectSettings::DEFAULT_FILE_TEMPLATE.to_string());
        let sourceless = self.get_alembic_boolean_option("sourceless")?;

        let version_locations = match self.version_locations_list()? {
            // `if self.version_locations:` an empty list falls back to the default.
            Some((items, origin)) if !items.is_empty() => items
                .iter()
                .map(|item| resolve_location(item, &origin, &prepend_sys_path, "version_locations"))
                .collect::<Result<Vec<_>, _>>()?,
            _ => vec![script_location.join("versions")],
        };
        let timezone = self.get_string_option("timezone")?.map(|(s, _)| s);

        // env.py reads the URL with `config.get_main_option("sqlalchemy.url")`: ini only.
        let (url, url_line) = if self
            .ini
            .as_ref()
            .is_some_and(|ini| ini.has_section(&self.section))
        {
            match self.ini_get("sqlalchemy.url")? {
                Some((url, origin)) => (Some(url), origin.line),
                None => (None, None),
            }
        } else {
            (None, None)
        };

        // `util.asbool(config.get_alembic_option("revision_environment"))`.
        let revision_environment = match self.get_alembic_option("revision_environment")? {
            None => false,
            Some((OptionValue::Bool(b), _)) => b,
            Some((OptionValue::Int(n), _)) => n != 0,
            Some((OptionValue::List(items), _)) => !items.is_empty(),
            Some((OptionValue::Str(s), origin)) => match s.trim().to_lowercase().as_str() {
                "true" | "yes" | "on" | "y" | "t" | "1" => true,
                "false" | "no" | "off" | "n" | "f" | "0" => false,
                other => {
                    return Err(origin.error(format!(
                        "revision_environment: String is not true/false: {}",
                        py_repr(other)
                    )));
                }
            },
        };

        Ok(ProjectSettings {
            script_location: Some(script_location),
            version_locations,
            recursive_version_locations,
            sourceless,
            file_template,
            truncate_slug_length,
            url,
            url_line,
            version_table: ProjectSettings::DEFAULT_VERSION_TABLE.to_string(),
            version_table_schema: None,
            prepend_sys_path,
            timezone,
            revision_environment,
        })
    }
}

/// Reads Alembic settings from an ini file and/or a pyproject.toml (`section` is the ini
/// section, normally [`DEFAULT_INI_SECTION`]).
pub fn read_alembic_settings(
    ini: Option<&Path>,
    pyproject: Option<&Path>,
    section: &str,
) -> Result<ProjectSettings, ProjectError> {
    AlembicConfig::read(ini, pyproject, section)?.settings()
}

/// `[x.strip() for x in value.split(sep) if x]`.
fn split_on(value: &str, sep: &str) -> Vec<String> {
    value
        .split(sep)
        .filter(|x| !x.is_empty())
        .map(|x| x.trim().to_string())
        .collect()
}

/// `re.split(r", *|(?: +)", value)` (with `|\:` added when `colon`): no stripping, empty
/// pieces kept.
fn legacy_split(value: &str, colon: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' || c == ' ' || (colon && c == ':') {
            if c != ':' {
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            out.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    out.push(current);
    out
}

/// `util.coerce_resource_to_filename` plus Retort's resolution of relative paths against the
/// folder of the configuration file (see the module docs).
fn resolve_location(
    value: &str,
    origin: &Origin,
    sys_path: &[PathBuf],
    key: &str,
) -> Result<PathBuf, ProjectError> {
    if !Path::new(value).is_absolute() && value.contains(':') {
        let mut tokens = value.split(':');
        let package = tokens.next().unwrap_or_default();
        let rest: Vec<&str> = tokens.collect();
        if !package.is_empty() {
            let package_dir = package.replace('.', "/");
            for entry in sys_path {
                let candidate = entry.join(&package_dir);
                if candidate.is_dir() {
                    let mut path = candidate;
                    for token in rest.iter().filter(|t| !t.is_empty()) {
                        path.push(token);
                    }
                    return Ok(path);
                }
            }
        }
        return Err(origin.error(format!(
            "{key} {} is a package resource ('package:path'); Retort resolves these only for packages \
             found in a prepend_sys_path folder, and '{package}' is not one. Installed packages are not \
             supported yet: write the location as a path (e.g. %(here)s/migrations) instead",
            py_repr(value)
        )));
    }
    Ok(clean_join(&origin.dir(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: &str = "/proj";

    fn ini(text: &str) -> IniFile {
        IniFile::parse(Path::new("/proj/alembic.ini"), text, HERE).unwrap()
    }

    fn ini_err(text: &str) -> Diagnostic {
        IniFile::parse(Path::new("/proj/alembic.ini"), text, HERE).unwrap_err()
    }

    fn get(file: &IniFile, key: &str) -> Option<String> {
        file.get("alembic", key).unwrap()
    }

    fn config(ini_text: Option<&str>, toml_text: Option<&str>) -> AlembicConfig {
        let ini =
            ini_text.map(|t| IniFile::parse(Path::new("/proj/alembic.ini"), t, HERE).unwrap());
        let toml =
            toml_text.and_then(|t| parse_pyproject(Path::new("/proj/pyproject.toml"), t).unwrap());
        AlembicConfig::from_parts(ini, toml)
    }

    fn settings(
        ini_text: Option<&str>,
        toml_text: Option<&str>,
    ) -> Result<ProjectSettings, ProjectError> {
        config(ini_text, toml_text).settings()
    }

    fn config_error(result: Result<ProjectSettings, ProjectError>) -> Diagnostic {
        match result {
            Err(ProjectError::Config(d)) => d,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    // Expected values below were produced by Python 3.11's configparser.ConfigParser with
    // defaults {"here": "/proj"} (what Alembic constructs), reading the same text.

    #[test]
    fn basic_values_keys_and_delimiters() {
        let f = ini(
            "[alembic]\nScript_Location = %(here)s/migrations\nsqlalchemy.url: sqlite:///x.db\n  \
             \n# comment\n; comment\nfile_template=%%(rev)s_x\nempty =\n",
        );
        assert_eq!(
            get(&f, "script_location").as_deref(),
            Some("/proj/migrations")
        );
        assert_eq!(
            get(&f, "SCRIPT_LOCATION").as_deref(),
            Some("/proj/migrations")
        );
        assert_eq!(get(&f, "sqlalchemy.url").as_deref(), Some("sqlite:///x.db"));
        assert_eq!(get(&f, "file_template").as_deref(), Some("%(rev)s_x"));
        assert_eq!(get(&f, "empty").as_deref(), Some(""));
        assert_eq!(get(&f, "missing"), None);
        assert_eq!(
            f.get_raw("alembic", "script_location"),
            Some("%(here)s/migrations")
        );
    }

    #[test]
    fn first_delimiter_wins_and_inline_comments_are_kept() {
        let f = ini("[alembic]\na:b = c\nd = e:f # not a comment\ng=h;i\n");
        assert_eq!(get(&f, "a").as_deref(), Some("b = c"));
        assert_eq!(get(&f, "d").as_deref(), Some("e:f # not a comment"));
        assert_eq!(get(&f, "g").as_deref(), Some("h;i"));
    }

    #[test]
    fn multi_line_values() {
        // Python: {'version_locations': '\n/a\n/b\n\n/c', 'x': 'one\ntwo'}; a comment inside a
        // value is dropped, a blank line kept, trailing blank lines stripped.
        let f = ini(
            "[alembic]\nversion_locations =\n    /a\n    /b\n    # gone\n\n    /c\n\nx = one\n  two\n\n\n[other]\ny = 1\n",
        );
        assert_eq!(
            get(&f, "version_locations").as_deref(),
            Some("\n/a\n/b\n\n/c")
        );
        assert_eq!(get(&f, "x").as_deref(), Some("one\ntwo"));
        assert_eq!(f.get("other", "y").unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn indented_option_needs_deeper_continuation() {
        // Python: {'a': '1\nb = 2', 'c': '3'}: a line indented deeper than the option line
        // continues it, whatever it holds.
        let f = ini("[alembic]\na = 1\n  b = 2\nc = 3\n");
        assert_eq!(get(&f, "a").as_deref(), Some("1\nb = 2"));
        assert_eq!(get(&f, "c").as_deref(), Some("3"));
        // An indented section header under an option is a continuation line.
        let f = ini("[alembic]\na = 1\n [x]\n");
        assert_eq!(get(&f, "a").as_deref(), Some("1\n[x]"));
        assert!(!f.has_section("x"));
    }

    #[test]
    fn default_section_and_here() {
        let f = ini("[DEFAULT]\nbase = %(here)s/db\n[alembic]\nscript_location = %(base)s/mig\n");
        assert_eq!(get(&f, "script_location").as_deref(), Some("/proj/db/mig"));
        assert_eq!(get(&f, "base").as_deref(), Some("/proj/db"));
        assert!(f.has_option("alembic", "here"));
        assert!(!f.has_option("nosuch", "here"));
        // A section value overrides DEFAULT, including `here`.
        let f = ini("[alembic]\nhere = /elsewhere\nscript_location = %(here)s/m\n");
        assert_eq!(get(&f, "script_location").as_deref(), Some("/elsewhere/m"));
        // The [DEFAULT] header may repeat.
        let f = ini("[DEFAULT]\na = 1\n[alembic]\n[DEFAULT]\nb = 2\n");
        assert_eq!(get(&f, "b").as_deref(), Some("2"));
    }

    #[test]
    fn section_header_forms() {
        let f = ini("[alembic] trailing text\nx = 1\n[a]b]\ny = 2\n");
        assert_eq!(get(&f, "x").as_deref(), Some("1"));
        assert_eq!(f.get("a]b", "y").unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn line_endings() {
        let f = ini("[alembic]\r\na = 1\r\n  2\rb = 3");
        assert_eq!(get(&f, "a").as_deref(), Some("1\n2"));
        assert_eq!(get(&f, "b").as_deref(), Some("3"));
    }

    #[test]
    fn interpolation_errors_name_the_line() {
        let f =
            ini("[alembic]\nok = 1\nbad = %(nope)s\nsyntax = 50%\nref = %(x\nloop = %(loop)s\n");
        let d = f.get("alembic", "bad").unwrap_err();
        assert_eq!(
            (d.line, d.path.clone()),
            (Some(3), PathBuf::from("/proj/alembic.ini"))
        );
        assert_eq!(
            d.message,
            "Bad value substitution: option 'bad' in section 'alembic' contains an interpolation key 'nope' \
             which is not a valid option name. Raw value: '%(nope)s'"
        );
        let d = f.get("alembic", "syntax").unwrap_err();
        assert_eq!(d.line, Some(4));
        assert_eq!(d.message, "'%' must be followed by '%' or '(', found: '%'");
        let d = f.get("alembic", "ref").unwrap_err();
        assert_eq!(d.message, "bad interpolation variable reference '%(x'");
        let d = f.get("alembic", "loop").unwrap_err();
        assert!(
            d.message
                .starts_with("Recursion limit exceeded in value substitution: option 'loop'"),
            "{}",
            d.message
        );
        // Unread options are never interpolated.
        assert_eq!(get(&f, "ok").as_deref(), Some("1"));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let d = ini_err("a = 1\n[alembic]\n");
        assert_eq!(d.line, Some(1));
        assert!(
            d.message.starts_with("File contains no section headers"),
            "{}",
            d.message
        );
        let d = ini_err("[alembic]\nx = 1\n[alembic]\n");
        assert_eq!(
            (d.line, d.message.as_str()),
            (Some(3), "section 'alembic' already exists")
        );
        let d = ini_err("[alembic]\nx = 1\nX = 2\n");
        assert_eq!(
            (d.line, d.message.as_str()),
            (Some(3), "option 'x' in section 'alembic' already exists")
        );
        let d = ini_err("[alembic]\njust words\nx = 1\n= novalue\n");
        assert_eq!(d.line, Some(2));
        assert_eq!(
            d.message,
            "Source contains parsing errors: [line 2]: 'just words', [line 4]: '= novalue'"
        );
        // As in ConfigParser, a duplicate raises at once, before earlier bad lines are reported.
        let d = ini_err("[alembic]\njunk\nx = 1\nx = 2\n");
        assert_eq!(d.line, Some(4));
        // An empty header is not a section header.
        assert_eq!(ini_err("[]\n").line, Some(1));
    }

    /// `version_locations` splitting; expected lists from alembic 1.20.1's
    /// `Config.get_version_locations_list()` on Linux (`os` = `:`).
    #[test]
    fn version_locations_splitting_matches_alembic() {
        let cases: &[(&str, &[&str])] = &[
            ("version_locations = a b\n", &["a", "b"]),
            ("version_locations = a, b,c\n", &["a", "b", "c"]),
            ("version_locations = a , b\n", &["a", "", "b"]),
            ("version_locations = a,\n", &["a", ""]),
            ("version_locations = a\n  b\n", &["a\nb"]),
            (
                "path_separator = os\nversion_locations = a:b: c\n",
                &["a", "b", "c"],
            ),
            (
                "path_separator = :\nversion_locations = a::b\n",
                &["a", "b"],
            ),
            (
                "path_separator = ;\nversion_locations = a b;c\n",
                &["a b", "c"],
            ),
            (
                "path_separator = ;\nversion_locations = a; ;b\n",
                &["a", "", "b"],
            ),
            (
                "path_separator = space\nversion_locations = a  b\n",
                &["a", "b"],
            ),
            (
                "path_separator = newline\nversion_locations =\n  a b\n  c\n",
                &["a b", "c"],
            ),
            (
                "version_path_separator = ;\nversion_locations = a;b c\n",
                &["a", "b c"],
            ),
            (
                "path_separator = newline\nversion_path_separator = ;\nversion_locations = a;b\n",
                &["a;b"],
            ),
        ];
        for (text, expected) in cases {
            let c = config(
                Some(&format!("[alembic]\nscript_location = s\n{text}")),
                None,
            );
            let (list, _) = c.version_locations_list().unwrap().unwrap();
            assert_eq!(list, *expected, "{text:?}");
        }
    }

    #[test]
    fn prepend_sys_path_splitting_matches_alembic() {
        let cases: &[(&str, &[&str])] = &[
            ("prepend_sys_path = .\n", &["."]),
            ("prepend_sys_path = a:b c,d\n", &["a", "b", "c", "d"]),
            (
                "path_separator = os\nprepend_sys_path = a:b c\n",
                &["a", "b c"],
            ),
            // version_path_separator does not apply to prepend_sys_path.
            (
                "version_path_separator = ;\nprepend_sys_path = a;b\n",
                &["a;b"],
            ),
        ];
        for (text, expected) in cases {
            let c = config(
                Some(&format!("[alembic]\nscript_location = s\n{text}")),
                None,
            );
            let (list, _) = c.prepend_sys_paths_list().unwrap().unwrap();
            assert_eq!(list, *expected, "{text:?}");
        }
    }

    #[test]
    fn invalid_separator_uses_alembic_text() {
        let d = config_error(settings(
            Some(
                "[alembic]\nscript_location = s\npath_separator = comma\nversion_locations = a,b\n",
            ),
            None,
        ));
        assert_eq!(
            d.message,
            "'comma' is not a valid value for path_separator; expected 'space', 'newline', 'os', ':', ';'"
        );
        assert_eq!(d.line, Some(3));
        let d = config_error(settings(
            Some(
                "[alembic]\nscript_location = s\nversion_path_separator = x\nversion_locations = a,b\n",
            ),
            None,
        ));
        assert!(
            d.message
                .starts_with("'x' is not a valid value for version_path_separator;"),
            "{}",
            d.message
        );
        // Not consulted when nothing needs splitting.
        assert!(
            settings(
                Some("[alembic]\nscript_location = s\npath_separator = comma\n"),
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn settings_from_the_generic_template() {
        let s = settings(
            Some(
                "[alembic]\nscript_location = %(here)s/alembic\nprepend_sys_path = .\npath_separator = os\n\
                 sqlalchemy.url = driver://user:pass@localhost/dbname\n\n[loggers]\nkeys = root\n\n\
                 [formatter_generic]\nformat = %(levelname)-5.5s [%(name)s] %(message)s\n",
            ),
            None,
        )
        .unwrap();
        assert_eq!(s.script_location, Some(PathBuf::from("/proj/alembic")));
        assert_eq!(
            s.version_locations,
            vec![PathBuf::from("/proj/alembic/versions")]
        );
        assert_eq!(s.prepend_sys_path, vec![PathBuf::from("/proj")]);
        assert_eq!(
            s.url.as_deref(),
            Some("driver://user:pass@localhost/dbname")
        );
        assert_eq!(s.file_template, "%(rev)s_%(slug)s");
        assert_eq!(s.truncate_slug_length, None);
        assert_eq!(s.version_table, "alembic_version");
        assert_eq!(s.version_table_schema, None);
        assert_eq!(s.timezone, None);
        assert!(!s.recursive_version_locations && !s.sourceless && !s.revision_environment);
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let s = settings(
            Some("[alembic]\nscript_location = ./mig\nversion_locations = v1 /abs/v2 ../v3\n"),
            None,
        )
        .unwrap();
        assert_eq!(s.script_location, Some(PathBuf::from("/proj/mig")));
        assert_eq!(
            s.version_locations,
            vec![
                PathBuf::from("/proj/v1"),
                PathBuf::from("/abs/v2"),
                PathBuf::from("/proj/../v3")
            ]
        );
    }

    #[test]
    fn missing_script_location() {
        let d = config_error(settings(Some("[alembic]\nsqlalchemy.url = x\n"), None));
        assert_eq!(
            d.message,
            "No 'script_location' key found in configuration."
        );
        assert_eq!(d.path, PathBuf::from("/proj/alembic.ini"));
        // No [alembic] section at all: same error (Alembic falls through to the TOML table).
        let d = config_error(settings(Some("[other]\nscript_location = x\n"), None));
        assert_eq!(
            d.message,
            "No 'script_location' key found in configuration."
        );
        let d = config_error(settings(None, Some("[tool.alembic]\nsourceless = false\n")));
        assert_eq!(d.path, PathBuf::from("/proj/pyproject.toml"));
    }

    #[test]
    fn booleans() {
        let s = settings(
            Some("[alembic]\nscript_location = s\nsourceless = True\nrecursive_version_locations = true\n\
                  revision_environment = Yes\n"),
            None,
        )
        .unwrap();
        // `get_alembic_boolean_option` wants exactly "true"; `asbool` is lenient.
        assert!(!s.sourceless);
        assert!(s.recursive_version_locations);
        assert!(s.revision_environment);
        let d = config_error(settings(
            Some("[alembic]\nscript_location = s\nrevision_environment = maybe\n"),
            None,
        ));
        assert!(
            d.message.contains("String is not true/false: 'maybe'"),
            "{}",
            d.message
        );
        assert_eq!(d.line, Some(3));
        let d = config_error(settings(
            None,
            Some("[tool.alembic]\nscript_location = \"s\"\nsourceless = \"true\"\n"),
        ));
        assert_eq!(
            d.message,
            "boolean value expected for TOML parameter 'sourceless'"
        );
        assert_eq!(d.line, Some(3));
        let s = settings(None, Some("[tool.alembic]\nscript_location = \"s\"\nsourceless = true\nrevision_environment = true\n"))
            .unwrap();
        assert!(s.sourceless && s.revision_environment);
    }

    #[test]
    fn truncate_slug_length() {
        let get = |v: &str| {
            settings(
                Some(&format!(
                    "[alembic]\nscript_location = s\ntruncate_slug_length = {v}\n"
                )),
                None,
            )
        };
        assert_eq!(get("20").unwrap().truncate_slug_length, Some(20));
        assert_eq!(get(" +2_0").unwrap().truncate_slug_length, Some(20));
        assert_eq!(get("0").unwrap().truncate_slug_length, None);
        let d = config_error(get("forty"));
        assert_eq!(
            d.message,
            "truncate_slug_length: invalid literal for int() with base 10: 'forty'"
        );
        assert_eq!(d.line, Some(3));
        assert!(get("-3").is_err());
        let s = settings(
            None,
            Some("[tool.alembic]\nscript_location = \"s\"\ntruncate_slug_length = 12\n"),
        )
        .unwrap();
        assert_eq!(s.truncate_slug_length, Some(12));
    }

    /// `int()` has no bound in Python: a slug length beyond i64 is no limit, as in alembic,
    /// not the "invalid literal" this configuration reader once said (the revision map's copy
    /// of `python_int` saturated; the one left does).
    #[test]
    fn truncate_slug_length_beyond_i64() {
        let s = settings(
            Some("[alembic]\nscript_location = s\ntruncate_slug_length = 99999999999999999999\n"),
            None,
        )
        .unwrap();
        assert_eq!(s.truncate_slug_length, Some(i64::MAX as usize));
        let d = config_error(settings(
            Some("[alembic]\nscript_location = s\ntruncate_slug_length = -99999999999999999999\n"),
            None,
        ));
        assert_eq!(
            d.message,
            format!(
                "truncate_slug_length must not be negative, got {}",
                -i64::MAX
            )
        );
    }

    /// Messages quote as Python's `repr` does, with the one `py_repr` the templates use: a
    /// no-break space or a zero-width space is escaped (this module's copy printed them as
    /// they are).
    #[test]
    fn messages_quote_non_printable_characters_as_python() {
        let d = ini_err("[a]\nx = 1\nz\u{a0}w\n");
        assert!(d.message.contains("'z\\xa0w'"), "{}", d.message);
        let d = ini_err("[a]\nx\u{200b} = 1\nX\u{200b} = 2\n");
        assert_eq!(d.message, "option 'x\\u200b' in section 'a' already exists");
    }

    #[test]
    fn pyproject_values_and_here() {
        let s = settings(
            None,
            Some(
                "[project]\nname = \"x\"\n[tool.alembic]\nscript_location = \"%(here)s/alembic\"\n\
                 version_locations = [\"%(here)s/v1\", \"v2\"]\nprepend_sys_path = [\".\"]\n\
                 file_template = \"%%(rev)s\"\ntimezone = \"UTC\"\nrecursive_version_locations = true\n",
            ),
        )
        .unwrap();
        assert_eq!(s.script_location, Some(PathBuf::from("/proj/alembic")));
        assert_eq!(
            s.version_locations,
            vec![PathBuf::from("/proj/v1"), PathBuf::from("/proj/v2")]
        );
        assert_eq!(s.prepend_sys_path, vec![PathBuf::from("/proj")]);
        assert_eq!(s.file_template, "%(rev)s");
        assert_eq!(s.timezone.as_deref(), Some("UTC"));
        assert!(s.recursive_version_locations);
        assert_eq!(s.url, None);
    }

    #[test]
    fn ini_takes_priority_key_by_key() {
        let s = settings(
            Some("[alembic]\nscript_location = from_ini\nsqlalchemy.url = sqlite://\n"),
            Some("[tool.alembic]\nscript_location = \"from_toml\"\nfile_template = \"%%(rev)s\"\nversion_locations = [\"tv\"]\n"),
        )
        .unwrap();
        assert_eq!(s.script_location, Some(PathBuf::from("/proj/from_ini")));
        assert_eq!(s.file_template, "%(rev)s");
        assert_eq!(s.version_locations, vec![PathBuf::from("/proj/tv")]);
        // An empty ini version_locations falls through to the TOML list.
        let s = settings(
            Some("[alembic]\nscript_location = s\nversion_locations =\n"),
            Some("[tool.alembic]\nversion_locations = [\"tv\"]\n"),
        )
        .unwrap();
        assert_eq!(s.version_locations, vec![PathBuf::from("/proj/tv")]);
    }

    #[test]
    fn pyproject_errors() {
        let d = config_error(settings(
            None,
            Some("[tool.alembic]\nscript_location = \"s\"\nversion_locations = \"v\"\n"),
        ));
        assert!(
            d.message
                .contains("'version_locations' must be a list of strings"),
            "{}",
            d.message
        );
        assert_eq!(d.line, Some(3));
        let d = config_error(settings(
            None,
            Some("[tool.alembic]\nscript_location = \"%(nope)s/s\"\n"),
        ));
        assert!(
            d.message.contains("unknown substitution key 'nope'"),
            "{}",
            d.message
        );
        let d = config_error(settings(
            None,
            Some("[tool.alembic]\nscript_location = 1.5\n"),
        ));
        assert_eq!(
            d.message,
            "unsupported TOML value type for key: 'script_location'"
        );
        let d =
            parse_pyproject(Path::new("/p/pyproject.toml"), "[tool]\nalembic = 3\n").unwrap_err();
        assert!(
            d.message.starts_with("Incorrect TOML format"),
            "{}",
            d.message
        );
        assert_eq!(d.line, Some(2));
        let d =
            parse_pyproject(Path::new("/p/pyproject.toml"), "[tool.alembic]\nx = [\n").unwrap_err();
        assert!(d.message.starts_with("invalid TOML"), "{}", d.message);
        assert!(
            parse_pyproject(Path::new("/p/pyproject.toml"), "[tool.black]\n")
                .unwrap()
                .is_none()
        );
        assert!(
            parse_pyproject(
                Path::new("/p/pyproject.toml"),
                "tool.alembic.script_location = 'x'\n"
            )
            .unwrap()
            .is_some()
        );
    }

    #[test]
    fn package_resource_locations() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("myapp/sub/migrations")).unwrap();
        let ini_path = dir.path().join("alembic.ini");
        std::fs::write(
            &ini_path,
            "[alembic]\nscript_location = myapp.sub:migrations\nprepend_sys_path = .\npath_separator = os\n",
        )
        .unwrap();
        let s = read_alembic_settings(Some(&ini_path), None, DEFAULT_INI_SECTION).unwrap();
        assert_eq!(
            s.script_location,
            Some(dir.path().join("myapp/sub/migrations"))
        );
        std::fs::write(
            &ini_path,
            "[alembic]\nscript_location = installedpkg:migrations\n",
        )
        .unwrap();
        let err = read_alembic_settings(Some(&ini_path), None, DEFAULT_INI_SECTION).unwrap_err();
        assert!(err.to_string().contains("package resource"), "{err}");
    }

    #[test]
    fn reads_files_with_real_here() {
        let dir = tempfile::tempdir().unwrap();
        let ini_path = dir.path().join("alembic.ini");
        std::fs::write(
            &ini_path,
            "\u{feff}[alembic]\nscript_location = %(here)s/mig\n",
        )
        .unwrap();
        let s = read_alembic_settings(Some(&ini_path), None, DEFAULT_INI_SECTION).unwrap();
        assert_eq!(s.script_location, Some(dir.path().join("mig")));
        let other = read_alembic_settings(Some(&ini_path), None, "custom").unwrap_err();
        assert!(
            other.to_string().contains("No 'script_location'"),
            "{other}"
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_ini_text_reads_or_fails_cleanly(text in "(\\[[a-z:]{0,8}\\]|[a-z_.]{0,10} ?[=:] ?[a-z%()/. ]{0,20}|[ \t]+[a-z ]{0,10}|[#;].{0,10}|.{0,20})(\n(\\[[a-z:]{0,8}\\]|[a-z_.]{0,10} ?[=:] ?[a-z%()/. ]{0,20}|[ \t]+[a-z ]{0,10}|.{0,20})){0,12}") {
                if let Ok(ini) = IniFile::parse(Path::new("alembic.ini"), &text, "/p") {
                    for key in ["script_location", "version_locations", "a", "x.y"] {
                        let _ = ini.get("alembic", key);
                    }
                }
            }

            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                let text = String::from_utf8_lossy(&bytes);
                let _ = IniFile::parse(Path::new("alembic.ini"), &text, "/p");
            }
        }
    }
}
