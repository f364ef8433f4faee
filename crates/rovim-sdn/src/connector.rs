//! The `SdnConnector` contract and its values.

use async_trait::async_trait;
use rovim_core::{NetType, SdnNetStatus};
use serde::{Deserialize, Serialize};

use crate::error::SdnError;

/// The longest external port name controllers accept.
pub const MAX_PORT_NAME: usize = 63;

/// The name of a VIM net's SDN network: `<net name>.<token>`, the net's name cut so the whole
/// fits [`MAX_PORT_NAME`]. Unique per element (the token is), so after a crash between the
/// controller's answer and rovim's database write the network is found again by its name,
/// not made twice.
pub fn sdn_net_name(net_name: &str, token: &str) -> String {
    let room = MAX_PORT_NAME.saturating_sub(token.chars().count() + 1);
    let short: String = net_name.chars().take(room).collect();
    format!("{short}.{token}")
}

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
    /// The network with this name, if the controller has one (rovim names them uniquely).
    async fn find_network(&self, name: &str) -> Result<Option<String>, SdnError>;
    async fn show_network(&self, id: &str) -> Result<SdnNetState, SdnError>;
    /// `NotFound` when it is already gone.
    async fn delete_network(&self, id: &str) -> Result<(), SdnError>;
    async fn create_port(&self, request: &SdnPortRequest) -> Result<String, SdnError>;
    async fn delete_port(&self, id: &str) -> Result<(), SdnError>;
    async fn list_ports(&self, net_id: &str) -> Result<Vec<SdnPort>, SdnError>;

    /// The port of this name on the network, if there is one.
    async fn find_port(&self, net_id: &str, name: &str) -> Result<Option<String>, SdnError> {
        Ok(self
            .list_ports(net_id)
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .map(|p| p.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdn_net_names_keep_the_whole_token_and_fit_the_limit() {
        let token = "rovim-0123456789abcdef0123456789abcdef";
        assert_eq!(sdn_net_name("data", token), format!("data.{token}"));
        let long = sdn_net_name(&"n".repeat(100), token);
        assert_eq!(long.chars().count(), MAX_PORT_NAME);
        assert!(long.ends_with(token));
    }
}
