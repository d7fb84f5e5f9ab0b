//! What the commands take and give, as the UI sees it (camelCase JSON, TypeScript types
//! generated from these). Numbers are at most 32 bits wide or `f64`: JavaScript has no i64.

use serde::{Deserialize, Serialize};

/// How the UI is being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum AppModeName {
    Desktop,
    Browser,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub mode: AppModeName,
    /// Retort's own store (workspaces, connection profiles).
    pub store_path: String,
    /// Native dialogs are shown (desktop); otherwise the UI asks for paths.
    pub native_dialogs: bool,
}

/// Whether the persistent OS keychain can keep passwords here.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct KeychainStatus {
    pub available: bool,
    /// The keychain's name, or why it is not available.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ProblemKind {
    /// The configuration file is malformed or lacks a key.
    Config,
    /// A revision file could not be read.
    Parse,
    /// A `down_revision` or `depends_on` names a revision that is not there.
    MissingParent,
    /// The revisions form a cycle.
    Cycle,
    /// Any other error of the graph (duplicate labels, …).
    Graph,
    /// Not an error: something worth a look.
    Warning,
}

/// One problem the engine found, tied to a file and, where known, a line.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub kind: ProblemKind,
    pub error: bool,
    pub path: Option<String>,
    pub line: Option<u32>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ProjectKindName {
    Alembic,
    Native,
}

/// The open workspace: a migration project folder and what the engine says about it.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    pub name: String,
    /// The project folder.
    pub path: String,
    /// `None` when no configuration file was readable.
    pub config_path: Option<String>,
    pub kind: Option<ProjectKindName>,
    pub revision_count: u32,
    pub heads: Vec<String>,
    /// False when errors keep the graph from being drawn.
    pub graph_available: bool,
    pub problems: Vec<Problem>,
    /// Saved connections bound to this workspace.
    pub connections: Vec<String>,
    /// The project's own database URL (password shown as `***`).
    pub project_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RecentWorkspace {
    pub name: String,
    pub path: String,
    pub connections: Vec<String>,
    /// The folder is still there.
    pub exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum SegmentPart {
    Top,
    Bottom,
    Through,
}

/// One line piece of a row: from lane `from` to lane `to` (see `graph::lanes::segments`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub from: u32,
    pub to: u32,
    pub part: SegmentPart,
}

/// One row of the history graph, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    pub id: String,
    pub short: String,
    /// The first line of the message.
    pub message: String,
    pub labels: Vec<String>,
    pub head: bool,
    pub branchpoint: bool,
    pub mergepoint: bool,
    pub base: bool,
    /// The lane of the revision's dot.
    pub column: u32,
    pub segments: Vec<Segment>,
    /// `down_revision` parents, as row numbers in [`GraphLayout::nodes`].
    pub parents: Vec<u32>,
    /// `depends_on` revisions, as row numbers.
    pub dependencies: Vec<u32>,
}

/// The revision graph laid out in lanes by the core, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct GraphLayout {
    pub nodes: Vec<GraphNode>,
    /// The number of lanes (the drawing's width in lanes).
    pub lanes: u32,
    pub heads: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Language {
    Sql,
    Python,
    Text,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RevisionDetail {
    pub id: String,
    pub message: String,
    pub longdoc: String,
    pub create_date: Option<String>,
    pub labels: Vec<String>,
    pub parents: Vec<String>,
    pub children: Vec<String>,
    pub depends_on: Vec<String>,
    pub head: bool,
    pub branchpoint: bool,
    pub mergepoint: bool,
    pub base: bool,
    pub path: Option<String>,
    pub source: Option<SourceFile>,
    /// Why the source could not be read.
    pub source_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SourceFile {
    pub path: String,
    pub language: Language,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Driver {
    Sqlite,
    Postgresql,
    Mysql,
}

/// Where a connection's password lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum PasswordStorage {
    None,
    Keychain,
    Session,
    Ask,
}

/// A saved connection as the list and the form show it (never its password).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    pub name: String,
    pub driver: Driver,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub user: Option<String>,
    pub tls_mode: Option<String>,
    pub tls_ca_file: Option<String>,
    pub sqlite_path: Option<String>,
    pub environment: String,
    pub color: String,
    pub password_storage: PasswordStorage,
    /// The URL with the password as `***`.
    pub url: String,
    /// Bound to the open workspace.
    pub bound: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionList {
    pub connections: Vec<ConnectionView>,
    pub keychain: KeychainStatus,
}

/// A connection's fields, as a pasted URL fills the form.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionFields {
    pub driver: Option<Driver>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub user: Option<String>,
    pub tls_mode: Option<String>,
    pub tls_ca_file: Option<String>,
    pub sqlite_path: Option<String>,
    /// The URL's password, handed back to the form's password field.
    pub password: Option<String>,
}

/// What to do with the password when saving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum PasswordChoice {
    /// Editing: leave the password where it is.
    Keep,
    /// The connection needs no password.
    None,
    /// The OS keychain.
    Keychain,
    /// The kernel's session keyring (this login session only).
    Session,
    /// Keep nothing: ask on every use.
    Ask,
}

/// The add/edit form.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInput {
    /// The connection being edited; `None` adds a new one.
    pub original_name: Option<String>,
    pub name: String,
    pub driver: Driver,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub user: Option<String>,
    pub tls_mode: Option<String>,
    pub tls_ca_file: Option<String>,
    pub sqlite_path: Option<String>,
    pub environment: String,
    /// `#rrggbb`; `None`: the environment's colour.
    pub color: Option<String>,
    pub password_choice: PasswordChoice,
    /// The password for the keychain or the session keyring.
    pub password: Option<String>,
    /// Bind the connection to the open workspace.
    pub bind: bool,
}

/// The connection check's report (the core's `ConnectionReport`, as the UI reads it).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionReport {
    /// The connection tested.
    #[serde(default)]
    pub name: String,
    pub url: String,
    /// `sqlite`, `postgres` or `mysql`.
    pub backend: String,
    pub target: String,
    pub timeout_ms: f64,
    pub ok: bool,
    pub reachable: Option<bool>,
    pub authenticated: Option<bool>,
    pub user: Option<String>,
    pub connect_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    pub server_product: Option<String>,
    pub server_version: Option<String>,
    pub server_description: Option<String>,
    /// `on`, `off`, `not_applicable` or `unknown`.
    pub tls: String,
    pub tls_version: Option<String>,
    pub tls_cipher: Option<String>,
    pub database: Option<String>,
    pub database_exists: Option<bool>,
    pub version_table: Option<VersionTableCheck>,
    pub can_create_tables: Option<bool>,
    pub create_tables_detail: Option<String>,
    pub lock_free: Option<bool>,
    pub lock_holder: Option<LockHolder>,
    pub dump_tool: Option<DumpToolCheck>,
    pub failure: Option<ConnectionFailure>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct VersionTableCheck {
    pub table: String,
    /// `no_table`, `up_to_date`, `behind`, `unknown_revision`, `not_on_heads`, `unreadable`.
    pub status: String,
    pub rows: Vec<String>,
    pub heads: Vec<String>,
    pub behind_by: Option<f64>,
    pub pending: Vec<String>,
    pub unknown: Vec<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LockHolder {
    pub pid: Option<f64>,
    pub application: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
    pub since: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DumpToolCheck {
    pub name: String,
    pub found: bool,
    pub path: Option<String>,
    pub version: Option<String>,
    pub compatible: Option<bool>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionFailure {
    /// `host_unreachable`, `timeout`, `authentication_failed`, `database_missing`, …
    pub kind: String,
    /// A few words for the kind.
    #[serde(default)]
    pub label: String,
    pub message: String,
    pub code: Option<String>,
    pub advice: String,
}

/// Where a bound connection's database is on the graph.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionPosition {
    pub name: String,
    pub environment: String,
    pub color: String,
    /// A saved connection (false: the project's own URL).
    pub saved: bool,
    /// The version table's rows (empty: nothing applied).
    pub revisions: Vec<String>,
    /// Why the database could not be read (`None`: it was).
    pub error: Option<String>,
    /// The connection keeps no password: test it with one to see where it is.
    pub password_needed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PickedPath {
    /// `None`: cancelled, or (when `native` is false) no dialog here: ask for the path.
    pub path: Option<String>,
    pub native: bool,
}

/// Pushed to the UI: Tauri events in the app, server-sent events in `retort serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ApiEvent {
    /// A workspace was opened (in this window or another browser tab).
    WorkspaceOpened { path: String },
    /// The saved connections changed.
    ConnectionsChanged,
    /// A connection test started or finished.
    ConnectionTest {
        name: String,
        finished: bool,
        ok: Option<bool>,
    },
}
