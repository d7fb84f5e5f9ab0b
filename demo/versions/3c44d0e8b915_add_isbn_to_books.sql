-- revision: 3c44d0e8b915
-- down_revision: 2b7e91c4a3f2
-- message: add isbn to books
-- create_date: 2026-11-05 16:40:12

-- migrate:up
ALTER TABLE books ADD COLUMN isbn TEXT;
CREATE UNIQUE INDEX uq_books_isbn ON books (isbn);

-- migrate:down
DROP INDEX uq_books_isbn;
ALTER TABLE books DROP COLUMN isbn;
