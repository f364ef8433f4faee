-- Reconcile (issue 15). Keep in step with migrations/postgres.
-- The installation's id, made once at the first migrate: every element rovim creates or adopts
-- carries it, so two installations sharing a VIM project never take each other's elements.
CREATE TABLE installation (
    id TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- A version 4 UUID from SQLite's random bytes.
INSERT INTO installation (id, created_at)
SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
       || substr(lower(hex(randomblob(2))), 2) || '-'
       || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)
       || '-' || lower(hex(randomblob(6))),
       CURRENT_TIMESTAMP;

-- What the VIM reports that differs from what was asked (JSON list), none when they agree.
ALTER TABLE nets ADD COLUMN drift TEXT;
ALTER TABLE vms ADD COLUMN drift TEXT;
