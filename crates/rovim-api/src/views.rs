//! What the API shows. Kept apart from the store's records so the wire format is a deliberate
//! choice (and a password can never leak through a derived `Serialize`).

use chrono::NaiveDateTime;
use rovim_store::leases::InstanceRecord;
use rovim_store::{
    ActionRecord, InterfaceRecord, NetRecord, SdnController, TaskRecord, VimAccount, VmRecord,
};
use serde::Serialize;

fn time(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VimAccountView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub vim_type: String,
    pub url: String,
    pub tenant: Option<String>,
    pub user: Option<String>,
    pub config: serde_json::Value,
    pub sdn_controller: Option<String>,
    pub status: String,
    pub error: Option<String>,
    pub restart_count: i32,
    pub created_at: String,
    /// The rovim instance that runs it (holds its lease); none until one has taken it.
    pub owner: Option<String>,
}

impl VimAccountView {
    /// The view, with the account's owner from `owners` (`leases::account_owners`).
    pub fn with_owner(
        a: &VimAccount,
        owners: &std::collections::HashMap<rovim_core::VimAccountId, String>,
    ) -> VimAccountView {
        VimAccountView {
            owner: owners.get(&a.id).cloned(),
            ..VimAccountView::from(a)
        }
    }
}

impl From<&VimAccount> for VimAccountView {
    fn from(a: &VimAccount) -> Self {
        VimAccountView {
            id: a.id.to_string(),
            name: a.name.clone(),
            vim_type: a.vim_type.to_string(),
            // Credentials in a VIM URL are never shown.
            url: rovim_store::redact_url(&a.url),
            tenant: a.tenant.clone(),
            user: a.username.clone(),
            config: a.config.clone(),
            sdn_controller: a.sdn_controller.map(|c| c.to_string()),
            status: a.status.to_string(),
            error: a.error_msg.clone(),
            restart_count: a.restart_count,
            created_at: time(a.created_at),
            owner: None,
        }
    }
}

/// A rovim instance sharing the database (`GET /v1/instances`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    pub id: String,
    /// Where its API answers, as it advertises it.
    pub address: String,
    pub version: String,
    pub started_at: String,
    pub heartbeat_at: String,
    /// The VIM accounts it runs.
    pub vim_accounts: Vec<String>,
    /// Whether it is the instance that answered this request.
    pub this: bool,
}

impl InstanceView {
    pub fn of(i: &InstanceRecord, this: &str) -> InstanceView {
        InstanceView {
            id: i.id.clone(),
            address: i.address.clone(),
            version: i.version.clone(),
            started_at: time(i.started_at),
            heartbeat_at: time(i.heartbeat_at),
            vim_accounts: i.accounts.iter().map(|a| a.to_string()).collect(),
            this: i.id == this,
        }
    }
}

/// The answer to a submission: the action's id and, per task, the item it acts on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubmittedView {
    pub action_id: String,
    pub tasks: Vec<SubmittedTask>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubmittedTask {
    pub index: u32,
    /// `net` or `vm`.
    pub item: String,
    pub item_id: String,
}

impl From<&rovim_engine::Submitted> for SubmittedView {
    fn from(s: &rovim_engine::Submitted) -> Self {
        SubmittedView {
            action_id: s.action.to_string(),
            tasks: s
                .tasks
                .iter()
                .map(|(index, kind, item)| SubmittedTask {
                    index: *index,
                    item: kind.to_string(),
                    item_id: item.to_string(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SdnControllerView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub sdn_type: String,
    pub url: String,
    pub user: Option<String>,
    pub config: serde_json::Value,
    pub created_at: String,
}

impl From<&SdnController> for SdnControllerView {
    fn from(c: &SdnController) -> Self {
        SdnControllerView {
            id: c.id.to_string(),
            name: c.name.clone(),
            sdn_type: c.sdn_type.clone(),
            url: rovim_store::redact_url(&c.url),
            user: c.username.clone(),
            config: c.config.clone(),
            created_at: time(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub index: u32,
    pub vim_account: String,
    pub action: String,
    pub item: String,
    pub item_id: String,
    pub status: String,
    pub vim_id: Option<String>,
    pub error: Option<String>,
    pub attempts: i32,
}

impl From<&TaskRecord> for TaskView {
    fn from(t: &TaskRecord) -> Self {
        TaskView {
            index: t.key.index,
            vim_account: t.vim_account.to_string(),
            action: t.action.to_string(),
            item: t.item_kind.to_string(),
            item_id: t.item_id.to_string(),
            status: t.status.to_string(),
            vim_id: t.vim_id.clone(),
            error: t.error_msg.clone(),
            attempts: t.attempts,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionView {
    pub id: String,
    pub description: String,
    /// `BUILD` while any task is open, then `DONE` or `FAILED`.
    pub status: String,
    pub number_tasks: i32,
    pub number_done: i32,
    pub number_failed: i32,
    pub created_at: String,
    pub modified_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<TaskView>>,
}

impl ActionView {
    pub fn of(a: &ActionRecord, tasks: Option<&[TaskRecord]>) -> Self {
        ActionView {
            id: a.id.to_string(),
            description: a.description.clone(),
            status: a.overall_status().to_owned(),
            number_tasks: a.number_tasks,
            number_done: a.number_done,
            number_failed: a.number_failed,
            created_at: time(a.created_at),
            modified_at: time(a.modified_at),
            tasks: tasks.map(|t| t.iter().map(TaskView::from).collect()),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NetView {
    pub id: String,
    pub vim_account: String,
    pub name: String,
    #[serde(rename = "type")]
    pub net_type: String,
    pub status: String,
    pub vim_id: Option<String>,
    pub error: Option<String>,
    pub vim_info: Option<String>,
    /// How the VIM's element differs from what was asked (flavor, image, interface count, VLAN,
    /// type); empty when it agrees. Shown, never corrected.
    pub drift: Vec<String>,
    pub sdn_net_id: Option<String>,
    pub created: bool,
}

impl From<&NetRecord> for NetView {
    fn from(n: &NetRecord) -> Self {
        NetView {
            id: n.id.to_string(),
            vim_account: n.vim_account.to_string(),
            name: n.name.clone(),
            net_type: serde_json::to_value(n.net_type)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            status: n.status.to_string(),
            vim_id: n.vim_id.clone(),
            error: n.error_msg.clone(),
            vim_info: n.vim_info.clone(),
            drift: n.drift.clone(),
            sdn_net_id: n.sdn_net_id.clone(),
            created: n.created,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InterfaceView {
    pub index: u32,
    pub net: Option<String>,
    #[serde(rename = "type")]
    pub iface_type: String,
    pub vim_interface_id: Option<String>,
    pub vim_net_id: Option<String>,
    pub mac_address: Option<String>,
    pub ip_address: Option<String>,
    pub compute_node: Option<String>,
    pub pci: Option<String>,
    pub vlan: Option<i32>,
    pub sdn_port_id: Option<String>,
}

impl From<&InterfaceRecord> for InterfaceView {
    fn from(i: &InterfaceRecord) -> Self {
        InterfaceView {
            index: i.index,
            net: i.net.map(|n| n.to_string()),
            iface_type: serde_json::to_value(i.iface_type)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            vim_interface_id: i.vim_interface_id.clone(),
            vim_net_id: i.vim_net_id.clone(),
            mac_address: i.mac_address.clone(),
            ip_address: i.ip_address.clone(),
            compute_node: i.compute_node.clone(),
            pci: i.pci.clone(),
            vlan: i.vlan,
            sdn_port_id: i.sdn_port_id.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VmView {
    pub id: String,
    pub vim_account: String,
    pub name: String,
    pub status: String,
    pub vim_id: Option<String>,
    pub error: Option<String>,
    pub vim_info: Option<String>,
    /// How the VIM's element differs from what was asked (flavor, image, interface count, VLAN,
    /// type); empty when it agrees. Shown, never corrected.
    pub drift: Vec<String>,
    pub created: bool,
    pub interfaces: Vec<InterfaceView>,
}

impl From<&VmRecord> for VmView {
    fn from(v: &VmRecord) -> Self {
        VmView {
            id: v.id.to_string(),
            vim_account: v.vim_account.to_string(),
            name: v.name.clone(),
            status: v.status.to_string(),
            vim_id: v.vim_id.clone(),
            error: v.error_msg.clone(),
            vim_info: v.vim_info.clone(),
            drift: v.drift.clone(),
            created: v.created,
            interfaces: v.interfaces.iter().map(InterfaceView::from).collect(),
        }
    }
}

/// An element rovim made that no live item owns (`GET /v1/vim-accounts/{id}/orphans`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrphanView {
    /// `net`, `subnet`, `vm` or `port`.
    pub kind: String,
    pub vim_id: String,
    pub name: String,
    /// Seconds since it was made (by the VIM's clock, else by its token's).
    pub age_secs: u64,
    /// Why no live item owns it.
    pub why: String,
    /// The idempotency token it carries.
    pub token: Option<String>,
}

impl From<&rovim_engine::Orphan> for OrphanView {
    fn from(o: &rovim_engine::Orphan) -> Self {
        OrphanView {
            kind: o.kind.as_str().to_owned(),
            vim_id: o.vim_id.clone(),
            name: o.name.clone(),
            age_secs: o.age_secs,
            why: o.why.clone(),
            token: o.token.clone(),
        }
    }
}

/// An orphan a sweep could not delete.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FailedDeleteView {
    pub orphan: OrphanView,
    pub error: String,
}

/// What a sweep deleted (`POST /v1/vim-accounts/{id}/orphans/sweep`); with `dry_run`, what it
/// would delete.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SweepView {
    pub dry_run: bool,
    pub deleted: Vec<OrphanView>,
    pub failed: Vec<FailedDeleteView>,
}

impl From<&rovim_engine::SweepReport> for SweepView {
    fn from(r: &rovim_engine::SweepReport) -> Self {
        SweepView {
            dry_run: r.dry_run,
            deleted: r.deleted.iter().map(OrphanView::from).collect(),
            failed: r
                .failed
                .iter()
                .map(|f| FailedDeleteView {
                    orphan: OrphanView::from(&f.orphan),
                    error: f.error.clone(),
                })
                .collect(),
        }
    }
}
