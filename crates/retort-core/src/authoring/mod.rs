//! Writing revisions: `revision` and `merge` as alembic 1.20.1's
//! `ScriptDirectory.generate_revision` makes them (same checks, same errors, same file name,
//! same file text through the project's own `script.py.mako`), native `.sql` revisions,
//! the guided merge explanation ([`merge`]) and the static project checks ([`checks`]).
//!
//! Nothing is written until the whole file has been rendered and read back: a template
//! Retort cannot render, or one that renders a file whose identifiers do not read back as
//! asked, is an error naming the template and line, and leaves the project untouched.
//!
//! Differences from alembic, on purpose:
//! - an existing revision id (`--rev-id`) or an existing file is refused; alembic writes
//!   the file and then fails to load the project;
//! - a new revision that would break the graph (a branch label already used, a cycle) is
//!   refused before writing, with the graph's message;
//! - `revision_environment = true` is refused (alembic runs env.py, which may rewrite the
//!   revision), and configured post-write hooks are not run (reported as a warning);
//! - where alembic says "Can't locate revision identified by 'x'", the detailed reason is
//!   given.

pub mod autogenerate;
pub mod checks;
pub mod merge;
pub mod naming;
pub mod native_autogenerate;
pub mod tables;
pub mod template;

use crate::graph::{RevArg, RevisionDecl, RevisionError, RevisionMap, Slot};
use crate::project::alembic_config::IniFile;
use crate::project::python_revision::{self, StaticRead};
use crate::project::sql_revision;
use crate::project::{Project, ProjectKind, RevisionFile, SqlBody, SqlSection};
use naming::CreateDate;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use template::{TemplateError, Value};

/// What goes into a new revision. `Default` is `alembic revision` with no options.
#[derive(Debug, Clone, Default)]
pub struct RevisionRequest {
    /// `-m`; `None` renders "empty message" (and an empty slug), as alembic.
    pub message: Option<String>,
    /// The parents: `--head` (default `["head"]`), or a merge's revisions, in order. `base`
    /// starts a new root.
    pub heads: Vec<String>,
    /// `--splice`: allow a parent that is not a head.
    pub splice: bool,
    /// `--branch-label` (alembic's CLI takes one).
    pub branch_labels: Vec<String>,
    /// `--depends-on`, repeatable; ids, prefixes or branch labels.
    pub depends_on: Vec<String>,
    /// `--rev-id`; default: 12 random hex digits.
    pub rev_id: Option<String>,
    /// `--version-path`; relative paths are taken against `cwd`.
    pub version_path: Option<PathBuf>,
    /// The create date; default: now (in the project's `timezone` if set).
    pub create_date: Option<CreateDate>,
    /// Bodies for the new file: Python (`imports`, `upgrades`, `downgrades` template
    /// variables, already indented) or SQL (`-- migrate:up` / `-- migrate:down`).
    pub body: Body,
}

/// The body of a new revision; empty gives alembic's `pass` / empty sections.
#[derive(Debug, Clone, Default)]
pub struct Body {
    pub imports: Option<String>,
    pub upgrades: Option<String>,
    pub downgrades: Option<String>,
    pub up_sql: Option<String>,
    pub down_sql: Option<String>,
}

/// A rendered revision, ready to write (or written).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct NewRevision {
    pub revision: String,
    pub down_revision: Vec<String>,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    pub message: String,
    pub create_date: String,
    pub path: PathBuf,
    /// The file's full text.
    pub text: String,
    /// The template it was rendered from (Alembic projects).
    pub template: Option<PathBuf>,
    pub warnings: Vec<String>,
    /// The version folder the file goes into (a `file_template` may add subfolders).
    pub version_path: PathBuf,
    /// Folders [`write_revision`] created, in order (alembic prints "Creating directory").
    pub created_folders: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AuthoringError {
    /// A refusal worded as alembic words it (or, where alembic has none, as Retort does).
    #[error("{message}")]
    Command { message: String },
    /// The project's `script.py.mako` cannot be rendered by Retort, or renders a file that
    /// does not read back as asked.
    #[error("{0}")]
    Template(#[from] TemplateError),
    #[error("{}: {message}", .path.display())]
    Io { path: PathBuf, message: String },
}

fn command(message: impl Into<String>) -> AuthoringError {
    AuthoringError::Command {
        message: message.into(),
    }
}

/// `_catch_revision_errors`, with Retort's detailed resolution messages.
fn revision_error(e: RevisionError, multiple_heads: Option<&str>) -> AuthoringError {
    match (e, multiple_heads) {
        (RevisionError::MultipleHeads { .. }, Some(text)) => command(text),
        (RevisionError::MultipleHeads { heads, argument }, None) => command(format!(
            "Multiple head revisions are present for given argument '{argument}'; please specify a specific target revision, '<branchname>@{argument}' to narrow to a specific head, or 'heads' for all heads (heads: {})",
            heads.join(", ")
        )),
        (other, _) => command(other.to_string()),
    }
}

const MULTIPLE_HEADS: &str = "Multiple heads are present; please specify the head revision on which the new revision should be based, or perform a merge.";

/// `alembic revision`: renders the new revision without writing it.
pub fn plan_revision(
    project: &Project,
    map: &RevisionMap,
    request: &RevisionRequest,
    cwd: &Path,
) -> Result<NewRevision, AuthoringError> {
    let rev_id = request.rev_id.clone().unwrap_or_else(naming::new_rev_id);
    crate::graph::verify_rev_id(&rev_id).map_err(|e| command(e.to_string()))?;
    if rev_id.is_empty() || rev_id.chars().any(|c| c.is_whitespace() || c == ',') {
        return Err(command(format!(
            "Revision id '{rev_id}' may not be empty or hold spaces or commas"
        )));
    }
    if project.kind == ProjectKind::Alembic && project.settings.revision_environment {
        return Err(command(
            "revision_environment = true: alembic runs env.py to make a revision (and env.py may rewrite it); Retort does not run env.py, so use `alembic revision` / `alembic merge` for this project",
        ));
    }

    // The parents.
    let head_args: Vec<String> = if request.heads.is_empty() {
        vec!["head".to_string()]
    } else {
        request.heads.clone()
    };
    let arg = if head_args.len() == 1 {
        RevArg::One(head_args[0].clone())
    } else {
        RevArg::Many(head_args.clone())
    };
    let slots = map
        .get_revisions(&arg)
        .map_err(|e| revision_error(e, Some(MULTIPLE_HEADS)))?;
    let mut heads: Vec<usize> = Vec::new();
    let mut nones = 0;
    for slot in &slots {
        match slot {
            Slot::Rev(i) => heads.push(*i),
            Slot::Nothing => nones += 1,
            Slot::Base => {
                return Err(command(format!(
                    "'{}' names the base; use --head base to start a new root",
                    head_args.join(" ")
                )));
            }
        }
    }
    let mut seen = heads.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != heads.len() || nones > 1 {
        return Err(command("Duplicate head revisions specified"));
    }
    if nones == 1 && !heads.is_empty() {
        return Err(command(
            "A revision cannot be based on both the base and other revisions",
        ));
    }

    let create_date = match &request.create_date {
        Some(d) => d.clone(),
        None => CreateDate::now(project.settings.timezone.as_deref()).map_err(command)?,
    };

    // The folder, as `generate_revision` chooses it.
    let locations = &project.settings.version_locations;
    let version_path: PathBuf = match &request.version_path {
        Some(p) => {
            let abs = crate::project::native_config::clean_join(cwd, &p.to_string_lossy());
            if !locations.iter().any(|l| same_path(l, &abs)) {
                return Err(command(format!(
                    "Path {} is not represented in current version locations",
                    p.display()
                )));
            }
            abs
        }
        None if locations.len() > 1 => {
            let first = heads.first().and_then(|&h| map.rev(h).path.clone());
            match first.as_ref().and_then(|p| p.parent()) {
                Some(dir) => {
                    let dir = dir.to_path_buf();
                    if !locations.iter().any(|l| same_path(l, &dir)) {
                        return Err(command(format!(
                            "Path {} is not represented in current version locations",
                            dir.display()
                        )));
                    }
                    dir
                }
                None => {
                    return Err(command(
                        "Multiple version locations present, please specify --version-path",
                    ));
                }
            }
        }
        None => locations
            .first()
            .cloned()
            .ok_or_else(|| command("the project has no version location"))?,
    };

    let extension = match project.kind {
        ProjectKind::Alembic => "py",
        ProjectKind::Native => "sql",
    };
    let slug = naming::slug(
        request.message.as_deref().unwrap_or(""),
        project.settings.truncate_slug_length,
    );
    let file_name = naming::file_name(
        &project.settings.file_template,
        &rev_id,
        &slug,
        &create_date,
        extension,
    )
    .map_err(command)?;
    let path = version_path.join(file_name);

    if !request.splice {
        for &h in &heads {
            if !map.rev(h).is_head() {
                return Err(command(format!(
                    "Revision {} is not a head revision; please specify --splice to create a new branch from this revision",
                    map.rev(h).revision
                )));
            }
        }
    }

    // depends_on: ids resolved, branch labels kept.
    let mut depends_on = Vec::new();
    for dep in &request.depends_on {
        let i = map
            .get_revision(&RevArg::one(dep))
            .map_err(|e| revision_error(e, None))?
            .ok_or_else(|| command(format!("No such revision or branch '{dep}'")))?;
        let rev = map.rev(i);
        depends_on.push(if rev.branch_labels.contains(dep) {
            dep.clone()
        } else {
            rev.revision.clone()
        });
    }

    // Refuse what alembic would write and then fail to load.
    if let Some(existing) = map.lookup(&rev_id) {
        let owner = map.rev(existing);
        let place = owner
            .path
            .as_ref()
            .map(|p| format!(" ({})", p.display()))
            .unwrap_or_default();
        return Err(command(if owner.revision == rev_id {
            format!("Revision {rev_id} already exists{place}")
        } else {
            format!(
                "Revision id {rev_id} is already used as a branch label by revision {}{place}",
                owner.revision
            )
        }));
    }
    if path.exists() {
        return Err(command(format!("File {} already exists", path.display())));
    }

    let down_revision: Vec<String> = heads.iter().map(|&h| map.rev(h).revision.clone()).collect();
    let message = request
        .message
        .clone()
        .unwrap_or_else(|| "empty message".to_string());
    let mut warnings = Vec::new();

    let (text, template) = match project.kind {
        ProjectKind::Alembic => {
            let template = project
                .settings
                .script_location
                .as_ref()
                .ok_or_else(|| command("the project has no script_location"))?
                .join("script.py.mako");
            let text = render_python(
                project,
                &template,
                &rev_id,
                &down_revision,
                &request.branch_labels,
                &depends_on,
                &create_date,
                &message,
                &request.body,
            )?;
            if let Some(w) = post_write_hooks(project) {
                warnings.push(w);
            }
            (text, Some(template))
        }
        ProjectKind::Native => {
            let section = |sql: &Option<String>| SqlSection {
                sql: sql.as_deref().unwrap_or("").trim_matches('\n').to_string(),
                transactional: true,
                line: 0,
                sql_line: 0,
            };
            let file = RevisionFile {
                revision: rev_id.clone(),
                down_revision: down_revision.clone(),
                branch_labels: request.branch_labels.clone(),
                depends_on: depends_on.clone(),
                longdoc: message.clone(),
                create_date: Some(create_date.text.clone()),
                path: path.clone(),
                sql: Some(SqlBody {
                    upgrade: section(&request.body.up_sql),
                    downgrade: Some(section(&request.body.down_sql)),
                }),
            };
            (sql_revision::render_sql_revision(&file), None)
        }
    };

    // Read the text back as the loader will, and check it says what was asked.
    let read = read_back(project.kind, &path, &text, template.as_deref())?;
    let mismatch = |what: &str, got: &[String], want: &[String]| -> Result<(), AuthoringError> {
        if got == want {
            return Ok(());
        }
        let message = format!(
            "the rendered revision declares {what} {:?}, not {:?}; have you upgraded your script.py.mako to include the '{what}' section?",
            got, want
        );
        Err(match &template {
            Some(t) => AuthoringError::Template(TemplateError {
                path: t.clone(),
                line: 0,
                message,
            }),
            None => command(message),
        })
    };
    mismatch(
        "revision",
        std::slice::from_ref(&read.revision),
        std::slice::from_ref(&rev_id),
    )?;
    mismatch("down_revision", &read.down_revision, &down_revision)?;
    mismatch("branch_labels", &read.branch_labels, &request.branch_labels)?;
    mismatch("depends_on", &read.depends_on, &depends_on)?;

    // The graph with the new revision must still build (labels, cycles).
    let mut decls: Vec<RevisionDecl> = project.revisions.iter().map(RevisionDecl::from).collect();
    decls.push(RevisionDecl::from(&read));
    RevisionMap::build(decls).map_err(|e| command(e.to_string()))?;

    Ok(NewRevision {
        revision: rev_id,
        down_revision,
        branch_labels: request.branch_labels.clone(),
        depends_on,
        message,
        create_date: create_date.text,
        path,
        text,
        template,
        warnings,
        version_path,
        created_folders: Vec::new(),
    })
}

/// Writes a planned revision, creating its folders as alembic does (the version folder,
/// then the file's own folder); refuses to replace a file. Returns the folders created.
pub fn write_revision(new: &NewRevision) -> Result<Vec<PathBuf>, AuthoringError> {
    use std::io::Write;
    let io = |e: std::io::Error| AuthoringError::Io {
        path: new.path.clone(),
        message: e.to_string(),
    };
    let mut created = Vec::new();
    let parent = new.path.parent().map(Path::to_path_buf);
    for dir in std::iter::once(new.version_path.clone()).chain(parent) {
        if !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| AuthoringError::Io {
                path: dir.clone(),
                message: format!("cannot create the folder: {e}"),
            })?;
            created.push(dir);
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&new.path)
        .map_err(io)?;
    f.write_all(new.text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(created)
}

/// `alembic revision`: plans and writes.
pub fn create_revision(
    project: &Project,
    map: &RevisionMap,
    request: &RevisionRequest,
    cwd: &Path,
) -> Result<NewRevision, AuthoringError> {
    let mut new = plan_revision(project, map, request, cwd)?;
    new.created_folders = write_revision(&new)?;
    Ok(new)
}

/// `alembic merge REVS...`: a revision whose parents are `revisions` in the given order
/// (`heads` gives every head). Merging one revision makes a plain child, as alembic.
pub fn create_merge(
    project: &Project,
    map: &RevisionMap,
    revisions: &[String],
    request: &RevisionRequest,
    cwd: &Path,
) -> Result<NewRevision, AuthoringError> {
    let mut request = request.clone();
    request.heads = revisions.to_vec();
    request.depends_on.clear();
    request.version_path = None;
    create_revision(project, map, &request, cwd)
}

/// Journals a revision or merge file just written (no database is involved).
pub async fn record_written(
    store: &crate::store::Store,
    context: &crate::journal::Context,
    new: &NewRevision,
    kind: crate::journal::EntryKind,
) -> Result<i64, crate::store::StoreError> {
    record_file(
        store,
        context,
        kind,
        Some(new.message.clone()),
        new.down_revision.clone(),
        &new.revision,
        &new.path,
        None,
    )
    .await
}

/// The journal's entry for a revision file written by Retort or by alembic: no database,
/// one step naming the file and its checksum.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_file(
    store: &crate::store::Store,
    context: &crate::journal::Context,
    kind: crate::journal::EntryKind,
    target: Option<String>,
    from_revisions: Vec<String>,
    revision: &str,
    path: &Path,
    note: Option<String>,
) -> Result<i64, crate::store::StoreError> {
    use crate::journal::{EntryOutcome, Finish, NewEntry, StepRecord, file_checksum};
    let entry = NewEntry {
        kind,
        context: context.clone(),
        connection: None,
        target,
        from_revisions,
        note,
    };
    let finish = Finish {
        outcome: EntryOutcome::Ok,
        from_revisions: None,
        to_revisions: vec![revision.to_string()],
        steps: vec![StepRecord {
            revision: Some(revision.to_string()),
            description: format!("wrote {}", path.display()),
            file_path: Some(path.to_path_buf()),
            file_sha256: file_checksum(path).ok(),
            duration_ms: 0,
            ok: true,
        }],
        failed_step: None,
        error: None,
        backup_id: None,
    };
    store.journal_record(&entry, &finish).await
}

fn same_path(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn read_back(
    kind: ProjectKind,
    path: &Path,
    text: &str,
    template: Option<&Path>,
) -> Result<RevisionFile, AuthoringError> {
    let wrap = |message: String| -> AuthoringError {
        match template {
            Some(t) => AuthoringError::Template(TemplateError {
                path: t.to_path_buf(),
                line: 0,
                message,
            }),
            None => command(message),
        }
    };
    match kind {
        ProjectKind::Alembic => match python_revision::read_static(path, text) {
            Ok(StaticRead::Read(file)) => Ok(file),
            Ok(StaticRead::Computed { line, reason }) => Err(wrap(format!(
                "the rendered revision computes its identifiers at line {line} ({reason}); Retort writes only files it can read back"
            ))),
            Err(d) => Err(wrap(format!(
                "the rendered revision does not read back: line {}: {}",
                d.line.unwrap_or(0),
                d.message
            ))),
        },
        ProjectKind::Native => sql_revision::parse_sql_revision(path, text)
            .map_err(|d| wrap(format!("the rendered revision does not read back: {d}"))),
    }
}

/// `generate_revision`'s template variables, rendered through the project's template.
#[allow(clippy::too_many_arguments)]
fn render_python(
    project: &Project,
    template: &Path,
    rev_id: &str,
    down_revision: &[String],
    branch_labels: &[String],
    depends_on: &[String],
    create_date: &CreateDate,
    message: &str,
    body: &Body,
) -> Result<String, AuthoringError> {
    // `tuple_rev_as_scalar`: None, the one id, or the tuple (depends_on: a list).
    let scalar = |items: &[String], list: bool| -> Value {
        match items.len() {
            0 => Value::None,
            1 => Value::Str(items[0].clone()),
            _ if list => Value::str_list(items),
            _ => Value::str_tuple(items),
        }
    };
    let mut vars: BTreeMap<String, Value> = BTreeMap::new();
    vars.insert("up_revision".into(), Value::Str(rev_id.to_string()));
    vars.insert("down_revision".into(), scalar(down_revision, false));
    vars.insert(
        "branch_labels".into(),
        if branch_labels.is_empty() {
            Value::None
        } else {
            Value::str_tuple(branch_labels)
        },
    );
    vars.insert("depends_on".into(), scalar(depends_on, true));
    vars.insert("create_date".into(), Value::Date(create_date.text.clone()));
    vars.insert("comma".into(), Value::CommaFilter);
    vars.insert("message".into(), Value::Str(message.to_string()));
    vars.insert("config".into(), Value::Config);
    for (name, value) in [
        ("imports", &body.imports),
        ("upgrades", &body.upgrades),
        ("downgrades", &body.downgrades),
    ] {
        if let Some(v) = value {
            vars.insert(name.into(), Value::Str(v.clone()));
        }
    }
    let ini = if project
        .config_path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ini"))
    {
        Some(IniFile::read(&project.config_path).map_err(|e| command(e.to_string()))?)
    } else {
        None
    };
    let main_option = |name: &str| -> Result<Option<String>, String> {
        match &ini {
            Some(ini) => ini.get("alembic", name).map_err(|d| d.to_string()),
            None => Ok(None),
        }
    };
    let ctx = template::Context {
        vars,
        main_option: &main_option,
    };
    Ok(template::render_file(template, &ctx)?)
}

/// A warning when the project configures post-write hooks (which Retort does not run).
fn post_write_hooks(project: &Project) -> Option<String> {
    let path = &project.config_path;
    let configured = if path.extension().is_some_and(|e| e == "ini") {
        IniFile::read(path).ok().is_some_and(|ini| {
            ini.get("post_write_hooks", "hooks")
                .ok()
                .flatten()
                .is_some_and(|h| !h.trim().is_empty())
        })
    } else {
        false
    };
    let pyproject = path.with_file_name("pyproject.toml");
    let in_toml = std::fs::read_to_string(&pyproject)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| {
            t.get("tool")
                .and_then(|t| t.get("alembic"))
                .and_then(|a| a.get("post_write_hooks"))
                .is_some()
        });
    (configured || in_toml).then(|| {
        "the project configures post_write_hooks; Retort does not run them (run your formatter on the new file)".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{ConfigFile, load_project};

    fn native(files: &[(&str, &str)]) -> (tempfile::TempDir, Project, RevisionMap) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("retort.toml"), "truncate_slug_length = 10\n").unwrap();
        std::fs::create_dir_all(dir.join("versions")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join("versions").join(name), text).unwrap();
        }
        let project = load_project(&ConfigFile::RetortToml(
            dir.join("retort.toml").canonicalize().unwrap(),
        ))
        .unwrap();
        let map = RevisionMap::from_project(&project).unwrap();
        (tmp, project, map)
    }

    fn sql(id: &str, down: &str) -> String {
        format!("-- revision: {id}\n-- down_revision: {down}\n\n-- migrate:up\n")
    }

    fn date() -> CreateDate {
        CreateDate::at_epoch(1_700_000_000, 0, Some("UTC")).unwrap()
    }

    fn request(heads: &[&str]) -> RevisionRequest {
        RevisionRequest {
            message: Some("Add users, now!".into()),
            heads: heads.iter().map(|s| s.to_string()).collect(),
            rev_id: Some("new1".into()),
            create_date: Some(date()),
            ..RevisionRequest::default()
        }
    }

    fn err(r: Result<NewRevision, AuthoringError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn plans_native_revisions_with_alembics_rules() {
        let a = sql("a1", "");
        let b = sql("b2", "a1");
        let c = sql("c3", "a1");
        let (tmp, project, map) = native(&[("a.sql", &a), ("b.sql", &b), ("c.sql", &c)]);
        let cwd = tmp.path();
        assert_eq!(
            err(plan_revision(&project, &map, &request(&[]), cwd)),
            MULTIPLE_HEADS
        );
        assert_eq!(
            err(plan_revision(&project, &map, &request(&["a1"]), cwd)),
            "Revision a1 is not a head revision; please specify --splice to create a new branch from this revision"
        );
        assert_eq!(
            err(plan_revision(&project, &map, &request(&["b2", "b2"]), cwd)),
            "Duplicate head revisions specified"
        );
        let mut dup = request(&["b2"]);
        dup.rev_id = Some("c3".into());
        assert!(
            err(plan_revision(&project, &map, &dup, cwd))
                .starts_with("Revision c3 already exists (")
        );
        let mut bad = request(&["b2"]);
        bad.rev_id = Some("x:y".into());
        assert_eq!(
            err(plan_revision(&project, &map, &bad, cwd)),
            "Character(s) ':' not allowed in revision identifier 'x:y'"
        );
        let mut elsewhere = request(&["b2"]);
        elsewhere.version_path = Some("other".into());
        assert_eq!(
            err(plan_revision(&project, &map, &elsewhere, cwd)),
            "Path other is not represented in current version locations"
        );

        let mut merge = request(&["c3", "b2"]);
        merge.body.up_sql = Some("SELECT 1;".into());
        let new = plan_revision(&project, &map, &merge, cwd).unwrap();
        assert_eq!(new.down_revision, ["c3", "b2"]);
        assert_eq!(new.path.file_name().unwrap(), "new1_add_users_.sql");
        assert_eq!(
            new.text,
            "-- revision: new1\n-- down_revision: c3, b2\n-- branch_labels:\n-- depends_on:\n-- message: Add users, now!\n-- create_date: 2023-11-14 22:13:20+00:00\n\n-- migrate:up\nSELECT 1;\n\n-- migrate:down\n"
        );
        assert!(!new.path.exists(), "planning writes nothing");
        let created = write_revision(&new).unwrap();
        assert!(created.is_empty());
        assert!(
            write_revision(&new).is_err(),
            "an existing file is not replaced"
        );

        // A new root, then a splice with a dependency named by prefix and a label.
        let mut root = request(&["base"]);
        root.rev_id = Some("r9".into());
        root.branch_labels = vec!["side".into()];
        root.depends_on = vec!["b2".into()];
        root.message = None;
        let new = plan_revision(&project, &map, &root, cwd).unwrap();
        assert!(new.down_revision.is_empty());
        assert_eq!(new.message, "empty message");
        assert_eq!(new.path.file_name().unwrap(), "r9_.sql");
        assert!(
            new.text
                .contains("-- branch_labels: side\n-- depends_on: b2\n")
        );
        // A label that is a revision id already: refused before anything is written.
        let mut clash = request(&["b2"]);
        clash.branch_labels = vec!["a1".into()];
        clash.rev_id = Some("l5".into());
        assert!(err(plan_revision(&project, &map, &clash, cwd)).contains("Branch name 'a1'"));
    }
}
