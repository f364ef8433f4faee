//! Typed reads. They take any connection (API reads use the pool and never wait for writes).

use diesel::prelude::*;
use rovim_core::{ActionId, ItemId, TaskKey, TaskStatus, VimAccountId};

use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::records::{
    ActionRecord, ActionRow, InterfaceRecord, InterfaceRow, NetRecord, NetRow, TaskRecord, TaskRow,
    VmRecord, VmRow,
};
use crate::schema::{actions, interfaces, nets, tasks, vms};

/// The stored spelling of the open statuses (not yet counted: still to be executed).
pub(crate) const OPEN: [&str; 2] = [TaskStatus::Scheduled.as_str(), TaskStatus::Build.as_str()];

/// The statuses a VimActor reloads: work to do, and live elements to poll.
pub const UNFINISHED: [TaskStatus; 3] =
    [TaskStatus::Scheduled, TaskStatus::Build, TaskStatus::Done];

fn records(rows: Vec<TaskRow>) -> Result<Vec<TaskRecord>, StoreError> {
    rows.into_iter().map(TaskRecord::try_from).collect()
}

/// An action with all its tasks in index order.
pub fn get_action(
    conn: &mut AnyConnection,
    id: ActionId,
) -> Result<(ActionRecord, Vec<TaskRecord>), StoreError> {
    let action = get_action_row(conn, id)?;
    let tasks = action_tasks(conn, id, 0, i64::MAX)?;
    Ok((action, tasks))
}

/// The action without its tasks (its counters say how far it is).
pub fn get_action_row(conn: &mut AnyConnection, id: ActionId) -> Result<ActionRecord, StoreError> {
    actions::table
        .find(id.to_string())
        .first::<ActionRow>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            what: "action",
            id: id.to_string(),
        })?
        .try_into()
}

/// A page of an action's tasks, by index: `limit` tasks from index `offset` on.
pub fn action_tasks(
    conn: &mut AnyConnection,
    id: ActionId,
    offset: i64,
    limit: i64,
) -> Result<Vec<TaskRecord>, StoreError> {
    let rows = tasks::table
        .filter(tasks::action_id.eq(id.to_string()))
        .filter(tasks::task_index.ge(offset.clamp(0, i32::MAX as i64) as i32))
        .order(tasks::task_index.asc())
        .limit(limit)
        .load::<TaskRow>(conn)?;
    records(rows)
}

/// The most recent actions first.
pub fn list_actions(conn: &mut AnyConnection, limit: i64) -> Result<Vec<ActionRecord>, StoreError> {
    actions::table
        .order((actions::created_at.desc(), actions::id.asc()))
        .limit(limit)
        .load::<ActionRow>(conn)?
        .into_iter()
        .map(ActionRecord::try_from)
        .collect()
}

pub fn get_task(conn: &mut AnyConnection, key: TaskKey) -> Result<Option<TaskRecord>, StoreError> {
    tasks::table
        .find((key.action.to_string(), key.index as i32))
        .first::<TaskRow>(conn)
        .optional()?
        .map(TaskRecord::try_from)
        .transpose()
}

/// The tasks a VimActor must (re)load on start, in creation order. A DONE task (its element
/// live) comes without its params and FIND filter: it will not run again, and parsing them for
/// every live element cost the start time and memory for nothing.
pub fn load_unfinished_tasks(
    conn: &mut AnyConnection,
    vim: VimAccountId,
) -> Result<Vec<TaskRecord>, StoreError> {
    let rows = tasks::table
        .filter(tasks::vim_account_id.eq(vim.to_string()))
        .filter(tasks::status.eq_any(UNFINISHED.map(|s| s.as_str())))
        .order((
            tasks::created_at.asc(),
            tasks::action_id.asc(),
            tasks::task_index.asc(),
        ))
        .load::<TaskRow>(conn)?;
    rows.into_iter()
        .map(|r| {
            if r.is(TaskStatus::Done) {
                r.without_params()
            } else {
                r
            }
        })
        .map(TaskRecord::try_from)
        .collect()
}

/// The SCHEDULED tasks of an account (of one action, or all), oldest first: work another
/// instance stored for it.
pub fn new_tasks(
    conn: &mut AnyConnection,
    vim: VimAccountId,
    action: Option<ActionId>,
) -> Result<Vec<TaskRecord>, StoreError> {
    let mut query = tasks::table
        .filter(tasks::vim_account_id.eq(vim.to_string()))
        .filter(tasks::status.eq(TaskStatus::Scheduled.as_str()))
        .into_boxed();
    if let Some(action) = action {
        query = query.filter(tasks::action_id.eq(action.to_string()));
    }
    let rows = query
        .order((
            tasks::created_at.asc(),
            tasks::action_id.asc(),
            tasks::task_index.asc(),
        ))
        .load::<TaskRow>(conn)?;
    records(rows)
}

/// Every task that ever acted on an item, oldest first.
pub fn tasks_of_item(
    conn: &mut AnyConnection,
    item: ItemId,
) -> Result<Vec<TaskRecord>, StoreError> {
    let rows = tasks::table
        .filter(tasks::item_id.eq(item.to_string()))
        .order((tasks::created_at.asc(), tasks::task_index.asc()))
        .load::<TaskRow>(conn)?;
    records(rows)
}

pub fn get_net(conn: &mut AnyConnection, id: ItemId) -> Result<Option<NetRecord>, StoreError> {
    nets::table
        .find(id.to_string())
        .first::<NetRow>(conn)
        .optional()?
        .map(NetRecord::try_from)
        .transpose()
}

/// A VM with its interfaces in index order.
pub fn get_vm(conn: &mut AnyConnection, id: ItemId) -> Result<Option<VmRecord>, StoreError> {
    Ok(get_vms(conn, &[id])?.pop())
}

/// Rows read per `IN (…)` query by the batched reads: far below either backend's bind limit.
const READ_CHUNK: usize = 1000;

/// The nets of these ids that exist (in no particular order): a query per thousand, not one per
/// net (an actor's start reads every live element of its account).
pub fn get_nets(conn: &mut AnyConnection, ids: &[ItemId]) -> Result<Vec<NetRecord>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(READ_CHUNK) {
        let keys: Vec<String> = chunk.iter().map(ItemId::to_string).collect();
        for row in nets::table
            .filter(nets::id.eq_any(keys))
            .load::<NetRow>(conn)?
        {
            out.push(NetRecord::try_from(row)?);
        }
    }
    Ok(out)
}

/// The VMs of these ids that exist, each with its interfaces in index order (in no particular
/// order otherwise): two queries per thousand VMs.
pub fn get_vms(conn: &mut AnyConnection, ids: &[ItemId]) -> Result<Vec<VmRecord>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(READ_CHUNK) {
        let keys: Vec<String> = chunk.iter().map(ItemId::to_string).collect();
        let mut ifaces: std::collections::HashMap<String, Vec<InterfaceRecord>> =
            std::collections::HashMap::new();
        for row in interfaces::table
            .filter(interfaces::vm_id.eq_any(&keys))
            .order((interfaces::vm_id.asc(), interfaces::iface_index.asc()))
            .load::<InterfaceRow>(conn)?
        {
            let vm = row.vm_id().to_owned();
            ifaces
                .entry(vm)
                .or_default()
                .push(InterfaceRecord::try_from(row)?);
        }
        for row in vms::table
            .filter(vms::id.eq_any(&keys))
            .load::<VmRow>(conn)?
        {
            let own = ifaces.remove(row.id()).unwrap_or_default();
            out.push(row.into_record(own)?);
        }
    }
    Ok(out)
}

/// Live elements (nets and VMs with a VIM id that are not deleted) of a VIM account.
pub fn count_live_items(conn: &mut AnyConnection, vim: VimAccountId) -> Result<i64, StoreError> {
    let deleted = rovim_core::ItemStatus::Deleted.as_str();
    let n: i64 = nets::table
        .filter(nets::vim_account_id.eq(vim.to_string()))
        .filter(nets::vim_id.is_not_null())
        .filter(nets::status.ne(deleted))
        .count()
        .get_result(conn)?;
    let v: i64 = vms::table
        .filter(vms::vim_account_id.eq(vim.to_string()))
        .filter(vms::vim_id.is_not_null())
        .filter(vms::status.ne(deleted))
        .count()
        .get_result(conn)?;
    Ok(n + v)
}

/// A VM on a net with one of its open tasks (action, action id, index), if any.
type VmOnNet = (
    String,
    String,
    Option<String>,
    Option<(String, String, i32)>,
);

/// The VMs of account `vim` that rovim knows to be on a net (an interface on the net item, or
/// on its VIM id), that exist on the VIM or are being created, with their pending DELETE: what
/// the net's DELETE waits for (see `rovim_core::teardown`).
pub fn net_users(
    conn: &mut AnyConnection,
    vim: VimAccountId,
    net: ItemId,
    vim_net_id: Option<&str>,
) -> Result<Vec<rovim_core::NetUser>, StoreError> {
    let deleted = rovim_core::ItemStatus::Deleted.as_str();
    let on_net = interfaces::net_id
        .eq(net.to_string())
        .or(interfaces::vim_net_id
            .eq(vim_net_id.unwrap_or_default())
            .and(interfaces::vim_net_id.is_not_null()));
    // One statement, so one snapshot: a VM DELETE settling meanwhile is seen either open (its
    // VM still there) or done (its VM DELETED), never half.
    let rows: Vec<VmOnNet> = interfaces::table
        .inner_join(vms::table)
        .left_join(tasks::table.on(tasks::item_id.eq(vms::id).and(tasks::status.eq_any(OPEN))))
        .filter(vms::vim_account_id.eq(vim.to_string()))
        .filter(vms::status.ne(deleted))
        .filter(on_net)
        .select((
            vms::id,
            vms::name,
            vms::vim_id,
            (tasks::action, tasks::action_id, tasks::task_index).nullable(),
        ))
        .load(conn)?;
    let mut by_vm: std::collections::BTreeMap<String, (String, Option<String>, Vec<_>)> =
        std::collections::BTreeMap::new();
    for (id, name, vim_id, task) in rows {
        let e = by_vm
            .entry(id)
            .or_insert_with(|| (name, vim_id, Vec::new()));
        e.2.extend(task);
    }
    let mut users = Vec::new();
    for (id, (name, vim_id, open)) in by_vm {
        let pending_delete = open
            .iter()
            .find(|t| t.0 == rovim_core::Action::Delete.as_str())
            .map(|t| -> Result<TaskKey, StoreError> {
                let action =
                    t.1.parse()
                        .map_err(|e| StoreError::corrupt("tasks", "action_id", e))?;
                Ok(TaskKey::new(action, t.2 as u32))
            })
            .transpose()?;
        let being_created = open
            .iter()
            .any(|t| t.0 == rovim_core::Action::Create.as_str());
        if vim_id.is_none() && !being_created && pending_delete.is_none() {
            continue; // never made (or its create failed without leftovers): not on the net
        }
        let vm = id
            .parse()
            .map_err(|e| StoreError::corrupt("vms", "id", e))?;
        users.push(rovim_core::NetUser {
            vm,
            name,
            pending_delete,
        });
    }
    Ok(users)
}

/// What was asked of each of these items by the CREATE that made it (drift is measured
/// against it); items rovim only found or adopted have none. Identical asks share one copy,
/// and each CREATE's parameters are dropped as soon as they are read: a boot with 100,000
/// live elements holds 100,000 pointers, not 100,000 parameter sets.
pub fn asked_of(
    conn: &mut AnyConnection,
    ids: &[ItemId],
) -> Result<std::collections::HashMap<ItemId, std::sync::Arc<rovim_core::Asked>>, StoreError> {
    let mut pool = rovim_core::AskedPool::default();
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(READ_CHUNK) {
        let keys: Vec<String> = chunk.iter().map(ItemId::to_string).collect();
        let rows: Vec<(String, Option<String>)> = tasks::table
            .filter(tasks::item_id.eq_any(&keys))
            .filter(tasks::action.eq(rovim_core::Action::Create.as_str()))
            .filter(tasks::created.eq(true))
            .select((tasks::item_id, tasks::params))
            .load(conn)?;
        for (item, params) in rows {
            let Some(text) = params else { continue };
            let id = crate::error::parse_col("tasks", "item_id", &item)?;
            let params: rovim_core::TaskParams = crate::error::json_col("tasks", "params", &text)?;
            out.insert(id, pool.share(rovim_core::Asked::of(&params)));
        }
    }
    Ok(out)
}
