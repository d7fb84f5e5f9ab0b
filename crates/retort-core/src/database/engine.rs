//! What each engine does its own way, behind one trait (as sqlx's `Database`/`Migrate` traits
//! have one `impl` per backend): the connection, the version table's catalog query, the
//! migration lock, the catalog read behind [`introspect`](super::schema::introspect), and the
//! server facts the connection check reports. The engines are `sqlite.rs`, `postgres.rs` and
//! `mysql.rs`; the shared modules (`mod.rs`, `lock.rs`, `scratch.rs`, `schema.rs`, `check.rs`)
//! hold what is the same everywhere and reach an engine through `on_conn!` (an open
//! connection) or `for_backend!` (the engine of a [`Backend`](super::Backend)).

use super::check::{ErrorFacts, FailureKind, ServerInfo};
use super::lock::{LockHolder, LockKind};
use super::schema::Builder;
use super::{DatabaseError, DatabaseUrl, VersionTable, quote_ansi};
use std::time::Duration;

/// Why an engine could not connect: the URL's options (not understood) or the driver.
pub(super) enum ConnectError {
    Url(DatabaseError),
    Driver(sqlx::Error),
}

/// One engine's open connection, and the SQL it speaks.
pub(super) trait Engine: Sized {
    /// Starts a transaction.
    const BEGIN: &'static str = "BEGIN";
    /// Where a scratch database is dropped from when the URL's own database cannot be
    /// reached (`None`: no database at all).
    const MAINTENANCE_DATABASE: Option<&'static str> = None;

    /// An identifier, always quoted.
    fn quote(ident: &str) -> String {
        quote_ansi(ident)
    }

    /// The text of a string literal, quotes doubled (without the surrounding quotes).
    fn escape(value: &str) -> String {
        value.replace('\'', "''")
    }

    /// Drops a scratch database the engine created on a server.
    fn drop_database_sql(name: &str) -> String {
        format!("DROP DATABASE IF EXISTS {name}")
    }

    /// What a refused connection's error code (or number) says, if it says enough.
    fn failure_kind(facts: &ErrorFacts) -> Option<FailureKind>;

    /// Connects to `url`, waiting up to `timeout` for locks (SQLite); `create`: a missing
    /// SQLite file is created, else it stays absent.
    async fn connect(
        url: &DatabaseUrl,
        timeout: Duration,
        create: bool,
    ) -> Result<Self, ConnectError>;

    /// Runs SQL text as written; returns the rows it affected.
    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error>;

    /// The first column of every row, as text where it is not NULL.
    async fn column(&mut self, sql: &str) -> Result<Vec<Option<String>>, sqlx::Error>;

    /// The first column of every row, as text (the version table's rows).
    async fn strings(&mut self, sql: &str) -> Result<Vec<String>, sqlx::Error>;

    /// Whether the version table exists, from the engine's catalog.
    async fn table_exists(&mut self, table: &VersionTable) -> Result<bool, sqlx::Error>;

    /// Takes the migration lock if it is free.
    async fn try_lock(
        &mut self,
        url: &DatabaseUrl,
        table: &VersionTable,
    ) -> Result<Option<LockKind>, DatabaseError>;

    /// Gives a lock taken by [`Self::try_lock`] back.
    async fn release_lock(&mut self, lock: LockKind) -> Result<(), sqlx::Error>;

    /// Who holds the migration lock, or `None` when it is free.
    async fn lock_holder(
        &mut self,
        url: &DatabaseUrl,
        table: &VersionTable,
    ) -> Result<Option<LockHolder>, DatabaseError>;

    /// Reads the catalog's tables into `b`: PostgreSQL's `schema` (default: the current one),
    /// MySQL's current database, SQLite's main database. Returns that namespace's name.
    async fn read_schema(
        &mut self,
        schema: Option<&str>,
        b: &mut Builder,
    ) -> Result<String, sqlx::Error>;

    /// One round trip that proves the database usable.
    async fn round_trip(&mut self) -> Result<(), sqlx::Error>;

    /// Product, version, database and user, as the server tells them.
    async fn server_info(&mut self) -> Result<ServerInfo, sqlx::Error>;

    /// TLS in use, its protocol version and cipher.
    async fn tls_info(&mut self) -> Result<(bool, Option<String>, Option<String>), sqlx::Error> {
        Ok((false, None, None))
    }

    /// May the user create tables where the version table goes? `probe` is a name free for a
    /// throw-away table. Returns the answer (if known) and how it was found out.
    async fn may_create(
        &mut self,
        url: &DatabaseUrl,
        table: &VersionTable,
        probe: String,
    ) -> Result<(Option<bool>, String), String>;
}
