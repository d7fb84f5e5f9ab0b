-- The recent-workspaces list is ordered by when each workspace was last opened.
ALTER TABLE workspaces ADD COLUMN last_opened_at TEXT;
