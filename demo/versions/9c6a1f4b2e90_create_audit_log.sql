-- revision: 9c6a1f4b2e90
-- down_revision:
-- branch_labels: audit
-- message: create audit log
-- create_date: 2026-11-12 17:05:33

-- migrate:up
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL,
    row_id INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
    at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- migrate:down
DROP TABLE audit_log;
