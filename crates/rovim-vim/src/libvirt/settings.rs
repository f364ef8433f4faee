//! A libvirt account's settings: `url` is the libvirt URI (`qemu:///system`,
//! `qemu+ssh://user@host/system`), and `config` holds the host's flavor and image tables, the
//! Open vSwitch bridge of data nets and the PCI-like slots handed to passthrough interfaces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A flavor: what a VM of it gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flavor {
    pub vcpus: u32,
    pub memory_mb: u32,
}

/// An image: a kernel and initramfs booted directly, or a disk image (opened as a transient
/// disk: each VM writes to its own overlay, dropped when it stops, and the image is shared
/// read-only by all its VMs). Paths on the libvirt host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    #[serde(default)]
    pub kernel: Option<String>,
    #[serde(default)]
    pub initrd: Option<String>,
    /// The kernel command line; rovim appends the user data to it.
    #[serde(default)]
    pub cmdline: Option<String>,
    #[serde(default)]
    pub disk: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LibvirtSettings {
    /// `kvm`, or `qemu` for software emulation (hosts without usable KVM).
    pub domain_type: String,
    pub flavors: BTreeMap<String, Flavor>,
    pub images: BTreeMap<String, Image>,
    /// The Open vSwitch bridge that data and ptp nets are VLANs of.
    pub data_bridge: Option<String>,
    /// VLANs rovim picks from for data/ptp nets that do not ask for one.
    pub vlan_range: [u16; 2],
    /// PCI-like slots (`0000:81:00.1`) handed to PF/VF interfaces, one per interface: each is
    /// an Open vSwitch port on the data bridge named `rv` and the slot's digits
    /// (`rv000081001`), which an SDN controller's port mapping can name.
    pub passthrough_slots: Vec<String>,
    /// The compute node reported for passthrough interfaces; the libvirt host's name when absent.
    pub compute_node: Option<String>,
    /// Where each domain's serial console is written (`<dir>/<domain name>.log`, on the libvirt
    /// host); a pty when absent.
    pub console_dir: Option<String>,
    /// Elements per refresh call.
    pub refresh_batch_size: usize,
}

impl Default for LibvirtSettings {
    fn default() -> Self {
        Self {
            domain_type: "kvm".into(),
            flavors: BTreeMap::new(),
            images: BTreeMap::new(),
            data_bridge: None,
            vlan_range: [3000, 3999],
            passthrough_slots: Vec::new(),
            compute_node: None,
            console_dir: None,
            refresh_batch_size: 100,
        }
    }
}

impl LibvirtSettings {
    pub fn from_config(config: &serde_json::Value) -> Result<Self, String> {
        let s: LibvirtSettings = if config.is_null() {
            Self::default()
        } else {
            serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))?
        };
        if !["kvm", "qemu"].contains(&s.domain_type.as_str()) {
            return Err(format!(
                "config.domain_type: '{}' is not kvm or qemu",
                s.domain_type
            ));
        }
        for (name, f) in &s.flavors {
            if f.vcpus == 0 || f.memory_mb < 16 {
                return Err(format!(
                    "config.flavors.{name}: needs at least 1 vCPU and 16 MB of memory"
                ));
            }
        }
        for (name, i) in &s.images {
            let kernel_boot = i.kernel.is_some();
            if kernel_boot == i.disk.is_some() {
                return Err(format!(
                    "config.images.{name}: give either a kernel (and initrd) or a disk"
                ));
            }
            if !kernel_boot && (i.initrd.is_some() || i.cmdline.is_some()) {
                return Err(format!(
                    "config.images.{name}: initrd and cmdline go with a kernel"
                ));
            }
        }
        let [low, high] = s.vlan_range;
        if !(1 <= low && low <= high && high <= 4094) {
            return Err(format!(
                "config.vlan_range: [{low}, {high}] is not a range within 1..=4094"
            ));
        }
        for slot in &s.passthrough_slots {
            slot_digits(slot).ok_or_else(|| {
                format!("config.passthrough_slots: '{slot}' is not a PCI address like 0000:81:00.1")
            })?;
        }
        if s.refresh_batch_size == 0 {
            return Err("config.refresh_batch_size: must be at least 1".into());
        }
        if let Some(dir) = &s.console_dir
            && (!dir.starts_with('/') || dir.split('/').any(|p| p == ".."))
        {
            return Err(format!(
                "config.console_dir: '{dir}' is not an absolute path without '..'"
            ));
        }
        Ok(s)
    }
}

/// The nine hex digits of a PCI address `dddd:bb:ss.f`, `None` when it is not one.
pub(crate) fn slot_digits(slot: &str) -> Option<String> {
    let (domain, rest) = slot.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (dev, func) = rest.split_once('.')?;
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    (hex(domain, 4) && hex(bus, 2) && hex(dev, 2) && hex(func, 1))
        .then(|| format!("{domain}{bus}{dev}{func}").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_config_parses_and_bad_values_name_their_field() {
        let s = LibvirtSettings::from_config(&json!({
            "domain_type": "qemu",
            "flavors": {"tiny": {"vcpus": 1, "memory_mb": 128}},
            "images": {"guest": {"kernel": "/k", "initrd": "/i", "cmdline": "console=ttyS0"},
                       "disk": {"disk": "/d.qcow2"}},
            "data_bridge": "br-data",
            "passthrough_slots": ["0000:81:00.1"],
        }))
        .unwrap();
        assert_eq!(s.flavors["tiny"].memory_mb, 128);
        assert_eq!(s.vlan_range, [3000, 3999]);
        for (config, field) in [
            (json!({"domain_type": "xen"}), "config.domain_type"),
            (
                json!({"flavors": {"f": {"vcpus": 0, "memory_mb": 64}}}),
                "config.flavors.f",
            ),
            (
                json!({"images": {"i": {"kernel": "/k", "disk": "/d"}}}),
                "config.images.i",
            ),
            (
                json!({"images": {"i": {"disk": "/d", "cmdline": "x"}}}),
                "config.images.i",
            ),
            (json!({"vlan_range": [10, 5]}), "config.vlan_range"),
            (
                json!({"passthrough_slots": ["81:00.1"]}),
                "config.passthrough_slots",
            ),
            (
                json!({"refresh_batch_size": 0}),
                "config.refresh_batch_size",
            ),
            (json!({"flavours": {}}), "config: unknown field `flavours`"),
        ] {
            let e = LibvirtSettings::from_config(&config).unwrap_err();
            assert!(e.starts_with(field), "{config}: {e}");
        }
    }

    #[test]
    fn slots_become_nine_hex_digits() {
        assert_eq!(slot_digits("0000:81:00.1").as_deref(), Some("000081001"));
        assert_eq!(slot_digits("0000:AF:1F.7").as_deref(), Some("0000af1f7"));
        for bad in ["0000:81:00", "000:81:00.1", "0000:81:0g.1", "x"] {
            assert_eq!(slot_digits(bad), None, "{bad}");
        }
    }
}
