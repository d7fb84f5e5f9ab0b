//! The core's results as the wire types of [`crate::types`]: every conversion in one place,
//! typed field by field (the compiler names a field the UI would miss), none by rewriting
//! JSON keys at run time.

use crate::types::*;
use retort_core::authoring::{self, checks, merge};
use retort_core::backup;
use retort_core::database::check;
use retort_core::database::lock;
use retort_core::database::schema;
use retort_core::execution::{self, round_trip, verify};
use retort_core::journal::{self, status};
use retort_core::store::ConnectionProfile;
use retort_core::workspace;
use std::path::{Path, PathBuf};

fn path_text(p: &Option<PathBuf>) -> Option<String> {
    p.as_deref().map(text_of)
}

fn text_of(p: &Path) -> String {
    p.display().to_string()
}

/// A catalog id as the backup commands take it (`u32`; the catalog counts from 1).
fn backup_id(id: Option<i64>) -> Option<u32> {
    id.and_then(|n| u32::try_from(n).ok())
}

/// A count or an index as a JavaScript number (saturating: no run has 4 billion steps).
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn each<T, U: From<T>>(list: Vec<T>) -> Vec<U> {
    list.into_iter().map(U::from).collect()
}

/// Lines, counts and sizes as JavaScript numbers (32 bits hold any line of a source file).
fn line_number(line: Option<usize>) -> Option<u32> {
    line.and_then(|l| u32::try_from(l).ok())
}

impl From<&workspace::Problem> for Problem {
    fn from(p: &workspace::Problem) -> Self {
        Problem {
            kind: p.kind,
            error: p.error,
            path: path_text(&p.path),
            line: line_number(p.line),
            message: p.message.clone(),
        }
    }
}

impl ConnectionView {
    /// `bound`: the names bound to the open workspace.
    pub(crate) fn of(p: &ConnectionProfile, bound: &[String]) -> Self {
        ConnectionView {
            name: p.name.clone(),
            driver: p.driver,
            host: p.host.clone(),
            port: p.port,
            database: p.database.clone(),
            user: p.user.clone(),
            tls_mode: p.tls_mode.clone(),
            tls_ca_file: path_text(&p.tls_ca_file),
            sqlite_path: path_text(&p.sqlite_path),
            environment: p.environment.clone(),
            color: p.color.clone(),
            password_storage: p.password_storage,
            password_command: p.password_command.clone(),
            password_lifetime: p.password_lifetime,
            ssh_hops: p.ssh.as_ref().map(|r| r.hops.clone()).unwrap_or_default(),
            ssh_identity: p.ssh.as_ref().and_then(|r| path_text(&r.identity)),
            url: p.display_url(),
            bound: bound.contains(&p.name),
        }
    }
}

impl ConnectionFields {
    /// A profile read from a pasted URL, with the URL's password.
    pub(crate) fn of(p: ConnectionProfile, password: Option<String>) -> Self {
        ConnectionFields {
            driver: Some(p.driver),
            tls_ca_file: path_text(&p.tls_ca_file),
            sqlite_path: path_text(&p.sqlite_path),
            host: p.host,
            port: p.port,
            database: p.database,
            user: p.user,
            tls_mode: p.tls_mode,
            password,
        }
    }
}

impl From<retort_core::tunnel::SshReport> for SshReport {
    fn from(s: retort_core::tunnel::SshReport) -> Self {
        SshReport {
            route: s.route,
            authenticated: s.authenticated,
            host_key: s.host_key,
            setup_ms: s.setup_ms as f64,
        }
    }
}

impl ConnectionReport {
    /// The check's report on the saved connection `name`.
    pub(crate) fn of(name: String, r: check::ConnectionReport) -> Self {
        ConnectionReport {
            name,
            url: r.url,
            backend: r.backend,
            target: r.target,
            ssh: r.ssh.map(SshReport::from),
            timeout_ms: r.timeout_ms as f64,
            ok: r.ok,
            reachable: r.reachable,
            authenticated: r.authenticated,
            user: r.user,
            connect_ms: r.connect_ms,
            latency_ms: r.latency_ms,
            server_product: r.server_product,
            server_version: r.server_version,
            server_description: r.server_description,
            tls: r.tls,
            tls_version: r.tls_version,
            tls_cipher: r.tls_cipher,
            database: r.database,
            database_exists: r.database_exists,
            version_table: r.version_table.map(VersionTableCheck::from),
            can_create_tables: r.can_create_tables,
            create_tables_detail: r.create_tables_detail,
            lock_free: r.lock_free,
            lock_holder: r.lock_holder.map(LockHolder::from),
            dump_tool: r.dump_tool.map(DumpToolCheck::from),
            failure: r.failure.map(ConnectionFailure::from),
            warnings: r.warnings,
        }
    }
}

impl From<check::VersionTableCheck> for VersionTableCheck {
    fn from(v: check::VersionTableCheck) -> Self {
        VersionTableCheck {
            table: v.table,
            status: v.status,
            rows: v.rows,
            heads: v.heads,
            behind_by: v.behind_by.map(|n| n as f64),
            pending: v.pending,
            unknown: v.unknown,
            detail: v.detail,
        }
    }
}

impl From<lock::LockHolder> for LockHolder {
    fn from(h: lock::LockHolder) -> Self {
        LockHolder {
            pid: h.pid.map(|n| n as f64),
            application: h.application,
            user: h.user,
            client: h.client,
            since: h.since,
        }
    }
}

impl From<check::DumpToolCheck> for DumpToolCheck {
    fn from(d: check::DumpToolCheck) -> Self {
        DumpToolCheck {
            name: d.name,
            found: d.found,
            path: d.path,
            version: d.version,
            compatible: d.compatible,
            detail: d.detail,
        }
    }
}

impl From<check::ConnectionFailure> for ConnectionFailure {
    fn from(f: check::ConnectionFailure) -> Self {
        ConnectionFailure {
            kind: f.kind,
            label: f.kind.label().to_string(),
            message: f.message,
            code: f.code,
            advice: f.advice,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Backups

impl From<backup::BackupRecord> for BackupRecord {
    fn from(b: backup::BackupRecord) -> Self {
        BackupRecord {
            id: backup_id(b.id),
            connection: b.connection,
            connection_name: b.connection_name,
            url: b.url,
            backend: b.backend,
            database: b.database,
            path: text_of(&b.path),
            format: b.format,
            server_version: b.server_version,
            tool: b.tool,
            tool_version: b.tool_version,
            revisions: b.revisions,
            version_table: b.version_table,
            version_table_schema: b.version_table_schema,
            size_bytes: b.size_bytes as f64,
            sha256: b.sha256,
            verification: b.verification,
            restore_tested: b.restore_tested,
            created_at: b.created_at,
            duration_ms: b.duration_ms as f64,
            warnings: b.warnings,
        }
    }
}

impl From<backup::BackupProgress> for BackupProgress {
    fn from(p: backup::BackupProgress) -> Self {
        use backup::BackupProgress as P;
        match p {
            P::Started {
                tool,
                path,
                estimated_bytes,
            } => BackupProgress::Started {
                tool,
                path: text_of(&path),
                estimated_bytes: estimated_bytes.map(|n| n as f64),
            },
            P::Copying {
                bytes_done,
                bytes_total,
                items_done,
                items_total,
                item,
            } => BackupProgress::Copying {
                bytes_done: bytes_done as f64,
                bytes_total: bytes_total.map(|n| n as f64),
                items_done: items_done as f64,
                items_total: items_total.map(|n| n as f64),
                item,
            },
            P::Verifying { what } => BackupProgress::Verifying { what },
            P::RestoreTesting { into } => BackupProgress::RestoreTesting { into },
            P::Restoring { target } => BackupProgress::Restoring { target },
            P::Finished { size_bytes } => BackupProgress::Finished {
                size_bytes: size_bytes as f64,
            },
        }
    }
}

impl From<backup::RestoreReport> for RestoreReport {
    fn from(r: backup::RestoreReport) -> Self {
        RestoreReport {
            backup_id: backup_id(r.backup_id),
            target: r.target,
            revisions: r.revisions,
            dropped_tables: r.dropped_tables,
            verification: r.verification.into(),
            duration_ms: r.duration_ms as f64,
        }
    }
}

impl From<backup::RestoreVerification> for RestoreVerification {
    fn from(v: backup::RestoreVerification) -> Self {
        RestoreVerification {
            objects: v.objects as f64,
            row_counts: v.row_counts.map(|n| n as f64),
            revisions: v.revisions,
            source: v.source,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The journal and the status board

impl From<journal::JournalEntry> for JournalEntry {
    fn from(e: journal::JournalEntry) -> Self {
        JournalEntry {
            id: e.id as f64,
            kind: e.kind,
            workspace_dir: path_text(&e.workspace_dir),
            started_at: e.started_at,
            finished_at: e.finished_at,
            os_user: e.os_user,
            hostname: e.hostname,
            pid: e.pid,
            connection: e.connection,
            target: e.target,
            from_revisions: e.from_revisions,
            to_revisions: e.to_revisions,
            outcome: e.outcome,
            interrupted: e.interrupted,
            failed_step: e.failed_step.map(count),
            error: e.error,
            backup_id: backup_id(e.backup_id),
            note: e.note,
            steps: each(e.steps),
        }
    }
}

impl From<journal::StepRecord> for StepRecord {
    fn from(s: journal::StepRecord) -> Self {
        StepRecord {
            file_path: path_text(&s.file_path),
            revision: s.revision,
            description: s.description,
            file_sha256: s.file_sha256,
            duration_ms: s.duration_ms as f64,
            ok: s.ok,
        }
    }
}

impl From<status::ConnectionStatus> for ConnectionStatus {
    fn from(s: status::ConnectionStatus) -> Self {
        ConnectionStatus {
            connection: s.connection,
            reachable: s.reachable,
            error: s.error,
            version: s.version.map(VersionTableCheck::from),
            changed: each(s.changed),
            unrecorded: s.unrecorded,
        }
    }
}

impl From<status::ChangedFile> for ChangedFile {
    fn from(c: status::ChangedFile) -> Self {
        ChangedFile {
            path: path_text(&c.path),
            revision: c.revision,
            applied: c.applied.into(),
            sha256_now: c.sha256_now,
        }
    }
}

impl From<journal::AppliedFile> for AppliedFile {
    fn from(a: journal::AppliedFile) -> Self {
        AppliedFile {
            file_path: path_text(&a.file_path),
            revision: a.revision,
            sha256: a.sha256,
            applied_at: a.applied_at,
            entry_id: a.entry_id as f64,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas

impl From<schema::Schema> for Schema {
    fn from(s: schema::Schema) -> Self {
        Schema {
            backend: s.backend,
            namespace: s.namespace,
            tables: each(s.tables),
        }
    }
}

impl From<schema::Table> for Table {
    fn from(t: schema::Table) -> Self {
        Table {
            name: t.name,
            columns: each(t.columns),
            primary_key: t.primary_key,
            indexes: t.indexes,
            unique_constraints: t.unique_constraints,
            foreign_keys: each(t.foreign_keys),
        }
    }
}

impl From<schema::Column> for Column {
    fn from(c: schema::Column) -> Self {
        Column {
            name: c.name,
            data_type: c.data_type,
            nullable: c.nullable,
        }
    }
}

impl From<schema::ForeignKey> for ForeignKey {
    fn from(f: schema::ForeignKey) -> Self {
        ForeignKey {
            name: f.name,
            columns: f.columns,
            referred_table: f.referred_table,
            referred_columns: f.referred_columns,
            on_update: f.on_update,
            on_delete: f.on_delete,
        }
    }
}

impl From<schema::Difference> for Difference {
    fn from(d: schema::Difference) -> Self {
        use schema::Difference as D;
        match d {
            D::MissingTable { table } => Difference::MissingTable { table },
            D::ExtraTable { table } => Difference::ExtraTable { table },
            D::MissingColumn { table, column } => Difference::MissingColumn {
                table,
                column: column.into(),
            },
            D::ExtraColumn { table, column } => Difference::ExtraColumn {
                table,
                column: column.into(),
            },
            D::ColumnType {
                table,
                column,
                expected,
                actual,
            } => Difference::ColumnType {
                table,
                column,
                expected,
                actual,
            },
            D::ColumnNullable {
                table,
                column,
                expected,
                actual,
            } => Difference::ColumnNullable {
                table,
                column,
                expected,
                actual,
            },
            D::PrimaryKey {
                table,
                expected,
                actual,
            } => Difference::PrimaryKey {
                table,
                expected,
                actual,
            },
            D::MissingIndex { table, index } => Difference::MissingIndex { table, index },
            D::ExtraIndex { table, index } => Difference::ExtraIndex { table, index },
            D::IndexDefinition {
                table,
                expected,
                actual,
            } => Difference::IndexDefinition {
                table,
                expected,
                actual,
            },
            D::MissingUnique { table, constraint } => {
                Difference::MissingUnique { table, constraint }
            }
            D::ExtraUnique { table, constraint } => Difference::ExtraUnique { table, constraint },
            D::MissingForeignKey { table, foreign_key } => Difference::MissingForeignKey {
                table,
                foreign_key: foreign_key.into(),
            },
            D::ExtraForeignKey { table, foreign_key } => Difference::ExtraForeignKey {
                table,
                foreign_key: foreign_key.into(),
            },
        }
    }
}

impl From<schema::SchemaDiff> for SchemaDiff {
    fn from(d: schema::SchemaDiff) -> Self {
        SchemaDiff {
            differences: each(d.differences),
        }
    }
}

impl From<verify::StampVerification> for StampVerification {
    fn from(v: verify::StampVerification) -> Self {
        StampVerification {
            targets: v.targets,
            current: v.current,
            resulting_heads: v.resulting_heads,
            scratch: v.scratch,
            implied: v.implied.into(),
            live: v.live.into(),
            diff: v.diff.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Plans and runs

impl From<execution::Plan> for Plan {
    fn from(p: execution::Plan) -> Self {
        Plan {
            operation: p.operation,
            current: p.current,
            creates_version_table: p.creates_version_table,
            purge: p.purge,
            steps: each(p.steps),
            resulting_heads: p.resulting_heads,
        }
    }
}

impl From<execution::Step> for Step {
    fn from(s: execution::Step) -> Self {
        Step {
            path: path_text(&s.path),
            kind: s.kind,
            revision: s.revision,
            from: s.from,
            to: s.to,
            doc: s.doc,
            description: s.description,
            sql: s.sql,
            version_changes: s.version_changes,
        }
    }
}

impl From<execution::RunReport> for RunReport {
    fn from(r: execution::RunReport) -> Self {
        RunReport {
            operation: r.operation,
            url: r.url,
            outcome: r.outcome,
            heads_before: r.heads_before,
            heads_after: r.heads_after,
            created_version_table: r.created_version_table,
            completed: each(r.completed),
            not_run: r.not_run,
            failure: r.failure.map(StepFailure::from),
        }
    }
}

impl From<execution::CompletedStep> for CompletedStep {
    fn from(c: execution::CompletedStep) -> Self {
        CompletedStep {
            path: path_text(&c.path),
            description: c.description,
            revision: c.revision,
            duration_ms: c.duration_ms as f64,
        }
    }
}

impl From<execution::StepFailure> for StepFailure {
    fn from(f: execution::StepFailure) -> Self {
        StepFailure {
            path: path_text(&f.path),
            description: f.description,
            revision: f.revision,
            line: line_number(f.line),
            statement: f.statement,
            error: f.error,
            rolled_back: f.rolled_back,
            committed_statements: f
                .committed_statements
                .into_iter()
                .map(|(line, sql)| (count(line), sql))
                .collect(),
            version_rows: f.version_rows,
            advice: f.advice,
        }
    }
}

impl From<execution::ProgressEvent> for ProgressEvent {
    fn from(e: execution::ProgressEvent) -> Self {
        use execution::ProgressEvent as E;
        match e {
            E::LockWaiting { holder } => ProgressEvent::LockWaiting {
                holder: holder.map(LockHolder::from),
            },
            E::Planned {
                total,
                creates_version_table,
            } => ProgressEvent::Planned {
                total: count(total),
                creates_version_table,
            },
            E::StepStarted {
                index,
                total,
                description,
            } => ProgressEvent::StepStarted {
                index: count(index),
                total: count(total),
                description,
            },
            E::OutsideTransaction { index, reason } => ProgressEvent::OutsideTransaction {
                index: count(index),
                reason,
            },
            E::StepFinished {
                index,
                total,
                description,
                duration_ms,
            } => ProgressEvent::StepFinished {
                index: count(index),
                total: count(total),
                description,
                duration_ms: duration_ms as f64,
            },
            E::StepFailed {
                index,
                total,
                description,
                duration_ms,
                error,
            } => ProgressEvent::StepFailed {
                index: count(index),
                total: count(total),
                description,
                duration_ms: duration_ms as f64,
                error,
            },
            E::Output { line, stderr } => ProgressEvent::Output { line, stderr },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Authoring

impl From<authoring::NewRevision> for NewRevision {
    fn from(n: authoring::NewRevision) -> Self {
        NewRevision {
            path: text_of(&n.path),
            template: path_text(&n.template),
            version_path: text_of(&n.version_path),
            created_folders: n.created_folders.iter().map(|p| text_of(p)).collect(),
            revision: n.revision,
            down_revision: n.down_revision,
            branch_labels: n.branch_labels,
            depends_on: n.depends_on,
            message: n.message,
            create_date: n.create_date,
            text: n.text,
            warnings: n.warnings,
        }
    }
}

impl From<merge::MergeExplanation> for MergeExplanation {
    fn from(m: merge::MergeExplanation) -> Self {
        MergeExplanation {
            heads: m.heads,
            common_ancestors: m.common_ancestors,
            branches: m.branches,
            shared_tables: m.shared_tables,
            warnings: m.warnings,
            upgrade_order: m.upgrade_order,
            merge_revision: m.merge_revision,
        }
    }
}

impl From<checks::CheckReport> for CheckReport {
    fn from(r: checks::CheckReport) -> Self {
        CheckReport {
            heads: r.heads,
            naming_conventions: r.naming_conventions,
            findings: r.findings,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The round trip

impl From<round_trip::RoundTripReport> for RoundTripReport {
    fn from(r: round_trip::RoundTripReport) -> Self {
        RoundTripReport {
            scratch: r.scratch,
            outcome: r.outcome,
            total: count(r.total),
            passed: r.passed,
            failure: r.failure.map(RoundTripFailure::from),
        }
    }
}

impl From<round_trip::RoundTripFailure> for RoundTripFailure {
    fn from(f: round_trip::RoundTripFailure) -> Self {
        RoundTripFailure {
            path: path_text(&f.path),
            revision: f.revision,
            description: f.description,
            phase: f.phase,
            problem: f.problem.into(),
        }
    }
}

impl From<round_trip::Problem> for RoundTripProblem {
    fn from(p: round_trip::Problem) -> Self {
        use round_trip::Problem as P;
        match p {
            P::StepFailed { failure } => RoundTripProblem::StepFailed {
                failure: failure.into(),
            },
            P::SchemaNotRestored { diff } => {
                RoundTripProblem::SchemaNotRestored { diff: diff.into() }
            }
            P::VersionRowsNotRestored { expected, found } => {
                RoundTripProblem::VersionRowsNotRestored { expected, found }
            }
            P::ReupgradeDiffers { diff } => {
                RoundTripProblem::ReupgradeDiffers { diff: diff.into() }
            }
        }
    }
}
