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
    let action: ActionRecord = actions::table
        .find(id.to_string())
        .first::<ActionRow>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            what: "action",
            id: id.to_string(),
        })?
        .try_into()?;
    let rows = tasks::table
        .filter(tasks::action_id.eq(id.to_string()))
        .order(tasks::task_index.asc())
        .load::<TaskRow>(conn)?;
    Ok((action, records(rows)?))
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

/// The tasks a VimActor must (re)load on start, in creation order.
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
    let Some(row) = vms::table
        .find(id.to_string())
        .first::<VmRow>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let ifaces = interfaces::table
        .filter(interfaces::vm_id.eq(id.to_string()))
        .order(interfaces::iface_index.asc())
        .load::<InterfaceRow>(conn)?
        .into_iter()
        .map(InterfaceRecord::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    row.into_record(ifaces).map(Some)
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
