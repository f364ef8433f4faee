//! The VimActor's decisions, driven event by event without actors or I/O.

use std::collections::HashMap;

use rovim_core::{
    Action, ActionId, ItemId, ItemKind, NetParams, Outcome, Owned, TaskKey, TaskParams, TaskStatus,
    VimAccountId, VimCall, VmParams,
};

use super::*;
use crate::calls::{CallResult, NetTarget};
use crate::task_entry::{TaskEntry, TaskSnapshot};

fn entry(key: TaskKey, kind: ItemKind, item: ItemId, action: Action) -> TaskEntry {
    let params = match (action, kind) {
        (Action::Create, ItemKind::Net) => Some(TaskParams::Net(NetParams {
            name: "n".into(),
            net_type: Default::default(),
            ip_profile: None,
            shared: false,
            vlan: None,
        })),
        _ => None,
    };
    TaskEntry {
        key,
        vim: VimAccountId::generate(),
        element: (kind, item),
        action,
        params: params.map(Box::new),
        find: None,
        deps: Vec::new(),
        token: format!("tok-{key}"),
        recovering: false,
        vim_id: None,
        error: None,
    }
}

fn vm_on(key: TaskKey, net_task: TaskKey) -> TaskEntry {
    let mut e = entry(key, ItemKind::Vm, ItemId::generate(), Action::Create);
    let iface =
        serde_json::from_value(serde_json::json!({"net": {"action_task": net_task.to_string()}}))
            .unwrap();
    e.params = Some(Box::new(TaskParams::Vm(VmParams {
        name: "v".into(),
        description: None,
        start: true,
        image_id: "i".into(),
        flavor_id: "f".into(),
        networks: vec![iface],
        cloud_config: None,
        disks: Vec::new(),
        availability_zone: None,
    })));
    e.deps = vec![net_task];
    e
}

/// What the Supervisor reports of a net CREATE on another VIM account.
fn net_create_snapshot(key: TaskKey, status: TaskStatus, vim_id: Option<&str>) -> TaskSnapshot {
    TaskSnapshot {
        key,
        action: Action::Create,
        item: ItemKind::Net,
        item_id: ItemId::generate(),
        status,
        error: None,
        vim_id: vim_id.map(String::from),
    }
}

fn done(order: &CallOrder, outcome: Outcome) -> CallResult {
    CallResult::of(order, outcome)
}

/// A net CREATE and a VM CREATE on it, admitted: the working set and the two keys.
fn net_and_vm_on_it() -> (WorkingSet, TaskKey, TaskKey) {
    let a = ActionId::generate();
    let (net_key, vm_key) = (TaskKey::new(a, 0), TaskKey::new(a, 1));
    let mut ws = WorkingSet::new();
    ws.admit(
        vec![
            entry(net_key, ItemKind::Net, ItemId::generate(), Action::Create),
            vm_on(vm_key, net_key),
        ],
        &HashMap::new(),
    );
    (ws, net_key, vm_key)
}

fn created(id: &str) -> Outcome {
    Outcome::Created(Owned {
        vim_id: Some(id.into()),
        created_items: Vec::new(),
    })
}

fn status_of(batch: &WriteBatch, key: TaskKey) -> Vec<TaskStatus> {
    batch
        .tasks
        .iter()
        .filter(|(k, _)| *k == key)
        .filter_map(|(_, u)| u.status)
        .collect()
}

#[test]
fn a_vm_waits_for_its_net_then_gets_the_net_vim_id() {
    let (mut ws, net_key, vm_key) = net_and_vm_on_it();
    let out = ws.schedule();
    assert_eq!(out.calls.len(), 1, "only the net can start");
    assert_eq!(out.calls[0].key, net_key);
    assert_eq!(
        status_of(&out.calls[0].before, net_key),
        vec![TaskStatus::Build],
        "BUILD is written before the call"
    );
    assert!(out.resolve.is_empty());

    ws.complete(done(&out.calls[0], created("vim-net-1")));
    let out = ws.schedule();
    assert_eq!(status_of(&out.batch, net_key), vec![TaskStatus::Done]);
    assert_eq!(
        out.settled.iter().map(|s| s.key).collect::<Vec<_>>(),
        vec![net_key]
    );
    assert_eq!(out.calls.len(), 1);
    assert_eq!(out.calls[0].key, vm_key);
    assert_eq!(
        out.calls[0].nets,
        vec![NetTarget::VimId("vim-net-1".into())]
    );
}

#[test]
fn a_failed_dependency_fails_the_dependent_and_counts_both_once() {
    let (mut ws, _net_key, vm_key) = net_and_vm_on_it();
    let order = ws.schedule().calls.remove(0);
    ws.complete(done(
        &order,
        Outcome::Failed {
            error: "quota exceeded".into(),
            leftover: None,
        },
    ));
    let out = ws.schedule();
    assert_eq!(status_of(&out.batch, vm_key), vec![TaskStatus::Failed]);
    let failed = out
        .batch
        .tasks
        .iter()
        .filter(|(_, u)| u.status == Some(TaskStatus::Failed))
        .count();
    assert_eq!(failed, 2, "the net and the VM each fail once");
    let msg = out
        .batch
        .tasks
        .iter()
        .find(|(k, u)| *k == vm_key && u.error_msg.is_some())
        .unwrap()
        .1
        .error_msg
        .clone();
    assert!(msg.flatten().unwrap().contains("quota exceeded"));
    assert!(out.calls.is_empty());
}

#[test]
fn a_dependency_elsewhere_is_asked_for_once_and_wakes_the_task() {
    let other = TaskKey::new(ActionId::generate(), 0);
    let vm_key = TaskKey::new(ActionId::generate(), 0);
    let mut ws = WorkingSet::new();
    ws.admit(vec![vm_on(vm_key, other)], &HashMap::new());
    let out = ws.schedule();
    assert_eq!(out.resolve, vec![other]);
    assert!(out.calls.is_empty());
    let snap = |status, vim_id| net_create_snapshot(other, status, vim_id);
    ws.resolved(vec![(other, Some(snap(TaskStatus::Build, None)))]);
    let out = ws.schedule();
    assert!(
        out.calls.is_empty() && out.resolve.is_empty(),
        "still open: wait, do not ask again"
    );
    ws.foreign_settled(snap(TaskStatus::Done, Some("far-net")));
    let out = ws.schedule();
    assert_eq!(out.calls.len(), 1);
    assert_eq!(out.calls[0].nets, vec![NetTarget::VimId("far-net".into())]);
}

/// The race behind a teardown that never ended: the read of a dependency's state started
/// before its settlement was committed, the settlement was forwarded while the read was under
/// way, and the stale answer arrived last. The settled state wins.
#[test]
fn a_stale_answer_arriving_after_the_settlement_does_not_make_the_task_wait_again() {
    let other = TaskKey::new(ActionId::generate(), 0);
    let vm_key = TaskKey::new(ActionId::generate(), 0);
    let mut ws = WorkingSet::new();
    ws.admit(vec![vm_on(vm_key, other)], &HashMap::new());
    assert_eq!(ws.schedule().resolve, vec![other]);
    let snap = |status, vim_id| net_create_snapshot(other, status, vim_id);
    ws.foreign_settled(snap(TaskStatus::Done, Some("far-net")));
    ws.resolved(vec![(other, Some(snap(TaskStatus::Build, None)))]);
    let out = ws.schedule();
    assert_eq!(
        out.calls.len(),
        1,
        "the dependency is DONE: the VM is created"
    );
    assert_eq!(out.calls[0].nets, vec![NetTarget::VimId("far-net".into())]);
}

#[test]
fn restore_resumes_build_with_a_token_lookup_and_lets_a_delete_supersede_what_waits() {
    let a = ActionId::generate();
    let (c1, c2, d) = (TaskKey::new(a, 0), TaskKey::new(a, 1), TaskKey::new(a, 2));
    let (building, waiting) = (ItemId::generate(), ItemId::generate());
    let mut recovering = entry(c1, ItemKind::Net, building, Action::Create);
    recovering.recovering = true;
    let records = vec![
        TaskEntryWithStatus {
            entry: recovering,
            status: TaskStatus::Build,
        },
        TaskEntryWithStatus {
            entry: entry(c2, ItemKind::Net, waiting, Action::Create),
            status: TaskStatus::Scheduled,
        },
        // The crash came after the DELETE was stored but before it superseded the CREATE.
        TaskEntryWithStatus {
            entry: entry(d, ItemKind::Net, waiting, Action::Delete),
            status: TaskStatus::Scheduled,
        },
    ];
    let mut ws = WorkingSet::new();
    ws.restore(records, &mut HashMap::new());
    let out = ws.schedule();
    assert_eq!(out.calls.len(), 1, "{:?}", out.calls);
    assert_eq!(out.calls[0].key, c1);
    assert!(out.calls[0].recovering);
    assert!(matches!(out.calls[0].call, VimCall::Create));
    assert_eq!(status_of(&out.batch, c2), vec![TaskStatus::Superseded]);
    assert_eq!(
        status_of(&out.batch, d),
        vec![TaskStatus::Superseded],
        "nothing was created to delete"
    );
}

#[test]
fn the_same_task_admitted_twice_runs_once() {
    let key = TaskKey::new(ActionId::generate(), 0);
    let e = entry(key, ItemKind::Net, ItemId::generate(), Action::Create);
    let mut ws = WorkingSet::new();
    ws.admit(vec![e.clone()], &HashMap::new());
    ws.admit(vec![e], &HashMap::new());
    assert_eq!(ws.schedule().calls.len(), 1);
    assert_eq!(ws.task_count(), 1);
}

/// The boot race of issue 10: tasks submitted while the actor boots are both loaded from the
/// database and queued live. Restored, settled without a VIM call and pruned, they must not be
/// admitted (and settled, and counted) a second time when the live copy arrives.
#[test]
fn tasks_restored_at_boot_are_not_admitted_again_from_the_live_queue() {
    let a = ActionId::generate();
    let (c, d) = (TaskKey::new(a, 0), TaskKey::new(a, 1));
    let item = ItemId::generate();
    let create = entry(c, ItemKind::Net, item, Action::Create);
    let delete = entry(d, ItemKind::Net, item, Action::Delete);
    let mut ws = WorkingSet::new();
    ws.restore(
        vec![
            TaskEntryWithStatus {
                entry: create.clone(),
                status: TaskStatus::Scheduled,
            },
            TaskEntryWithStatus {
                entry: delete.clone(),
                status: TaskStatus::Scheduled,
            },
        ],
        &mut HashMap::new(),
    );
    let first = ws.schedule();
    assert_eq!(status_of(&first.batch, c), vec![TaskStatus::Superseded]);
    assert_eq!(status_of(&first.batch, d), vec![TaskStatus::Superseded]);
    assert_eq!(ws.task_count(), 0, "settled without a call: pruned");
    ws.admit(vec![create, delete], &HashMap::new());
    let again = ws.schedule();
    assert!(again.batch.tasks.is_empty(), "{:?}", again.batch.tasks);
    assert!(again.settled.is_empty() && again.calls.is_empty());
}

#[test]
fn a_delete_of_an_element_known_only_from_the_database_deletes_what_rovim_owns() {
    let key = TaskKey::new(ActionId::generate(), 0);
    let item = ItemId::generate();
    let owned = Owned {
        vim_id: Some("vm-7".into()),
        created_items: Vec::new(),
    };
    let items = HashMap::from([(
        (ItemKind::Vm, item),
        ItemState {
            vim_id: Some("vm-7".into()),
            owned: Some(owned.clone()),
            observed: None,
        },
    )]);
    let mut ws = WorkingSet::new();
    ws.admit(vec![entry(key, ItemKind::Vm, item, Action::Delete)], &items);
    let out = ws.schedule();
    assert!(matches!(&out.calls[0].call, VimCall::Delete(o) if *o == owned));
    assert_eq!(
        out.untrack,
        vec![(ItemKind::Vm, item)],
        "a deleted element is no longer polled"
    );
    ws.complete(done(&out.calls[0], Outcome::Deleted));
    let out = ws.schedule();
    assert_eq!(status_of(&out.batch, key), vec![TaskStatus::Finished]);
    assert_eq!(ws.element_count(), 0, "a finished element leaves memory");
}
