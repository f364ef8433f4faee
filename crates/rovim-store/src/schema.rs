//! The diesel schema, written by hand to match both `migrations/` directories (the
//! `schema_parity` test checks that the two backends agree).

diesel::table! {
    sdn_controllers (id) {
        id -> Text,
        name -> Text,
        sdn_type -> Text,
        url -> Text,
        username -> Nullable<Text>,
        secret -> Nullable<Text>,
        config -> Text,
        created_at -> Timestamp,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    vim_accounts (id) {
        id -> Text,
        name -> Text,
        vim_type -> Text,
        url -> Text,
        tenant -> Nullable<Text>,
        username -> Nullable<Text>,
        secret -> Nullable<Text>,
        config -> Text,
        sdn_controller_id -> Nullable<Text>,
        status -> Text,
        error_msg -> Nullable<Text>,
        restart_count -> Integer,
        created_at -> Timestamp,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    actions (id) {
        id -> Text,
        description -> Text,
        number_tasks -> Integer,
        number_done -> Integer,
        number_failed -> Integer,
        created_at -> Timestamp,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    tasks (action_id, task_index) {
        action_id -> Text,
        task_index -> Integer,
        vim_account_id -> Text,
        item_kind -> Text,
        item_id -> Text,
        action -> Text,
        status -> Text,
        vim_id -> Nullable<Text>,
        params -> Nullable<Text>,
        find_filter -> Nullable<Text>,
        depends_on -> Text,
        idempotency_token -> Text,
        created -> Bool,
        created_items -> Text,
        error_msg -> Nullable<Text>,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    nets (id) {
        id -> Text,
        vim_account_id -> Text,
        name -> Text,
        net_type -> Text,
        status -> Text,
        vim_id -> Nullable<Text>,
        error_msg -> Nullable<Text>,
        vim_info -> Nullable<Text>,
        sdn_net_id -> Nullable<Text>,
        created -> Bool,
        created_items -> Text,
        created_at -> Timestamp,
        modified_at -> Timestamp,
        drift -> Nullable<Text>,
    }
}

diesel::table! {
    vms (id) {
        id -> Text,
        vim_account_id -> Text,
        name -> Text,
        status -> Text,
        vim_id -> Nullable<Text>,
        error_msg -> Nullable<Text>,
        vim_info -> Nullable<Text>,
        created -> Bool,
        created_items -> Text,
        created_at -> Timestamp,
        modified_at -> Timestamp,
        drift -> Nullable<Text>,
    }
}

diesel::table! {
    interfaces (id) {
        id -> Text,
        vm_id -> Text,
        iface_index -> Integer,
        net_id -> Nullable<Text>,
        iface_type -> Text,
        vim_interface_id -> Nullable<Text>,
        vim_net_id -> Nullable<Text>,
        mac_address -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        vim_info -> Nullable<Text>,
        compute_node -> Nullable<Text>,
        pci -> Nullable<Text>,
        vlan -> Nullable<Integer>,
        sdn_port_id -> Nullable<Text>,
        floating_ip -> Bool,
        port_security -> Bool,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    instances (id) {
        id -> Text,
        address -> Text,
        version -> Text,
        lock_key -> BigInt,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}

diesel::table! {
    vim_leases (vim_account_id) {
        vim_account_id -> Text,
        owner -> Nullable<Text>,
        epoch -> BigInt,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    installation (id) {
        id -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(tasks -> actions (action_id));
diesel::joinable!(tasks -> vim_accounts (vim_account_id));
diesel::joinable!(interfaces -> vms (vm_id));
diesel::joinable!(vim_accounts -> sdn_controllers (sdn_controller_id));

diesel::allow_tables_to_appear_in_same_query!(
    sdn_controllers,
    vim_accounts,
    actions,
    tasks,
    nets,
    vms,
    interfaces,
    instances,
    vim_leases,
    installation,
);
