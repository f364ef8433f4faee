-- Several instances on one database (issue 14). Keep in step with migrations/postgres.
-- SQLite serves one instance (an exclusive lock on the file): its leases are all its own.

CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    address TEXT NOT NULL,
    version TEXT NOT NULL,
    lock_key BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

-- Who runs each VIM account. The epoch grows at every change of owner: a write fenced with an
-- older epoch is refused. No foreign key to instances: a departed instance's row is removed
-- while its leases may still name it until taken over.
CREATE TABLE vim_leases (
    vim_account_id TEXT PRIMARY KEY NOT NULL REFERENCES vim_accounts (id) ON DELETE CASCADE,
    owner TEXT,
    epoch BIGINT NOT NULL,
    expires_at TIMESTAMP
);
CREATE INDEX vim_leases_by_owner ON vim_leases (owner);
