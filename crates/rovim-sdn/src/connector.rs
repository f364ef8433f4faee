//! The `SdnConnector` contract and its values.

use async_trait::async_trait;
use rovim_core::{NetType, SdnNetStatus};
use serde::{Deserialize, Serialize};

use crate::error::SdnError;

/// The longest external port name controllers accept.
pub const MAX_PORT_NAME: usize = 63;

/// `<sdn_net>.<vm>` cut to [`MAX_PORT_NAME`] characters (the reference's naming).
pub fn port_name(sdn_net_id: &str, vm_vim_id: &str) -> String {
    format!("{sdn_net_id}.{vm_vim_id}")
        .chars()
        .take(MAX_PORT_NAME)
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdnNetRequest {
    pub name: String,
    pub net_type: NetType,
    pub vlan: u16,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdnNetState {
    pub status: SdnNetStatus,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdnPortRequest {
    pub name: String,
    pub net_id: String,
    pub compute_node: String,
    pub pci: String,
    pub vlan: Option<u16>,
    pub mac: Option<String>,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdnPort {
    pub id: String,
    pub name: String,
    pub net_id: String,
    pub compute_node: String,
    pub pci: String,
    pub vlan: Option<u16>,
    pub mac: Option<String>,
}

/// An SDN controller as the engine uses it. Calls fail with a classified [`SdnError`]; none may
/// panic.
#[async_trait]
pub trait SdnConnector: Send + Sync + 'static {
    async fn create_network(&self, request: &SdnNetRequest) -> Result<String, SdnError>;
    async fn show_network(&self, id: &str) -> Result<SdnNetState, SdnError>;
    /// `NotFound` when it is already gone.
    async fn delete_network(&self, id: &str) -> Result<(), SdnError>;
    async fn create_port(&self, request: &SdnPortRequest) -> Result<String, SdnError>;
    async fn delete_port(&self, id: &str) -> Result<(), SdnError>;
    async fn list_ports(&self, net_id: &str) -> Result<Vec<SdnPort>, SdnError>;
}
