-- revision: 2b7e91c4a3f2
-- down_revision: 1a0c5e2b7d01
-- message: create books
-- create_date: 2026-11-03 10:02:41

-- migrate:up
CREATE TABLE books (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES authors (id),
    title TEXT NOT NULL
);
CREATE INDEX ix_books_author_id ON books (author_id);

-- migrate:down
DROP INDEX ix_books_author_id;
DROP TABLE books;
