//! What the typed reads return: rows converted into domain types (a row that does not convert is
//! reported as corrupt, naming the table and column, instead of crashing its reader).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rovim_core::{
    Action, ActionId, CreatedItem, FindFilter, InterfaceType, ItemId, ItemKind, ItemStatus,
    NetType, Owned, TaskKey, TaskParams, TaskStatus, VimAccountId,
};

use crate::error::{StoreError, json_col, parse_col};

/// An action and its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    pub id: ActionId,
    pub description: String,
    pub number_tasks: i32,
    pub number_done: i32,
    pub number_failed: i32,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
}

impl ActionRecord {
    /// `BUILD` while any task is open, then `FAILED` if any failed, else `DONE`.
    pub fn overall_status(&self) -> &'static str {
        if self.number_done + self.number_failed < self.number_tasks {
            "BUILD"
        } else if self.number_failed > 0 {
            "FAILED"
        } else {
            "DONE"
        }
    }
}

#[derive(Queryable)]
pub(crate) struct ActionRow {
    id: String,
    description: String,
    number_tasks: i32,
    number_done: i32,
    number_failed: i32,
    created_at: NaiveDateTime,
    modified_at: NaiveDateTime,
}

impl TryFrom<ActionRow> for ActionRecord {
    type Error = StoreError;
    fn try_from(r: ActionRow) -> Result<Self, StoreError> {
        Ok(ActionRecord {
            id: parse_col("actions", "id", &r.id)?,
            description: r.description,
            number_tasks: r.number_tasks,
            number_done: r.number_done,
            number_failed: r.number_failed,
            created_at: r.created_at,
            modified_at: r.modified_at,
        })
    }
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub key: TaskKey,
    pub vim_account: VimAccountId,
    pub item_kind: ItemKind,
    pub item_id: ItemId,
    pub action: Action,
    pub status: TaskStatus,
    pub vim_id: Option<String>,
    pub params: Option<TaskParams>,
    pub find: Option<FindFilter>,
    pub depends_on: Vec<TaskKey>,
    pub idempotency_token: String,
    /// This task created what it acted on (false for a FIND, or a FIND-then-CREATE that found).
    pub created: bool,
    pub created_items: Vec<CreatedItem>,
    pub error_msg: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
}

#[derive(Queryable)]
pub(crate) struct TaskRow {
    action_id: String,
    task_index: i32,
    vim_account_id: String,
    item_kind: String,
    item_id: String,
    action: String,
    status: String,
    vim_id: Option<String>,
    params: Option<String>,
    find_filter: Option<String>,
    depends_on: String,
    idempotency_token: String,
    created: bool,
    created_items: String,
    error_msg: Option<String>,
    attempts: i32,
    next_attempt_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    modified_at: NaiveDateTime,
}

const TASKS: &str = "tasks";

impl TaskRow {
    /// Leaves out what only an open task needs (its params and FIND filter), unparsed.
    pub(crate) fn without_params(mut self) -> TaskRow {
        self.params = None;
        self.find_filter = None;
        self
    }

    pub(crate) fn is(&self, status: TaskStatus) -> bool {
        self.status == status.as_str()
    }
}

impl TryFrom<TaskRow> for TaskRecord {
    type Error = StoreError;
    fn try_from(r: TaskRow) -> Result<Self, StoreError> {
        let depends: Vec<String> = json_col(TASKS, "depends_on", &r.depends_on)?;
        Ok(TaskRecord {
            key: TaskKey::new(
                parse_col(TASKS, "action_id", &r.action_id)?,
                u32::try_from(r.task_index)
                    .map_err(|e| StoreError::corrupt(TASKS, "task_index", e))?,
            ),
            vim_account: parse_col(TASKS, "vim_account_id", &r.vim_account_id)?,
            item_kind: parse_col(TASKS, "item_kind", &r.item_kind)?,
            item_id: parse_col(TASKS, "item_id", &r.item_id)?,
            action: parse_col(TASKS, "action", &r.action)?,
            status: parse_col(TASKS, "status", &r.status)?,
            vim_id: r.vim_id,
            params: r
                .params
                .map(|p| json_col(TASKS, "params", &p))
                .transpose()?,
            find: r
                .find_filter
                .map(|p| json_col(TASKS, "find_filter", &p))
                .transpose()?,
            depends_on: depends
                .iter()
                .map(|d| parse_col(TASKS, "depends_on", d))
                .collect::<Result<_, _>>()?,
            idempotency_token: r.idempotency_token,
            created: r.created,
            created_items: json_col(TASKS, "created_items", &r.created_items)?,
            error_msg: r.error_msg,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            created_at: r.created_at,
            modified_at: r.modified_at,
        })
    }
}

/// A net row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRecord {
    pub id: ItemId,
    pub vim_account: VimAccountId,
    pub name: String,
    pub net_type: NetType,
    pub status: ItemStatus,
    pub vim_id: Option<String>,
    pub error_msg: Option<String>,
    pub vim_info: Option<String>,
    pub sdn_net_id: Option<String>,
    /// rovim created it on the VIM and has not deleted it.
    pub created: bool,
    pub created_items: Vec<CreatedItem>,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
    /// How the VIM's element differs from what was asked (empty when it agrees).
    pub drift: Vec<String>,
}

impl NetRecord {
    /// What a DELETE of this net must remove.
    pub fn owned(&self) -> Option<Owned> {
        owned(self.created, &self.vim_id, &self.created_items)
    }
}

fn owned(created: bool, vim_id: &Option<String>, items: &[CreatedItem]) -> Option<Owned> {
    if !created && items.is_empty() {
        return None;
    }
    Owned {
        vim_id: if created { vim_id.clone() } else { None },
        created_items: items.to_vec(),
    }
    .non_empty()
}

#[derive(Queryable)]
pub(crate) struct NetRow {
    id: String,
    vim_account_id: String,
    name: String,
    net_type: String,
    status: String,
    vim_id: Option<String>,
    error_msg: Option<String>,
    vim_info: Option<String>,
    sdn_net_id: Option<String>,
    created: bool,
    created_items: String,
    created_at: NaiveDateTime,
    modified_at: NaiveDateTime,
    drift: Option<String>,
}

impl TryFrom<NetRow> for NetRecord {
    type Error = StoreError;
    fn try_from(r: NetRow) -> Result<Self, StoreError> {
        Ok(NetRecord {
            id: parse_col("nets", "id", &r.id)?,
            vim_account: parse_col("nets", "vim_account_id", &r.vim_account_id)?,
            name: r.name,
            net_type: json_col("nets", "net_type", &format!("\"{}\"", r.net_type))?,
            status: ItemStatus::from_vim(&r.status),
            vim_id: r.vim_id,
            error_msg: r.error_msg,
            vim_info: r.vim_info,
            sdn_net_id: r.sdn_net_id,
            created: r.created,
            created_items: json_col("nets", "created_items", &r.created_items)?,
            created_at: r.created_at,
            modified_at: r.modified_at,
            drift: drift_col("nets", r.drift.as_deref())?,
        })
    }
}

/// A VM row with its interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmRecord {
    pub id: ItemId,
    pub vim_account: VimAccountId,
    pub name: String,
    pub status: ItemStatus,
    pub vim_id: Option<String>,
    pub error_msg: Option<String>,
    pub vim_info: Option<String>,
    pub created: bool,
    pub created_items: Vec<CreatedItem>,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
    /// How the VIM's element differs from what was asked (empty when it agrees).
    pub drift: Vec<String>,
    pub interfaces: Vec<InterfaceRecord>,
}

impl VmRecord {
    pub fn owned(&self) -> Option<Owned> {
        owned(self.created, &self.vim_id, &self.created_items)
    }
}

#[derive(Queryable)]
pub(crate) struct VmRow {
    id: String,
    vim_account_id: String,
    name: String,
    status: String,
    vim_id: Option<String>,
    error_msg: Option<String>,
    vim_info: Option<String>,
    created: bool,
    created_items: String,
    created_at: NaiveDateTime,
    modified_at: NaiveDateTime,
    drift: Option<String>,
}

impl VmRow {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn into_record(
        self,
        interfaces: Vec<InterfaceRecord>,
    ) -> Result<VmRecord, StoreError> {
        Ok(VmRecord {
            id: parse_col("vms", "id", &self.id)?,
            vim_account: parse_col("vms", "vim_account_id", &self.vim_account_id)?,
            name: self.name,
            status: ItemStatus::from_vim(&self.status),
            vim_id: self.vim_id,
            error_msg: self.error_msg,
            vim_info: self.vim_info,
            created: self.created,
            created_items: json_col("vms", "created_items", &self.created_items)?,
            created_at: self.created_at,
            modified_at: self.modified_at,
            drift: drift_col("vms", self.drift.as_deref())?,
            interfaces,
        })
    }
}

/// A VM interface as the VIM reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceRecord {
    pub id: ItemId,
    pub vm: ItemId,
    pub index: u32,
    pub net: Option<ItemId>,
    pub iface_type: InterfaceType,
    pub vim_interface_id: Option<String>,
    pub vim_net_id: Option<String>,
    pub mac_address: Option<String>,
    pub ip_address: Option<String>,
    pub vim_info: Option<String>,
    pub compute_node: Option<String>,
    pub pci: Option<String>,
    pub vlan: Option<i32>,
    pub sdn_port_id: Option<String>,
    pub floating_ip: bool,
    pub port_security: bool,
    pub modified_at: NaiveDateTime,
}

#[derive(Queryable)]
pub(crate) struct InterfaceRow {
    id: String,
    vm_id: String,
    iface_index: i32,
    net_id: Option<String>,
    iface_type: String,
    vim_interface_id: Option<String>,
    vim_net_id: Option<String>,
    mac_address: Option<String>,
    ip_address: Option<String>,
    vim_info: Option<String>,
    compute_node: Option<String>,
    pci: Option<String>,
    vlan: Option<i32>,
    sdn_port_id: Option<String>,
    floating_ip: bool,
    port_security: bool,
    modified_at: NaiveDateTime,
}

impl InterfaceRow {
    pub(crate) fn vm_id(&self) -> &str {
        &self.vm_id
    }
}

impl TryFrom<InterfaceRow> for InterfaceRecord {
    type Error = StoreError;
    fn try_from(r: InterfaceRow) -> Result<Self, StoreError> {
        const T: &str = "interfaces";
        Ok(InterfaceRecord {
            id: parse_col(T, "id", &r.id)?,
            vm: parse_col(T, "vm_id", &r.vm_id)?,
            index: u32::try_from(r.iface_index)
                .map_err(|e| StoreError::corrupt(T, "iface_index", e))?,
            net: r.net_id.map(|n| parse_col(T, "net_id", &n)).transpose()?,
            iface_type: json_col(T, "iface_type", &format!("\"{}\"", r.iface_type))?,
            vim_interface_id: r.vim_interface_id,
            vim_net_id: r.vim_net_id,
            mac_address: r.mac_address,
            ip_address: r.ip_address,
            vim_info: r.vim_info,
            compute_node: r.compute_node,
            pci: r.pci,
            vlan: r.vlan,
            sdn_port_id: r.sdn_port_id,
            floating_ip: r.floating_ip,
            port_security: r.port_security,
            modified_at: r.modified_at,
        })
    }
}

fn drift_col(table: &'static str, text: Option<&str>) -> Result<Vec<String>, StoreError> {
    text.map_or(Ok(Vec::new()), |t| json_col(table, "drift", t))
}
