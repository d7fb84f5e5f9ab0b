-- revision: 8b0d3e6f1c58
-- down_revision: 7a5be04c9f12
-- message: create publishers
-- create_date: 2026-11-18 13:11:45

-- migrate:up
CREATE TABLE publishers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
ALTER TABLE books ADD COLUMN publisher_id INTEGER REFERENCES publishers (id);

-- migrate:down
ALTER TABLE books DROP COLUMN publisher_id;
DROP TABLE publishers;
