-- revision: 7a5be04c9f12
-- down_revision: 5e83b27f6d4a, 6f29c8d1e7a3
-- message: merge reviews and pricing
-- create_date: 2026-11-16 08:30:00

-- migrate:up

-- migrate:down
