-- revision: 4d1f6a92c0b7
-- down_revision: 3c44d0e8b915
-- branch_labels: reviews
-- message: create reviews
-- create_date: 2026-11-09 11:25:50

-- migrate:up
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    book_id INTEGER NOT NULL REFERENCES books (id),
    body TEXT NOT NULL
);

-- migrate:down
DROP TABLE reviews;
