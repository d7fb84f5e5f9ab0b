-- The audit journal: every upgrade, downgrade, stamp, merge, backup and restore, who ran it,
-- where, from which revisions to which, each step with its duration and the SHA-256 of the
-- revision file it applied, and how it ended. A run writes its entry before it starts
-- (outcome 'running') so that one killed midway still leaves a trace.
-- Connections are kept by name and redacted URL (never a password), not by foreign key: the
-- record must outlive the profile.

CREATE TABLE journal_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL
        CHECK (kind IN ('upgrade', 'downgrade', 'stamp', 'merge', 'revision', 'backup', 'restore')),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    os_user TEXT NOT NULL,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    workspace_dir TEXT,
    connection_name TEXT,
    connection_url TEXT,
    -- The database itself (engine, host, port, name or file), whoever connected to it: what
    -- "applied to this database" is matched on.
    database_location TEXT,
    environment TEXT,
    target TEXT,
    from_revisions TEXT NOT NULL DEFAULT '[]',
    to_revisions TEXT NOT NULL DEFAULT '[]',
    outcome TEXT NOT NULL DEFAULT 'running'
        CHECK (outcome IN ('running', 'ok', 'failed', 'cancelled')),
    failed_step INTEGER,
    error TEXT,
    backup_id INTEGER,
    note TEXT
);

CREATE INDEX journal_entries_by_connection ON journal_entries (connection_name, id);
CREATE INDEX journal_entries_by_database ON journal_entries (database_location, id);

CREATE TABLE journal_steps (
    entry_id INTEGER NOT NULL REFERENCES journal_entries (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    revision TEXT,
    description TEXT NOT NULL,
    file_path TEXT,
    file_sha256 TEXT,
    duration_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'failed')),
    PRIMARY KEY (entry_id, position)
);

CREATE INDEX journal_steps_by_revision ON journal_steps (revision);
