//! The working set's schedule at each step of a life, as snapshots (insta), the way
//! meilisearch's index-scheduler pins its decisions: a change in what the engine decides shows
//! as a diff of these files. Ids are fixed, so the text is stable; `cargo insta review` (or
//! `INSTA_UPDATE=always`) accepts an intended change.

use std::collections::HashMap;

use rovim_core::{
    Action, ActionId, ItemId, ItemKind, NetParams, Outcome, Owned, TaskKey, TaskParams,
    VimAccountId, VmParams,
};

use super::*;
use crate::calls::CallResult;
use crate::task_entry::TaskEntry;

const ACTION: &str = "00000000-0000-0000-0000-0000000000a1";

fn key(index: u32) -> TaskKey {
    TaskKey::new(ACTION.parse::<ActionId>().unwrap(), index)
}

fn item(n: u128) -> ItemId {
    format!("00000000-0000-0000-0000-{n:012}").parse().unwrap()
}

fn task(
    index: u32,
    kind: ItemKind,
    item: ItemId,
    action: Action,
    params: Option<TaskParams>,
) -> TaskEntry {
    TaskEntry {
        key: key(index),
        vim: "00000000-0000-0000-0000-000000000009"
            .parse::<VimAccountId>()
            .unwrap(),
        element: (kind, item),
        action,
        params: params.map(Box::new),
        find: None,
        deps: Vec::new(),
        token: format!("tok-{index}"),
        recovering: false,
        vim_id: None,
        error: None,
    }
}

fn net_params() -> Option<TaskParams> {
    Some(TaskParams::Net(NetParams {
        name: "mgmt".into(),
        net_type: Default::default(),
        ip_profile: None,
        shared: false,
        vlan: None,
    }))
}

fn vm_params() -> Option<TaskParams> {
    let iface = serde_json::from_value(serde_json::json!({"net": "TASK-0"})).unwrap();
    Some(TaskParams::Vm(VmParams {
        name: "web".into(),
        description: None,
        start: true,
        image_id: "cirros".into(),
        flavor_id: "small".into(),
        networks: vec![iface],
        cloud_config: None,
        disks: Vec::new(),
        availability_zone: None,
    }))
}

/// The outbox as lines, sorted within each section (the order of writes in one batch does not
/// matter; the order of sections does not either).
fn render(out: &Outbox) -> String {
    let mut lines = Vec::new();
    let mut section = |name: &str, mut items: Vec<String>| {
        items.sort();
        for i in items {
            lines.push(format!("{name}: {i}"));
        }
    };
    section(
        "call",
        out.calls
            .iter()
            .map(|c| {
                let before: Vec<String> = c
                    .before
                    .tasks
                    .iter()
                    .map(|(k, u)| format!("{k} {:?}", u.status))
                    .collect();
                format!(
                    "{} {:?} on {:?} nets {:?} recovering={} before=[{}]",
                    c.key,
                    c.call,
                    c.element.0,
                    c.nets,
                    c.recovering,
                    before.join(", ")
                )
            })
            .collect(),
    );
    section(
        "task",
        out.batch
            .tasks
            .iter()
            .map(|(k, u)| format!("{k} {u:?}"))
            .collect(),
    );
    section(
        "net",
        out.batch
            .nets
            .iter()
            .map(|(i, u)| format!("{i} {u:?}"))
            .collect(),
    );
    section(
        "vm",
        out.batch
            .vms
            .iter()
            .map(|(i, u)| format!("{i} {u:?}"))
            .collect(),
    );
    section(
        "settled",
        out.settled
            .iter()
            .map(|s| format!("{} {:?}", s.key, s.status))
            .collect(),
    );
    section(
        "resolve",
        out.resolve.iter().map(|k| k.to_string()).collect(),
    );
    section(
        "untrack",
        out.untrack.iter().map(|e| format!("{e:?}")).collect(),
    );
    section(
        "net_users",
        out.net_users.iter().map(|q| format!("{q:?}")).collect(),
    );
    if lines.is_empty() {
        lines.push("(nothing)".into());
    }
    lines.join("\n").replace(ACTION, "A")
}

fn result(order: &CallOrder, outcome: Outcome) -> CallResult {
    CallResult::of(order, outcome)
}

#[test]
fn a_net_and_a_vm_on_it_are_created_then_deleted() {
    let (net, vm) = (item(1), item(2));
    let mut ws = WorkingSet::new();
    let mut vm_task = task(1, ItemKind::Vm, vm, Action::Create, vm_params());
    vm_task.deps = vec![key(0)];
    ws.admit(
        vec![
            task(0, ItemKind::Net, net, Action::Create, net_params()),
            vm_task,
        ],
        &HashMap::new(),
    );
    let out = ws.schedule();
    insta::assert_snapshot!("1_admitted", render(&out));

    let made = |id: &str| {
        Outcome::Created(Owned {
            vim_id: Some(id.into()),
            created_items: Vec::new(),
        })
    };
    ws.complete(result(&out.calls[0], made("vim-net")));
    let out = ws.schedule();
    insta::assert_snapshot!("2_net_created", render(&out));

    ws.complete(result(&out.calls[0], made("vim-vm")));
    let out = ws.schedule();
    insta::assert_snapshot!("3_vm_created", render(&out));

    ws.admit(
        vec![
            task(2, ItemKind::Vm, vm, Action::Delete, None),
            task(3, ItemKind::Net, net, Action::Delete, None),
        ],
        &HashMap::new(),
    );
    let out = ws.schedule();
    insta::assert_snapshot!("4_deletes_admitted", render(&out));
}
