//! MySQL and MariaDB: connecting, the version table in `information_schema`, a named lock
//! (`GET_LOCK`), the catalog read from `information_schema` (the current database), and the
//! server facts of the check (TLS from the session status, create rights from the grants).

use super::check::{ErrorFacts, FailureKind, ServerInfo, join_version, parse_version};
use super::engine::{ConnectError, Engine};
use super::lock::{LockHolder, LockKind, advisory_key};
use super::schema::{Builder, Column, ForeignKey, Index, UniqueConstraint, action};
use super::{DatabaseError, DatabaseUrl, VersionTable, query_error};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlSslMode};
use sqlx::{AssertSqlSafe, Connection as _};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

/// An open MySQL or MariaDB connection.
pub(super) struct MySql(MySqlConnection);

impl Engine for MySql {
    const BEGIN: &'static str = "START TRANSACTION";

    fn quote(ident: &str) -> String {
        format!("`{}`", ident.replace('`', "``"))
    }

    /// MySQL also reads backslash escapes inside string literals.
    fn escape(value: &str) -> String {
        value.replace('\'', "''").replace('\\', "\\\\")
    }

    fn failure_kind(facts: &ErrorFacts) -> Option<FailureKind> {
        use FailureKind as K;
        match facts.number? {
            1045 | 1698 => Some(K::AuthenticationFailed),
            1049 => Some(K::DatabaseMissing),
            1044 | 1130 | 1142 => Some(K::Permission),
            3159 => Some(K::TlsRequired),
            _ => None,
        }
    }

    async fn connect(
        url: &DatabaseUrl,
        _timeout: Duration,
        _create: bool,
    ) -> Result<Self, ConnectError> {
        let options = options(url).map_err(ConnectError::Url)?;
        MySqlConnection::connect_with(&options)
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
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = COALESCE(?, DATABASE())",
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
        let name = lock_name(table, url.database.as_deref());
        sqlx::query_scalar::<_, Option<i64>>("SELECT GET_LOCK(?, 0)")
            .bind(&name)
            .fetch_one(&mut self.0)
            .await
            .map(|ok| (ok == Some(1)).then_some(LockKind::MySql(name)))
            .map_err(|e| query_error(url, e))
    }

    async fn release_lock(&mut self, lock: LockKind) -> Result<(), sqlx::Error> {
        let LockKind::MySql(name) = lock else {
            return Ok(());
        };
        sqlx::query_scalar::<_, Option<i64>>("SELECT RELEASE_LOCK(?)")
            .bind(name)
            .fetch_one(&mut self.0)
            .await
            .map(drop)
    }

    async fn lock_holder(
        &mut self,
        url: &DatabaseUrl,
        table: &VersionTable,
    ) -> Result<Option<LockHolder>, DatabaseError> {
        let name = lock_name(table, url.database.as_deref());
        let id: Result<Option<i64>, _> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
            .bind(&name)
            .fetch_one(&mut self.0)
            .await;
        let Some(id) = id.map_err(|e| query_error(url, e))? else {
            return Ok(None);
        };
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT USER, HOST, CAST(TIME AS SIGNED) FROM information_schema.PROCESSLIST WHERE ID = ?",
        )
        .bind(id)
        .fetch_optional(&mut self.0)
        .await
        .unwrap_or(None);
        Ok(Some(match row {
            Some((user, host, seconds)) => LockHolder {
                pid: Some(id),
                user: Some(user),
                client: Some(host),
                since: Some(format!("{seconds} s in its current command")),
                ..LockHolder::default()
            },
            None => LockHolder {
                pid: Some(id),
                ..LockHolder::default()
            },
        }))
    }

    async fn read_schema(
        &mut self,
        _schema: Option<&str>,
        b: &mut Builder,
    ) -> Result<String, sqlx::Error> {
        read_catalog(&mut self.0, b).await
    }

    async fn round_trip(&mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("SELECT 1")
            .execute(&mut self.0)
            .await
            .map(drop)
    }

    async fn server_info(&mut self) -> Result<ServerInfo, sqlx::Error> {
        let (description, database, user): (String, Option<String>, String) =
            sqlx::query_as("SELECT VERSION(), DATABASE(), CURRENT_USER()")
                .fetch_one(&mut self.0)
                .await?;
        Ok(ServerInfo {
            product: if description.to_ascii_lowercase().contains("mariadb") {
                "MariaDB".into()
            } else {
                "MySQL".into()
            },
            version: parse_version(&description).map(|v| join_version(&v)),
            description,
            database,
            user: Some(user),
        })
    }

    async fn tls_info(&mut self) -> Result<(bool, Option<String>, Option<String>), sqlx::Error> {
        use sqlx::Row as _;
        let rows = sqlx::raw_sql(
            "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')",
        )
        .fetch_all(&mut self.0)
        .await?;
        let mut version = None;
        let mut cipher = None;
        for row in rows {
            let name: String = row.try_get(0)?;
            let value: String = row.try_get(1)?;
            let value = Some(value).filter(|v| !v.is_empty());
            match name.to_ascii_lowercase().as_str() {
                "ssl_version" => version = value,
                "ssl_cipher" => cipher = value,
                _ => {}
            }
        }
        Ok((version.is_some() || cipher.is_some(), version, cipher))
    }

    /// DDL commits at once here, so no probe: the grants in `information_schema` tell.
    async fn may_create(
        &mut self,
        _url: &DatabaseUrl,
        table: &VersionTable,
        _probe: String,
    ) -> Result<(Option<bool>, String), String> {
        let c = &mut self.0;
        let (user, database): (String, Option<String>) =
            sqlx::query_as("SELECT CURRENT_USER(), DATABASE()")
                .fetch_one(&mut *c)
                .await
                .map_err(|e| e.to_string())?;
        let Some(schema) = table.schema.clone().or(database) else {
            return Ok((None, "no database selected".into()));
        };
        let mut grantees = vec![grantee_of(&user)];
        // MariaDB roles show as 'role'; MySQL 5.7 has no CURRENT_ROLE(): best effort.
        let role: Option<Option<String>> = sqlx::query_scalar("SELECT CURRENT_ROLE()")
            .fetch_one(&mut *c)
            .await
            .ok();
        if let Some(Some(role)) = role
            && role != "NONE"
            && !role.contains('@')
        {
            grantees.push(format!("'{role}'"));
        }
        let mut found = 0i64;
        for grantee in &grantees {
            let global: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES \
                 WHERE GRANTEE = ? AND PRIVILEGE_TYPE = 'CREATE'",
            )
            .bind(grantee)
            .fetch_one(&mut *c)
            .await
            .map_err(|e| e.to_string())?;
            let on_schema: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES \
                 WHERE GRANTEE = ? AND PRIVILEGE_TYPE = 'CREATE' AND ? LIKE TABLE_SCHEMA",
            )
            .bind(grantee)
            .bind(&schema)
            .fetch_one(&mut *c)
            .await
            .map_err(|e| e.to_string())?;
            found += global + on_schema;
        }
        let read_only: i64 = sqlx::query_scalar("SELECT CAST(@@read_only AS SIGNED)")
            .fetch_one(&mut *c)
            .await
            .unwrap_or(0);
        let note = if read_only != 0 {
            "; the server is read-only (read_only=ON)"
        } else {
            ""
        };
        Ok(if found > 0 {
            (
                Some(true),
                format!(
                    "{} has CREATE on {schema} (from the grants){note}",
                    grantees[0]
                ),
            )
        } else {
            (
                Some(false),
                format!(
                    "no CREATE grant for {} on {schema}{note}",
                    grantees.join(" or ")
                ),
            )
        })
    }
}

/// `user@host` (CURRENT_USER()) as information_schema writes grantees: `'user'@'host'`.
fn grantee_of(current_user: &str) -> String {
    match current_user.rsplit_once('@') {
        Some((user, host)) => format!("'{user}'@'{host}'"),
        None => format!("'{current_user}'"),
    }
}

/// MySQL lock names are limited to 64 characters.
fn lock_name(table: &VersionTable, database: Option<&str>) -> String {
    let name = format!("{}@{}", table.lock_name(), database.unwrap_or(""));
    if name.len() <= 64 {
        name
    } else {
        format!("retort:{:016x}", advisory_key(&name) as u64)
    }
}

fn options(url: &DatabaseUrl) -> Result<MySqlConnectOptions, DatabaseError> {
    let mut o = MySqlConnectOptions::new();
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
    if let Some(mode) = url.query_value("ssl_mode").or(url.query_value("ssl-mode")) {
        let mode = MySqlSslMode::from_str(mode).map_err(|_| {
            DatabaseError::InvalidUrl(format!("{}: unknown ssl_mode '{mode}'", url.redacted()))
        })?;
        o = o.ssl_mode(mode);
    }
    if let Some(ca) = url.query_value("ssl_ca") {
        o = o.ssl_ca(ca);
    }
    Ok(o)
}

async fn read_catalog(
    c: &mut sqlx::MySqlConnection,
    b: &mut Builder,
) -> Result<String, sqlx::Error> {
    let namespace: Option<String> = sqlx::query_scalar("SELECT CAST(DATABASE() AS CHAR)")
        .fetch_one(&mut *c)
        .await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
    )
    .fetch_all(&mut *c)
    .await?;
    for t in &tables {
        b.add_table(t);
    }
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR)
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
         ORDER BY TABLE_NAME, ORDINAL_POSITION",
    )
    .fetch_all(&mut *c)
    .await?;
    for (table, name, data_type, nullable) in columns {
        if let Some(t) = b.table(&table) {
            t.columns.push(Column {
                name,
                data_type: data_type.to_ascii_lowercase(),
                nullable: nullable.eq_ignore_ascii_case("YES"),
            });
        }
    }
    let stats: Vec<(String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), CAST(NON_UNIQUE AS SIGNED), CAST(COLUMN_NAME AS CHAR)
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    )
    .fetch_all(&mut *c)
    .await?;
    let mut grouped: BTreeMap<(String, String), (bool, Vec<String>)> = BTreeMap::new();
    for (table, index, non_unique, column) in stats {
        let entry = grouped
            .entry((table, index))
            .or_insert_with(|| (non_unique == 0, Vec::new()));
        entry
            .1
            .push(column.unwrap_or_else(|| "<expression>".to_string()));
    }
    for ((table, index), (unique, columns)) in grouped {
        let Some(t) = b.table(&table) else { continue };
        if index == "PRIMARY" {
            t.primary_key = columns;
        } else if unique {
            // MySQL keeps no difference between a UNIQUE constraint and a unique index.
            t.unique_constraints.push(UniqueConstraint {
                name: Some(index),
                columns,
            });
        } else {
            t.indexes.push(Index {
                name: index,
                columns,
                unique: false,
                condition: None,
            });
        }
    }
    type MyKey = (String, String, String, String, String, String, String);
    let keys: Vec<MyKey> = sqlx::query_as(
        "SELECT CAST(k.TABLE_NAME AS CHAR), CAST(k.CONSTRAINT_NAME AS CHAR), CAST(k.COLUMN_NAME AS CHAR),
                CAST(k.REFERENCED_TABLE_NAME AS CHAR), CAST(k.REFERENCED_COLUMN_NAME AS CHAR),
                CAST(r.UPDATE_RULE AS CHAR), CAST(r.DELETE_RULE AS CHAR)
         FROM information_schema.KEY_COLUMN_USAGE k
         JOIN information_schema.REFERENTIAL_CONSTRAINTS r
           ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
          AND r.TABLE_NAME = k.TABLE_NAME
         WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
         ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
    )
    .fetch_all(&mut *c)
    .await?;
    let mut by_name: BTreeMap<(String, String), ForeignKey> = BTreeMap::new();
    for (table, name, column, referred, referred_column, on_update, on_delete) in keys {
        let key = by_name
            .entry((table, name.clone()))
            .or_insert_with(|| ForeignKey {
                name: Some(name),
                columns: Vec::new(),
                referred_table: referred,
                referred_columns: Vec::new(),
                on_update: action(&on_update),
                on_delete: action(&on_delete),
            });
        key.columns.push(column);
        key.referred_columns.push(referred_column);
    }
    for ((table, _), key) in by_name {
        if let Some(t) = b.table(&table) {
            t.foreign_keys.push(key);
        }
    }
    Ok(namespace.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_are_bounded() {
        let t = VersionTable {
            name: "alembic_version".into(),
            schema: None,
        };
        let long = VersionTable {
            name: "v".repeat(80),
            schema: Some("s".into()),
        };
        assert!(lock_name(&long, Some("db")).len() <= 64);
        assert_eq!(lock_name(&t, Some("app")), "retort:alembic_version@app");
    }

    #[test]
    fn grantees_are_quoted() {
        assert_eq!(grantee_of("root@127.0.0.1"), "'root'@'127.0.0.1'");
    }
}
