//! Typed parameters of net and VM tasks. These replace the reference's positional `params`
//! tuples (`params[5]` was the VM's network list) and its `"TASK-n"` strings. The legacy string
//! forms are still accepted where an orchestrator sends a net reference (see [`NetRef`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{ItemId, TaskKey};

/// Bad input: the field (a dotted path such as `networks[2].mac_address`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ParamError {
    pub field: String,
    pub reason: String,
}

impl ParamError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error seen from an enclosing field: `prefix.field`.
    pub fn within(self, prefix: &str) -> Self {
        Self {
            field: format!("{prefix}.{}", self.field),
            reason: self.reason,
        }
    }
}

/// The kind of network (spec §2.3): an overlay, or an underlay E-LAN / E-LINE that may need SDN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum NetType {
    #[default]
    Bridge,
    Data,
    Ptp,
}

impl NetType {
    /// Its name on the wire (`bridge`, `data`, `ptp`).
    pub const fn as_str(self) -> &'static str {
        match self {
            NetType::Bridge => "bridge",
            NetType::Data => "data",
            NetType::Ptp => "ptp",
        }
    }

    /// Data-plane nets are the ones an SDN controller wires.
    pub fn is_dataplane(self) -> bool {
        matches!(self, NetType::Data | NetType::Ptp)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum IpVersion {
    #[default]
    IPv4,
    IPv6,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Dhcp {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub start_address: Option<String>,
    #[serde(default)]
    pub count: Option<u32>,
}

/// A subnet description for a net.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IpProfile {
    #[serde(default)]
    pub ip_version: IpVersion,
    /// CIDR, e.g. `10.0.0.0/24`.
    #[serde(default)]
    pub subnet_address: Option<String>,
    #[serde(default)]
    pub gateway_address: Option<String>,
    #[serde(default)]
    pub dns_addresses: Vec<String>,
    #[serde(default)]
    pub dhcp: Option<Dhcp>,
}

fn yes() -> bool {
    true
}

/// Parameters of a net CREATE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NetParams {
    pub name: String,
    /// Also accepted as `type`, the reference's key.
    #[serde(default, alias = "type")]
    pub net_type: NetType,
    #[serde(default)]
    pub ip_profile: Option<IpProfile>,
    #[serde(default)]
    pub shared: bool,
    /// A VLAN to ask for (provider networks); the VIM picks one when absent.
    #[serde(default)]
    pub vlan: Option<u16>,
}

impl NetParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        check_name("name", &self.name)?;
        if let Some(vlan) = self.vlan
            && !(1..=4094).contains(&vlan)
        {
            return Err(ParamError::new("vlan", "must be between 1 and 4094"));
        }
        if let Some(ip) = &self.ip_profile
            && let Some(subnet) = &ip.subnet_address
            && !subnet.contains('/')
        {
            return Err(ParamError::new(
                "ip_profile.subnet_address",
                "must be in CIDR form, e.g. 10.0.0.0/24",
            ));
        }
        Ok(())
    }
}

/// How a VM interface is attached (spec §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InterfaceType {
    /// A paravirtualised port on a bridge net.
    #[default]
    #[serde(rename = "virtual")]
    Virtual,
    /// PCI passthrough of a whole NIC.
    PF,
    /// An SR-IOV virtual function with a VLAN.
    VF,
    /// An SR-IOV virtual function not shared with other VMs.
    VFnotShared,
}

impl InterfaceType {
    /// Interfaces that land on a physical NIC and so get an SDN external port.
    pub fn is_passthrough(self) -> bool {
        !matches!(self, InterfaceType::Virtual)
    }
}

/// The network a VM interface attaches to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NetRef {
    /// The net created or found by task `index` of the same action.
    Task(u32),
    /// The net of a task of another action.
    ActionTask(TaskKey),
    /// An existing net item of rovim.
    NetItem(ItemId),
    /// A net that exists on the VIM, by its VIM id.
    VimNet(String),
}

impl NetRef {
    /// The task whose net this reference names, for a task of `action` (a VM on a net made in
    /// the same or another action depends on that task): the one rule by which references
    /// become dependencies, at submission, at reload and when the call is made.
    pub fn task_key(&self, action: crate::ids::ActionId) -> Option<crate::ids::TaskKey> {
        match self {
            NetRef::Task(n) => Some(crate::ids::TaskKey::new(action, *n)),
            NetRef::ActionTask(k) => Some(*k),
            NetRef::NetItem(_) | NetRef::VimNet(_) => None,
        }
    }

    /// The legacy string forms of the reference: `TASK-<n>`, `TASK-<action>.<n>` or
    /// `<action>.<n>`, and any other text as a VIM net id (as `net_id` was in `net_list`).
    pub fn parse_legacy(text: &str) -> Result<NetRef, ParamError> {
        let body = text.strip_prefix("TASK-");
        let candidate = body.unwrap_or(text);
        if let Ok(n) = candidate.parse::<u32>()
            && body.is_some()
        {
            return Ok(NetRef::Task(n));
        }
        if let Ok(key) = candidate.parse::<TaskKey>() {
            return Ok(NetRef::ActionTask(key));
        }
        if body.is_some() {
            return Err(ParamError::new(
                "net",
                format!("'{text}' is neither TASK-<index> nor TASK-<action_id>.<index>"),
            ));
        }
        if text.is_empty() {
            return Err(ParamError::new("net", "must not be empty"));
        }
        Ok(NetRef::VimNet(text.to_owned()))
    }
}

/// The explicit form written back and preferred on input: `{task: 2}`, `{action_task: "<a>.<n>"}`,
/// `{net_item: <uuid>}` or `{vim_net_id: "..."}`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum TaggedNetRef {
    Task(u32),
    ActionTask(String),
    NetItem(ItemId),
    VimNetId(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NetRefRepr {
    Legacy(String),
    Tagged(TaggedNetRef),
}

impl Serialize for NetRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tagged = match self {
            NetRef::Task(n) => TaggedNetRef::Task(*n),
            NetRef::ActionTask(k) => TaggedNetRef::ActionTask(k.to_string()),
            NetRef::NetItem(id) => TaggedNetRef::NetItem(*id),
            NetRef::VimNet(id) => TaggedNetRef::VimNetId(id.clone()),
        };
        tagged.serialize(s)
    }
}

impl<'de> Deserialize<'de> for NetRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match NetRefRepr::deserialize(d)? {
            NetRefRepr::Legacy(text) => NetRef::parse_legacy(&text).map_err(D::Error::custom),
            NetRefRepr::Tagged(TaggedNetRef::Task(n)) => Ok(NetRef::Task(n)),
            NetRefRepr::Tagged(TaggedNetRef::ActionTask(k)) => {
                k.parse().map(NetRef::ActionTask).map_err(D::Error::custom)
            }
            NetRefRepr::Tagged(TaggedNetRef::NetItem(id)) => Ok(NetRef::NetItem(id)),
            NetRefRepr::Tagged(TaggedNetRef::VimNetId(id)) => Ok(NetRef::VimNet(id)),
        }
    }
}

/// One interface of a VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Interface {
    #[serde(default)]
    pub name: Option<String>,
    /// `{task: N}`, `{action_task: "<action>.<n>"}`, `{net_item: "<uuid>"}`,
    /// `{vim_net_id: "..."}`, or the legacy strings `"TASK-N"` / a VIM net id.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub net: NetRef,
    #[serde(default, rename = "type")]
    pub iface_type: InterfaceType,
    /// NIC model: virtio, e1000, …
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub mac_address: Option<String>,
    #[serde(default = "yes")]
    pub port_security: bool,
    #[serde(default)]
    pub floating_ip: bool,
    /// Guest PCI address wished for the interface.
    #[serde(default)]
    pub vpci: Option<String>,
}

/// An extra disk of a VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Disk {
    #[serde(default)]
    pub image_id: Option<String>,
    pub size_gb: u32,
}

/// Parameters of a VM CREATE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VmParams {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub start: bool,
    pub image_id: String,
    pub flavor_id: String,
    #[serde(default)]
    pub networks: Vec<Interface>,
    /// cloud-init user data (kept as given: the connector renders it for its VIM).
    #[serde(default)]
    pub cloud_config: Option<serde_json::Value>,
    #[serde(default)]
    pub disks: Vec<Disk>,
    #[serde(default)]
    pub availability_zone: Option<String>,
}

impl VmParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        check_name("name", &self.name)?;
        if self.image_id.trim().is_empty() {
            return Err(ParamError::new("image_id", "must not be empty"));
        }
        if self.flavor_id.trim().is_empty() {
            return Err(ParamError::new("flavor_id", "must not be empty"));
        }
        for (i, iface) in self.networks.iter().enumerate() {
            if let Some(mac) = &iface.mac_address
                && !is_mac(mac)
            {
                return Err(ParamError::new(
                    format!("networks[{i}].mac_address"),
                    format!("'{mac}' is not a MAC address like 52:54:00:12:34:56"),
                ));
            }
        }
        for (i, disk) in self.disks.iter().enumerate() {
            if disk.size_gb == 0 {
                return Err(ParamError::new(
                    format!("disks[{i}].size_gb"),
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }

    /// The net references of the interfaces, in order.
    pub fn net_refs(&self) -> impl Iterator<Item = &NetRef> {
        self.networks.iter().map(|i| &i.net)
    }
}

/// How a FIND (or the find half of FIND-then-CREATE) looks a net up on the VIM.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FindFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

impl FindFilter {
    pub fn validate(&self) -> Result<(), ParamError> {
        if self.name.is_none() && self.id.is_none() {
            return Err(ParamError::new("find", "needs a name or an id"));
        }
        Ok(())
    }
}

/// Shown in messages as the filter itself (the reference printed Python's builtin `filter`,
/// BUG-9).
impl fmt::Display for FindFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}

/// The parameters stored with a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskParams {
    Net(NetParams),
    Vm(VmParams),
}

fn check_name(field: &str, name: &str) -> Result<(), ParamError> {
    crate::name::check_name(name).map_err(|reason| ParamError::new(field, reason))
}

fn is_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ActionId;

    #[test]
    fn legacy_net_references_are_understood() {
        assert_eq!(NetRef::parse_legacy("TASK-3").unwrap(), NetRef::Task(3));
        let key = TaskKey::new(ActionId::generate(), 4);
        assert_eq!(
            NetRef::parse_legacy(&format!("TASK-{key}")).unwrap(),
            NetRef::ActionTask(key)
        );
        assert_eq!(
            NetRef::parse_legacy(&key.to_string()).unwrap(),
            NetRef::ActionTask(key)
        );
        assert_eq!(
            NetRef::parse_legacy("b6c1-net").unwrap(),
            NetRef::VimNet("b6c1-net".into())
        );
        assert!(NetRef::parse_legacy("TASK-x").is_err());
        assert!(NetRef::parse_legacy("").is_err());
    }

    #[test]
    fn net_references_round_trip_in_the_tagged_form() {
        let key = TaskKey::new(ActionId::generate(), 1);
        for r in [
            NetRef::Task(0),
            NetRef::ActionTask(key),
            NetRef::NetItem(ItemId::generate()),
            NetRef::VimNet("abc".into()),
        ] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<NetRef>(&json).unwrap(), r, "{json}");
        }
        assert_eq!(
            serde_json::from_str::<NetRef>(r#"{"task": 2}"#).unwrap(),
            NetRef::Task(2)
        );
        assert!(serde_json::from_str::<NetRef>(r#"{"bogus": 2}"#).is_err());
    }

    fn vm() -> VmParams {
        serde_json::from_value(serde_json::json!({
            "name": "vm1", "image_id": "img", "flavor_id": "m1",
            "networks": [{"net": "TASK-0"}, {"net": {"task": 1}, "type": "VF", "mac_address": "52:54:00:aa:bb:cc"}]
        }))
        .unwrap()
    }

    #[test]
    fn vm_params_take_defaults_and_typed_interfaces() {
        let p = vm();
        assert!(p.start);
        assert_eq!(p.networks[0].iface_type, InterfaceType::Virtual);
        assert!(p.networks[0].port_security);
        assert_eq!(p.networks[1].iface_type, InterfaceType::VF);
        assert!(p.networks[1].iface_type.is_passthrough());
        assert_eq!(
            p.net_refs().cloned().collect::<Vec<_>>(),
            vec![NetRef::Task(0), NetRef::Task(1)]
        );
        p.validate().unwrap();
    }

    #[test]
    fn validation_names_the_field() {
        let mut p = vm();
        p.networks[1].mac_address = Some("zz".into());
        let e = p.validate().unwrap_err();
        assert_eq!(e.field, "networks[1].mac_address");
        let mut p = vm();
        p.disks.push(Disk {
            image_id: None,
            size_gb: 0,
        });
        assert_eq!(p.validate().unwrap_err().field, "disks[0].size_gb");
        let net = NetParams {
            name: "n".into(),
            net_type: NetType::Data,
            ip_profile: None,
            shared: false,
            vlan: Some(5000),
        };
        assert_eq!(net.validate().unwrap_err().field, "vlan");
        let e = serde_json::from_str::<NetParams>(r#"{"name": "n", "colour": "red"}"#).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn find_filter_shows_itself_in_messages() {
        let f = FindFilter {
            name: Some("mgmt".into()),
            ..Default::default()
        };
        assert_eq!(f.to_string(), r#"{"name":"mgmt"}"#);
        assert!(FindFilter::default().validate().is_err());
    }
}
