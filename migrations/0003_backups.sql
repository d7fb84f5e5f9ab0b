-- The backup catalog: one row per verified backup file. A row is written only after the file
-- was copied, synced, verified and renamed to its final name, so an interrupted backup never
-- has one. No secret is stored: `url` has the password as ***.

CREATE TABLE backups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- What retention groups by: the saved connection's name, else the redacted URL.
    connection TEXT NOT NULL,
    connection_name TEXT,
    url TEXT NOT NULL,
    backend TEXT NOT NULL CHECK (backend IN ('sqlite', 'postgres', 'mysql')),
    database TEXT,
    path TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL CHECK (format IN ('sqlite_database', 'pg_custom', 'sql_dump')),
    server_version TEXT,
    tool TEXT NOT NULL,
    tool_version TEXT,
    -- The version table's rows at backup time, as a JSON array.
    revisions TEXT NOT NULL DEFAULT '[]',
    version_table TEXT NOT NULL,
    version_table_schema TEXT,
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    verification TEXT NOT NULL,
    restore_tested INTEGER NOT NULL DEFAULT 0 CHECK (restore_tested IN (0, 1)),
    created_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX backups_by_connection ON backups (connection, created_at);
