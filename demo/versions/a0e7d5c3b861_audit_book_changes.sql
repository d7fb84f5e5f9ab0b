-- revision: a0e7d5c3b861
-- down_revision: 9c6a1f4b2e90
-- depends_on: 3c44d0e8b915
-- message: audit book changes
-- create_date: 2026-11-19 10:44:21

-- migrate:up
CREATE TRIGGER trg_books_audit_update AFTER UPDATE ON books
BEGIN
    INSERT INTO audit_log (table_name, row_id, action) VALUES ('books', NEW.id, 'update');
END;

-- migrate:down
DROP TRIGGER trg_books_audit_update;
