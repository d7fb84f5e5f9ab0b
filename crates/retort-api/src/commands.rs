//! The commands: thin async functions over the core, one per UI action.

mod authoring;
mod backups;
mod history;
mod runs;

pub use authoring::*;
pub use backups::*;
pub use history::*;
pub use runs::*;

use crate::core::{AppCore, AppMode, Opened};
use crate::dialog::{PathKind, PickOutcome};
use crate::error::{ApiError, ErrorKind};
use crate::types::*;
use retort_core::connections::{self, PasswordPlan};
use retort_core::credentials::Keeper;
use retort_core::database::check::check_connection;
use retort_core::database::{self, DatabaseUrl, Secret, VersionTable};
use retort_core::graph::{RevisionMap, lanes};
use retort_core::project;
use retort_core::store::ConnectionProfile;
use retort_core::store::profiles::{self, default_color};
use retort_core::tunnel::SshRoute;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub async fn app_info(core: &AppCore) -> Result<AppInfo, ApiError> {
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        mode: core.mode,
        store_path: core.store_path().display().to_string(),
        native_dialogs: core.mode == AppMode::Desktop,
    })
}

// ----- workspaces -----------------------------------------------------------------------

/// Opens a migration project: a folder, or its alembic.ini / pyproject.toml / retort.toml.
/// A project whose files have errors still opens; the errors are its problems.
pub async fn open_workspace(core: &AppCore, path: String) -> Result<WorkspaceView, ApiError> {
    let given = PathBuf::from(path.trim());
    if path.trim().is_empty() {
        return Err(ApiError::invalid("give the project's folder"));
    }
    let given = std::path::absolute(&given).unwrap_or(given);
    if !given.exists() {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("{} does not exist", given.display()),
        ));
    }
    let opened = tokio::task::spawn_blocking(move || read_workspace(&given))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let store = core.store().await?;
    store.touch_workspace(&opened.dir).await?;
    let opened = core.set_opened(opened);
    core.emit(ApiEvent::WorkspaceOpened {
        path: opened.dir.display().to_string(),
    });
    view_of(core, &opened).await
}

/// Reads the open workspace again (after a file was written) and tells the UI.
pub(crate) async fn reopen(core: &AppCore, dir: &Path) -> Result<(), ApiError> {
    let dir = dir.to_path_buf();
    let opened = tokio::task::spawn_blocking(move || read_workspace(&dir))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let opened = core.set_opened(opened);
    core.emit(ApiEvent::WorkspaceOpened {
        path: opened.dir.display().to_string(),
    });
    Ok(())
}

pub async fn current_workspace(core: &AppCore) -> Result<Option<WorkspaceView>, ApiError> {
    match core.opened() {
        Some(opened) => view_of(core, &opened).await.map(Some),
        None => Ok(None),
    }
}

/// Workspaces opened before (the store's list), with their bound connections.
pub async fn recent_workspaces(core: &AppCore) -> Result<Vec<RecentWorkspace>, ApiError> {
    let store = core.store().await?;
    Ok(store
        .workspaces()
        .await?
        .into_iter()
        .map(|w| RecentWorkspace {
            exists: w.project_dir.exists(),
            name: w.name,
            path: w.project_dir.display().to_string(),
            connections: w.connections,
        })
        .collect())
}

fn read_workspace(given: &Path) -> Result<Opened, ApiError> {
    Opened::open(given, None).map_err(|e| {
        ApiError::new(ErrorKind::NotFound, e.to_string())
            .with_hint("choose the folder that holds alembic.ini, pyproject.toml or retort.toml")
    })
}

async fn view_of(core: &AppCore, opened: &Opened) -> Result<WorkspaceView, ApiError> {
    let store = core.store().await?;
    let ws = store.workspace(&opened.dir).await?;
    let project = opened.project.as_ref();
    Ok(WorkspaceView {
        name: opened.name.clone(),
        path: opened.dir.display().to_string(),
        config_path: project.map(|p| p.config_path.display().to_string()),
        kind: project.map(|p| p.kind),
        revision_count: project.map_or(0, |p| p.revisions.len() as u32),
        heads: opened
            .map
            .as_ref()
            .map(|m| m.ids(m.heads()))
            .unwrap_or_default(),
        graph_available: opened.map.is_some(),
        problems: opened.problems.iter().map(Problem::from).collect(),
        connections: ws.connections,
        project_url: project.and_then(project_url).map(|u| u.redacted()),
    })
}

pub(crate) fn project_url(project: &project::Project) -> Option<DatabaseUrl> {
    let text = project.settings.url.as_deref()?;
    let base = project.config_path.parent().unwrap_or(Path::new("."));
    DatabaseUrl::parse(text, base).ok()
}

// ----- the graph ------------------------------------------------------------------------

/// The graph laid out in lanes (newest first), with each row's line pieces.
pub async fn graph_layout(core: &AppCore) -> Result<GraphLayout, ApiError> {
    let opened = core.require_opened()?;
    let map = opened.map.as_ref().ok_or_else(|| {
        ApiError::new(ErrorKind::Project, "the revision graph cannot be drawn")
            .with_hint("fix the problems listed for this workspace")
    })?;
    let rows = lanes::layout(map, &opened.order);
    let segments = lanes::segments(&rows);
    let mut row_of = vec![u32::MAX; map.len()];
    for (row, &i) in opened.order.iter().enumerate() {
        row_of[i] = row as u32;
    }
    let rows_of = |idxs: &[usize]| -> Vec<u32> {
        idxs.iter()
            .map(|&i| row_of[i])
            .filter(|&r| r != u32::MAX)
            .collect()
    };
    // The labels each file declares (the map's labels also hold the inherited ones).
    let declared: HashMap<&str, &[String]> = opened
        .project
        .iter()
        .flat_map(|p| &p.revisions)
        .map(|r| (r.revision.as_str(), r.branch_labels.as_slice()))
        .collect();
    let mut width = 0;
    let nodes = rows
        .iter()
        .zip(segments)
        .map(|(row, segs)| {
            let rev = map.rev(row.revision);
            width = width
                .max(row.open.len())
                .max(row.open_after.len())
                .max(row.column + 1);
            let deps: Vec<usize> = rev
                .resolved_dependencies()
                .iter()
                .filter_map(|d| map.lookup(d))
                .collect();
            let mut labels = declared
                .get(rev.revision.as_str())
                .map_or_else(|| rev.branch_labels.clone(), |l| l.to_vec());
            labels.sort();
            GraphNode {
                id: rev.revision.clone(),
                short: rev.revision.chars().take(12).collect(),
                message: rev.doc().lines().next().unwrap_or("").to_string(),
                labels,
                head: rev.is_head(),
                branchpoint: rev.is_branch_point(),
                mergepoint: rev.is_merge_point(),
                base: rev.is_base(),
                column: row.column as u32,
                segments: segs
                    .into_iter()
                    .map(|s| Segment {
                        from: s.from as u32,
                        to: s.to as u32,
                        part: s.part,
                    })
                    .collect(),
                parents: rows_of(rev.parents()),
                dependencies: rows_of(&deps),
            }
        })
        .collect();
    Ok(GraphLayout {
        nodes,
        lanes: width as u32,
        heads: map.ids(map.heads()),
    })
}

/// One revision: its metadata, parents and children, and its file's text.
pub async fn revision_detail(core: &AppCore, id: String) -> Result<RevisionDetail, ApiError> {
    let opened = core.require_opened()?;
    let (Some(map), Some(project)) = (&opened.map, &opened.project) else {
        return Err(ApiError::new(
            ErrorKind::Project,
            "the revision graph could not be built",
        ));
    };
    let i = map
        .lookup(&id)
        .filter(|&i| map.rev(i).revision == id)
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, format!("no revision {id}")))?;
    let rev = map.rev(i);
    let file = project.revisions.iter().find(|r| r.revision == id);
    let (source, source_error) = match &rev.path {
        Some(p) => match read_text(p) {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    let mut labels = file.map_or_else(|| rev.branch_labels.clone(), |f| f.branch_labels.clone());
    labels.sort();
    Ok(RevisionDetail {
        id: rev.revision.clone(),
        message: rev.doc().to_string(),
        longdoc: rev.longdoc.clone(),
        create_date: file.and_then(|f| f.create_date.clone()),
        labels,
        parents: rev.down_revision.clone(),
        children: map.ids(rev.children()),
        depends_on: rev.dependencies.clone(),
        head: rev.is_head(),
        branchpoint: rev.is_branch_point(),
        mergepoint: rev.is_merge_point(),
        base: rev.is_base(),
        path: rev.path.as_ref().map(|p| p.display().to_string()),
        source,
        source_error,
    })
}

/// A file of the open project (a problem's source); files outside its folder are refused.
pub async fn read_source(core: &AppCore, path: String) -> Result<SourceFile, ApiError> {
    let opened = core.require_opened()?;
    let wanted = std::fs::canonicalize(&path)
        .map_err(|e| ApiError::new(ErrorKind::NotFound, format!("{path}: {e}")))?;
    let root = std::fs::canonicalize(&opened.dir).unwrap_or_else(|_| opened.dir.clone());
    if !wanted.starts_with(&root) {
        return Err(ApiError::invalid(format!(
            "{path} is outside the workspace folder {}",
            root.display()
        )));
    }
    read_text(&wanted).map_err(|e| ApiError::new(ErrorKind::NotFound, e))
}

/// Source files bigger than this are shown cut (the viewer is for reading, not editing).
const SOURCE_LIMIT: usize = 512 * 1024;

fn read_text(path: &Path) -> Result<SourceFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::from_utf8_lossy(&bytes[..bytes.len().min(SOURCE_LIMIT)]).into_owned();
    if bytes.len() > SOURCE_LIMIT {
        text.push_str("\n… (cut: the file is larger than 512 KiB)\n");
    }
    let language = match path.extension().and_then(|e| e.to_str()) {
        Some("sql") => Language::Sql,
        Some("py") => Language::Python,
        _ => Language::Text,
    };
    Ok(SourceFile {
        path: path.display().to_string(),
        language,
        text,
    })
}

// ----- connections ----------------------------------------------------------------------

async fn bound_names(core: &AppCore) -> Result<Vec<String>, ApiError> {
    match core.opened() {
        Some(o) => Ok(core.store().await?.workspace(&o.dir).await?.connections),
        None => Ok(Vec::new()),
    }
}

async fn keychain_status(core: &AppCore) -> Result<KeychainStatus, ApiError> {
    core.blocking(|c| match c.keychain_status() {
        Ok(vendor) => KeychainStatus {
            available: true,
            detail: vendor,
        },
        Err(e) => KeychainStatus {
            available: false,
            detail: ApiError::from(e).message,
        },
    })
    .await
}

/// The saved connections, and whether the OS keychain can keep passwords here.
pub async fn list_connections(core: &AppCore) -> Result<ConnectionList, ApiError> {
    let store = core.store().await?;
    let bound = bound_names(core).await?;
    let connections = store
        .connections()
        .await?
        .iter()
        .map(|p| ConnectionView::of(p, &bound))
        .collect();
    Ok(ConnectionList {
        connections,
        keychain: keychain_status(core).await?,
    })
}

/// A pasted URL as form fields (relative SQLite paths: against the open project's folder).
pub async fn parse_connection_url(
    core: &AppCore,
    url: String,
) -> Result<ConnectionFields, ApiError> {
    let base = core
        .opened()
        .map(|o| o.dir.clone())
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("/"));
    let (p, password) = profiles::import_url("pasted", url.trim(), &base)?;
    Ok(ConnectionFields::of(
        p,
        password.map(|s| s.expose().to_string()),
    ))
}

pub(crate) fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Adds or edits a connection. The password goes to the chosen keeper, never to the store;
/// nothing is left half-saved when the keeper refuses it.
pub async fn save_connection(
    core: &AppCore,
    input: ConnectionInput,
) -> Result<ConnectionView, ApiError> {
    let store = core.store().await?;
    let name = input.name.trim().to_string();
    let old = match non_empty(input.original_name.clone()) {
        Some(n) => Some(store.connection(&n).await?),
        None => None,
    };
    let mut profile = old
        .clone()
        .unwrap_or_else(|| ConnectionProfile::new(&name, input.driver));
    profile.name = name;
    profile.driver = input.driver;
    profile.host = non_empty(input.host);
    profile.port = input.port;
    profile.database = non_empty(input.database);
    profile.user = non_empty(input.user);
    profile.tls_mode = non_empty(input.tls_mode);
    profile.tls_ca_file = non_empty(input.tls_ca_file).map(PathBuf::from);
    profile.sqlite_path = non_empty(input.sqlite_path).map(PathBuf::from);
    if let (Some(p), Some(o)) = (&profile.sqlite_path, core.opened())
        && p.is_relative()
    {
        profile.sqlite_path = Some(o.dir.join(p));
    }
    profile.environment = profiles::normalize_environment(&input.environment)?;
    profile.color = match non_empty(input.color) {
        Some(c) => profiles::normalize_color(&c)?,
        None => default_color(&profile.environment).to_string(),
    };
    let password = non_empty(input.password).map(Secret::new);
    let plan = match input.password_choice {
        PasswordChoice::Keep => {
            if old.is_none() && password.is_some() {
                return Err(ApiError::invalid(
                    "choose where the password is kept: the keychain, this session, or ask every time",
                ));
            }
            PasswordPlan::Unchanged
        }
        PasswordChoice::None => PasswordPlan::None,
        PasswordChoice::Ask => PasswordPlan::Ask,
        PasswordChoice::Keychain => PasswordPlan::Kept {
            keeper: Keeper::Keychain,
            secret: password,
        },
        PasswordChoice::Session => PasswordPlan::Kept {
            keeper: Keeper::Session,
            secret: password,
        },
        PasswordChoice::Command => PasswordPlan::Command {
            command: non_empty(input.password_command)
                .ok_or_else(|| ApiError::invalid("enter the command that prints the password"))?,
            lifetime: input.password_lifetime,
        },
    };
    profile.ssh = ssh_route(&input.ssh_hops, input.ssh_identity);
    let saved = connections::save(store, &core.credentials, old, profile, plan)
        .await?
        .profile;
    if input.bind
        && let Some(o) = core.opened()
    {
        store.bind(&o.dir, &saved.name).await?;
    }
    core.emit(ApiEvent::ConnectionsChanged);
    Ok(ConnectionView::of(&saved, &bound_names(core).await?))
}

/// The form's SSH hops (blank ones left out) and identity file; `None` without hops.
fn ssh_route(hops: &[String], identity: Option<String>) -> Option<SshRoute> {
    let hops: Vec<String> = hops
        .iter()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    (!hops.is_empty()).then(|| SshRoute {
        hops,
        identity: non_empty(identity).map(PathBuf::from),
    })
}

/// A connection as the form has it, not saved, for what only needs its route and address.
fn unsaved(name: &str, driver: retort_core::store::Driver) -> ConnectionProfile {
    let name = name.trim();
    ConnectionProfile::new(if name.is_empty() { "new" } else { name }, driver)
}

/// "Test SSH only": the form's SSH route opened to its database's host and port, and the
/// server there answering through it; no password is fetched and nothing is saved.
pub async fn test_ssh(_core: &AppCore, input: ConnectionInput) -> Result<SshCheck, ApiError> {
    let mut profile = unsaved(&input.name, input.driver);
    profile.host = non_empty(input.host);
    profile.port = input.port;
    profile.database = non_empty(input.database);
    profile.ssh = Some(
        ssh_route(&input.ssh_hops, input.ssh_identity)
            .ok_or_else(|| ApiError::invalid("enter the SSH bastion"))?,
    );
    profile.validate()?;
    let checked = connections::test_route(profile).await?;
    Ok(SshCheck {
        ssh: checked.ssh.into(),
        target: checked.target,
    })
}

/// Trusts an SSH hop's host key once the user has compared its fingerprint: added to the
/// known_hosts file OpenSSH uses, if the hop still shows that key.
pub async fn trust_host_key(core: &AppCore, request: TrustHostKey) -> Result<String, ApiError> {
    let file = match ssh_route(&request.ssh_hops, request.ssh_identity) {
        Some(route) => {
            let mut profile = unsaved(&request.connection, retort_core::store::Driver::Postgresql);
            profile.ssh = Some(route);
            connections::trust_route_host_key(profile, &request.host, &request.fingerprint).await?
        }
        None => {
            let store = core.store().await?;
            connections::trust_host_key(
                store,
                &request.connection,
                &request.host,
                &request.fingerprint,
            )
            .await?
        }
    };
    Ok(file.display().to_string())
}

/// Deletes a connection and its kept password.
pub async fn delete_connection(core: &AppCore, name: String) -> Result<(), ApiError> {
    let store = core.store().await?;
    connections::remove(store, &core.credentials, &name).await?;
    core.emit(ApiEvent::ConnectionsChanged);
    Ok(())
}

/// Binds a saved connection to the open workspace: its position shows on the graph.
pub async fn bind_connection(core: &AppCore, name: String) -> Result<WorkspaceView, ApiError> {
    let opened = core.require_opened()?;
    core.store().await?.bind(&opened.dir, &name).await?;
    core.emit(ApiEvent::ConnectionsChanged);
    view_of(core, &opened).await
}

/// A saved connection reached: its URL with its password (`password` if given, else the kept
/// one or its command's), through its SSH tunnel if it has one (open while this lives).
pub(crate) async fn resolve(
    core: &AppCore,
    name: &str,
    password: Option<String>,
) -> Result<connections::Reached, ApiError> {
    let store = core.store().await?;
    let given = non_empty(password).map(Secret::new);
    Ok(connections::resolve(store, &core.credentials, name, given).await?)
}

fn version_table(core: &AppCore) -> (VersionTable, Option<Arc<Opened>>) {
    let opened = core.opened();
    let table = opened
        .as_ref()
        .and_then(|o| o.project.as_ref())
        .map(VersionTable::of)
        .unwrap_or(VersionTable {
            name: "alembic_version".into(),
            schema: None,
        });
    (table, opened)
}

use std::sync::Arc;

/// Runs the connection check against a saved connection (`password`: for one that asks).
pub async fn test_connection(
    core: &AppCore,
    name: String,
    password: Option<String>,
) -> Result<ConnectionReport, ApiError> {
    let reached = resolve(core, &name, password).await?;
    let url = &reached.url;
    let (table, opened) = version_table(core);
    let empty;
    let map = match opened.as_ref().and_then(|o| o.map.as_ref()) {
        Some(m) => m,
        None => {
            empty =
                RevisionMap::build(Vec::new()).map_err(|e| ApiError::internal(e.to_string()))?;
            &empty
        }
    };
    core.emit(ApiEvent::ConnectionTest {
        name: name.clone(),
        finished: false,
        ok: None,
    });
    let mut report = check_connection(url, &table, map, core.timeout).await;
    report.ssh = reached.tunnel.as_ref().map(|t| t.report.clone());
    core.emit(ApiEvent::ConnectionTest {
        name: name.clone(),
        finished: true,
        ok: Some(report.ok),
    });
    Ok(ConnectionReport::of(name, report))
}

/// Where each bound connection's database is: its version table's rows. The project's own
/// URL counts as one more. Databases that cannot be read say why; none fails the command.
pub async fn connection_positions(core: &AppCore) -> Result<Vec<ConnectionPosition>, ApiError> {
    let opened = core.require_opened()?;
    let (table, _) = version_table(core);
    let store = core.store().await?;
    let bound = store.workspace(&opened.dir).await?.connections;
    let mut targets: Vec<(ConnectionPosition, Result<DatabaseUrl, ApiError>)> = Vec::new();
    // Open until every position is read.
    let mut tunnels = Vec::new();
    if let Some(url) = opened.project.as_ref().and_then(project_url) {
        targets.push((
            ConnectionPosition {
                name: "project".into(),
                environment: "project".into(),
                color: "#6a737d".into(),
                saved: false,
                revisions: Vec::new(),
                error: None,
                password_needed: false,
            },
            Ok(url),
        ));
    }
    for name in bound {
        let resolved = resolve(core, &name, None).await;
        let profile = store.connection(&name).await?;
        targets.push((
            ConnectionPosition {
                name,
                environment: profile.environment.clone(),
                color: profile.color.clone(),
                saved: true,
                revisions: Vec::new(),
                error: None,
                password_needed: false,
            },
            resolved.map(|reached| {
                tunnels.extend(reached.tunnel);
                reached.url
            }),
        ));
    }
    let mut tasks = tokio::task::JoinSet::new();
    let mut out: HashMap<usize, ConnectionPosition> = HashMap::new();
    let count = targets.len();
    for (n, (mut position, url)) in targets.into_iter().enumerate() {
        match url {
            Err(e) => {
                position.password_needed = e.kind == ErrorKind::PasswordNeeded;
                position.error = Some(e.message);
                out.insert(n, position);
            }
            Ok(url) => {
                let table = table.clone();
                let timeout = core.timeout;
                tasks.spawn(async move {
                    match database::read_version_rows(&url, &table, timeout).await {
                        Ok(rows) => position.revisions = rows,
                        Err(e) => position.error = Some(url.scrub(&e.to_string())),
                    }
                    (n, position)
                });
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        let (n, position) = done.map_err(|e| ApiError::internal(e.to_string()))?;
        out.insert(n, position);
    }
    drop(tunnels);
    Ok((0..count).filter_map(|n| out.remove(&n)).collect())
}

// ----- dialogs --------------------------------------------------------------------------

/// Shows the native dialog for `kind`; in `retort serve` says that the UI must ask.
pub async fn pick_path(core: &AppCore, kind: PathKind) -> Result<PickedPath, ApiError> {
    let picker = core.picker.clone();
    let outcome = tokio::task::spawn_blocking(move || picker.pick(kind))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(match outcome {
        PickOutcome::Picked(p) => PickedPath {
            path: Some(p.display().to_string()),
            native: true,
        },
        PickOutcome::Cancelled => PickedPath {
            path: None,
            native: true,
        },
        PickOutcome::Unavailable => PickedPath {
            path: None,
            native: false,
        },
    })
}
