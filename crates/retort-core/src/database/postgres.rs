//! PostgreSQL: connecting (`application_name` names the process, for the lock holder), the
//! version table in `information_schema`, a session advisory lock, scratch databases dropped
//! `WITH (FORCE)`, the catalog read from `pg_catalog`, and the server facts of the check.

use super::check::{ErrorFacts, FailureKind, ServerInfo, probe_create};
use super::engine::{ConnectError, Engine};
use super::lock::{LockHolder, LockKind, advisory_key};
use super::schema::{Builder, Column, ForeignKey, Index, UniqueConstraint};
use super::{DatabaseError, DatabaseUrl, VersionTable, query_error, quote_ansi};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{AssertSqlSafe, Connection as _};
use std::str::FromStr;
use std::time::Duration;

/// An open PostgreSQL connection.
pub(super) struct Postgres(PgConnection);

/// pid, application_name, user, client address, session start.
type PgHolderRow = (i32, String, Option<String>, Option<String>, Option<String>);

impl Engine for Postgres {
    const MAINTENANCE_DATABASE: Option<&'static str> = Some("postgres");

    fn drop_database_sql(name: &str) -> String {
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    }

    fn failure_kind(facts: &ErrorFacts) -> Option<FailureKind> {
        use FailureKind as K;
        let msg = facts.message.to_ascii_lowercase();
        let has = |s: &str| msg.contains(s);
        match facts.code.as_deref() {
            Some("28P01") => Some(K::AuthenticationFailed),
            Some("28000") if has("no encryption") || has("ssl off") => Some(K::TlsRequired),
            Some("28000") => Some(K::AuthenticationFailed),
            Some("3D000") => Some(K::DatabaseMissing),
            Some("42501") => Some(K::Permission),
            _ => None,
        }
    }

    async fn connect(
        url: &DatabaseUrl,
        _timeout: Duration,
        _create: bool,
    ) -> Result<Self, ConnectError> {
        let options = options(url).map_err(ConnectError::Url)?;
        PgConnection::connect_with(&options)
            .await
            .map(Self)
            .map_err(ConnectError::Driver)
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut self.0)
            .await
            .map(|r| r.rows_affected())
    }

    async fn column(&mut self, sql: &str) -> Result<Vec<Option<String>>, sqlx::Error> {
        sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut self.0)
            .await
    }

    async fn strings(&mut self, sql: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut self.0)
            .await
    }

    async fn table_exists(&mut self, table: &VersionTable) -> Result<bool, sqlx::Error> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = $1 AND table_schema = COALESCE($2, current_schema())",
        )
        .bind(&table.name)
        .bind(&table.schema)
        .fetch_one(&mut self.0)
        .await?;
        Ok(count > 0)
    }

    async fn try_lock(
        &mut self,
        url: &DatabaseUrl,
        table: &VersionTable,
    ) -> Result<Option<LockKind>, DatabaseError> {
        let key = advisory_key(&table.lock_name());
        sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut self.0)
            .await
            .map(|ok| ok.then_some(LockKind::Postgres(key)))
            .map_err(|e| query_error(url, e))
    }

    async fn release_lock(&mut self, lock: LockKind) -> Result<(), sqlx::Error> {
        let LockKind::Postgres(key) = lock else {
            return Ok(());
        };
        sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(key)
            .fetch_one(&mut self.0)
            .await
            .map(drop)
    }

    async fn lock_holder(
        &mut self,
        url: &DatabaseUrl,
        table: &VersionTable,
    ) -> Result<Option<LockHolder>, DatabaseError> {
        let key = advisory_key(&table.lock_name());
        // A bigint advisory key is stored as classid = high half, objid = low half.
        let row: Result<Option<PgHolderRow>, _> = sqlx::query_as(
            "SELECT a.pid, a.application_name, a.usename::text, a.client_addr::text, \
                 to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                 AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) \
                 AND l.objid::bigint = ($1::bigint & 4294967295) \
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&mut self.0)
        .await;
        let row = row.map_err(|e| query_error(url, e))?;
        Ok(row.map(|(pid, app, user, client, since)| LockHolder {
            pid: Some(i64::from(pid)),
            application: Some(app),
            user,
            client,
            since,
        }))
    }

    async fn read_schema(
        &mut self,
        schema: Option<&str>,
        b: &mut Builder,
    ) -> Result<String, sqlx::Error> {
        read_catalog(&mut self.0, schema, b).await
    }

    async fn round_trip(&mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("SELECT 1")
            .execute(&mut self.0)
            .await
            .map(drop)
    }

    async fn server_info(&mut self) -> Result<ServerInfo, sqlx::Error> {
        let (short, description, database, user): (String, String, String, String) =
            sqlx::query_as(
                "SELECT current_setting('server_version'), version(), \
                 current_database()::text, current_user::text",
            )
            .fetch_one(&mut self.0)
            .await?;
        Ok(ServerInfo {
            product: "PostgreSQL".into(),
            version: short.split_whitespace().next().map(str::to_string),
            description,
            database: Some(database),
            user: Some(user),
        })
    }

    async fn tls_info(&mut self) -> Result<(bool, Option<String>, Option<String>), sqlx::Error> {
        let row: Option<(bool, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        )
        .fetch_optional(&mut self.0)
        .await?;
        Ok(row.unwrap_or((false, None, None)))
    }

    /// A `CREATE TABLE` in the version table's schema, in a transaction that is rolled back.
    async fn may_create(
        &mut self,
        url: &DatabaseUrl,
        table: &VersionTable,
        probe: String,
    ) -> Result<(Option<bool>, String), String> {
        let (qualified, where_) = match &table.schema {
            Some(s) => (
                format!("{}.{probe}", quote_ansi(s)),
                format!(" in schema {s}"),
            ),
            None => (probe, String::new()),
        };
        probe_create(self, url, &qualified, &where_).await
    }
}

/// A PostgreSQL error's DETAIL and HINT, as `psql` labels them.
pub(super) fn error_extras(pg: &sqlx::postgres::PgDatabaseError) -> String {
    let mut text = String::new();
    if let Some(detail) = pg.detail().filter(|d| !d.trim().is_empty()) {
        text.push_str(&format!("; DETAIL: {}", detail.trim_end()));
    }
    if let Some(hint) = pg.hint().filter(|h| !h.trim().is_empty()) {
        text.push_str(&format!("; HINT: {}", hint.trim_end()));
    }
    text
}

fn options(url: &DatabaseUrl) -> Result<PgConnectOptions, DatabaseError> {
    // The process id lets a waiting run name who holds the migration lock.
    let mut o =
        PgConnectOptions::new().application_name(&format!("retort (pid {})", std::process::id()));
    if let Some(h) = url.connect_host() {
        o = o.host(&h);
    }
    if let Some(p) = url.connect_port() {
        o = o.port(p);
    }
    if let Some(u) = &url.user {
        o = o.username(u);
    }
    if let Some(p) = url.current_password()? {
        o = o.password(p.expose());
    }
    if let Some(d) = &url.database {
        o = o.database(d);
    }
    if let Some(mode) = url.query_value("sslmode") {
        let mode = PgSslMode::from_str(mode).map_err(|_| {
            DatabaseError::InvalidUrl(format!("{}: unknown sslmode '{mode}'", url.redacted()))
        })?;
        o = o.ssl_mode(mode);
    }
    if let Some(ca) = url.query_value("sslrootcert") {
        o = o.ssl_root_cert(ca);
    }
    Ok(o)
}

const PG_TABLES: &str = "c.relkind IN ('r', 'p') AND n.nspname = COALESCE($1, current_schema())";

async fn read_catalog(
    c: &mut sqlx::PgConnection,
    schema: Option<&str>,
    b: &mut Builder,
) -> Result<String, sqlx::Error> {
    let namespace: Option<String> =
        sqlx::query_scalar("SELECT COALESCE($1, current_schema())::text")
            .bind(schema)
            .fetch_one(&mut *c)
            .await?;
    type PgColumn = (String, Option<String>, Option<String>, Option<bool>);
    let columns: Vec<PgColumn> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE {PG_TABLES} ORDER BY c.relname, a.attnum"
    )))
    .bind(schema)
    .fetch_all(&mut *c)
    .await?;
    for (table, column, data_type, notnull) in columns {
        b.add_table(&table);
        if let (Some(name), Some(data_type)) = (column, data_type) {
            b.table(&table).expect("added").columns.push(Column {
                name,
                data_type,
                nullable: !notnull.unwrap_or(false),
            });
        }
    }

    type PgConstraint = (
        String,
        String,
        String,
        Vec<String>,
        Option<String>,
        Vec<String>,
        String,
        String,
    );
    let constraints: Vec<PgConstraint> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT c.relname::text, con.conname::text, con.contype::text,
           ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord),
           CASE WHEN rc.oid IS NULL THEN NULL
                WHEN rn.nspname = n.nspname THEN rc.relname::text
                ELSE rn.nspname::text || '.' || rc.relname::text END,
           ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord),
           con.confupdtype::text, con.confdeltype::text
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_class rc ON rc.oid = con.confrelid LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
         WHERE {PG_TABLES} AND con.contype IN ('p', 'u', 'f')
         ORDER BY c.relname, con.conname"
    )))
    .bind(schema)
    .fetch_all(&mut *c)
    .await?;
    let pg_action = |code: &str| {
        match code {
            "r" => "RESTRICT",
            "c" => "CASCADE",
            "n" => "SET NULL",
            "d" => "SET DEFAULT",
            _ => "NO ACTION",
        }
        .to_string()
    };
    for (table, name, kind, columns, referred, referred_columns, on_update, on_delete) in
        constraints
    {
        let Some(t) = b.table(&table) else { continue };
        match kind.as_str() {
            "p" => t.primary_key = columns,
            "u" => t.unique_constraints.push(UniqueConstraint {
                name: Some(name),
                columns,
            }),
            _ => t.foreign_keys.push(ForeignKey {
                name: Some(name),
                columns,
                referred_table: referred.unwrap_or_default(),
                referred_columns,
                on_update: pg_action(&on_update),
                on_delete: pg_action(&on_delete),
            }),
        }
    }

    type PgIndex = (String, String, bool, Vec<String>, Option<String>);
    let indexes: Vec<PgIndex> =
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT c.relname::text, i.relname::text, ix.indisunique,
               ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true) FROM generate_series(1, ix.indnkeyatts) k ORDER BY k),
               pg_get_expr(ix.indpred, ix.indrelid, true)
             FROM pg_index ix
             JOIN pg_class i ON i.oid = ix.indexrelid
             JOIN pg_class c ON c.oid = ix.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {PG_TABLES}
               AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid
                               AND con.conrelid = ix.indrelid AND con.contype IN ('p', 'u', 'x'))
             ORDER BY c.relname, i.relname"
        )))
        .bind(schema)
        .fetch_all(&mut *c)
        .await?;
    for (table, name, unique, columns, condition) in indexes {
        if let Some(t) = b.table(&table) {
            t.indexes.push(Index {
                name,
                columns,
                unique,
                condition,
            });
        }
    }
    Ok(namespace.unwrap_or_default())
}
