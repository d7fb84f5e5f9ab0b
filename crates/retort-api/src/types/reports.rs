//! The core's reports and progress events as the UI reads them: camelCase copies of the core
//! types whose keys have more than one word (the core keeps snake_case for the CLI's
//! `--json`), converted field by field in [`crate::convert`]. Types whose keys are all single
//! words are the core's own, re-exported here. Tag values (`"event": "step_started"`,
//! `"kind": "missing_table"`) are the core's spelling, like the values of its plain enums.

use serde::Serialize;

use super::{Backend, LockHolder, VersionTableCheck};

// The core's own types, sent as they are: every key a single word.
pub use retort_core::authoring::checks::{Finding, Level};
pub use retort_core::authoring::merge::{Branch, RevisionSummary, SharedTable};
pub use retort_core::backup::BackupFormat;
pub use retort_core::database::schema::{Index, UniqueConstraint};
pub use retort_core::execution::plan::{StepKind, StepSql};
pub use retort_core::execution::round_trip::{Phase, RoundTripEvent};
pub use retort_core::execution::{Operation, Outcome};
pub use retort_core::journal::{ConnectionRef, EntryKind, EntryOutcome};
pub use retort_core::preflight::PlanWarning;

// ---------------------------------------------------------------------------------------------
// Backups

/// One backup: where it is, what it holds, and how it was checked (no password anywhere in
/// it).
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    /// The catalog id, as `verify_backup`, `restore_backup` and `delete_backup` take it;
    /// `None` until the backup is catalogued.
    pub id: Option<u32>,
    /// What retention groups by: the saved connection's name, else the redacted URL (for
    /// SQLite, with the file's absolute path).
    pub connection: String,
    /// The saved connection the backup came from, if any.
    pub connection_name: Option<String>,
    /// The database's URL with the password shown as `***`.
    pub url: String,
    pub backend: Backend,
    /// The database name (SQLite: the file's absolute path).
    pub database: Option<String>,
    pub path: String,
    pub format: BackupFormat,
    /// `PostgreSQL 15.20`, `MariaDB 10.11.19`, `SQLite 3.50.4`.
    pub server_version: Option<String>,
    /// `pg_dump`, `mariadb-dump`, `mysqldump`, or `sqlite backup API`.
    pub tool: String,
    pub tool_version: Option<String>,
    /// The version table's rows at backup time (empty: no version table).
    pub revisions: Vec<String>,
    pub version_table: String,
    pub version_table_schema: Option<String>,
    pub size_bytes: f64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// How the file was verified (`PRAGMA integrity_check: ok`, `pg_restore --list: 12
    /// entries`, `completion trailer: -- Dump completed on …`).
    pub verification: String,
    /// A full restore into a scratch database succeeded.
    pub restore_tested: bool,
    /// UTC, `2026-11-24T19:47:03.512Z`.
    pub created_at: String,
    /// Milliseconds the backup took (copy, verification and, if asked, the restore test).
    pub duration_ms: f64,
    /// Said when the backup was taken (its folder is readable by other users).
    pub warnings: Vec<String>,
}

/// Progress of a backup or a restore.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BackupProgress {
    /// The tool is chosen and the copy starts.
    #[serde(rename_all = "camelCase")]
    Started {
        tool: String,
        path: String,
        /// The expected size (SQLite: exact; dumps: the data's size on the server).
        estimated_bytes: Option<f64>,
    },
    /// Part of the copy is done.
    #[serde(rename_all = "camelCase")]
    Copying {
        bytes_done: f64,
        bytes_total: Option<f64>,
        /// Tables (dumps) or pages (SQLite) done, and how many there are.
        items_done: f64,
        items_total: Option<f64>,
        /// The table being dumped, where the tool says.
        item: Option<String>,
    },
    /// The copy is complete; it is being checked.
    Verifying { what: String },
    /// The backup is restored into a scratch database as a test.
    RestoreTesting { into: String },
    /// Restores: the backup is being written into the target.
    Restoring { target: String },
    #[serde(rename_all = "camelCase")]
    Finished { size_bytes: f64 },
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub backup_id: Option<u32>,
    /// The target, redacted.
    pub target: String,
    /// The target's version-table rows after the restore, sorted.
    pub revisions: Vec<String>,
    /// Objects the target had that the backup does not (created after the backup): dropped,
    /// so that the target is as the backup was.
    pub dropped_tables: Vec<String>,
    /// What the restored database was compared with, and found to match.
    pub verification: RestoreVerification,
    pub duration_ms: f64,
}

/// What a restore was checked against, when it matched.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RestoreVerification {
    /// Objects of the backup found in the database, as they are in the backup.
    pub objects: f64,
    /// Tables whose row counts were compared (`None`: the format records no counts).
    pub row_counts: Option<f64>,
    /// The version rows, the same in both.
    pub revisions: Vec<String>,
    /// `SQLite copy`, `pg_restore --list`, `dump's CREATE statements`.
    pub source: String,
}

// ---------------------------------------------------------------------------------------------
// The journal and the status board

/// A journal entry as read back.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    pub id: f64,
    pub kind: EntryKind,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub os_user: String,
    pub hostname: String,
    pub pid: u32,
    pub workspace_dir: Option<String>,
    pub connection: Option<ConnectionRef>,
    pub target: Option<String>,
    pub from_revisions: Vec<String>,
    pub to_revisions: Vec<String>,
    pub outcome: EntryOutcome,
    /// A `running` entry whose process is gone from this machine: it was killed or crashed.
    pub interrupted: bool,
    /// The position of the step that failed in `steps`.
    pub failed_step: Option<u32>,
    pub error: Option<String>,
    /// The backup taken before the run, as the backup commands take its id.
    pub backup_id: Option<u32>,
    pub note: Option<String>,
    pub steps: Vec<StepRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub revision: Option<String>,
    pub description: String,
    pub file_path: Option<String>,
    /// SHA-256 of the file as applied, line endings normalised.
    pub file_sha256: Option<String>,
    pub duration_ms: f64,
    pub ok: bool,
}

/// Where a database stands: its version table against the project's heads, and which
/// applied revisions' files changed since Retort applied them.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    pub connection: ConnectionRef,
    /// `false` when the database could not be read; `error` says why.
    pub reachable: bool,
    pub error: Option<String>,
    /// Rows, heads, pending revisions in upgrade order, unknown rows, and one sentence.
    pub version: Option<VersionTableCheck>,
    /// Applied revisions whose file is not the one Retort applied.
    pub changed: Vec<ChangedFile>,
    /// Applied revisions the journal has no checksum for (applied by alembic, another tool,
    /// or before Retort kept a journal).
    pub unrecorded: Vec<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ChangedFile {
    pub revision: String,
    pub path: Option<String>,
    pub applied: AppliedFile,
    /// The file's checksum now; `None` when the file is gone.
    pub sha256_now: Option<String>,
}

/// A revision applied through Retort, and the checksum of its file at that time.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppliedFile {
    pub revision: String,
    pub file_path: Option<String>,
    pub sha256: String,
    pub applied_at: String,
    pub entry_id: f64,
}

// ---------------------------------------------------------------------------------------------
// Schemas (the verified stamp, the round trip)

/// A database's tables, sorted by name. The version table is not part of it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub backend: Backend,
    /// PostgreSQL: the schema read; MySQL: the database; SQLite: `main`.
    pub namespace: String,
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    pub name: String,
    /// In the table's column order.
    pub columns: Vec<Column>,
    /// The primary key's columns in key order; empty when the table has none.
    pub primary_key: Vec<String>,
    /// Indexes that do not back a primary key or unique constraint, sorted by name.
    pub indexes: Vec<Index>,
    /// Sorted by columns.
    pub unique_constraints: Vec<UniqueConstraint>,
    /// Sorted by columns.
    pub foreign_keys: Vec<ForeignKey>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    pub name: String,
    /// The engine's normalised spelling of the type.
    pub data_type: String,
    pub nullable: bool,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ForeignKey {
    /// `None` on SQLite, which does not keep the constraint's name.
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub referred_table: String,
    /// Empty when SQLite's `REFERENCES t` names no column (the referred primary key).
    pub referred_columns: Vec<String>,
    /// `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL` or `SET DEFAULT`.
    pub on_update: String,
    pub on_delete: String,
}

/// One way an actual schema differs from the expected one.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    MissingTable {
        table: String,
    },
    ExtraTable {
        table: String,
    },
    MissingColumn {
        table: String,
        column: Column,
    },
    ExtraColumn {
        table: String,
        column: Column,
    },
    ColumnType {
        table: String,
        column: String,
        expected: String,
        actual: String,
    },
    ColumnNullable {
        table: String,
        column: String,
        expected: bool,
        actual: bool,
    },
    PrimaryKey {
        table: String,
        expected: Vec<String>,
        actual: Vec<String>,
    },
    MissingIndex {
        table: String,
        index: Index,
    },
    ExtraIndex {
        table: String,
        index: Index,
    },
    /// An index of the expected name whose definition differs.
    IndexDefinition {
        table: String,
        expected: Index,
        actual: Index,
    },
    MissingUnique {
        table: String,
        constraint: UniqueConstraint,
    },
    ExtraUnique {
        table: String,
        constraint: UniqueConstraint,
    },
    #[serde(rename_all = "camelCase")]
    MissingForeignKey {
        table: String,
        foreign_key: ForeignKey,
    },
    #[serde(rename_all = "camelCase")]
    ExtraForeignKey {
        table: String,
        foreign_key: ForeignKey,
    },
}

/// Everything in which an actual schema differs from an expected one, table by table.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDiff {
    pub differences: Vec<Difference>,
}

/// What a verified stamp found, shown before anything is written.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StampVerification {
    /// The stamp's targets as given.
    pub targets: Vec<String>,
    /// The version table's rows now.
    pub current: Vec<String>,
    /// The version table's rows the stamp would leave.
    pub resulting_heads: Vec<String>,
    /// The scratch database the implied schema was built in (already removed).
    pub scratch: String,
    /// The schema the revisions build up to `resultingHeads`.
    pub implied: Schema,
    /// The database's schema now.
    pub live: Schema,
    /// How `live` differs from `implied`: "missing" is implied but not in the database.
    pub diff: SchemaDiff,
}

// ---------------------------------------------------------------------------------------------
// Plans and runs

/// Everything a run will do, computed from the database's real rows.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub operation: Operation,
    /// The version table's rows before the run (empty when there is no table).
    pub current: Vec<String>,
    /// The run starts by creating the version table.
    pub creates_version_table: bool,
    /// `stamp --purge`: every row is deleted first.
    pub purge: bool,
    pub steps: Vec<Step>,
    /// The version table's rows after the run.
    pub resulting_heads: Vec<String>,
}

/// One step of a plan, in the order it runs.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub kind: StepKind,
    /// The revision whose migration runs (`None` for a stamp).
    pub revision: Option<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub doc: String,
    /// Alembic's log text: `upgrade 1000, 2000 -> 3000, message`.
    pub description: String,
    pub path: Option<String>,
    /// The SQL of a native revision's section; `None` for a Python revision or a stamp.
    pub sql: Option<StepSql>,
    /// What the step does to the version table.
    pub version_changes: Vec<retort_core::database::version_rows::RowChange>,
}

/// What a run did, failed or not.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub operation: Operation,
    pub url: String,
    pub outcome: Outcome,
    pub heads_before: Vec<String>,
    pub heads_after: Vec<String>,
    pub created_version_table: bool,
    /// Steps that finished, in order.
    pub completed: Vec<CompletedStep>,
    /// Steps that were planned but did not run (after a failure or a cancel).
    pub not_run: Vec<String>,
    pub failure: Option<StepFailure>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CompletedStep {
    pub description: String,
    /// The revision whose migration ran (`None` for a stamp).
    pub revision: Option<String>,
    /// Its file, for the journal's checksum.
    pub path: Option<String>,
    pub duration_ms: f64,
}

/// An honest account of a failed step: what ran, what was kept, what the version table says.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StepFailure {
    pub description: String,
    pub revision: Option<String>,
    pub path: Option<String>,
    /// The failing statement's line in the revision file.
    pub line: Option<u32>,
    pub statement: Option<String>,
    pub error: String,
    /// The step's changes were rolled back completely.
    pub rolled_back: bool,
    /// Statements of the failing step that had already committed (MySQL DDL, or a
    /// `transaction:false` section), as `(line, statement)`.
    pub committed_statements: Vec<(u32, String)>,
    /// The version table's rows after the failure.
    pub version_rows: Vec<String>,
    pub advice: Vec<String>,
}

/// Progress of a run.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// Another run holds the lock; this one waits up to the lock timeout.
    LockWaiting { holder: Option<LockHolder> },
    /// The lock is held and the plan is known.
    #[serde(rename_all = "camelCase")]
    Planned {
        total: u32,
        creates_version_table: bool,
    },
    StepStarted {
        index: u32,
        total: u32,
        description: String,
    },
    /// The step about to start runs its statements outside a transaction
    /// (`transaction:false`, or MySQL/MariaDB, whose DDL commits as it goes).
    OutsideTransaction { index: u32, reason: String },
    #[serde(rename_all = "camelCase")]
    StepFinished {
        index: u32,
        total: u32,
        description: String,
        duration_ms: f64,
    },
    #[serde(rename_all = "camelCase")]
    StepFailed {
        index: u32,
        total: u32,
        description: String,
        duration_ms: f64,
        error: String,
    },
    /// A line alembic (or env.py) printed, or a warning alembic would print (`stderr`: as
    /// alembic's log lines and warnings are).
    Output { line: String, stderr: bool },
}

// ---------------------------------------------------------------------------------------------
// Authoring

/// A rendered revision, ready to write (or written).
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NewRevision {
    pub revision: String,
    pub down_revision: Vec<String>,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    pub message: String,
    pub create_date: String,
    pub path: String,
    /// The file's full text.
    pub text: String,
    /// The template it was rendered from (Alembic projects).
    pub template: Option<String>,
    pub warnings: Vec<String>,
    /// The version folder the file goes into (a `file_template` may add subfolders).
    pub version_path: String,
    /// Folders created for it, in order (alembic prints "Creating directory").
    pub created_folders: Vec<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MergeExplanation {
    /// The revisions being merged, in the order the merge will list them.
    pub heads: Vec<RevisionSummary>,
    /// The nearest revisions every head descends from (empty: the branches share no history).
    pub common_ancestors: Vec<RevisionSummary>,
    pub branches: Vec<Branch>,
    pub shared_tables: Vec<SharedTable>,
    pub warnings: Vec<String>,
    /// `upgrade` from an empty database once merged: revision ids in run order, the merge
    /// itself last (as `mergeRevision`).
    pub upgrade_order: Vec<String>,
    pub merge_revision: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub heads: Vec<String>,
    pub naming_conventions: bool,
    pub findings: Vec<Finding>,
}

// ---------------------------------------------------------------------------------------------
// The round trip

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RoundTripReport {
    /// The scratch database used (removed again).
    pub scratch: String,
    /// `completed`: every revision passed; `failed`: see `failure`; `cancelled`.
    pub outcome: Outcome,
    /// Revisions in the project.
    pub total: u32,
    /// Revisions that passed, in the order they were checked.
    pub passed: Vec<String>,
    pub failure: Option<RoundTripFailure>,
}

/// The first revision that did not survive the round trip.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RoundTripFailure {
    pub revision: String,
    pub path: Option<String>,
    /// Alembic's description of the revision's step (`upgrade a -> b, message`).
    pub description: String,
    pub phase: Phase,
    pub problem: RoundTripProblem,
}

/// What went wrong with a revision.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoundTripProblem {
    /// The step failed; the failure names the statement and the database's error.
    StepFailed { failure: StepFailure },
    /// After the downgrade the schema is not what it was before the upgrade
    /// ("missing" = was there before the upgrade, "not expected" = left behind).
    SchemaNotRestored { diff: SchemaDiff },
    /// After the downgrade the version table does not name what it named before the upgrade.
    VersionRowsNotRestored {
        expected: Vec<String>,
        found: Vec<String>,
    },
    /// The second upgrade built a different schema from the first.
    ReupgradeDiffers { diff: SchemaDiff },
}
