//! The `VimConnector` contract (spec §2, redesigned with typed values): what the engine asks of
//! any VIM, and the shapes of the answers.

use std::collections::HashMap;

use async_trait::async_trait;
use rovim_core::{
    CreatedItem, FindFilter, ItemKind, ItemStatus, NetParams, NetType, Owned, Seen, VmParams,
};
use serde::{Deserialize, Serialize};

use crate::error::VimError;

/// A network as the VIM describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VimNet {
    pub id: String,
    pub name: String,
    pub status: ItemStatus,
    pub net_type: NetType,
    /// `vlan`, `vxlan`, `flat`…
    pub encapsulation: Option<String>,
    pub segmentation_id: Option<u32>,
    pub shared: bool,
    pub error_msg: Option<String>,
}

/// What a successful create made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub vim_id: String,
    /// Partial resources besides the element (ports, subnets, volumes), for clean-up.
    pub created_items: Vec<CreatedItem>,
}

impl Created {
    pub fn owned(&self) -> Owned {
        Owned {
            vim_id: Some(self.vim_id.clone()),
            created_items: self.created_items.clone(),
        }
    }
}

/// A VM create: the parameters, with each interface's network resolved to its VIM id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRequest {
    pub params: VmParams,
    /// `vim_net_ids[i]` is the VIM network of `params.networks[i]`.
    pub vim_net_ids: Vec<String>,
}

/// What a successful VM create made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmCreated {
    pub created: Created,
    /// The VIM interface (port) id of each requested interface, in request order.
    pub interface_ids: Vec<String>,
}

/// A failed create, with whatever it could not clean up (kept so a DELETE removes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFailure {
    pub error: VimError,
    pub leftover: Option<Owned>,
}

impl From<VimError> for CreateFailure {
    fn from(error: VimError) -> Self {
        CreateFailure {
            error,
            leftover: None,
        }
    }
}

/// One element's status in a refresh answer (spec §2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetReport {
    pub status: ItemStatus,
    pub error_msg: Option<String>,
    pub vim_info: Option<String>,
    /// Its type and VLAN, as far as the VIM tells (drift detection).
    #[serde(default)]
    pub seen: Seen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmReport {
    pub status: ItemStatus,
    pub error_msg: Option<String>,
    pub vim_info: Option<String>,
    pub interfaces: Vec<InterfaceReport>,
    /// Its flavor and image, as far as the VIM tells (drift detection).
    #[serde(default)]
    pub seen: Seen,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InterfaceReport {
    pub vim_interface_id: String,
    pub vim_net_id: Option<String>,
    pub mac_address: Option<String>,
    pub ip_address: Option<String>,
    pub compute_node: Option<String>,
    pub pci: Option<String>,
    pub vlan: Option<u16>,
    pub vim_info: Option<String>,
}

/// An element found by rovim's idempotency token (crash recovery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMatch {
    pub created: Created,
    /// For VMs: the interface ids in request order.
    pub interface_ids: Vec<String>,
}

/// What kind of element a listing of tagged elements found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementKind {
    Net,
    /// A part of a net (OpenStack's subnets).
    Subnet,
    Vm,
    /// A VM's interface (Neutron port, EC2 network interface, sim port).
    Port,
}

impl ElementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ElementKind::Net => "net",
            ElementKind::Subnet => "subnet",
            ElementKind::Vm => "vm",
            ElementKind::Port => "port",
        }
    }
}

/// An element that carries this installation's tag: what the sweeper compares with the
/// database to find what rovim made and forgot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedElement {
    pub kind: ElementKind,
    pub vim_id: String,
    pub name: String,
    /// The idempotency token it carries (a subnet or port carries its net's or VM's).
    pub token: Option<String>,
    /// When the VIM says it was made, if it says.
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A VIM as the engine uses it. Every call may fail with a classified [`VimError`]; none may
/// panic. Creates attach `token` to what they make, so that [`find_by_token`] finds it again.
///
/// [`find_by_token`]: VimConnector::find_by_token
#[async_trait]
pub trait VimConnector: Send + Sync + 'static {
    /// How many elements one refresh call may carry.
    fn refresh_batch_size(&self) -> usize;

    /// Raises connection or auth errors when the VIM cannot be used.
    async fn check_connectivity(&self) -> Result<(), VimError>;

    async fn create_net(&self, params: &NetParams, token: &str) -> Result<Created, CreateFailure>;
    /// Completes a net found by its token after a create whose answer was lost: a create made
    /// of several requests (network, tag, subnet) may have stopped half way. The default has
    /// nothing to complete.
    async fn finish_net(
        &self,
        _params: &NetParams,
        _token: &str,
        found: Created,
    ) -> Result<Created, CreateFailure> {
        Ok(found)
    }
    async fn list_nets(&self, filter: &FindFilter) -> Result<Vec<VimNet>, VimError>;
    async fn get_net(&self, vim_id: &str) -> Result<VimNet, VimError>;
    /// Deletes what rovim created; `NotFound` when it is already gone.
    async fn delete_net(&self, owned: &Owned) -> Result<(), VimError>;
    /// Status of many nets in one call. An id missing from the answer is gone from the VIM.
    async fn refresh_nets(&self, ids: &[String]) -> Result<HashMap<String, NetReport>, VimError>;

    async fn create_vm(&self, request: &VmRequest, token: &str)
    -> Result<VmCreated, CreateFailure>;
    async fn delete_vm(&self, owned: &Owned) -> Result<(), VimError>;
    async fn refresh_vms(&self, ids: &[String]) -> Result<HashMap<String, VmReport>, VimError>;

    /// Every element carrying this installation's tag (the connector follows the VIM's pages),
    /// but for what the VIM is already deleting (an EC2 instance shutting down, a Nova server
    /// in task state `deleting`): its deletion has been asked for.
    async fn list_tagged(&self) -> Result<Vec<TaggedElement>, VimError>;

    /// Puts an existing element under rovim's management (ADOPT): the one element `filter`
    /// names (by VIM id or name) gets `token` and this installation's tag, so it is found by
    /// token and listed like what rovim creates. `NotFound` when nothing matches, `Conflict`
    /// when several do.
    async fn adopt(
        &self,
        kind: ItemKind,
        filter: &FindFilter,
        token: &str,
    ) -> Result<TokenMatch, VimError>;

    /// The element created with `token`, if the VIM has it.
    async fn find_by_token(
        &self,
        kind: ItemKind,
        token: &str,
    ) -> Result<Option<TokenMatch>, VimError>;
}

/// The one element an ADOPT filter names, from the VIM ids that matched it.
pub fn one_match(
    kind: ItemKind,
    filter: &FindFilter,
    ids: Vec<String>,
) -> Result<String, VimError> {
    match <[String; 1]>::try_from(ids) {
        Ok([one]) => Ok(one),
        Err(ids) if ids.is_empty() => Err(VimError::NotFound(format!(
            "no {kind} matches '{filter}' to adopt"
        ))),
        Err(ids) => Err(VimError::Conflict(format!(
            "{} {kind}s match '{filter}' ({}): adopt names one",
            ids.len(),
            ids.join(", ")
        ))),
    }
}
