//! A Ryu controller's config: which switch port each SR-IOV interface is wired to (OSM's SDN
//! port mapping) and the trunk ports that carry the VLANs between switches.

use serde::{Deserialize, Serialize};

/// One interface's wiring: the VF or PF at `pci` of `compute_node` is `switch_port` of the
/// switch `switch_dpid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortMapping {
    pub compute_node: String,
    pub pci: String,
    pub switch_dpid: u64,
    pub switch_port: SwitchPort,
}

/// A switch port by its OpenFlow number, or by its name: a port named after a host device
/// (a VM's tap) gets its number only when the device appears, so a name is looked up in the
/// switch's port descriptions each time it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SwitchPort {
    Number(u32),
    Name(String),
}

impl std::fmt::Display for SwitchPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SwitchPort::Number(n) => write!(f, "{n}"),
            SwitchPort::Name(name) => write!(f, "'{name}'"),
        }
    }
}

/// A switch rovim programs, with the ports that carry tagged traffic to the other switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    pub dpid: u64,
    #[serde(default)]
    pub trunk_ports: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RyuSettings {
    pub port_mapping: Vec<PortMapping>,
    /// The switches a network is made on; by default those of the port mapping, without trunks.
    pub switches: Vec<Switch>,
}

impl RyuSettings {
    /// The settings of a controller's `config`, naming the field of a bad one.
    pub fn from_config(config: &serde_json::Value) -> Result<RyuSettings, String> {
        if config.is_null() {
            return Ok(RyuSettings::default());
        }
        let mut s: RyuSettings =
            serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))?;
        for m in &s.port_mapping {
            if !s.switches.iter().any(|w| w.dpid == m.switch_dpid) {
                s.switches.push(Switch {
                    dpid: m.switch_dpid,
                    trunk_ports: Vec::new(),
                });
            }
        }
        if s.switches.is_empty() {
            return Err(
                "config.port_mapping: at least one interface's switch port is needed".into(),
            );
        }
        Ok(s)
    }

    /// Where an interface is wired, if the mapping says.
    pub fn wiring(&self, compute_node: &str, pci: &str) -> Option<&PortMapping> {
        self.port_mapping
            .iter()
            .find(|m| m.compute_node == compute_node && m.pci == pci)
    }

    /// The interface wired to a switch port (for listing ports back); `names` gives the
    /// numbers of the switch's named ports.
    pub fn interface_at(
        &self,
        dpid: u64,
        port: u32,
        names: &std::collections::HashMap<String, u32>,
    ) -> Option<&PortMapping> {
        self.port_mapping.iter().find(|m| {
            m.switch_dpid == dpid
                && match &m.switch_port {
                    SwitchPort::Number(n) => *n == port,
                    SwitchPort::Name(name) => names.get(name) == Some(&port),
                }
        })
    }

    /// Whether some port of `dpid` is mapped by its name.
    pub fn names_ports_of(&self, dpid: u64) -> bool {
        self.port_mapping
            .iter()
            .any(|m| m.switch_dpid == dpid && matches!(m.switch_port, SwitchPort::Name(_)))
    }

    pub fn trunks(&self, dpid: u64) -> &[u32] {
        self.switches
            .iter()
            .find(|s| s.dpid == dpid)
            .map_or(&[], |s| s.trunk_ports.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_mapping_names_the_switches_and_bad_config_names_the_field() {
        let s = RyuSettings::from_config(&json!({"port_mapping": [
            {"compute_node": "c0", "pci": "0000:01:00.1", "switch_dpid": 1, "switch_port": 1},
            {"compute_node": "c1", "pci": "0000:01:00.1", "switch_dpid": 2, "switch_port": 4}],
            "switches": [{"dpid": 2, "trunk_ports": [9]}]}))
        .unwrap();
        assert_eq!(s.switches.len(), 2);
        assert_eq!(s.trunks(2), &[9]);
        assert_eq!(
            s.wiring("c1", "0000:01:00.1").unwrap().switch_port,
            SwitchPort::Number(4)
        );
        assert!(s.wiring("c1", "0000:02:00.1").is_none());
        let none = std::collections::HashMap::new();
        assert_eq!(s.interface_at(1, 1, &none).unwrap().compute_node, "c0");
        assert!(!s.names_ports_of(1));
    }

    #[test]
    fn a_port_is_mapped_by_number_or_by_name() {
        let s = RyuSettings::from_config(&json!({"port_mapping": [
            {"compute_node": "c0", "pci": "0000:81:00.1", "switch_dpid": 1, "switch_port": "rv000081001"},
            {"compute_node": "c0", "pci": "0000:81:00.2", "switch_dpid": 1, "switch_port": 7}]}))
        .unwrap();
        assert_eq!(
            s.wiring("c0", "0000:81:00.1").unwrap().switch_port,
            SwitchPort::Name("rv000081001".into())
        );
        assert!(s.names_ports_of(1));
        let names = std::collections::HashMap::from([("rv000081001".to_owned(), 12)]);
        assert_eq!(s.interface_at(1, 12, &names).unwrap().pci, "0000:81:00.1");
        assert_eq!(s.interface_at(1, 7, &names).unwrap().pci, "0000:81:00.2");
        assert!(
            s.interface_at(1, 12, &std::collections::HashMap::new())
                .is_none()
        );
        let e = RyuSettings::from_config(&json!({"port_map": []})).unwrap_err();
        assert!(e.contains("port_map"), "{e}");
        assert!(
            RyuSettings::from_config(&json!({})).is_err(),
            "no switch at all"
        );
    }
}
