//! A simulated SDN controller: networks and external ports in memory, with fault knobs
//! (unreachable, networks reported in ERROR) and call counts for tests.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use rovim_core::SdnNetStatus;
use serde::{Deserialize, Serialize};

use crate::connector::{
    MAX_PORT_NAME, SdnConnector, SdnNetRequest, SdnNetState, SdnPort, SdnPortRequest,
};
use crate::error::SdnError;

/// Knobs of a simulated controller, from its config. Unknown keys are refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSdnSettings {
    /// Every call fails with a connection error.
    pub unreachable: bool,
    /// Networks with these names are reported in ERROR (with a message).
    pub error_net_names: Vec<String>,
    /// Port creations fail (a transient error), the rest works.
    pub refuse_ports: bool,
}

impl SimSdnSettings {
    pub fn from_config(config: &serde_json::Value) -> Result<Self, String> {
        if config.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))
    }
}

#[derive(Debug, Default)]
struct State {
    settings: SimSdnSettings,
    nets: BTreeMap<String, SdnNetRequest>,
    ports: BTreeMap<String, SdnPort>,
    next: u64,
    port_creates: u64,
    port_deletes: u64,
    /// Port creations refused by `refuse_ports`.
    port_refusals: u64,
    broken: HashSet<String>,
}

/// The controller and its own connector (it is in process: no separate client).
#[derive(Debug, Default)]
pub struct SimSdn {
    state: Mutex<State>,
}

impl SimSdn {
    pub fn new(settings: SimSdnSettings) -> SimSdn {
        SimSdn {
            state: Mutex::new(State {
                settings,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn update_settings(&self, change: impl FnOnce(&mut SimSdnSettings)) {
        change(&mut self.lock().settings);
    }

    /// Reports the network in ERROR from now on.
    pub fn break_network(&self, id: &str) {
        self.lock().broken.insert(id.to_owned());
    }

    pub fn networks(&self) -> Vec<(String, SdnNetRequest)> {
        self.lock()
            .nets
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn ports(&self) -> Vec<SdnPort> {
        self.lock().ports.values().cloned().collect()
    }

    /// Port creations refused so far (`refuse_ports`).
    pub fn port_refusals(&self) -> u64 {
        self.lock().port_refusals
    }

    /// Port creations and deletions so far.
    pub fn port_calls(&self) -> (u64, u64) {
        let st = self.lock();
        (st.port_creates, st.port_deletes)
    }

    fn enter(&self) -> Result<std::sync::MutexGuard<'_, State>, SdnError> {
        let st = self.lock();
        if st.settings.unreachable {
            return Err(SdnError::Connection(
                "sim SDN controller is unreachable".into(),
            ));
        }
        Ok(st)
    }
}

#[async_trait]
impl SdnConnector for SimSdn {
    async fn create_network(&self, request: &SdnNetRequest) -> Result<String, SdnError> {
        let mut st = self.enter()?;
        if !(1..=4094).contains(&request.vlan) {
            return Err(SdnError::BadRequest(format!(
                "vlan {} out of range",
                request.vlan
            )));
        }
        st.next += 1;
        let id = format!("sdn-net-{:06}", st.next);
        st.nets.insert(id.clone(), request.clone());
        Ok(id)
    }

    async fn find_network(&self, name: &str) -> Result<Option<String>, SdnError> {
        let st = self.enter()?;
        Ok(st
            .nets
            .iter()
            .find(|(_, n)| n.name == name)
            .map(|(id, _)| id.clone()))
    }

    async fn show_network(&self, id: &str) -> Result<SdnNetState, SdnError> {
        let st = self.enter()?;
        let net = st
            .nets
            .get(id)
            .ok_or_else(|| SdnError::NotFound(format!("network {id}")))?;
        if st.broken.contains(id) || st.settings.error_net_names.contains(&net.name) {
            return Ok(SdnNetState {
                status: SdnNetStatus::Error,
                error: Some(format!(
                    "sim SDN: network '{}' lost its VLAN {} on the fabric",
                    net.name, net.vlan
                )),
            });
        }
        Ok(SdnNetState {
            status: SdnNetStatus::Active,
            error: None,
        })
    }

    async fn delete_network(&self, id: &str) -> Result<(), SdnError> {
        let mut st = self.enter()?;
        if st.ports.values().any(|p| p.net_id == id) {
            return Err(SdnError::Conflict(format!("network {id} still has ports")));
        }
        st.nets
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| SdnError::NotFound(format!("network {id}")))
    }

    async fn create_port(&self, request: &SdnPortRequest) -> Result<String, SdnError> {
        let mut st = self.enter()?;
        if !st.nets.contains_key(&request.net_id) {
            return Err(SdnError::NotFound(format!("network {}", request.net_id)));
        }
        if st.settings.refuse_ports {
            st.port_refusals += 1;
            return Err(SdnError::Connection(
                "sim SDN: port creation refused".into(),
            ));
        }
        if request.name.chars().count() > MAX_PORT_NAME {
            return Err(SdnError::BadRequest(format!(
                "port name longer than {MAX_PORT_NAME} characters"
            )));
        }
        st.next += 1;
        st.port_creates += 1;
        let id = format!("sdn-port-{:06}", st.next);
        let port = SdnPort {
            id: id.clone(),
            name: request.name.clone(),
            net_id: request.net_id.clone(),
            compute_node: request.compute_node.clone(),
            pci: request.pci.clone(),
            vlan: request.vlan,
            mac: request.mac.clone(),
        };
        st.ports.insert(id.clone(), port);
        Ok(id)
    }

    async fn delete_port(&self, id: &str) -> Result<(), SdnError> {
        let mut st = self.enter()?;
        st.port_deletes += 1;
        st.ports
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| SdnError::NotFound(format!("port {id}")))
    }

    async fn list_ports(&self, net_id: &str) -> Result<Vec<SdnPort>, SdnError> {
        let st = self.enter()?;
        Ok(st
            .ports
            .values()
            .filter(|p| p.net_id == net_id)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::port_name;
    use rovim_core::NetType;

    #[tokio::test]
    async fn networks_and_ports_with_their_rules() {
        let sdn = SimSdn::new(SimSdnSettings::default());
        let req = SdnNetRequest {
            name: "data".into(),
            net_type: NetType::Data,
            vlan: 1001,
            region: "r".into(),
        };
        let net = sdn.create_network(&req).await.unwrap();
        assert_eq!(
            sdn.show_network(&net).await.unwrap().status,
            SdnNetStatus::Active
        );
        let name = port_name(&net, &"x".repeat(80));
        assert_eq!(name.chars().count(), MAX_PORT_NAME);
        let port = SdnPortRequest {
            name,
            net_id: net.clone(),
            compute_node: "c1".into(),
            pci: "0000:81:00.1".into(),
            vlan: Some(1001),
            mac: None,
            region: "r".into(),
        };
        let p = sdn.create_port(&port).await.unwrap();
        assert!(
            matches!(sdn.delete_network(&net).await, Err(SdnError::Conflict(_))),
            "ports first"
        );
        assert_eq!(sdn.list_ports(&net).await.unwrap().len(), 1);
        sdn.delete_port(&p).await.unwrap();
        sdn.delete_network(&net).await.unwrap();
        assert!(matches!(
            sdn.show_network(&net).await,
            Err(SdnError::NotFound(_))
        ));
        sdn.update_settings(|s| s.unreachable = true);
        assert!(sdn.create_network(&req).await.unwrap_err().is_retryable());
    }

    #[tokio::test]
    async fn a_broken_network_reports_error_with_a_message() {
        let sdn = SimSdn::new(SimSdnSettings::default());
        let req = SdnNetRequest {
            name: "d".into(),
            net_type: NetType::Ptp,
            vlan: 7,
            region: "r".into(),
        };
        let net = sdn.create_network(&req).await.unwrap();
        sdn.break_network(&net);
        let s = sdn.show_network(&net).await.unwrap();
        assert_eq!(s.status, SdnNetStatus::Error);
        assert!(s.error.unwrap().contains("VLAN 7"));
    }
}
