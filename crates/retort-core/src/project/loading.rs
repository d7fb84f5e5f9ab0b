//! Loading a project's revision files in Alembic's load order
//! (`ScriptDirectory._load_revisions`, `Script._list_py_dir`, `Script._from_path`).
//!
//! The order matters: it is the order of Alembic's revision map, which decides the order of
//! heads and the tie-breaks of its topological sort. So:
//!
//! - version locations in configuration order; missing ones skipped;
//! - per location a top-down walk: each folder's files in code-point order, then (only with
//!   `recursive_version_locations`) its subfolders in sorted order, depth first; folders whose
//!   name ends in `__pycache__` contribute no files; symlinked folders are not entered
//!   (`os.walk`'s default);
//! - with `sourceless`, after each folder's files, the entries of its `__pycache__` whose stem
//!   (the name up to the first `.`) is not the stem of a file in the folder;
//! - every listed file is resolved (symlinks followed); one reached twice is skipped with
//!   Alembic's warning, before the name filter, as Alembic does;
//! - Alembic's name filter `(?!\.\#|__init__)(.*\.py)$` (with `sourceless`:
//!   `(?!\.\#|__init__)(.*\.py)(c|o)?$`, a `.pyc` skipped when its `.py` exists, a `.pyo` when
//!   its `.py` or `.pyc` exists); native projects take `*.sql` files not starting with `.#`.
//!
//! Deviations: Alembic lists a `__pycache__` folder's entries in directory order; Retort
//! sorts them. Alembic still walks the subfolders of a `__pycache__` folder; Retort does not.
//! A version location that is a file is ignored by Alembic silently; Retort warns.
//!
//! Python files are read with [`python_revision::read_static`], on a few worker threads (the
//! answers kept in load order); the files it cannot read (computed values, other encodings,
//! compiled files) go to Python in one batch.
//!
//! Speed (thousands of files): each location is resolved once and the file names joined to it
//! (only symlinks are resolved one by one), entry types come with the folder listing, and each
//! file is opened and read once, without a `stat`. Large Alembic projects keep what was read in
//! a cache (see [`header_cache`]): then a file whose stamp has not changed is `stat`ed, not read.

use super::header_cache::{self, Index, Note, Stamp, StatAt};
use super::python_revision::{self, StaticRead};
use super::{
    ConfigFile, Diagnostic, Project, ProjectError, ProjectKind, ProjectSettings, RevisionFile,
    alembic_config, native_config, sql_revision,
};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// Reads the project's settings and all its revision files. Every unreadable revision file is
/// reported (in [`ProjectError::Revisions`]), not just the first.
pub fn load_project(config: &ConfigFile) -> Result<Project, ProjectError> {
    load_project_with_python(config, None)
}

/// [`load_project`], a file that needs Python read by `python` if given (`--python`), else
/// by the project's Python ([`super::python`]): the same one that runs its migrations.
pub fn load_project_with_python(
    config: &ConfigFile,
    python: Option<&Path>,
) -> Result<Project, ProjectError> {
    let cache = HeaderCache {
        file: header_cache::default_file(config.path()),
        min_files: header_cache::MIN_FILES,
    };
    let project_dir = config.path().parent().unwrap_or(Path::new("."));
    load_project_cached(
        config,
        || super::python::find(python, project_dir).ok(),
        &cache,
        &mut CacheStats::default(),
    )
}

/// Where the cache of revision headers is, and from how many files on it is used.
struct HeaderCache {
    file: Option<PathBuf>,
    min_files: usize,
}

/// What the header cache did during one load (for tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct CacheStats {
    /// Files answered from the cache.
    hits: usize,
    /// Files read and recorded for the next load.
    fresh: usize,
    /// Whether the cache file was (re)written.
    written: bool,
}

/// [`load_project`] with the Python lookup injected (called only when a file needs Python),
/// without the header cache.
#[cfg(test)]
fn load_project_with(
    config: &ConfigFile,
    find_python: impl FnOnce() -> Option<PathBuf>,
) -> Result<Project, ProjectError> {
    let cache = HeaderCache {
        file: None,
        min_files: 0,
    };
    load_project_cached(config, find_python, &cache, &mut CacheStats::default())
}

fn load_project_cached(
    config: &ConfigFile,
    find_python: impl FnOnce() -> Option<PathBuf>,
    cache: &HeaderCache,
    stats: &mut CacheStats,
) -> Result<Project, ProjectError> {
    let (kind, settings) = match config {
        ConfigFile::AlembicIni { ini, pyproject } => (
            ProjectKind::Alembic,
            alembic_config::read_alembic_settings(
                Some(ini),
                pyproject.as_deref(),
                alembic_config::DEFAULT_INI_SECTION,
            )?,
        ),
        ConfigFile::Pyproject(pyproject) => (
            ProjectKind::Alembic,
            alembic_config::read_alembic_settings(
                None,
                Some(pyproject),
                alembic_config::DEFAULT_INI_SECTION,
            )?,
        ),
        ConfigFile::RetortToml(path) => (
            ProjectKind::Native,
            native_config::read_native_settings(path)?,
        ),
    };
    let config_path = config.path().to_path_buf();
    if let Some(dir) = &settings.script_location
        && !dir.exists()
    {
        // `ScriptDirectory.__init__`.
        return Err(ProjectError::Config(Diagnostic::error(
            &config_path,
            None,
            format!(
                "Path doesn't exist: {}.  Please use the 'init' command to create a new scripts folder.",
                dir.display()
            ),
        )));
    }

    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    // The header cache (Alembic projects) is read on another thread while the folders are listed.
    let cache_file = cache
        .file
        .as_deref()
        .filter(|_| kind == ProjectKind::Alembic);
    let (files, cache_bytes) = std::thread::scope(|scope| {
        let reader = cache_file.and_then(|file| {
            std::thread::Builder::new()
                .name("retort-cache".into())
                .spawn_scoped(scope, || header_cache::read(file))
                .ok()
        });
        let files = list_revision_files(&settings, kind, &mut warnings, &mut errors);
        let bytes = reader.and_then(|r| r.join().ok()).unwrap_or_default();
        (files, bytes)
    });
    let revisions = match kind {
        ProjectKind::Native => read_sql_files(&files, &mut warnings, &mut errors),
        ProjectKind::Alembic => {
            let cache = cache_file
                .filter(|_| files.len() >= cache.min_files)
                .map(|file| (file, cache_bytes.as_slice()));
            read_python_files(
                &files,
                &settings,
                find_python,
                cache,
                stats,
                &mut warnings,
                &mut errors,
            )
        }
    };

    // `RevisionMap._revision_map`: a later file with the same id replaces the earlier one
    // (the graph builder does that); both stay in `revisions`, in load order.
    let mut seen: rustc_hash::FxHashSet<&str> =
        rustc_hash::FxHashSet::with_capacity_and_hasher(revisions.len(), Default::default());
    for rev in &revisions {
        if !seen.insert(rev.revision.as_str()) {
            warnings.push(Diagnostic::warning(
                &rev.path,
                None,
                format!("Revision {} is present more than once", rev.revision),
            ));
        }
    }

    if !errors.is_empty() {
        return Err(ProjectError::Revisions(errors));
    }
    Ok(Project {
        kind,
        config_path,
        settings,
        revisions,
        warnings,
    })
}

/// One file to read, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Listed {
    /// `.py` or `.sql`.
    Source(PathBuf),
    /// A sourceless `.pyc`/`.pyo`.
    Compiled(PathBuf),
}

/// The revision files in load order (resolved paths), after the name filter.
fn list_revision_files(
    settings: &ProjectSettings,
    kind: ProjectKind,
    warnings: &mut Vec<Diagnostic>,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Listed> {
    let sourceless = kind == ProjectKind::Alembic && settings.sourceless;
    let recursive = settings.recursive_version_locations;
    // The files of every location in load order, resolved (see `walk`).
    let mut found: Vec<Found> = Vec::new();
    // Per location, in order: its files in `found`, or itself when it is not a folder.
    let mut spans: Vec<Result<Range<usize>, &Path>> = Vec::new();
    for location in &settings.version_locations {
        if !location.exists() {
            continue;
        }
        if !location.is_dir() {
            spans.push(Err(location));
            continue;
        }
        // Resolved once here; `walk` joins names to it and resolves only symlinks itself.
        let real_location = fs::canonicalize(location).ok();
        let start = found.len();
        walk(
            location,
            real_location.as_deref(),
            recursive,
            sourceless,
            &mut found,
            errors,
        );
        spans.push(Ok(start..found.len()));
    }

    // Alembic skips a file reached twice, with a warning. Within one location, the files
    // joined to their resolved folder are all different (different names in different
    // folders), so only a second location or a resolved symlink can repeat one.
    let mut repeated = vec![false; found.len()];
    let locations_with_files = spans
        .iter()
        .filter(|span| span.as_ref().is_ok_and(|files| !files.is_empty()))
        .count();
    if locations_with_files > 1 || found.iter().any(|file| file.resolved) {
        let mut seen: HashSet<&Path> = HashSet::with_capacity(found.len());
        for (file, repeated) in found.iter().zip(&mut repeated) {
            *repeated = !seen.insert(&file.path);
        }
    }

    let mut listed = Vec::with_capacity(found.len());
    let mut found = found.into_iter().zip(repeated);
    for span in spans {
        let files = match span {
            Ok(files) => files,
            Err(location) => {
                warnings.push(Diagnostic::warning(
                    location,
                    None,
                    "version location is not a folder; ignored",
                ));
                continue;
            }
        };
        for (file, repeated) in found.by_ref().take(files.len()) {
            let real = file.path;
            if repeated {
                warnings.push(Diagnostic::warning(
                    &real,
                    None,
                    format!(
                        "File {} loaded twice! ignoring. Please ensure version_locations is unique.",
                        real.display()
                    ),
                ));
                continue;
            }
            let candidate = match kind {
                ProjectKind::Alembic => alembic_candidate(real, sourceless),
                ProjectKind::Native => native_candidate(real),
            };
            listed.extend(candidate);
        }
    }
    listed
}

/// A listed file as Alembic's `os.path.realpath` sees it.
struct Found {
    path: PathBuf,
    /// Resolved by `fs::canonicalize` (a symlink, say), rather than joined to its resolved
    /// folder.
    resolved: bool,
}

/// One folder of the walk (`os.walk` top-down, as `Script._list_py_dir` uses it). Pushes the
/// files as Alembic's `os.path.realpath` sees them: `real_dir` is `dir` resolved (`None` if
/// that failed), so a file that is not a symlink is `real_dir` joined with its name, without a
/// `canonicalize` (one `readlink` per path component) for each file.
fn walk(
    dir: &Path,
    real_dir: Option<&Path>,
    recursive: bool,
    sourceless: bool,
    out: &mut Vec<Found>,
    errors: &mut Vec<Diagnostic>,
) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(Diagnostic::error(
                dir,
                None,
                format!("cannot read folder: {e}"),
            ));
            return;
        }
    };
    // (name, needs resolving: a symlink, or of unknown type).
    let mut files: Vec<(OsString, bool)> = Vec::new();
    // (name, is a symlink): `os.walk` lists symlinked folders but does not enter them.
    let mut dirs: Vec<(OsString, bool)> = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(Diagnostic::error(
                    dir,
                    None,
                    format!("cannot read folder: {e}"),
                ));
                continue;
            }
        };
        // The entry's type comes with the listing on most systems (no `stat`); only a symlink
        // needs a `stat`, since `DirEntry.is_dir()` in Python follows symlinks.
        let file_type = entry.file_type().ok();
        let is_symlink = file_type.is_some_and(|t| t.is_symlink());
        let is_dir = match file_type {
            Some(t) if !t.is_symlink() => t.is_dir(),
            _ => fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()),
        };
        if is_dir {
            dirs.push((entry.file_name(), is_symlink));
        } else {
            files.push((entry.file_name(), is_symlink || file_type.is_none()));
        }
    }
    // Names in a folder are unique: an unstable sort gives the same order.
    files.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));

    if !is_pycache(dir) {
        out.extend(files.iter().map(|(name, needs_resolving)| {
            match real_dir.filter(|_| !needs_resolving) {
                Some(real_dir) => Found {
                    path: real_dir.join(name),
                    resolved: false,
                },
                None => resolve(dir.join(name)),
            }
        }));
        if sourceless {
            let pycache = dir.join("__pycache__");
            if pycache.exists() {
                let stems: HashSet<String> = files.iter().map(|(name, _)| stem(name)).collect();
                match fs::read_dir(&pycache) {
                    Ok(entries) => {
                        let mut extra: Vec<OsString> = entries
                            .filter_map(Result::ok)
                            .map(|e| e.file_name())
                            .filter(|name| !stems.contains(&stem(name)))
                            .collect();
                        extra.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
                        out.extend(extra.iter().map(|f| resolve(pycache.join(f))));
                    }
                    Err(e) => errors.push(Diagnostic::error(
                        &pycache,
                        None,
                        format!("cannot read folder: {e}"),
                    )),
                }
            }
        }
    }
    if !recursive {
        return;
    }
    dirs.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    for (name, is_symlink) in dirs {
        let path = dir.join(&name);
        if is_symlink || is_pycache(&path) {
            continue;
        }
        // Not a symlink, so its resolved path is the resolved parent joined with its name.
        let real_path = real_dir.map(|r| r.join(&name));
        walk(
            &path,
            real_path.as_deref(),
            recursive,
            sourceless,
            out,
            errors,
        );
    }
}

/// `os.path.realpath` as far as `fs::canonicalize` goes: the path itself when that fails.
fn resolve(path: PathBuf) -> Found {
    Found {
        path: fs::canonicalize(&path).unwrap_or(path),
        resolved: true,
    }
}

fn is_pycache(dir: &Path) -> bool {
    dir.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with("__pycache__"))
}

/// `Path(filename).name.split(".")[0]`.
fn stem(name: &OsString) -> String {
    let name = name.to_string_lossy();
    name.split('.').next().unwrap_or_default().to_string()
}

/// `Script._from_path`'s filter on the resolved file name.
fn alembic_candidate(real: PathBuf, sourceless: bool) -> Option<Listed> {
    let source = {
        let name = real.file_name()?.to_string_lossy();
        // `(?!\.\#|__init__)`, and `.` does not match a newline.
        if name.starts_with(".#") || name.starts_with("__init__") || name.contains('\n') {
            return None;
        }
        if name.ends_with(".py") {
            true
        } else {
            if !sourceless {
                return None;
            }
            let is_o = name.ends_with(".pyo");
            if !(is_o || name.ends_with(".pyc")) {
                return None;
            }
            let dir = real.parent()?;
            let py_name = &name[..name.len() - 1];
            // Prefer .py over .pyc (for the source encoding) and .pyc over .pyo (for docstrings).
            if dir.join(py_name).exists() || (is_o && dir.join(format!("{py_name}c")).exists()) {
                return None;
            }
            false
        }
    };
    Some(if source {
        Listed::Source(real)
    } else {
        Listed::Compiled(real)
    })
}

fn native_candidate(real: PathBuf) -> Option<Listed> {
    let sql = {
        let name = real.file_name()?.to_string_lossy();
        name.ends_with(".sql") && !name.starts_with(".#")
    };
    sql.then_some(Listed::Source(real))
}

/// The file's bytes; else an error naming it, or a warning when it is not a regular file.
fn read_bytes(
    path: &Path,
    warnings: &mut Vec<Diagnostic>,
    errors: &mut Vec<Diagnostic>,
) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    match read_file(path, &mut bytes, None) {
        Ok(len) => {
            bytes.truncate(len);
            Some(bytes)
        }
        Err(ReadFailure::NotRegular(kind)) => {
            warnings.push(not_regular(path, kind));
            None
        }
        Err(ReadFailure::Io(e)) => {
            errors.push(Diagnostic::error(
                path,
                None,
                format!("cannot read file: {e}"),
            ));
            None
        }
    }
}

/// The warning for a listed file that is not a regular file (a FIFO, socket or device), which
/// is skipped: reading one could wait forever or never end.
fn not_regular(path: &Path, kind: &str) -> Diagnostic {
    Diagnostic::warning(path, None, format!("skipped: {kind}, not a regular file"))
}

/// What a file that is not a regular file is, for [`not_regular`].
fn special_kind(file_type: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
    }
    if file_type.is_dir() {
        return "a folder";
    }
    "a special file"
}

/// The 1-based line of the first byte that is not UTF-8.
fn invalid_utf8_line(bytes: &[u8], error: &std::str::Utf8Error) -> usize {
    bytes[..error.valid_up_to()]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn read_sql_files(
    files: &[Listed],
    warnings: &mut Vec<Diagnostic>,
    errors: &mut Vec<Diagnostic>,
) -> Vec<RevisionFile> {
    let mut revisions = Vec::new();
    for listed in files {
        let (Listed::Source(path) | Listed::Compiled(path)) = listed;
        let Some(bytes) = read_bytes(path, warnings, errors) else {
            continue;
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(e) => {
                errors.push(Diagnostic::error(
                    path,
                    Some(invalid_utf8_line(&bytes, &e)),
                    "file is not valid UTF-8",
                ));
                continue;
            }
        };
        match sql_revision::parse_sql_revision(path, text) {
            Ok(rev) => revisions.push(rev),
            Err(d) => errors.push(d),
        }
    }
    revisions
}

/// A file left to Python, with what to say when there is no Python.
struct Deferred {
    path: PathBuf,
    line: Option<usize>,
    without_python: String,
}

/// One listed file's outcome, kept in load order so that errors are reported in that order.
enum Slot {
    Done(RevisionFile),
    Failed(Diagnostic),
    /// Not a regular file: skipped, with this warning.
    Skipped(Diagnostic),
    /// For Python; `line` and `without_python` say why, for when there is no Python.
    ToPython {
        line: Option<usize>,
        without_python: String,
    },
    /// Given to Python, as the file of this index in `deferred`.
    Deferred(usize),
}

fn read_python_files(
    files: &[Listed],
    settings: &ProjectSettings,
    find_python: impl FnOnce() -> Option<PathBuf>,
    cache: Option<(&Path, &[u8])>,
    stats: &mut CacheStats,
    warnings: &mut Vec<Diagnostic>,
    errors: &mut Vec<Diagnostic>,
) -> Vec<RevisionFile> {
    let cache_file = cache.map(|(file, _)| file);
    let index = Index::parse_read(cache.map_or(&[][..], |(_, bytes)| bytes));
    // Files changed after this (minus the racy window) are not recorded.
    let now = SystemTime::now();
    // Reading and parsing are independent per file: done on a few threads, answered in order.
    let answers = read_all(files, cache_file.map(|_| (&index, now)));
    let (mut slots, notes): (Vec<Option<Slot>>, Vec<Note>) = answers
        .into_iter()
        .map(|answer| match answer {
            Some((slot, note)) => (Some(slot), note),
            None => (None, Note::None),
        })
        .unzip();
    if let Some(cache_file) = cache_file {
        write_cache(cache_file, &index, &notes, stats);
    }
    drop(notes);
    let mut deferred: Vec<Deferred> = Vec::new();
    for (slot, listed) in slots.iter_mut().zip(files) {
        if let Some(Slot::ToPython {
            line,
            without_python,
        }) = slot
        {
            let (Listed::Source(path) | Listed::Compiled(path)) = listed;
            deferred.push(Deferred {
                path: path.clone(),
                line: *line,
                without_python: std::mem::take(without_python),
            });
            *slot = Some(Slot::Deferred(deferred.len() - 1));
        }
    }

    let mut results: Vec<Option<Result<RevisionFile, Diagnostic>>> = Vec::new();
    if !deferred.is_empty() {
        match find_python() {
            Some(python) => {
                let paths: Vec<PathBuf> = deferred.iter().map(|d| d.path.clone()).collect();
                results =
                    python_revision::read_with_python(&python, &paths, &settings.prepend_sys_path)
                        .into_iter()
                        .map(Some)
                        .collect();
            }
            None => {
                results = deferred
                    .iter()
                    .map(|d| {
                        Some(Err(Diagnostic::error(
                            &d.path,
                            d.line,
                            d.without_python.clone(),
                        )))
                    })
                    .collect();
            }
        }
    }

    let mut revisions = Vec::with_capacity(slots.len());
    for (slot, listed) in slots.into_iter().zip(files) {
        match slot {
            Some(Slot::Done(rev)) => revisions.push(rev),
            Some(Slot::Failed(d)) => errors.push(d),
            Some(Slot::Skipped(d)) => warnings.push(d),
            Some(Slot::Deferred(index)) => match results.get_mut(index).and_then(Option::take) {
                Some(Ok(rev)) => revisions.push(rev),
                Some(Err(d)) => errors.push(d),
                None => errors.push(Diagnostic::error(
                    &deferred[index].path,
                    deferred[index].line,
                    "Python gave no answer for this file",
                )),
            },
            // `read_all` answers every file, and every `ToPython` became `Deferred`.
            Some(Slot::ToPython { .. }) | None => {
                let (Listed::Source(path) | Listed::Compiled(path)) = listed;
                errors.push(Diagnostic::error(
                    path,
                    None,
                    "internal error: this file was not read",
                ));
            }
        }
    }
    revisions
}

/// Writes the header cache again when this load found it incomplete or out of date: the
/// entries still valid and the files read afresh, in load order (files gone are dropped).
fn write_cache(file: &Path, index: &Index<'_>, notes: &[Note], stats: &mut CacheStats) {
    let (mut hits, mut fresh) = (0, 0);
    for note in notes {
        match note {
            Note::Hit(_) => hits += 1,
            Note::Fresh(_) => fresh += 1,
            Note::None => {}
        }
    }
    stats.hits = hits;
    stats.fresh = fresh;
    if fresh == 0 && hits == index.len() {
        return;
    }
    let entries = notes.iter().filter_map(|note| match note {
        Note::Hit(n) => Some(index.raw(*n)),
        Note::Fresh(entry) => Some(entry.as_slice()),
        Note::None => None,
    });
    header_cache::write(file, &header_cache::encode_file(entries));
    stats.written = true;
}

/// [`read_one`], answered from the header cache when the file's entry is still valid, and
/// recording the file for the next cache when it had to be read.
fn read_one_cached(
    listed: &Listed,
    guess: usize,
    buffer: &mut Vec<u8>,
    stat: &mut StatAt,
    large_stack: bool,
    cache: Option<(&Index<'_>, SystemTime)>,
) -> (Slot, Note) {
    let (Some((index, now)), Listed::Source(path)) = (cache, listed) else {
        return (read_one(listed, buffer, large_stack, None), Note::None);
    };
    if let Some((rev, n)) = index.lookup(path, guess, stat) {
        return (Slot::Done(rev), Note::Hit(n));
    }
    let mut stamp = None;
    let slot = read_one(listed, buffer, large_stack, Some(&mut stamp));
    let note = match (&slot, stamp) {
        (Slot::Done(rev), Some(stamp)) if rev.sql.is_none() && stamp.settled(now) => {
            Note::Fresh(header_cache::encode_entry(path, &stamp, rev))
        }
        _ => Note::None,
    };
    (slot, note)
}

/// Reads one listed file statically, if it can be: a `.py` file is read into `buffer` (reused
/// from file to file) and parsed; `large_stack` as for
/// [`python_revision::read_static_on_large_stack`]. With `stamp`, the open file's stamp is
/// taken before its bytes are read (for the header cache).
fn read_one(
    listed: &Listed,
    buffer: &mut Vec<u8>,
    large_stack: bool,
    stamp: Option<&mut Option<Stamp>>,
) -> Slot {
    let path = match listed {
        Listed::Source(path) => path,
        Listed::Compiled(path) => {
            // Python reads it; a FIFO or device would hold Python up instead.
            if let Ok(meta) = fs::metadata(path)
                && !meta.is_file()
            {
                return Slot::Skipped(not_regular(path, special_kind(meta.file_type())));
            }
            return Slot::ToPython {
                line: None,
                without_python: "compiled revision file without its source (sourceless = true); \
                                 install Python 3 so Retort can read it"
                    .to_string(),
            };
        }
    };
    let bytes = match read_file(path, buffer, stamp) {
        Ok(len) => &buffer[..len],
        Err(ReadFailure::NotRegular(kind)) => return Slot::Skipped(not_regular(path, kind)),
        Err(ReadFailure::Io(e)) => {
            return Slot::Failed(Diagnostic::error(
                path,
                None,
                format!("cannot read file: {e}"),
            ));
        }
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            return match coding_cookie(bytes) {
                Some((line, encoding)) => Slot::ToPython {
                    line: Some(line),
                    without_python: format!(
                        "the file declares the encoding '{encoding}'; install Python 3 so Retort \
                         can read it, or save it as UTF-8"
                    ),
                },
                None => Slot::Failed(Diagnostic::error(
                    path,
                    Some(invalid_utf8_line(bytes, &e)),
                    "file is not valid UTF-8 (Python reads source files as UTF-8 unless they \
                     declare an encoding)",
                )),
            };
        }
    };
    let read = if large_stack {
        python_revision::read_static_on_large_stack(path, text)
    } else {
        python_revision::read_static(path, text)
    };
    match read {
        Ok(StaticRead::Read(rev)) => Slot::Done(rev),
        Ok(StaticRead::Computed { line, reason }) => Slot::ToPython {
            line: Some(line),
            without_python: format!(
                "value computed at run time ({reason}); install Python 3 so Retort can read it, \
                 or write it as a literal"
            ),
        },
        Err(d) => Slot::Failed(d),
    }
}

/// Why a file was not read.
enum ReadFailure {
    /// Not a regular file (what it is instead): it is skipped, not read.
    NotRegular(&'static str),
    Io(std::io::Error),
}

/// Reads a whole regular file into `buffer` (grown as needed, never shrunk); answers its
/// length. Open without blocking (a FIFO would wait for a writer), then one `fstat` for the
/// file's type (on the open file, so it cannot change in between) and its `stamp`, then read
/// until the end; unlike `fs::read`, no `stat` of the path first.
fn read_file(
    path: &Path,
    buffer: &mut Vec<u8>,
    stamp: Option<&mut Option<Stamp>>,
) -> Result<usize, ReadFailure> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        // A socket cannot be opened at all (ENXIO): say what it is instead.
        Err(e) => {
            return Err(match fs::metadata(path) {
                Ok(meta) if !meta.is_file() => {
                    ReadFailure::NotRegular(special_kind(meta.file_type()))
                }
                _ => ReadFailure::Io(e),
            });
        }
    };
    let (file_stamp, regular) = Stamp::of_file(&file).map_err(ReadFailure::Io)?;
    if !regular {
        let kind = file
            .metadata()
            .map_or("a special file", |meta| special_kind(meta.file_type()));
        return Err(ReadFailure::NotRegular(kind));
    }
    if let Some(stamp) = stamp {
        *stamp = Some(file_stamp);
    }
    let mut len = 0;
    loop {
        if len == buffer.len() {
            buffer.resize((buffer.len() * 2).max(READ_BUFFER), 0);
        }
        match file.read(&mut buffer[len..]) {
            Ok(0) => return Ok(len),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadFailure::Io(e)),
        }
    }
}

/// Worker threads for reading files, at most.
const MAX_WORKERS: usize = 4;
/// Files a worker takes at a time.
const CHUNK: usize = 16;
/// Files per worker below which another thread is not worth starting.
const FILES_PER_WORKER: usize = 32;
/// The read buffer each worker starts with; revision files are rarely larger.
const READ_BUFFER: usize = 64 * 1024;

/// [`read_one`] for every listed file, in the order of `files`.
///
/// A few worker threads, each started once with a stack large enough for the parser, take
/// the files a few at a time, in order, and put each answer in its place.
fn read_all(
    files: &[Listed],
    cache: Option<(&Index<'_>, SystemTime)>,
) -> Vec<Option<(Slot, Note)>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_WORKERS)
        .min(files.len() / FILES_PER_WORKER);
    let mut slots: Vec<Option<(Slot, Note)>> = Vec::with_capacity(files.len());
    slots.resize_with(files.len(), || None);
    let chunks = Mutex::new(files.chunks(CHUNK).zip(slots.chunks_mut(CHUNK)).enumerate());
    let work = |large_stack: bool| {
        let mut buffer = Vec::new();
        let mut stat = StatAt::default();
        // Entry number minus file number at the last hit: the cache's entries follow the
        // files' order, with a gap where a file was not recorded.
        let mut shift = 0isize;
        loop {
            // Nothing panics while the lock is held.
            let next = chunks.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((chunk, (files, slots))) = next else {
                return;
            };
            for (i, (listed, slot)) in files.iter().zip(slots).enumerate() {
                let position = chunk * CHUNK + i;
                let guess = position.saturating_add_signed(shift);
                let answer =
                    read_one_cached(listed, guess, &mut buffer, &mut stat, large_stack, cache);
                if let Note::Hit(n) = answer.1 {
                    shift = n as isize - position as isize;
                }
                *slot = Some(answer);
            }
        }
    };
    std::thread::scope(|scope| {
        // A thread that cannot be started leaves its share to the others.
        let handles: Vec<_> = (0..workers)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("retort-read".into())
                    .stack_size(python_revision::PARSER_STACK)
                    .spawn_scoped(scope, || work(true))
                    .ok()
            })
            .collect();
        if handles.is_empty() {
            // Few files, one CPU, or no thread to be had: this thread reads them all.
            work(false);
        }
        for handle in handles {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    slots
}

/// A PEP 263 coding cookie naming an encoding other than UTF-8 (the reader's own rule,
/// applied to bytes that are not UTF-8).
fn coding_cookie(bytes: &[u8]) -> Option<(usize, String)> {
    python_revision::coding_cookie(&String::from_utf8_lossy(bytes))
        .filter(|(_, name)| !python_revision::is_utf8_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{Severity, find_config};
    use std::process::{Command, Stdio};

    fn write(root: &Path, name: &str, text: impl AsRef<[u8]>) {
        let path = root.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn sql(rev: &str, down: &str) -> String {
        format!(
            "-- revision: {rev}\n-- down_revision: {down}\n-- message: m {rev}\n\n-- migrate:up\nSELECT 1;\n"
        )
    }

    fn py(rev: &str, down: &str) -> String {
        let down = if down.is_empty() {
            "None".to_string()
        } else {
            format!("'{down}'")
        };
        format!(
            "\"\"\"message {rev}\n\nRevision ID: {rev}\nRevises: \nCreate Date: 2026-11-24 14:42:16.219210\n\n\"\"\"\n\
             revision = '{rev}'\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\
             def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
        )
    }

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        (dir, root)
    }

    fn names(revisions: &[RevisionFile], root: &Path) -> Vec<String> {
        revisions
            .iter()
            .map(|r| {
                r.path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    fn listed_names(files: &[Listed], root: &Path) -> Vec<String> {
        files
            .iter()
            .map(|l| {
                let (Listed::Source(p) | Listed::Compiled(p)) = l;
                p.strip_prefix(root).unwrap().to_string_lossy().into_owned()
            })
            .collect()
    }

    fn alembic_settings(
        root: &Path,
        locations: &[&str],
        recursive: bool,
        sourceless: bool,
    ) -> ProjectSettings {
        ProjectSettings {
            script_location: Some(root.join("alembic")),
            version_locations: locations.iter().map(|l| root.join(l)).collect(),
            recursive_version_locations: recursive,
            sourceless,
            file_template: ProjectSettings::DEFAULT_FILE_TEMPLATE.into(),
            truncate_slug_length: None,
            url: None,
            url_line: None,
            version_table: ProjectSettings::DEFAULT_VERSION_TABLE.into(),
            version_table_schema: None,
            prepend_sys_path: vec![],
            timezone: None,
            revision_environment: false,
        }
    }

    fn list(
        settings: &ProjectSettings,
        kind: ProjectKind,
    ) -> (Vec<Listed>, Vec<Diagnostic>, Vec<Diagnostic>) {
        let (mut warnings, mut errors) = (Vec::new(), Vec::new());
        let files = list_revision_files(settings, kind, &mut warnings, &mut errors);
        (files, warnings, errors)
    }

    // ---- native projects -------------------------------------------------------------------

    #[test]
    fn native_project_in_file_name_order() {
        let (_d, root) = root();
        write(&root, "retort.toml", "url = \"sqlite:///x.db\"\n");
        write(&root, "versions/b_second.sql", sql("b2", "a1"));
        write(&root, "versions/a_first.sql", sql("a1", ""));
        write(&root, "versions/B_upper.sql", sql("c3", "b2"));
        write(&root, "versions/.#a_first.sql", "editor lock");
        write(&root, "versions/notes.txt", "not a revision");
        write(&root, "versions/sub/z.sql", "not read: not recursive");
        let config = find_config(None, &root).unwrap();
        let project = load_project(&config).unwrap();
        assert_eq!(project.kind, ProjectKind::Native);
        assert_eq!(project.config_path, root.join("retort.toml"));
        assert_eq!(
            names(&project.revisions, &root),
            [
                "versions/B_upper.sql",
                "versions/a_first.sql",
                "versions/b_second.sql"
            ]
        );
        assert_eq!(project.revisions[1].longdoc, "m a1");
        assert_eq!(project.settings.url.as_deref(), Some("sqlite:///x.db"));
        assert!(project.warnings.is_empty());
    }

    #[test]
    fn native_errors_are_all_collected() {
        let (_d, root) = root();
        write(&root, "retort.toml", "");
        write(&root, "versions/1.sql", sql("a1", ""));
        write(&root, "versions/2.sql", "-- revision: b2\n-- migrate:up\n");
        write(
            &root,
            "versions/3.sql",
            b"-- revision: c3\n-- down_revision: a1\n\xff\n",
        );
        write(&root, "versions/4.sql", sql("d-4", "a1"));
        let err = load_project(&ConfigFile::RetortToml(root.join("retort.toml"))).unwrap_err();
        let ProjectError::Revisions(diagnostics) = err else {
            panic!("{err:?}")
        };
        let got: Vec<(String, Option<usize>)> = diagnostics
            .iter()
            .map(|d| {
                (
                    d.path.file_name().unwrap().to_string_lossy().into_owned(),
                    d.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("2.sql".to_string(), Some(1)),
                ("3.sql".to_string(), Some(3)),
                ("4.sql".to_string(), Some(1))
            ]
        );
        assert!(diagnostics.iter().all(|d| d.severity == Severity::Error));
    }

    #[test]
    fn duplicate_ids_warn_and_keep_both() {
        let (_d, root) = root();
        write(
            &root,
            "retort.toml",
            "versions = [\"v1\", \"v2\", \"missing\"]\n",
        );
        write(&root, "v1/x.sql", sql("a1", ""));
        write(&root, "v2/y.sql", sql("a1", ""));
        let project = load_project(&ConfigFile::RetortToml(root.join("retort.toml"))).unwrap();
        assert_eq!(names(&project.revisions, &root), ["v1/x.sql", "v2/y.sql"]);
        assert_eq!(project.warnings.len(), 1);
        assert_eq!(
            project.warnings[0].message,
            "Revision a1 is present more than once"
        );
        assert_eq!(project.warnings[0].path, root.join("v2/y.sql"));
        assert_eq!(project.warnings[0].severity, Severity::Warning);
    }

    #[test]
    fn same_folder_twice_warns_per_file() {
        let (_d, root) = root();
        write(
            &root,
            "retort.toml",
            "versions = [\"versions\", \"./versions\", \"link\"]\n",
        );
        write(&root, "versions/a.sql", sql("a1", ""));
        std::os::unix::fs::symlink(root.join("versions"), root.join("link")).unwrap();
        let project = load_project(&ConfigFile::RetortToml(root.join("retort.toml"))).unwrap();
        assert_eq!(names(&project.revisions, &root), ["versions/a.sql"]);
        let expected = format!(
            "File {} loaded twice! ignoring. Please ensure version_locations is unique.",
            root.join("versions/a.sql").display()
        );
        assert_eq!(
            project
                .warnings
                .iter()
                .map(|w| w.message.clone())
                .collect::<Vec<_>>(),
            [expected.clone(), expected]
        );
    }

    #[test]
    fn demo_project_loads() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo");
        if !demo.join("retort.toml").exists() {
            return;
        }
        let project = load_project(&find_config(Some(&demo), Path::new("/")).unwrap()).unwrap();
        assert_eq!(project.revisions.len(), 10);
        assert!(project.warnings.is_empty());
        let merge = project
            .revisions
            .iter()
            .find(|r| r.revision == "7a5be04c9f12")
            .unwrap();
        assert_eq!(merge.down_revision, ["5e83b27f6d4a", "6f29c8d1e7a3"]);
    }

    #[test]
    fn config_errors_pass_through() {
        let (_d, root) = root();
        write(&root, "retort.toml", "versoins = [\"v\"]\n");
        assert!(matches!(
            load_project(&ConfigFile::RetortToml(root.join("retort.toml"))),
            Err(ProjectError::Config(_))
        ));
        write(
            &root,
            "alembic.ini",
            "[alembic]\nscript_location = %(here)s/nowhere\n",
        );
        match load_project(&ConfigFile::AlembicIni {
            ini: root.join("alembic.ini"),
            pyproject: None,
        }) {
            Err(ProjectError::Config(d)) => assert_eq!(
                d.message,
                format!(
                    "Path doesn't exist: {}.  Please use the 'init' command to create a new scripts folder.",
                    root.join("nowhere").display()
                )
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unreadable_folder_is_an_error() {
        let (_d, root) = root();
        write(&root, "retort.toml", "");
        write(&root, "versions/a.sql", sql("a1", ""));
        let versions = root.join("versions");
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&versions, fs::Permissions::from_mode(0o000)).unwrap();
        let readable_anyway = fs::read_dir(&versions).is_ok(); // running as root
        let result = load_project(&ConfigFile::RetortToml(root.join("retort.toml")));
        fs::set_permissions(&versions, fs::Permissions::from_mode(0o755)).unwrap();
        if readable_anyway {
            assert!(result.is_ok());
        } else {
            let Err(ProjectError::Revisions(d)) = result else {
                panic!("{result:?}")
            };
            assert_eq!(d[0].path, versions);
            assert!(
                d[0].message.contains("cannot read folder"),
                "{}",
                d[0].message
            );
        }
    }

    // ---- Alembic listing (no Python reading needed) -----------------------------------------

    #[test]
    fn alembic_name_filter() {
        let (_d, root) = root();
        for name in [
            "b.py",
            "a.py",
            "A.py",
            "_a.py",
            "1.py",
            "__init__.py",
            "__init__x.py",
            ".#a.py",
            "x.pyc",
            "x.pyo",
            "README",
            "notes.py.txt",
            ".py",
            "ü.py",
            "z.PY",
        ] {
            write(&root, &format!("versions/{name}"), "");
        }
        write(&root, "versions/sub/c.py", "");
        let (files, warnings, errors) = list(
            &alembic_settings(&root, &["versions"], false, false),
            ProjectKind::Alembic,
        );
        assert_eq!(
            listed_names(&files, &root),
            [
                "versions/.py",
                "versions/1.py",
                "versions/A.py",
                "versions/_a.py",
                "versions/a.py",
                "versions/b.py",
                "versions/ü.py"
            ]
        );
        assert!(warnings.is_empty() && errors.is_empty());
    }

    #[test]
    fn recursive_walk_is_sorted_depth_first_preorder() {
        let (_d, root) = root();
        for name in [
            "z.py",
            "b/y.py",
            "b/a/x.py",
            "a/w.py",
            "a/__pycache__/w.cpython-311.py",
            "B/v.py",
            "a.py",
        ] {
            write(&root, &format!("versions/{name}"), "");
        }
        std::os::unix::fs::symlink(root.join("versions/b"), root.join("versions/c")).unwrap();
        let settings = alembic_settings(&root, &["versions"], true, false);
        let (files, _, _) = list(&settings, ProjectKind::Alembic);
        assert_eq!(
            listed_names(&files, &root),
            [
                "versions/a.py",
                "versions/z.py",
                "versions/B/v.py",
                "versions/a/w.py",
                "versions/b/y.py",
                "versions/b/a/x.py"
            ]
        );
    }

    #[test]
    fn sourceless_listing() {
        let (_d, root) = root();
        for name in [
            "a.py",
            "__pycache__/a.cpython-311.pyc",
            "__pycache__/c.cpython-311.pyc",
            "__pycache__/__init__.cpython-311.pyc",
            "b.pyc",
            "d.pyc",
            "d.pyo",
            "e.pyo",
            "f.py",
            "f.pyc",
        ] {
            write(&root, &format!("versions/{name}"), "");
        }
        let (files, _, _) = list(
            &alembic_settings(&root, &["versions"], false, true),
            ProjectKind::Alembic,
        );
        let names = listed_names(&files, &root);
        assert_eq!(
            names,
            [
                "versions/a.py",
                "versions/b.pyc",
                "versions/d.pyc",
                "versions/e.pyo",
                "versions/f.py",
                "versions/__pycache__/c.cpython-311.pyc"
            ]
        );
        assert!(matches!(&files[1], Listed::Compiled(_)));
        // Without `sourceless`, only sources.
        let (files, _, _) = list(
            &alembic_settings(&root, &["versions"], false, false),
            ProjectKind::Alembic,
        );
        assert_eq!(
            listed_names(&files, &root),
            ["versions/a.py", "versions/f.py"]
        );
    }

    #[test]
    fn compiled_files_without_python_are_errors() {
        let (_d, root) = root();
        write(
            &root,
            "alembic.ini",
            "[alembic]\nscript_location = %(here)s/alembic\nsourceless = true\n",
        );
        write(&root, "alembic/versions/b.pyc", b"\x00\x01");
        let config = ConfigFile::AlembicIni {
            ini: root.join("alembic.ini"),
            pyproject: None,
        };
        let Err(ProjectError::Revisions(d)) = load_project_with(&config, || None) else {
            panic!()
        };
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, root.join("alembic/versions/b.pyc"));
        assert!(
            d[0].message.contains("install Python 3"),
            "{}",
            d[0].message
        );
    }

    #[test]
    fn coding_cookies() {
        assert_eq!(
            coding_cookie(b"# -*- coding: latin-1 -*-\n"),
            Some((1, "latin-1".into()))
        );
        assert_eq!(
            coding_cookie(b"#!/usr/bin/env python\r\n# vim: set fileencoding=cp1252 :\r\n"),
            Some((2, "cp1252".into()))
        );
        assert_eq!(
            coding_cookie(b"\n# coding=iso-8859-15\n"),
            Some((2, "iso-8859-15".into()))
        );
        assert_eq!(coding_cookie(b"import os\n# coding: latin-1\n"), None);
        assert_eq!(coding_cookie(b"# coding: utf_8\n"), None);
        assert_eq!(coding_cookie(b"x = 1\n"), None);
    }

    // ---- Alembic projects read through python_revision ---------------------------------------

    fn alembic_project(root: &Path, ini_extra: &str) -> ConfigFile {
        write(
            root,
            "alembic.ini",
            format!(
                "[alembic]\nscript_location = %(here)s/alembic\nprepend_sys_path = .\npath_separator = os\n{ini_extra}"
            ),
        );
        fs::create_dir_all(root.join("alembic/versions")).unwrap();
        find_config(None, root).unwrap()
    }

    #[test]
    fn alembic_project_reads_python_files() {
        let (_d, root) = root();
        let config = alembic_project(&root, "");
        write(
            &root,
            "alembic/versions/2000_second.py",
            py("2000bbbbbbbb", "1000aaaaaaaa"),
        );
        write(
            &root,
            "alembic/versions/1000_first.py",
            py("1000aaaaaaaa", ""),
        );
        write(&root, "alembic/versions/__init__.py", "");
        write(&root, "alembic/versions/notes.txt", "");
        let project = load_project_with(&config, || None).unwrap();
        assert_eq!(project.kind, ProjectKind::Alembic);
        let ids: Vec<&str> = project
            .revisions
            .iter()
            .map(|r| r.revision.as_str())
            .collect();
        assert_eq!(ids, ["1000aaaaaaaa", "2000bbbbbbbb"]);
        assert_eq!(project.revisions[1].down_revision, ["1000aaaaaaaa"]);
        assert_eq!(
            project.revisions[0].path,
            root.join("alembic/versions/1000_first.py")
        );
        assert!(
            project.revisions[0]
                .longdoc
                .starts_with("message 1000aaaaaaaa")
        );
        assert_eq!(
            project.settings.prepend_sys_path,
            std::slice::from_ref(&root)
        );
    }

    #[test]
    fn many_files_are_read_on_worker_threads_in_load_order() {
        let (_d, root) = root();
        let config = alembic_project(&root, "");
        // Enough files for several workers, with failures spread among them.
        let mut expected_ids = Vec::new();
        let mut expected_errors = Vec::new();
        for n in 0..300 {
            let id = format!("{n:04}aaaaaaaa");
            let name = format!("alembic/versions/{n:04}_m.py");
            match n % 50 {
                7 => {
                    write(
                        &root,
                        &name,
                        b"revision = 'a'\ndown_revision = None\n\xff\n",
                    );
                    expected_errors.push((root.join(&name), Some(3)));
                }
                23 => {
                    write(&root, &name, format!("{}def upgrade(:\n", py(&id, "")));
                    let line = py(&id, "").lines().count() + 1;
                    expected_errors.push((root.join(&name), Some(line)));
                }
                31 => {
                    // Computed: for Python, which is not there.
                    write(&root, &name, "revision = 'a' + 'b'\ndown_revision = None\n");
                    expected_errors.push((root.join(&name), Some(1)));
                }
                _ => {
                    write(&root, &name, py(&id, ""));
                    expected_ids.push(id);
                }
            }
        }
        let Err(ProjectError::Revisions(errors)) = load_project_with(&config, || None) else {
            panic!("expected errors");
        };
        let found: Vec<_> = errors.iter().map(|e| (e.path.clone(), e.line)).collect();
        assert_eq!(found, expected_errors);

        // Without the failures, every revision in file name order.
        for (path, _) in &expected_errors {
            fs::remove_file(path).unwrap();
        }
        let project = load_project_with(&config, || None).unwrap();
        let ids: Vec<&str> = project
            .revisions
            .iter()
            .map(|r| r.revision.as_str())
            .collect();
        assert_eq!(ids, expected_ids);
    }

    /// Makes a FIFO at `path`.
    #[cfg(unix)]
    fn mkfifo(path: &Path) {
        let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
    }

    #[cfg(unix)]
    #[test]
    fn files_that_are_not_regular_are_skipped_with_a_warning() {
        let (_d, root) = root();
        let config = alembic_project(&root, "");
        write(&root, "alembic/versions/a_first.py", py("1000aaaaaaaa", ""));
        mkfifo(&root.join("alembic/versions/b_fifo.py"));
        // A symlink to a FIFO is resolved, and skipped as well.
        mkfifo(&root.join("elsewhere.py"));
        std::os::unix::fs::symlink(
            root.join("elsewhere.py"),
            root.join("alembic/versions/c.py"),
        )
        .unwrap();
        let project = load_project_with(&config, || None).unwrap();
        assert_eq!(
            names(&project.revisions, &root),
            ["alembic/versions/a_first.py"]
        );
        let warnings: Vec<String> = project.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            warnings,
            [
                format!(
                    "{}: skipped: a FIFO (named pipe), not a regular file",
                    root.join("alembic/versions/b_fifo.py").display()
                ),
                format!(
                    "{}: skipped: a FIFO (named pipe), not a regular file",
                    root.join("elsewhere.py").display()
                ),
            ]
        );

        // Native projects, and the header cache's path, skip them too.
        let (_n, native) = self::root();
        write(&native, "retort.toml", "");
        write(&native, "versions/a.sql", sql("aaaa0001", ""));
        mkfifo(&native.join("versions/b.sql"));
        let project = load_project(&find_config(None, &native).unwrap()).unwrap();
        assert_eq!(project.revisions.len(), 1);
        assert_eq!(project.warnings.len(), 1, "{:?}", project.warnings);
        let (_c, cached) = self::root();
        let config = cached_project(&cached, 3);
        mkfifo(&cached.join("alembic/versions/z_fifo.py"));
        let cache_file = cached.join("cache.bin");
        for _ in 0..2 {
            let (project, _) = load_cached(&config, &cache_file);
            assert_eq!(project.revisions.len(), 3);
            assert_eq!(project.warnings.len(), 1, "{:?}", project.warnings);
            assert!(project.warnings[0].message.contains("not a regular file"));
        }
    }

    #[test]
    fn a_symlinked_file_counts_once() {
        let (_d, root) = root();
        let config = alembic_project(&root, "");
        write(&root, "alembic/versions/a_first.py", py("1000aaaaaaaa", ""));
        std::os::unix::fs::symlink(
            root.join("alembic/versions/a_first.py"),
            root.join("alembic/versions/b_link.py"),
        )
        .unwrap();
        // A link from elsewhere is read as its target, under the target's path.
        write(&root, "elsewhere/c.py", py("2000bbbbbbbb", "1000aaaaaaaa"));
        std::os::unix::fs::symlink(
            root.join("elsewhere/c.py"),
            root.join("alembic/versions/c_link.py"),
        )
        .unwrap();
        let project = load_project_with(&config, || None).unwrap();
        assert_eq!(
            names(&project.revisions, &root),
            ["alembic/versions/a_first.py", "elsewhere/c.py"]
        );
        let warnings: Vec<&str> = project
            .warnings
            .iter()
            .map(|w| w.message.as_str())
            .collect();
        assert_eq!(
            warnings,
            [format!(
                "File {} loaded twice! ignoring. Please ensure version_locations is unique.",
                root.join("alembic/versions/a_first.py").display()
            )]
        );
    }

    #[test]
    fn computed_values_without_python_name_file_and_line() {
        let (_d, root) = root();
        let config = alembic_project(&root, "");
        write(&root, "alembic/versions/a.py", py("1000aaaaaaaa", ""));
        write(
            &root,
            "alembic/versions/b.py",
            "revision = '7003' + 'abcd'\ndown_revision = None\n",
        );
        write(
            &root,
            "alembic/versions/c.py",
            "import os\n\nrevision = os.environ['X']\ndown_revision = None\n",
        );
        write(
            &root,
            "alembic/versions/d.py",
            b"# -*- coding: latin-1 -*-\nrevision = '\xe9'\ndown_revision = None\n",
        );
        write(
            &root,
            "alembic/versions/e.py",
            b"revision = '\xe9'\ndown_revision = None\n",
        );
        let Err(ProjectError::Revisions(d)) = load_project_with(&config, || None) else {
            panic!()
        };
        let got: Vec<(String, Option<usize>)> = d
            .iter()
            .map(|d| {
                (
                    d.path.file_name().unwrap().to_string_lossy().into_owned(),
                    d.line,
                )
            })
            .collect();
        // In load order.
        assert_eq!(
            got,
            [
                ("b.py".into(), Some(1)),
                ("c.py".into(), Some(3)),
                ("d.py".into(), Some(1)),
                ("e.py".into(), Some(1))
            ]
        );
        assert!(
            d[0].message.starts_with("value computed at run time ("),
            "{}",
            d[0].message
        );
        assert!(
            d[0].message
                .ends_with("); install Python 3 so Retort can read it, or write it as a literal")
        );
        assert!(d[2].message.contains("'latin-1'"), "{}", d[2].message);
        assert!(d[3].message.contains("not valid UTF-8"), "{}", d[3].message);
    }

    #[test]
    fn computed_values_with_python() {
        let Some(python) = crate::project::python::find(None, Path::new(".")).ok() else {
            return;
        };
        let (_d, root) = root();
        let config = alembic_project(&root, "");
        write(&root, "alembic/versions/a.py", py("1000aaaaaaaa", ""));
        write(
            &root,
            "alembic/versions/b.py",
            "\"\"\"computed\"\"\"\nrevision = '7003' + 'abcd'\ndown_revision = '1000aaaaaaaa'\n",
        );
        write(&root, "helpers.py", "PARENT = '7003abcd'\n");
        write(
            &root,
            "alembic/versions/c.py",
            "from helpers import PARENT\nrevision = 'c0c0'\ndown_revision = PARENT\n",
        );
        write(&root, "alembic/versions/d.py", b"# -*- coding: latin-1 -*-\n\"\"\"caf\xe9\"\"\"\nrevision = 'd0d0'\ndown_revision = 'c0c0'\n");
        let project = load_project_with(&config, || Some(python)).unwrap();
        let got: Vec<(&str, Vec<String>)> = project
            .revisions
            .iter()
            .map(|r| (r.revision.as_str(), r.down_revision.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("1000aaaaaaaa", vec![]),
                ("7003abcd", vec!["1000aaaaaaaa".to_string()]),
                ("c0c0", vec!["7003abcd".to_string()]),
                ("d0d0", vec!["c0c0".to_string()]),
            ]
        );
        assert_eq!(project.revisions[1].longdoc, "computed");
        assert_eq!(project.revisions[3].longdoc, "café");
    }

    // ---- Comparison with alembic itself --------------------------------------------------------

    /// A Python with alembic importable (`RETORT_ALEMBIC_PYTHON`, else the repository's
    /// `.venv`), as `tests/alembic_compat.rs` finds it. Without one the comparison is skipped
    /// unless `RETORT_REQUIRE_ALEMBIC=1`.
    fn alembic_python() -> Option<PathBuf> {
        let candidate = std::env::var_os("RETORT_ALEMBIC_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
            });
        let ok = Command::new(&candidate)
            .args(["-c", "import alembic"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok && std::env::var_os("RETORT_REQUIRE_ALEMBIC").is_some_and(|v| v == "1") {
            panic!(
                "RETORT_REQUIRE_ALEMBIC=1 but no Python with alembic at {}",
                candidate.display()
            );
        }
        ok.then_some(candidate)
    }

    /// Alembic's load order for the project in `root` (run from `root`), one resolved path a
    /// line, plus its warnings prefixed `W `.
    fn alembic_load_order(python: &Path, root: &Path) -> Vec<String> {
        let script = r#"
import warnings, sys
warnings.simplefilter("always")
from alembic.config import Config
from alembic.script import ScriptDirectory
with warnings.catch_warnings(record=True) as caught:
    sd = ScriptDirectory.from_config(Config("alembic.ini"))
    for s in sd._load_revisions():
        print(s.path)
for w in caught:
    if "loaded twice" in str(w.message):
        print("W " + str(w.message))
"#;
        let out = Command::new(python)
            .arg("-c")
            .arg(script)
            .current_dir(root)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn our_load_order(root: &Path) -> Vec<String> {
        let config = find_config(None, root).unwrap();
        let settings = match &config {
            ConfigFile::AlembicIni { ini, pyproject } => {
                alembic_config::read_alembic_settings(Some(ini), pyproject.as_deref(), "alembic")
                    .unwrap()
            }
            _ => unreachable!(),
        };
        let (files, warnings, errors) = list(&settings, ProjectKind::Alembic);
        assert!(errors.is_empty(), "{errors:?}");
        let mut lines: Vec<String> = files
            .iter()
            .map(|l| {
                let (Listed::Source(p) | Listed::Compiled(p)) = l;
                p.display().to_string()
            })
            .collect();
        lines.extend(warnings.iter().map(|w| format!("W {}", w.message)));
        lines
    }

    #[test]
    fn load_order_matches_alembic() {
        let Some(python) = alembic_python() else {
            return;
        };
        let (_d, root) = root();
        write(
            &root,
            "alembic.ini",
            "[alembic]\nscript_location = %(here)s/alembic\npath_separator = os\nrecursive_version_locations = true\n\
             version_locations = %(here)s/alembic/versions:%(here)s/extra:%(here)s/missing:%(here)s/alembic/versions/sub\n",
        );
        let mut n = 0;
        let mut rev = |root: &Path, name: &str| {
            n += 1;
            write(root, name, py(&format!("{n:04}"), ""));
        };
        for name in [
            "alembic/versions/b_two.py",
            "alembic/versions/a_one.py",
            "alembic/versions/B_upper.py",
            "alembic/versions/_under.py",
            "alembic/versions/10_ten.py",
            "alembic/versions/9_nine.py",
            "alembic/versions/é_accent.py",
            "alembic/versions/sub/z.py",
            "alembic/versions/sub/deeper/y.py",
            "alembic/versions/Sub2/x.py",
            "alembic/versions/sub-dash/w.py",
            "extra/e.py",
        ] {
            rev(&root, name);
        }
        write(&root, "alembic/versions/__init__.py", "");
        write(
            &root,
            "alembic/versions/__init__x.py",
            "raise SystemExit('must not load')",
        );
        write(
            &root,
            "alembic/versions/.#lock.py",
            "raise SystemExit('must not load')",
        );
        write(&root, "alembic/versions/readme.txt", "");
        write(
            &root,
            "alembic/versions/__pycache__/junk.py",
            "raise SystemExit('must not load')",
        );
        write(&root, "alembic/env.py", "");
        let theirs = alembic_load_order(&python, &root);
        let ours = our_load_order(&root);
        assert_eq!(ours, theirs);
        assert!(ours.iter().any(|l| l.starts_with("W File ")), "{ours:?}");
    }

    #[test]
    fn sourceless_load_order_matches_alembic() {
        let Some(python) = alembic_python() else {
            return;
        };
        let (_d, root) = root();
        write(
            &root,
            "alembic.ini",
            "[alembic]\nscript_location = %(here)s/alembic\nsourceless = true\n",
        );
        write(&root, "alembic/versions/a.py", py("aaaa", ""));
        write(&root, "alembic/versions/b.py", py("bbbb", ""));
        write(&root, "alembic/versions/c.py", py("cccc", ""));
        write(&root, "alembic/versions/d.py", py("dddd", ""));
        // b: only its __pycache__ .pyc is left; c: a legacy .pyc beside it; d: .py and .pyc.
        let compile = "import py_compile, sys\n\
                       py_compile.compile('alembic/versions/b.py', doraise=True)\n\
                       py_compile.compile('alembic/versions/c.py', cfile='alembic/versions/c.pyc', doraise=True)\n\
                       py_compile.compile('alembic/versions/d.py', cfile='alembic/versions/d.pyc', doraise=True)\n";
        let status = Command::new(&python)
            .arg("-c")
            .arg(compile)
            .current_dir(&root)
            .status()
            .unwrap();
        assert!(status.success());
        fs::remove_file(root.join("alembic/versions/b.py")).unwrap();
        fs::remove_file(root.join("alembic/versions/c.py")).unwrap();
        let theirs = alembic_load_order(&python, &root);
        let ours = our_load_order(&root);
        assert_eq!(ours, theirs);
        assert_eq!(ours.len(), 4, "{ours:?}");
        // And they read through Python.
        let project =
            load_project_with(&find_config(None, &root).unwrap(), || Some(python)).unwrap();
        let ids: Vec<&str> = project
            .revisions
            .iter()
            .map(|r| r.revision.as_str())
            .collect();
        assert_eq!(ids, ["aaaa", "cccc", "dddd", "bbbb"]);
    }

    /// Settings as Alembic computes them, run from `root` (where Retort's resolution of relative
    /// paths and Alembic's agree).
    fn alembic_settings_json(python: &Path, root: &Path) -> serde_json::Value {
        let script = r#"
import json, os, warnings
from pathlib import Path
warnings.simplefilter("ignore")
from alembic.config import Config
from alembic.script import ScriptDirectory
cfg = Config("alembic.ini" if os.path.exists("alembic.ini") else None, toml_file="pyproject.toml")
sd = ScriptDirectory.from_config(cfg)
print(json.dumps({
    "script_location": str(Path(sd.dir).absolute()),
    "version_locations": [str(p) for p in sd._version_locations],
    "recursive_version_locations": sd.recursive_version_locations,
    "sourceless": sd.sourceless,
    "file_template": sd.file_template,
    "truncate_slug_length": sd.truncate_slug_length,
    "prepend_sys_path": [str(Path(p).absolute()) for p in (cfg.get_prepend_sys_paths_list() or [])],
    "timezone": sd.timezone,
    "url": cfg.get_main_option("sqlalchemy.url") if cfg.file_config.has_section("alembic") else None,
}))
"#;
        let out = Command::new(python)
            .arg("-c")
            .arg(script)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn our_settings_json(root: &Path) -> serde_json::Value {
        let config = find_config(None, root).unwrap();
        let project = load_project_with(&config, || None).unwrap();
        let s = project.settings;
        let path = |p: &Path| p.display().to_string();
        serde_json::json!({
            "script_location": path(s.script_location.as_deref().unwrap()),
            "version_locations": s.version_locations.iter().map(|p| path(p)).collect::<Vec<_>>(),
            "recursive_version_locations": s.recursive_version_locations,
            "sourceless": s.sourceless,
            "file_template": s.file_template,
            "truncate_slug_length": s.truncate_slug_length.unwrap_or(40),
            "prepend_sys_path": s.prepend_sys_path.iter().map(|p| path(p)).collect::<Vec<_>>(),
            "timezone": s.timezone,
            "url": s.url,
        })
    }

    #[test]
    fn settings_match_alembic() {
        let Some(python) = alembic_python() else {
            return;
        };
        let cases: &[(&str, &str)] = &[
            (
                "[alembic]\nscript_location = %(here)s/alembic\nprepend_sys_path = .\npath_separator = os\n\
                 sqlalchemy.url = driver://user:pass@localhost/dbname\n[loggers]\nkeys = root\n",
                "",
            ),
            (
                "[alembic]\nscript_location = alembic\nversion_locations = alembic/versions, other  more\n\
                 prepend_sys_path = .:src\ntruncate_slug_length = 0\nrecursive_version_locations = True\n",
                "",
            ),
            (
                "[DEFAULT]\nbase = %(here)s\n[alembic]\nscript_location = %(base)s/./alembic/\ntimezone = UTC\n\
                 sourceless = true\nfile_template = %%(year)d_%%(rev)s\ntruncate_slug_length = 12\n\
                 path_separator = newline\nversion_locations =\n    %(here)s/a\n    b c\n",
                "",
            ),
            (
                "",
                "[tool.alembic]\nscript_location = \"%(here)s/alembic\"\nversion_locations = [\"%(here)s/v1\", \"v2\"]\n\
                 file_template = \"%%(rev)s\"\ntruncate_slug_length = 20\nsourceless = true\n\
                 recursive_version_locations = true\nprepend_sys_path = [\".\"]\ntimezone = \"Europe/Paris\"\n",
            ),
            (
                "[alembic]\nscript_location = alembic\nsourceless = false\nsqlalchemy.url = sqlite:///%(here)s/x.db\n",
                "[tool.alembic]\nscript_location = \"ignored\"\nsourceless = true\nrecursive_version_locations = true\n\
                 version_locations = [\"tv\"]\nfile_template = \"%%(slug)s\"\n",
            ),
        ];
        for (ini, toml) in cases {
            let (_d, root) = root();
            fs::create_dir_all(root.join("alembic")).unwrap();
            if !ini.is_empty() {
                write(&root, "alembic.ini", ini);
            }
            if !toml.is_empty() {
                write(&root, "pyproject.toml", toml);
            }
            assert_eq!(
                our_settings_json(&root),
                alembic_settings_json(&python, &root),
                "ini {ini:?} toml {toml:?}"
            );
        }
    }

    // ---- header cache ---------------------------------------------------------------------

    /// An Alembic project of `n` chained revisions whose files were last changed an hour ago
    /// (outside the racy window); answers its config.
    fn cached_project(root: &Path, n: usize) -> ConfigFile {
        write(
            root,
            "alembic.ini",
            "[alembic]\nscript_location = %(here)s/alembic\n",
        );
        for i in 0..n {
            let down = if i == 0 {
                String::new()
            } else {
                format!("r{:04}", i - 1)
            };
            let name = format!("alembic/versions/r{i:04}_step.py");
            write(root, &name, py(&format!("r{i:04}"), &down));
            age(&root.join(name));
        }
        ConfigFile::AlembicIni {
            ini: root.join("alembic.ini"),
            pyproject: None,
        }
    }

    /// Sets the file's mtime an hour back (its ctime stays now: tests use `load_at`).
    fn age(path: &Path) {
        let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
    }

    fn load_cached(config: &ConfigFile, cache_file: &Path) -> (Project, CacheStats) {
        let cache = HeaderCache {
            file: Some(cache_file.to_path_buf()),
            min_files: 0,
        };
        let mut stats = CacheStats::default();
        let project = load_project_cached(config, || None, &cache, &mut stats).unwrap();
        (project, stats)
    }

    fn same(a: &Project, b: &Project) {
        assert_eq!(a.revisions, b.revisions);
        assert_eq!(a.warnings, b.warnings);
    }

    /// Waits until files changed now are outside the racy window (their ctime is now).
    fn settle() {
        std::thread::sleep(header_cache::RACY_WINDOW + std::time::Duration::from_millis(100));
    }

    #[test]
    fn header_cache_hit_gives_the_same_project() {
        let (_d, root) = root();
        let config = cached_project(&root, 40);
        let cache_file = root.join("home/cache/headers.bin");
        let fresh = load_project_with(&config, || None).unwrap();
        // Files changed within the racy window are not recorded.
        let (first, stats) = load_cached(&config, &cache_file);
        same(&first, &fresh);
        assert_eq!((stats.hits, stats.fresh), (0, 0));
        settle();
        let (cold, stats) = load_cached(&config, &cache_file);
        same(&cold, &fresh);
        assert_eq!((stats.hits, stats.fresh, stats.written), (0, 40, true));
        let (warm, stats) = load_cached(&config, &cache_file);
        same(&warm, &fresh);
        assert_eq!((stats.hits, stats.fresh, stats.written), (40, 0, false));
        assert_eq!(
            warm.revisions[3].path,
            root.join("alembic/versions/r0003_step.py")
        );
    }

    #[test]
    fn header_cache_sees_changed_touched_and_deleted_files() {
        let (_d, root) = root();
        let config = cached_project(&root, 20);
        let cache_file = root.join("home/cache/headers.bin");
        settle();
        load_cached(&config, &cache_file);
        assert_eq!(load_cached(&config, &cache_file).1.hits, 20);

        // Same size, other content (message "message r0005" → "MESSAGE r0005"), and the mtime
        // put back to what it was: the ctime still tells.
        let changed = root.join("alembic/versions/r0005_step.py");
        let mtime = fs::metadata(&changed).unwrap().modified().unwrap();
        let text = fs::read_to_string(&changed).unwrap();
        fs::write(&changed, text.replacen("message", "MESSAGE", 1)).unwrap();
        fs::File::options()
            .write(true)
            .open(&changed)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        // Touched only: read again, same answer.
        let touched = root.join("alembic/versions/r0007_step.py");
        age(&touched);
        // Deleted: gone from the project and from the cache.
        fs::remove_file(root.join("alembic/versions/r0019_step.py")).unwrap();
        settle();

        let fresh = load_project_with(&config, || None).unwrap();
        assert!(fresh.revisions[5].longdoc.starts_with("MESSAGE r0005"));
        assert_eq!(fresh.revisions.len(), 19);
        let (project, stats) = load_cached(&config, &cache_file);
        same(&project, &fresh);
        assert_eq!((stats.hits, stats.fresh, stats.written), (17, 2, true));
        let (project, stats) = load_cached(&config, &cache_file);
        same(&project, &fresh);
        assert_eq!((stats.hits, stats.fresh, stats.written), (19, 0, false));
        // A file gone that the cache still holds is dropped without an error.
        fs::remove_file(root.join("alembic/versions/r0018_step.py")).unwrap();
        let (project, stats) = load_cached(&config, &cache_file);
        assert_eq!(project.revisions.len(), 18);
        assert!(project.revisions.iter().all(|r| r.revision != "r0018"));
        assert_eq!((stats.hits, stats.fresh, stats.written), (18, 0, true));
        let bytes = fs::read(&cache_file).unwrap();
        assert_eq!(Index::parse(&bytes).len(), 18);
    }

    #[test]
    fn corrupt_or_unwritable_header_cache_is_ignored() {
        let (_d, root) = root();
        let config = cached_project(&root, 12);
        let cache_file = root.join("home/cache/headers.bin");
        settle();
        let fresh = load_project_with(&config, || None).unwrap();
        load_cached(&config, &cache_file);
        let good = fs::read(&cache_file).unwrap();
        assert_eq!(Index::parse(&good).len(), 12);

        let mut corruptions: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"garbage".to_vec(),
            good[..good.len() / 2].to_vec(),
            good[..good.len() - 1].to_vec(),
        ];
        // Every single flipped byte (the checksum catches it; the reader never panics).
        for at in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            corruptions.push(bad);
        }
        for bad in corruptions {
            assert_eq!(Index::parse(&bad).len(), 0);
            fs::write(&cache_file, &bad).unwrap();
            let (project, stats) = load_cached(&config, &cache_file);
            same(&project, &fresh);
            assert_eq!((stats.hits, stats.fresh, stats.written), (0, 12, true));
            assert_eq!(fs::read(&cache_file).unwrap(), good);
        }
        // A cache file that is a folder, and a home under a regular file: loads as usual.
        let (project, _) = load_cached(&config, &root.join("home"));
        same(&project, &fresh);
        let (project, stats) = load_cached(&config, &root.join("alembic.ini/cache/h.bin"));
        same(&project, &fresh);
        assert_eq!(stats.hits, 0);
    }

    #[test]
    fn header_cache_records_only_revisions_read_statically() {
        let (_d, root) = root();
        let config = cached_project(&root, 3);
        write(
            &root,
            "alembic/versions/x_bad.py",
            "revision = 'x'\ndown_revision = (\n",
        );
        age(&root.join("alembic/versions/x_bad.py"));
        let cache_file = root.join("home/cache/headers.bin");
        settle();
        let cache = HeaderCache {
            file: Some(cache_file.clone()),
            min_files: 0,
        };
        let mut stats = CacheStats::default();
        assert!(load_project_cached(&config, || None, &cache, &mut stats).is_err());
        assert_eq!((stats.hits, stats.fresh), (0, 3));
        let mut stats = CacheStats::default();
        assert!(load_project_cached(&config, || None, &cache, &mut stats).is_err());
        assert_eq!((stats.hits, stats.fresh, stats.written), (3, 0, false));
        // Below `min_files`, no cache at all.
        let cache = HeaderCache {
            file: Some(root.join("home/cache/other.bin")),
            min_files: 100,
        };
        fs::remove_file(root.join("alembic/versions/x_bad.py")).unwrap();
        let mut stats = CacheStats::default();
        load_project_cached(&config, || None, &cache, &mut stats).unwrap();
        assert_eq!(stats, CacheStats::default());
        assert!(!root.join("home/cache/other.bin").exists());
    }
}
