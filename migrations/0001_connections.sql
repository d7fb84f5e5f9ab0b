-- Retort's own store, first schema: workspaces (a migration project folder) and the
-- connection profiles bound to them. No secret is ever stored here: a profile names where its
-- password lives (the OS keychain, the login session's kernel keyring, asked every time, or
-- none), and the keychain entry is found by the profile's random credential_key.

CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    project_dir TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE connections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    driver TEXT NOT NULL CHECK (driver IN ('sqlite', 'postgresql', 'mysql')),
    host TEXT,
    port INTEGER CHECK (port BETWEEN 1 AND 65535),
    database TEXT,
    username TEXT,
    tls_mode TEXT,
    tls_ca_file TEXT,
    sqlite_path TEXT,
    environment TEXT NOT NULL DEFAULT 'development',
    color TEXT,
    password_storage TEXT NOT NULL DEFAULT 'none'
        CHECK (password_storage IN ('none', 'keychain', 'session', 'ask')),
    credential_key TEXT NOT NULL UNIQUE DEFAULT (lower(hex(randomblob(16)))),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE workspace_connections (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connection_id INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, connection_id)
);
