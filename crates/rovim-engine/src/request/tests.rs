//! The submission rules, against an in-memory stand-in for the database.

use std::collections::HashMap;

use rovim_core::{Action, ActionId, ItemId, ItemKind, TaskKey, TaskParams, VimAccountId};
use serde_json::{Value, json};

use super::*;

#[derive(Default)]
struct FakeDb {
    accounts: HashMap<String, VimAccountId>,
    items: HashMap<(ItemKind, ItemId), VimAccountId>,
    tasks: HashMap<TaskKey, (ItemKind, ItemId, Action)>,
    account_lookups: usize,
}

impl Lookup for FakeDb {
    fn account(&mut self, reference: &str) -> Result<Option<VimAccountId>, StoreError> {
        self.account_lookups += 1;
        Ok(self.accounts.get(reference).copied())
    }
    fn item(&mut self, kind: ItemKind, id: ItemId) -> Result<Option<VimAccountId>, StoreError> {
        Ok(self.items.get(&(kind, id)).copied())
    }
    fn task(&mut self, key: TaskKey) -> Result<Option<(ItemKind, ItemId, Action)>, StoreError> {
        Ok(self.tasks.get(&key).copied())
    }
}

fn db() -> (FakeDb, VimAccountId) {
    let vim = VimAccountId::generate();
    let mut db = FakeDb::default();
    db.accounts.insert("vim1".into(), vim);
    (db, vim)
}

fn req(tasks: Value) -> ActionRequest {
    serde_json::from_value(json!({ "tasks": tasks })).unwrap()
}

fn net(name: &str) -> Value {
    json!({"vim_account": "vim1", "action": "CREATE", "item": "net", "params": {"name": name}})
}

fn vm(net: Value) -> Value {
    json!({"vim_account": "vim1", "action": "CREATE", "item": "vm",
           "params": {"name": "v", "image_id": "i", "flavor_id": "f", "networks": [{"net": net}]}})
}

fn refused(db: &mut FakeDb, tasks: Value) -> FieldError {
    match plan(&req(tasks), db) {
        Err(PlanError::Field(f)) => f,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_vm_on_a_net_of_the_same_action_depends_on_it_and_points_at_its_row() {
    let (mut db, vim) = db();
    let p = plan(&req(json!([net("n"), vm(json!("TASK-0"))])), &mut db).unwrap();
    let a = &p.action;
    assert_eq!(
        a.tasks[1].depends_on,
        vec![TaskKey::new(a.id, 0)],
        "the net reference adds the dependency"
    );
    assert_eq!(a.nets.len(), 1);
    assert_eq!(a.vms[0].interfaces[0].net, Some(a.tasks[0].item_id));
    assert_eq!((a.tasks[0].vim_account, a.vms[0].vim_account), (vim, vim));
    assert!(matches!(a.tasks[1].params, Some(TaskParams::Vm(_))));
    assert_ne!(a.tasks[0].idempotency_token, a.tasks[1].idempotency_token);
}

#[test]
fn unknown_accounts_tasks_and_items_are_refused_naming_the_field() {
    let (mut db, _) = db();
    let mut t = net("n");
    t["vim_account"] = json!("nope");
    let e = refused(&mut db, json!([t]));
    assert_eq!(e.field, "tasks[0].vim_account");
    assert!(e.reason.contains("nope"));

    let e = refused(&mut db, json!([vm(json!("TASK-5"))]));
    assert_eq!(e.field, "tasks[0].params.networks[0].net");
    assert!(e.reason.contains("no task 5"), "{}", e.reason);

    let other = TaskKey::new(ActionId::generate(), 0);
    let e = refused(&mut db, json!([vm(json!(other.to_string()))]));
    assert!(e.reason.contains("no task"), "{e}");

    let e = refused(
        &mut db,
        json!([{"vim_account": "vim1", "action": "DELETE", "item": "net", "item_id": ItemId::generate().to_string()}]),
    );
    assert_eq!(e.field, "tasks[0].item_id");

    let e = refused(
        &mut db,
        json!([{"vim_account": "vim1", "action": "DELETE", "item": "net"}]),
    );
    assert_eq!(
        (e.field.as_str(), e.reason.as_str()),
        ("tasks[0].item_id", "is required for DELETE")
    );

    let e = refused(
        &mut db,
        json!([vm(json!({"net_item": ItemId::generate().to_string()}))]),
    );
    assert!(e.reason.starts_with("no net"), "{e}");
}

#[test]
fn bad_params_name_the_nested_field() {
    let (mut db, _) = db();
    let mut t = vm(json!("TASK-0"));
    t["params"]["networks"][0]["mac_address"] = json!("zz");
    let e = refused(&mut db, json!([net("n"), t]));
    assert_eq!(e.field, "tasks[1].params.networks[0].mac_address");

    let e = refused(
        &mut db,
        json!([{"vim_account": "vim1", "action": "CREATE", "item": "net", "params": {"name": "n", "vlan": 5000}}]),
    );
    assert_eq!(e.field, "tasks[0].params.vlan");

    let e = refused(
        &mut db,
        json!([{"vim_account": "vim1", "action": "CREATE", "item": "vm", "params": {"name": "v"}}]),
    );
    assert_eq!(e.field, "tasks[0].params");
    assert!(e.reason.contains("image_id"), "{e}");

    let e = refused(
        &mut db,
        json!([{"vim_account": "vim1", "action": "FIND", "item": "net"}]),
    );
    assert_eq!(e.field, "tasks[0].find");
    let e = refused(
        &mut db,
        json!([{"vim_account": "vim1", "action": "FIND", "item": "vm", "find": {"name": "x"}}]),
    );
    assert_eq!(e.field, "tasks[0].item");
    let e = refused(&mut db, json!([]));
    assert_eq!(e.field, "tasks");
}

#[test]
fn dependency_cycles_and_self_references_are_refused() {
    let (mut db, _) = db();
    let mut a = net("a");
    a["depends_on"] = json!([1]);
    let mut b = net("b");
    b["depends_on"] = json!([0]);
    let e = refused(&mut db, json!([a, b]));
    assert!(e.reason.contains("cycle"), "{e}");

    let mut s = net("s");
    s["depends_on"] = json!([0]);
    let e = refused(&mut db, json!([s]));
    assert_eq!(e.field, "tasks[0].depends_on[0]");
    assert!(e.reason.contains("itself"));

    let mut ok = net("late");
    ok["depends_on"] = json!([1]);
    plan(&req(json!([ok, net("early")])), &mut db)
        .expect("a forward reference without a cycle is fine");
}

#[test]
fn delete_of_an_item_of_another_account_or_created_in_the_same_action() {
    let (mut db, _) = db();
    let other = VimAccountId::generate();
    let theirs = ItemId::generate();
    db.items.insert((ItemKind::Net, theirs), other);
    let e = refused(
        &mut db,
        json!([{"vim_account": "vim1", "action": "DELETE", "item": "net", "item_id": theirs.to_string()}]),
    );
    assert!(e.reason.contains("belongs to"), "{e}");

    let id = ItemId::generate();
    let mut create = net("n");
    create["item_id"] = json!(id.to_string());
    let p = plan(
        &req(json!([create, {"vim_account": "vim1", "action": "DELETE", "item": "net", "item_id": id.to_string()}])),
        &mut db,
    )
    .unwrap();
    assert_eq!(p.action.nets.len(), 1, "one row for the element");
    assert_eq!(p.action.tasks[1].item_id, id);
}

#[test]
fn legacy_and_cross_action_dependencies_resolve() {
    let (mut db, _) = db();
    let prior = TaskKey::new(ActionId::generate(), 3);
    let prior_net = ItemId::generate();
    db.tasks
        .insert(prior, (ItemKind::Net, prior_net, Action::Create));
    let mut t = vm(json!({"action_task": prior.to_string()}));
    t["depends_on"] = json!([format!("TASK-{prior}")]);
    let p = plan(&req(json!([t])), &mut db).unwrap();
    assert_eq!(p.action.tasks[0].depends_on, vec![prior]);
    assert_eq!(p.action.vms[0].interfaces[0].net, Some(prior_net));
}

#[test]
fn each_account_reference_is_looked_up_once() {
    let (mut db, _) = db();
    plan(
        &req(json!([net("a"), net("b"), vm(json!("TASK-0"))])),
        &mut db,
    )
    .unwrap();
    assert_eq!(
        db.account_lookups, 1,
        "three tasks on one account, one lookup"
    );
}
