-- The journal is written as a run goes: each step is recorded as soon as it has committed, and
-- the plan when the run starts, so that a run killed midway can be reconciled with the version
-- table the next time Retort touches that database.

-- The run's plan: a JSON list of {revision, description, path, kind} in the order they run.
ALTER TABLE journal_entries ADD COLUMN planned_steps TEXT;
-- When a later command found the run's process gone and settled the entry from the version
-- table (the entry stays 'running': it never ended by itself).
ALTER TABLE journal_entries ADD COLUMN interrupted_at TEXT;
-- 1: the step was not recorded by the run itself (it was killed between the step's commit and
-- its record) but found committed in the version table afterwards.
ALTER TABLE journal_steps ADD COLUMN reconciled INTEGER NOT NULL DEFAULT 0;
