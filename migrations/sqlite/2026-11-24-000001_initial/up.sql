-- rovim schema v1 (SQLite). Keep in step with migrations/postgres: same tables, columns,
-- nullability and declared types (checked by rovim-store's schema_parity test).
-- Ids are UUID text, JSON documents are TEXT, times are UTC TIMESTAMP.

CREATE TABLE sdn_controllers (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    sdn_type TEXT NOT NULL,
    url TEXT NOT NULL,
    username TEXT,
    secret TEXT,
    config TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL
);

CREATE TABLE vim_accounts (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    vim_type TEXT NOT NULL,
    url TEXT NOT NULL,
    tenant TEXT,
    username TEXT,
    secret TEXT,
    config TEXT NOT NULL,
    sdn_controller_id TEXT REFERENCES sdn_controllers (id),
    status TEXT NOT NULL,
    error_msg TEXT,
    restart_count INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL
);

CREATE TABLE actions (
    id TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL,
    number_tasks INTEGER NOT NULL,
    number_done INTEGER NOT NULL,
    number_failed INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL
);

CREATE TABLE tasks (
    action_id TEXT NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    task_index INTEGER NOT NULL,
    vim_account_id TEXT NOT NULL REFERENCES vim_accounts (id),
    item_kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    vim_id TEXT,
    params TEXT,
    find_filter TEXT,
    depends_on TEXT NOT NULL,
    idempotency_token TEXT NOT NULL UNIQUE,
    created BOOLEAN NOT NULL,
    created_items TEXT NOT NULL,
    error_msg TEXT,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL,
    PRIMARY KEY (action_id, task_index)
);
CREATE INDEX tasks_by_vim_status ON tasks (vim_account_id, status);
CREATE INDEX tasks_by_item ON tasks (item_id);

CREATE TABLE nets (
    id TEXT PRIMARY KEY NOT NULL,
    vim_account_id TEXT NOT NULL REFERENCES vim_accounts (id),
    name TEXT NOT NULL,
    net_type TEXT NOT NULL,
    status TEXT NOT NULL,
    vim_id TEXT,
    error_msg TEXT,
    vim_info TEXT,
    sdn_net_id TEXT,
    created BOOLEAN NOT NULL,
    created_items TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL
);

CREATE TABLE vms (
    id TEXT PRIMARY KEY NOT NULL,
    vim_account_id TEXT NOT NULL REFERENCES vim_accounts (id),
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    vim_id TEXT,
    error_msg TEXT,
    vim_info TEXT,
    created BOOLEAN NOT NULL,
    created_items TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL
);

CREATE TABLE interfaces (
    id TEXT PRIMARY KEY NOT NULL,
    vm_id TEXT NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    iface_index INTEGER NOT NULL,
    net_id TEXT REFERENCES nets (id),
    iface_type TEXT NOT NULL,
    vim_interface_id TEXT,
    vim_net_id TEXT,
    mac_address TEXT,
    ip_address TEXT,
    vim_info TEXT,
    compute_node TEXT,
    pci TEXT,
    vlan INTEGER,
    sdn_port_id TEXT,
    floating_ip BOOLEAN NOT NULL,
    port_security BOOLEAN NOT NULL,
    modified_at TIMESTAMP NOT NULL,
    UNIQUE (vm_id, iface_index)
);
CREATE INDEX interfaces_by_net ON interfaces (net_id);
