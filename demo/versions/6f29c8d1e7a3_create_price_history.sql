-- revision: 6f29c8d1e7a3
-- down_revision: 3c44d0e8b915
-- branch_labels: pricing
-- message: create price history
-- create_date: 2026-11-11 14:52:07

-- migrate:up
CREATE TABLE price_history (
    id INTEGER PRIMARY KEY,
    book_id INTEGER NOT NULL REFERENCES books (id),
    price_cents INTEGER NOT NULL,
    valid_from TEXT NOT NULL
);

-- migrate:down
DROP TABLE price_history;
