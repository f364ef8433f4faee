-- Reconcile (issue 15). Keep in step with migrations/sqlite.
-- The installation's id, made once at the first migrate: every element rovim creates or adopts
-- carries it, so two installations sharing a VIM project never take each other's elements.
CREATE TABLE installation (
    id TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO installation (id, created_at) VALUES (gen_random_uuid()::text, now() AT TIME ZONE 'UTC');

-- What the VIM reports that differs from what was asked (JSON list), none when they agree.
ALTER TABLE nets ADD COLUMN drift TEXT;
ALTER TABLE vms ADD COLUMN drift TEXT;
