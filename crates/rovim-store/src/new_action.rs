//! An action as submitted: its tasks and the item rows they create, inserted in one transaction
//! before any VIM is touched (DESIGN §4.1: nothing lost).

use diesel::prelude::*;
use rovim_core::{
    Action, ActionId, FindFilter, InterfaceType, ItemId, ItemKind, ItemStatus, NetType, TaskKey,
    TaskParams, TaskStatus, VimAccountId,
};

use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::{actions, interfaces, nets, tasks, vms};
use crate::stamp::Stamp;
use crate::with_inner;

/// One task of a new action.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub index: u32,
    pub vim_account: VimAccountId,
    pub item_kind: ItemKind,
    pub item_id: ItemId,
    pub action: Action,
    pub params: Option<TaskParams>,
    pub find: Option<FindFilter>,
    pub depends_on: Vec<TaskKey>,
    /// Attached by the connector to what it creates, so a create is found again after a crash.
    pub idempotency_token: String,
}

impl NewTask {
    pub fn new(
        index: u32,
        vim_account: VimAccountId,
        item_kind: ItemKind,
        item_id: ItemId,
        action: Action,
    ) -> Self {
        Self {
            index,
            vim_account,
            item_kind,
            item_id,
            action,
            params: None,
            find: None,
            depends_on: Vec::new(),
            // Time-ordered like the ids (UUIDv7): the unique index on tokens grows at its end
            // instead of taking a write on a random page per task.
            idempotency_token: format!("rovim-{}", uuid::Uuid::now_v7().simple()),
        }
    }
}

/// A net row created with the action (for its CREATE or FIND task).
#[derive(Debug, Clone)]
pub struct NewNet {
    pub id: ItemId,
    pub vim_account: VimAccountId,
    pub name: String,
    pub net_type: NetType,
}

/// A VM row and its interfaces.
#[derive(Debug, Clone)]
pub struct NewVm {
    pub id: ItemId,
    pub vim_account: VimAccountId,
    pub name: String,
    pub interfaces: Vec<NewInterface>,
}

#[derive(Debug, Clone)]
pub struct NewInterface {
    pub id: ItemId,
    pub index: u32,
    /// The rovim net it attaches to, when it is one.
    pub net: Option<ItemId>,
    pub iface_type: InterfaceType,
    pub floating_ip: bool,
    pub port_security: bool,
}

/// Everything one submission writes.
#[derive(Debug, Clone)]
pub struct NewAction {
    pub id: ActionId,
    pub description: String,
    pub tasks: Vec<NewTask>,
    pub nets: Vec<NewNet>,
    pub vms: Vec<NewVm>,
}

impl NewAction {
    /// The rows its insert writes: the action, its tasks, nets, VMs and their interfaces.
    pub fn row_count(&self) -> u64 {
        let interfaces: usize = self.vms.iter().map(|v| v.interfaces.len()).sum();
        (1 + self.tasks.len() + self.nets.len() + self.vms.len() + interfaces) as u64
    }
}

#[derive(Insertable)]
#[diesel(table_name = tasks)]
struct TaskInsert<'a> {
    action_id: String,
    task_index: i32,
    vim_account_id: String,
    item_kind: &'static str,
    item_id: String,
    action: &'static str,
    status: &'static str,
    params: Option<String>,
    find_filter: Option<String>,
    depends_on: String,
    idempotency_token: String,
    created: bool,
    created_items: String,
    attempts: i32,
    created_at: &'a Stamp,
    modified_at: &'a Stamp,
}

#[derive(Insertable)]
#[diesel(table_name = nets)]
struct NetInsert<'a> {
    id: String,
    vim_account_id: String,
    name: String,
    net_type: String,
    status: &'static str,
    created: bool,
    created_items: String,
    created_at: &'a Stamp,
    modified_at: &'a Stamp,
}

#[derive(Insertable)]
#[diesel(table_name = vms)]
struct VmInsert<'a> {
    id: String,
    vim_account_id: String,
    name: String,
    status: &'static str,
    created: bool,
    created_items: String,
    created_at: &'a Stamp,
    modified_at: &'a Stamp,
}

#[derive(Insertable)]
#[diesel(table_name = interfaces)]
struct InterfaceInsert<'a> {
    id: String,
    vm_id: String,
    iface_index: i32,
    net_id: Option<String>,
    iface_type: String,
    floating_ip: bool,
    port_security: bool,
    modified_at: &'a Stamp,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types always serialize")
}

fn net_type_str(t: NetType) -> String {
    json(&t).trim_matches('"').to_owned()
}

pub(crate) fn iface_type_str(t: InterfaceType) -> String {
    json(&t).trim_matches('"').to_owned()
}

/// Inserts the action, its tasks and its item rows, all or nothing. Run inside the caller's
/// transaction.
pub(crate) fn insert_action(conn: &mut AnyConnection, a: &NewAction) -> Result<(), StoreError> {
    let stamp = Stamp::now();
    let st = &stamp;
    diesel::insert_into(actions::table)
        .values((
            actions::id.eq(a.id.to_string()),
            actions::description.eq(&a.description),
            actions::number_tasks.eq(a.tasks.len() as i32),
            actions::number_done.eq(0),
            actions::number_failed.eq(0),
            actions::created_at.eq(stamp.time()),
            actions::modified_at.eq(stamp.time()),
        ))
        .execute(conn)?;
    let nets: Vec<NetInsert> = a
        .nets
        .iter()
        .map(|n| NetInsert {
            id: n.id.to_string(),
            vim_account_id: n.vim_account.to_string(),
            name: n.name.clone(),
            net_type: net_type_str(n.net_type),
            status: ItemStatus::ScheduledCreation.as_str(),
            created: false,
            created_items: "[]".into(),
            created_at: st,
            modified_at: st,
        })
        .collect();
    let vms: Vec<VmInsert> = a
        .vms
        .iter()
        .map(|v| VmInsert {
            id: v.id.to_string(),
            vim_account_id: v.vim_account.to_string(),
            name: v.name.clone(),
            status: ItemStatus::ScheduledCreation.as_str(),
            created: false,
            created_items: "[]".into(),
            created_at: st,
            modified_at: st,
        })
        .collect();
    let ifaces: Vec<InterfaceInsert> = a
        .vms
        .iter()
        .flat_map(|v| {
            v.interfaces.iter().map(move |i| InterfaceInsert {
                id: i.id.to_string(),
                vm_id: v.id.to_string(),
                iface_index: i.index as i32,
                net_id: i.net.map(|n| n.to_string()),
                iface_type: iface_type_str(i.iface_type),
                floating_ip: i.floating_ip,
                port_security: i.port_security,
                modified_at: st,
            })
        })
        .collect();
    let tasks: Vec<TaskInsert> = a
        .tasks
        .iter()
        .map(|k| TaskInsert {
            action_id: a.id.to_string(),
            task_index: k.index as i32,
            vim_account_id: k.vim_account.to_string(),
            item_kind: k.item_kind.as_str(),
            item_id: k.item_id.to_string(),
            action: k.action.as_str(),
            status: TaskStatus::Scheduled.as_str(),
            params: k.params.as_ref().map(json),
            find_filter: k.find.as_ref().map(json),
            depends_on: json(
                &k.depends_on
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>(),
            ),
            idempotency_token: k.idempotency_token.clone(),
            created: false,
            created_items: "[]".into(),
            attempts: 0,
            created_at: st,
            modified_at: st,
        })
        .collect();
    // Multi-row inserts type-check per backend only (stack notes §4): dispatch to the inner one.
    if !nets.is_empty() {
        with_inner!(conn, c => diesel::insert_into(nets::table).values(&nets).execute(c))?;
    }
    if !vms.is_empty() {
        with_inner!(conn, c => diesel::insert_into(vms::table).values(&vms).execute(c))?;
    }
    if !ifaces.is_empty() {
        with_inner!(conn, c => diesel::insert_into(interfaces::table).values(&ifaces).execute(c))?;
    }
    if !tasks.is_empty() {
        with_inner!(conn, c => diesel::insert_into(tasks::table).values(&tasks).execute(c))?;
    }
    Ok(())
}
