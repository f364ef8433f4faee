//! A batch of engine writes (task outcomes, item updates, account status), applied in one
//! transaction. Every field is optional: `None` leaves the column alone, `Some(None)` clears it.
//! Error messages are cut to the column size here, whoever wrote them.
//!
//! Counters are not written by callers: a task's settlement is an UPDATE guarded by its current
//! status (`… WHERE status IN ('SCHEDULED', 'BUILD')`), and the action's counter moves by the
//! rows that statement changed. So a task is counted once whatever the engine's memory holds
//! (a task admitted twice, a result delivered twice): exactness by construction, not by care.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rovim_core::{
    AccountStatus, ActionId, CounterDelta, CreatedItem, ItemId, ItemStatus, MAX_ERROR_LEN, TaskKey,
    TaskStatus, VimAccountId, counter_delta, truncate_error,
};

use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::reads::OPEN;
use crate::schema::{actions, interfaces, nets, tasks, vim_accounts, vms};
use crate::store::now;

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

    /// Appends another batch.
    pub fn extend(&mut self, other: WriteBatch) {
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

#[derive(AsChangeset)]
#[diesel(table_name = nets)]
struct NetChanges {
    status: Option<&'static str>,
    vim_id: Option<Option<String>>,
    error_msg: Option<Option<String>>,
    vim_info: Option<Option<String>>,
    sdn_net_id: Option<Option<String>>,
    created: Option<bool>,
    created_items: Option<String>,
    modified_at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = vms)]
struct VmChanges {
    status: Option<&'static str>,
    vim_id: Option<Option<String>>,
    error_msg: Option<Option<String>>,
    vim_info: Option<Option<String>>,
    created: Option<bool>,
    created_items: Option<String>,
    modified_at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = interfaces)]
struct InterfaceChanges {
    vim_interface_id: Option<Option<String>>,
    vim_net_id: Option<Option<String>>,
    mac_address: Option<Option<String>>,
    ip_address: Option<Option<String>>,
    vim_info: Option<Option<String>>,
    compute_node: Option<Option<String>>,
    pci: Option<Option<String>>,
    vlan: Option<Option<i32>>,
    sdn_port_id: Option<Option<String>>,
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

/// Applies one task update under its status guard; returns the counter change of the move it
/// made (`counter_delta` from an open status, or from DONE), or `None` when the guard let
/// nothing through.
///
/// - a move to an open status, or an update without a status, applies only to an open task
///   (a settled task is never reopened or rewritten);
/// - a settlement applies only to an open task and counts it;
/// - `FINISHED` also applies to a `DONE` task (its element was deleted), counting nothing.
fn update_task(
    conn: &mut AnyConnection,
    key: TaskKey,
    changes: &TaskChanges,
    to: Option<TaskStatus>,
) -> Result<Option<CounterDelta>, StoreError> {
    let pk = (key.action.to_string(), key.index as i32);
    let from_open = diesel::update(
        tasks::table
            .find(pk.clone())
            .filter(tasks::status.eq_any(OPEN)),
    )
    .set(changes)
    .execute(conn)?;
    if from_open == 1 {
        // Which open status it left makes no difference to the count.
        return Ok(Some(to.map_or_else(CounterDelta::default, |to| {
            counter_delta(TaskStatus::Build, to)
        })));
    }
    if to == Some(TaskStatus::Finished) {
        let from_done = diesel::update(
            tasks::table
                .find(pk)
                .filter(tasks::status.eq(TaskStatus::Done.as_str())),
        )
        .set(changes)
        .execute(conn)?;
        if from_done == 1 {
            return Ok(Some(counter_delta(TaskStatus::Done, TaskStatus::Finished)));
        }
    }
    Ok(None)
}

/// Applies a batch on `conn`; run it inside a transaction.
pub(crate) fn apply_batch(
    conn: &mut AnyConnection,
    batch: &WriteBatch,
) -> Result<Applied, StoreError> {
    let t = now();
    let mut applied = Applied::default();
    // One UPDATE per action, with the exact sum of the settlements that went through.
    let mut sums: BTreeMap<ActionId, CounterDelta> = BTreeMap::new();
    for (key, u) in &batch.tasks {
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
        let Some(delta) = update_task(conn, *key, &changes, u.status)? else {
            applied.stale.push(*key);
            continue;
        };
        applied.rows += 1;
        if let Some(to) = u.status.filter(|s| !s.is_open()) {
            applied.settled.push((*key, to));
        }
        *sums.entry(key.action).or_default() += delta;
    }
    for (id, u) in &batch.nets {
        let u = u.clone();
        let changes = NetChanges {
            status: u.status.map(ItemStatus::as_str),
            vim_id: u.vim_id,
            error_msg: cut(u.error_msg),
            vim_info: u.vim_info,
            sdn_net_id: u.sdn_net_id,
            created: u.created,
            created_items: items_json(u.created_items),
            modified_at: t,
        };
        applied.rows += diesel::update(nets::table.find(id.to_string()))
            .set(&changes)
            .execute(conn)? as u64;
    }
    for (id, u) in &batch.vms {
        let u = u.clone();
        let changes = VmChanges {
            status: u.status.map(ItemStatus::as_str),
            vim_id: u.vim_id,
            error_msg: cut(u.error_msg),
            vim_info: u.vim_info,
            created: u.created,
            created_items: items_json(u.created_items),
            modified_at: t,
        };
        applied.rows += diesel::update(vms::table.find(id.to_string()))
            .set(&changes)
            .execute(conn)? as u64;
    }
    for (id, u) in &batch.interfaces {
        let u = u.clone();
        let changes = InterfaceChanges {
            vim_interface_id: u.vim_interface_id,
            vim_net_id: u.vim_net_id,
            mac_address: u.mac_address,
            ip_address: u.ip_address,
            vim_info: u.vim_info,
            compute_node: u.compute_node,
            pci: u.pci,
            vlan: u.vlan,
            sdn_port_id: u.sdn_port_id,
            modified_at: t,
        };
        applied.rows += diesel::update(interfaces::table.find(id.to_string()))
            .set(&changes)
            .execute(conn)? as u64;
    }
    for (action, d) in sums.into_iter().filter(|(_, d)| !d.is_zero()) {
        applied.rows += diesel::update(actions::table.find(action.to_string()))
            .set((
                actions::number_done.eq(actions::number_done + d.done),
                actions::number_failed.eq(actions::number_failed + d.failed),
                actions::modified_at.eq(t),
            ))
            .execute(conn)? as u64;
    }
    for (id, u) in &batch.accounts {
        applied.rows += diesel::update(vim_accounts::table.find(id.to_string()))
            .set((
                vim_accounts::status.eq(u.status.as_str()),
                vim_accounts::error_msg.eq(u
                    .error_msg
                    .as_ref()
                    .map(|m| truncate_error(m, MAX_ERROR_LEN).into_owned())),
                vim_accounts::restart_count.eq(vim_accounts::restart_count + u.restarts),
                vim_accounts::modified_at.eq(t),
            ))
            .execute(conn)? as u64;
    }
    Ok(applied)
}
