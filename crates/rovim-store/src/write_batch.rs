//! A batch of engine writes (task outcomes, item updates, account status), applied in one
//! transaction. Every field is optional: `None` leaves the column alone, `Some(None)` clears it.
//! Error messages are cut to the column size here, whoever wrote them.
//!
//! Counters are not written by callers: a task's settlement is an UPDATE guarded by its current
//! status (`… WHERE status IN ('SCHEDULED', 'BUILD')`), and the action's counter moves by the
//! rows that statement changed. So a task is counted once whatever the engine's memory holds
//! (a task admitted twice, a result delivered twice): exactness by construction, not by care.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rovim_core::{
    AccountStatus, ActionId, CounterDelta, CreatedItem, ItemId, ItemStatus, MAX_ERROR_LEN, TaskKey,
    TaskStatus, VimAccountId, counter_delta, truncate_error,
};

use crate::batch_update::{Shape, Value, execute, execute_tasks, generations};
use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::leases::Fence;
use crate::reads::OPEN;
use crate::schema::{actions, tasks, vim_accounts};
use crate::stamp::Stamp;

/// Changes to one task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskUpdate {
    pub status: Option<TaskStatus>,
    pub vim_id: Option<Option<String>>,
    pub error_msg: Option<Option<String>>,
    pub created: Option<bool>,
    pub created_items: Option<Vec<CreatedItem>>,
    pub attempts: Option<i32>,
    pub next_attempt_at: Option<Option<NaiveDateTime>>,
}

/// Changes to a net or VM row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemUpdate {
    pub status: Option<ItemStatus>,
    pub vim_id: Option<Option<String>>,
    pub error_msg: Option<Option<String>>,
    pub vim_info: Option<Option<String>>,
    /// Nets only.
    pub sdn_net_id: Option<Option<String>>,
    pub created: Option<bool>,
    pub created_items: Option<Vec<CreatedItem>>,
    /// How the element differs from what was asked (a JSON list), none when it agrees.
    pub drift: Option<Option<String>>,
}

/// Changes to a VM interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceUpdate {
    pub vim_interface_id: Option<Option<String>>,
    pub vim_net_id: Option<Option<String>>,
    pub mac_address: Option<Option<String>>,
    pub ip_address: Option<Option<String>>,
    pub vim_info: Option<Option<String>>,
    pub compute_node: Option<Option<String>>,
    pub pci: Option<Option<String>>,
    pub vlan: Option<Option<i32>>,
    pub sdn_port_id: Option<Option<String>>,
}

/// A VIM account's status as the Supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatusUpdate {
    pub status: AccountStatus,
    pub error_msg: Option<String>,
    /// Added to `restart_count`.
    pub restarts: i32,
}

/// Writes that belong together (normally the outcomes of one round of a VimActor).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub tasks: Vec<(TaskKey, TaskUpdate)>,
    pub nets: Vec<(ItemId, ItemUpdate)>,
    pub vms: Vec<(ItemId, ItemUpdate)>,
    pub interfaces: Vec<(ItemId, InterfaceUpdate)>,
    pub accounts: Vec<(VimAccountId, AccountStatusUpdate)>,
    /// Committed only while the account's lease still reads so (see [`crate::leases`]); `None`
    /// for writes that need no lease.
    pub fence: Option<Fence>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
            && self.nets.is_empty()
            && self.vms.is_empty()
            && self.interfaces.is_empty()
            && self.accounts.is_empty()
    }

    /// Number of rows this batch touches at most.
    pub fn len(&self) -> usize {
        self.tasks.len()
            + self.nets.len()
            + self.vms.len()
            + self.interfaces.len()
            + self.accounts.len()
    }

    /// Appends another batch (of the same writer: the fence stays this one's, or becomes the
    /// other's if this had none).
    pub fn extend(&mut self, other: WriteBatch) {
        if self.fence.is_none() {
            self.fence = other.fence;
        }
        self.tasks.extend(other.tasks);
        self.nets.extend(other.nets);
        self.vms.extend(other.vms);
        self.interfaces.extend(other.interfaces);
        self.accounts.extend(other.accounts);
    }
}

fn cut(msg: Option<Option<String>>) -> Option<Option<String>> {
    msg.map(|m| m.map(|m| truncate_error(&m, MAX_ERROR_LEN).into_owned()))
}

fn items_json(items: Option<Vec<CreatedItem>>) -> Option<String> {
    items.map(|i| serde_json::to_string(&i).expect("created items serialize"))
}

#[derive(AsChangeset)]
#[diesel(table_name = tasks)]
struct TaskChanges {
    status: Option<&'static str>,
    vim_id: Option<Option<String>>,
    error_msg: Option<Option<String>>,
    created: Option<bool>,
    created_items: Option<String>,
    attempts: Option<i32>,
    next_attempt_at: Option<Option<NaiveDateTime>>,
    modified_at: NaiveDateTime,
}

/// What a write changed that its writer must know: the tasks whose settlement it committed
/// (a settlement already made by an earlier write is not in it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub settled: Vec<(TaskKey, TaskStatus)>,
    /// Tasks whose update the status guard refused: they were settled already (or are gone).
    pub stale: Vec<TaskKey>,
    /// Rows the write changed (for the writer's statistics).
    pub rows: u64,
}

/// Applies batches in order, as if one after the other, with one statement per table and shape
/// of row change (see [`crate::batch_update`]); says for each what it changed. Run it inside a
/// transaction.
pub(crate) fn apply_batches(
    conn: &mut AnyConnection,
    batches: &[&WriteBatch],
) -> Result<Vec<Applied>, StoreError> {
    let t = Stamp::now();
    let mut applied: Vec<Applied> = batches.iter().map(|_| Applied::default()).collect();
    // One UPDATE per action, with the exact sum of the settlements that went through.
    let mut sums: BTreeMap<ActionId, CounterDelta> = BTreeMap::new();
    let tasks = batches
        .iter()
        .enumerate()
        .flat_map(|(w, b)| b.tasks.iter().map(move |(k, u)| (*k, (w, u))));
    for generation in generations(tasks) {
        let mut by_shape: BTreeMap<Vec<&'static str>, TaskRows> = BTreeMap::new();
        for (key, (w, u)) in generation {
            let change = task_change(key, u);
            let (rows, values) = by_shape.entry(change.columns).or_default();
            rows.push((key, w, u));
            values.push(change.values);
        }
        for (columns, (rows, values)) in by_shape {
            let shape = Shape {
                table: "tasks",
                keys: &["action_id", "task_index"],
                columns,
                guard: Some(OPEN_GUARD.as_str()),
            };
            let changed: HashSet<(String, i32)> = execute_tasks(conn, &shape, &values, &t)?
                .into_iter()
                .map(|c| (c.action_id, c.task_index))
                .collect();
            for (key, w, u) in rows {
                let from_open = changed.contains(&(key.action.to_string(), key.index as i32));
                let delta = if from_open {
                    // Which open status it left makes no difference to the count.
                    Some(u.status.map_or_else(CounterDelta::default, |to| {
                        counter_delta(TaskStatus::Build, to)
                    }))
                } else if u.status == Some(TaskStatus::Finished) {
                    finish_done(conn, key, u, t.time())?
                } else {
                    None
                };
                let Some(delta) = delta else {
                    applied[w].stale.push(key);
                    continue;
                };
                applied[w].rows += 1;
                if let Some(to) = u.status.filter(|s| !s.is_open()) {
                    applied[w].settled.push((key, to));
                }
                *sums.entry(key.action).or_default() += delta;
            }
        }
    }
    let mut rows = 0;
    let items = |pick: fn(&WriteBatch) -> &Vec<(ItemId, ItemUpdate)>| {
        batches
            .iter()
            .flat_map(move |b| pick(b).iter().map(|(id, u)| (*id, u)))
    };
    rows += update_items(conn, "nets", items(|b| &b.nets), &t, true)?;
    rows += update_items(conn, "vms", items(|b| &b.vms), &t, false)?;
    let ifaces = batches
        .iter()
        .flat_map(|b| b.interfaces.iter().map(|(id, u)| (*id, u)));
    rows += update_interfaces(conn, ifaces, &t)?;
    for (action, d) in sums.into_iter().filter(|(_, d)| !d.is_zero()) {
        rows += diesel::update(actions::table.find(action.to_string()))
            .set((
                actions::number_done.eq(actions::number_done + d.done),
                actions::number_failed.eq(actions::number_failed + d.failed),
                actions::modified_at.eq(t.time()),
            ))
            .execute(conn)? as u64;
    }
    for (id, u) in batches.iter().flat_map(|b| b.accounts.iter()) {
        rows += diesel::update(vim_accounts::table.find(id.to_string()))
            .set((
                vim_accounts::status.eq(u.status.as_str()),
                vim_accounts::error_msg.eq(u
                    .error_msg
                    .as_ref()
                    .map(|m| truncate_error(m, MAX_ERROR_LEN).into_owned())),
                vim_accounts::restart_count.eq(vim_accounts::restart_count + u.restarts),
                vim_accounts::modified_at.eq(t.time()),
            ))
            .execute(conn)? as u64;
    }
    // Item, interface, counter and account rows are counted with the first batch (statistics).
    if let Some(first) = applied.first_mut() {
        first.rows += rows;
    }
    Ok(applied)
}

/// The task updates of one shape (with the batch each came from) and their rows' values.
type TaskRows<'a> = (Vec<(TaskKey, usize, &'a TaskUpdate)>, Vec<Vec<Value>>);

/// A task's open statuses, as a condition on its row.
static OPEN_GUARD: LazyLock<String> =
    LazyLock::new(|| format!("status IN ('{}')", OPEN.join("', '")));

/// A task update as a row change keyed by the task (status, VIM id, error, creation, tries).
fn task_change(key: TaskKey, u: &TaskUpdate) -> RowChange {
    let mut row = RowChange::keyed(vec![
        Value::Text(Some(key.action.to_string())),
        Value::Int(Some(key.index as i32)),
    ]);
    row.text("status", &u.status.map(|s| Some(s.as_str().to_owned())));
    row.text("vim_id", &u.vim_id);
    row.text("error_msg", &cut(u.error_msg.clone()));
    if let Some(c) = u.created {
        row.set("created", Value::Bool(c));
    }
    row.text(
        "created_items",
        &items_json(u.created_items.clone()).map(Some),
    );
    if let Some(a) = u.attempts {
        row.set("attempts", Value::Int(Some(a)));
    }
    if let Some(at) = u.next_attempt_at {
        row.set("next_attempt_at", Value::NullableTime(at));
    }
    row.set("modified_at", Value::Now);
    row
}

/// `FINISHED` also applies to a `DONE` task (its element was deleted), counting nothing.
fn finish_done(
    conn: &mut AnyConnection,
    key: TaskKey,
    u: &TaskUpdate,
    t: NaiveDateTime,
) -> Result<Option<CounterDelta>, StoreError> {
    let u = u.clone();
    let changes = TaskChanges {
        status: u.status.map(TaskStatus::as_str),
        vim_id: u.vim_id,
        error_msg: cut(u.error_msg),
        created: u.created,
        created_items: items_json(u.created_items),
        attempts: u.attempts,
        next_attempt_at: u.next_attempt_at,
        modified_at: t,
    };
    let from_done = diesel::update(
        tasks::table
            .find((key.action.to_string(), key.index as i32))
            .filter(tasks::status.eq(TaskStatus::Done.as_str())),
    )
    .set(&changes)
    .execute(conn)?;
    Ok((from_done == 1).then(|| counter_delta(TaskStatus::Done, TaskStatus::Finished)))
}

/// Net or VM rows, in order (a later change of the same row applies after an earlier one).
fn update_items<'a>(
    conn: &mut AnyConnection,
    table: &'static str,
    items: impl Iterator<Item = (ItemId, &'a ItemUpdate)>,
    t: &Stamp,
    net: bool,
) -> Result<u64, StoreError> {
    let changes = items.map(|(id, u)| {
        let mut row = RowChange::of(id);
        row.text("status", &u.status.map(|s| Some(s.as_str().to_owned())));
        row.text("vim_id", &u.vim_id);
        row.text("error_msg", &cut(u.error_msg.clone()));
        row.text("vim_info", &u.vim_info);
        row.text("drift", &u.drift);
        if net {
            row.text("sdn_net_id", &u.sdn_net_id);
        }
        row.text(
            "created_items",
            &items_json(u.created_items.clone()).map(Some),
        );
        if let Some(c) = u.created {
            row.set("created", Value::Bool(c));
        }
        row.set("modified_at", Value::Now);
        (id, row)
    });
    update_rows(conn, table, changes, t)
}

fn update_interfaces<'a>(
    conn: &mut AnyConnection,
    items: impl Iterator<Item = (ItemId, &'a InterfaceUpdate)>,
    t: &Stamp,
) -> Result<u64, StoreError> {
    let changes = items.map(|(id, u)| {
        let mut row = RowChange::of(id);
        row.text("vim_interface_id", &u.vim_interface_id);
        row.text("vim_net_id", &u.vim_net_id);
        row.text("mac_address", &u.mac_address);
        row.text("ip_address", &u.ip_address);
        row.text("vim_info", &u.vim_info);
        row.text("compute_node", &u.compute_node);
        row.text("pci", &u.pci);
        row.text("sdn_port_id", &u.sdn_port_id);
        if let Some(vlan) = u.vlan {
            row.set("vlan", Value::Int(vlan));
        }
        row.set("modified_at", Value::Now);
        (id, row)
    });
    update_rows(conn, "interfaces", changes, t)
}

/// The columns one row's change sets, and the values: its key first.
struct RowChange {
    columns: Vec<&'static str>,
    values: Vec<Value>,
}

impl RowChange {
    fn keyed(key: Vec<Value>) -> RowChange {
        RowChange {
            columns: Vec::new(),
            values: key,
        }
    }

    fn of(id: ItemId) -> RowChange {
        RowChange::keyed(vec![Value::Text(Some(id.to_string()))])
    }

    fn set(&mut self, column: &'static str, value: Value) {
        self.columns.push(column);
        self.values.push(value);
    }

    /// A text column, when the update names it (`Some(None)` clears it).
    fn text(&mut self, column: &'static str, value: &Option<Option<String>>) {
        if let Some(v) = value {
            self.set(column, Value::Text(v.clone()));
        }
    }
}

/// Rows of a table keyed by `id`, in order: one statement per generation and shape of change.
fn update_rows(
    conn: &mut AnyConnection,
    table: &'static str,
    changes: impl Iterator<Item = (ItemId, RowChange)>,
    t: &Stamp,
) -> Result<u64, StoreError> {
    let mut rows = 0;
    for generation in generations(changes) {
        let mut by_shape: BTreeMap<Vec<&'static str>, Vec<Vec<Value>>> = BTreeMap::new();
        for (_, change) in generation {
            by_shape
                .entry(change.columns)
                .or_default()
                .push(change.values);
        }
        for (columns, values) in by_shape {
            let shape = Shape {
                table,
                keys: &["id"],
                columns,
                guard: None,
            };
            rows += execute(conn, &shape, &values, t)? as u64;
        }
    }
    Ok(rows)
}
