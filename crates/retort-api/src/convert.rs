//! The core's results as the wire types of [`crate::types`]: every conversion in one place,
//! typed field by field (the compiler names a field the UI would miss), none by rewriting
//! JSON keys at run time.

use crate::types::*;
use retort_core::database::check;
use retort_core::database::lock;
use retort_core::store::ConnectionProfile;
use retort_core::workspace;
use std::path::PathBuf;

fn path_text(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
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

impl ConnectionReport {
    /// The check's report on the saved connection `name`.
    pub(crate) fn of(name: String, r: check::ConnectionReport) -> Self {
        ConnectionReport {
            name,
            url: r.url,
            backend: r.backend,
            target: r.target,
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
