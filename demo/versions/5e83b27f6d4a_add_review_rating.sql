-- revision: 5e83b27f6d4a
-- down_revision: 4d1f6a92c0b7
-- message: add review rating
-- create_date: 2026-11-10 09:03:18

-- migrate:up
ALTER TABLE reviews ADD COLUMN rating INTEGER NOT NULL DEFAULT 5 CHECK (rating BETWEEN 1 AND 5);

-- migrate:down
ALTER TABLE reviews DROP COLUMN rating;
