-- revision: 1a0c5e2b7d01
-- down_revision:
-- message: create authors
-- create_date: 2026-11-02 09:14:03

-- migrate:up
CREATE TABLE authors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);

-- migrate:down
DROP TABLE authors;
