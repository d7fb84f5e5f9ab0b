//! What the commands take and give, as the UI sees it (camelCase JSON, TypeScript types
//! generated from these). Numbers are at most 32 bits wide or `f64`: JavaScript has no i64.

use serde::{Deserialize, Serialize};

// The core's own enums, sent as they are (no mirror copies).
pub use crate::core::AppMode;
pub use retort_core::database::Backend;
pub use retort_core::database::check::{FailureKind, TlsState, VersionStatus};
pub use retort_core::graph::lanes::Part as SegmentPart;
pub use retort_core::project::ProjectKind;
pub use retort_core::store::{Driver, PasswordStorage};
pub use retort_core::workspace::ProblemKind;

// The core's reports and events as camelCase copies (and the core's single-word types).
mod reports;
pub use reports::*;

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub mode: AppMode,
    /// Retort's own store (workspaces, connection profiles).
    pub store_path: String,
    /// Native dialogs are shown (desktop); otherwise the UI asks for paths.
    pub native_dialogs: bool,
}

/// Whether the persistent OS keychain can keep passwords here.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct KeychainStatus {
    pub available: bool,
    /// The keychain's name, or why it is not available.
    pub detail: String,
}

/// One problem the engine found, tied to a file and, where known, a line.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub kind: ProblemKind,
    pub error: bool,
    pub path: Option<String>,
    pub line: Option<u32>,
    pub message: String,
}

/// The open workspace: a migration project folder and what the engine says about it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    pub name: String,
    /// The project folder.
    pub path: String,
    /// `None` when no configuration file was readable.
    pub config_path: Option<String>,
    pub kind: Option<ProjectKind>,
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

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RecentWorkspace {
    pub name: String,
    pub path: String,
    pub connections: Vec<String>,
    /// The folder is still there.
    pub exists: bool,
}

/// One line piece of a row: from lane `from` to lane `to` (see `graph::lanes::segments`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub from: u32,
    pub to: u32,
    pub part: SegmentPart,
}

/// One row of the history graph, newest first.
#[derive(Debug, Clone, Serialize, specta::Type)]
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
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct GraphLayout {
    pub nodes: Vec<GraphNode>,
    /// The number of lanes (the drawing's width in lanes).
    pub lanes: u32,
    pub heads: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Language {
    Sql,
    Python,
    Text,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
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

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SourceFile {
    pub path: String,
    pub language: Language,
    pub text: String,
}

/// A saved connection as the list and the form show it (never its password).
#[derive(Debug, Clone, Serialize, specta::Type)]
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
    /// [`PasswordStorage::Command`]: the command that prints the password (no secret).
    pub password_command: Option<String>,
    /// Seconds a password from the command is used before it is fetched again.
    pub password_lifetime: Option<u32>,
    /// The SSH hops from the first one connected to; empty: reached directly.
    pub ssh_hops: Vec<String>,
    pub ssh_identity: Option<String>,
    /// The URL with the password as `***`.
    pub url: String,
    /// Bound to the open workspace.
    pub bound: bool,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionList {
    pub connections: Vec<ConnectionView>,
    pub keychain: KeychainStatus,
}

/// A connection's fields, as a pasted URL fills the form.
#[derive(Debug, Clone, Default, Serialize, specta::Type)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, specta::Type)]
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
    /// Run `passwordCommand` when the password is needed; keep nothing.
    Command,
}

/// The add/edit form.
#[derive(Debug, Clone, Deserialize, specta::Type)]
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
    /// [`PasswordChoice::Command`]: the command whose first line of output is the password.
    #[serde(default)]
    pub password_command: Option<String>,
    /// Seconds before a password from the command is fetched again (`None`: 600).
    #[serde(default)]
    pub password_lifetime: Option<u32>,
    /// SSH hops (`[user@]host[:port]` or ssh config aliases), from the first one connected
    /// to; empty: the database is reached directly.
    #[serde(default)]
    pub ssh_hops: Vec<String>,
    /// A private key file to offer (absolute path).
    #[serde(default)]
    pub ssh_identity: Option<String>,
    /// Bind the connection to the open workspace.
    pub bind: bool,
}

/// What "Test SSH only" found: the route's report, and the database's `host:port` that
/// answered through it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SshCheck {
    pub ssh: SshReport,
    pub target: String,
}

/// What an SSH route's check found: who authenticated how, the bastion's host key.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SshReport {
    pub route: String,
    pub authenticated: Vec<String>,
    pub host_key: Option<String>,
    pub setup_ms: f64,
}

/// Trusting an SSH hop's host key after the user compared its fingerprint.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TrustHostKey {
    pub connection: String,
    pub host: String,
    pub fingerprint: String,
    /// The route as the form has it, before it is saved ("Test SSH only"); empty: the saved
    /// connection's.
    #[serde(default)]
    pub ssh_hops: Vec<String>,
    #[serde(default)]
    pub ssh_identity: Option<String>,
}

/// The connection check's report (the core's `ConnectionReport`, as the UI reads it).
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionReport {
    /// The connection tested.
    pub name: String,
    pub url: String,
    pub backend: Backend,
    pub target: String,
    /// The SSH route it was reached through.
    pub ssh: Option<SshReport>,
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
    pub tls: TlsState,
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

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct VersionTableCheck {
    pub table: String,
    pub status: VersionStatus,
    pub rows: Vec<String>,
    pub heads: Vec<String>,
    pub behind_by: Option<f64>,
    pub pending: Vec<String>,
    pub unknown: Vec<String>,
    pub detail: String,
}

/// Who holds the migration lock, as far as the database tells.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LockHolder {
    pub pid: Option<f64>,
    pub application: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
    pub since: Option<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DumpToolCheck {
    pub name: String,
    pub found: bool,
    pub path: Option<String>,
    pub version: Option<String>,
    pub compatible: Option<bool>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionFailure {
    pub kind: FailureKind,
    /// A few words for the kind.
    pub label: String,
    pub message: String,
    pub code: Option<String>,
    pub advice: String,
}

/// Where a bound connection's database is on the graph.
#[derive(Debug, Clone, Serialize, specta::Type)]
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

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PickedPath {
    /// `None`: cancelled, or (when `native` is false) no dialog here: ask for the path.
    pub path: Option<String>,
    pub native: bool,
}

/// The database an operation works on, as the safety gate shows it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TargetView {
    /// The saved connection; `None`: the project's own URL.
    pub connection: Option<String>,
    pub environment: String,
    pub color: String,
    /// The URL with the password as `***`.
    pub url: String,
    /// The name to type to confirm (the database's, or the SQLite file's).
    pub database: String,
    /// `sqlite`, `postgresql` or `mysql`.
    pub backend: String,
    /// Production: the run needs the database's name typed, and a backup or an explicit skip.
    pub production: bool,
}

/// What the run dialog shows before anything runs.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunPreview {
    pub target: TargetView,
    pub plan: Plan,
    pub warnings: Vec<PlanWarning>,
    /// A backup is required (production upgrades and downgrades).
    pub backup_required: bool,
    /// Where a backup would go.
    pub backup_dir: String,
    /// Alembic projects run Python revisions: their SQL comes from alembic's offline mode.
    pub alembic: bool,
}

/// A run as the UI asks for it.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
    /// The UI's id for this run: progress events carry it, `cancel_run` takes it.
    pub run_id: String,
    pub connection: Option<String>,
    /// For a connection that asks for its password on every use.
    pub password: Option<String>,
    pub operation: Operation,
    /// Take a verified backup first (production: required unless skipped by name).
    pub backup: bool,
    /// Also restore the backup into a scratch database as a test.
    pub verify_restore: bool,
    /// Production: the database's name, typed.
    pub confirm_database: Option<String>,
    /// Stamps: compare schemas first (a mismatch stops the stamp unless accepted).
    pub verify_stamp: bool,
    pub accept_mismatch: bool,
    /// Seconds to wait for another run's migration lock (default 30).
    pub lock_timeout_seconds: Option<u32>,
}

/// What a run did, with its journal entry and the backup taken before it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub report: RunReport,
    pub journal_entry: f64,
    pub journal_error: Option<String>,
    pub backup: Option<BackupRecord>,
    pub target: TargetView,
}

/// Something long under way.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ActiveRunView {
    pub run_id: String,
    /// `upgrade`, `downgrade`, `stamp`, `backup`, `restore`, `round trip`.
    pub what: String,
    pub target: String,
    /// UTC, RFC 3339.
    pub started_at: String,
}

/// A verified stamp's comparison, with the target it was made against.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StampCheck {
    pub target: TargetView,
    pub verification: StampVerification,
    pub matches: bool,
    /// The differences in words, one per line.
    pub differences: Vec<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupList {
    pub backups: Vec<BackupRecord>,
    /// Where new backups go.
    pub backup_dir: String,
}

/// A new revision or merge as the form asks for it.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RevisionInput {
    pub message: String,
    /// The parent: a head, `head`, or `base` for a new root (default `head`).
    pub head: Option<String>,
    pub branch_label: Option<String>,
    pub depends_on: Vec<String>,
}

/// A revision file as it would be (or was) written, with naming advice.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RevisionPreview {
    pub revision: NewRevision,
    /// Naming advice for the message (the project's conventions).
    pub naming: Vec<String>,
    pub written: bool,
}

/// Autogenerate's request: the database to compare the models with, and the revision's
/// message.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AutogenerateInput {
    /// A saved connection; `None`: the project's own URL.
    pub connection: Option<String>,
    pub password: Option<String>,
    /// A production database's name, typed: autogenerate reads its schema.
    pub confirm_database: Option<String>,
    pub message: String,
    /// The head to base the revision on (`None`: the only head).
    pub head: Option<String>,
}

/// One operation alembic would write, and what it risks on a table with rows.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ProposedOperation {
    pub kind: String,
    pub table: String,
    pub text: String,
    pub risks: Vec<String>,
}

/// The review: the database read, and the operations found.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AutogenerateProposal {
    pub target: TargetView,
    pub operations: Vec<ProposedOperation>,
    /// Native projects: the revision's two sections, proven on a scratch database (written
    /// whole: no operation is left out).
    pub native: Option<NativeRevisionSql>,
}

/// A native autogenerated revision's SQL, and where it was proven.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NativeRevisionSql {
    pub up_sql: String,
    pub down_sql: String,
    pub scratch: String,
}

/// The operations chosen in the review: `keep` numbers `reviewed` (from 0).
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AutogenerateChoice {
    pub input: AutogenerateInput,
    pub reviewed: Vec<ProposedOperation>,
    pub keep: Vec<u32>,
}

/// The revision file's two functions for the operations kept, as alembic renders them.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AutogeneratePreview {
    pub upgrade: String,
    pub downgrade: String,
}

/// The revision alembic wrote.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AutogenerateWritten {
    pub revision: String,
    pub path: String,
    pub kept: u32,
    pub reviewed: u32,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct JournalQuery {
    pub connection: Option<String>,
    /// `upgrade`, `downgrade`, `stamp`, `merge`, `revision`, `backup`, `restore`.
    pub kind: Option<String>,
    /// `ok`, `failed`, `cancelled`, `running`.
    pub outcome: Option<String>,
    pub limit: Option<u32>,
}

/// Where a bound connection stands, in a word the board can colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Standing {
    UpToDate,
    Behind,
    /// Ahead of the project, or on a revision the project does not have.
    Unknown,
    /// No version table: nothing applied yet.
    Empty,
    Unreachable,
    PasswordNeeded,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StatusRow {
    pub name: String,
    pub environment: String,
    pub color: String,
    pub standing: Standing,
    /// Revisions pending (behind).
    pub behind_by: u32,
    /// One sentence.
    pub summary: String,
    pub status: Option<ConnectionStatus>,
}

/// A file revealed in the file manager (`opened` false: shown only as a path).
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Revealed {
    pub path: String,
    pub opened: bool,
}

/// Pushed to the UI: Tauri events in the app, server-sent events in `retort serve`.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
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
    /// Progress of a run (`runId` as the UI gave it).
    #[serde(rename_all = "camelCase")]
    RunProgress {
        run_id: String,
        progress: ProgressEvent,
    },
    /// Progress of a backup or restore, alone or before a run.
    #[serde(rename_all = "camelCase")]
    BackupProgress {
        run_id: String,
        progress: BackupProgress,
    },
    /// Progress of a round-trip test.
    #[serde(rename_all = "camelCase")]
    RoundTripProgress {
        run_id: String,
        progress: RoundTripEvent,
    },
    /// Something started or ended: see `active_runs`.
    RunsChanged,
    /// A new journal entry (a run, backup, restore, merge or revision).
    JournalChanged,
}
