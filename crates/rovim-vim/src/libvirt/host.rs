//! What the libvirt host has, read through virsh: its networks and domains as rovim reads
//! their XML, the DHCP leases of its networks, and the VLANs and passthrough slots still free.

use std::collections::{HashMap, HashSet};

use super::connector::LibvirtConnector;
use super::names::slot_device;
use super::xml::{self, DomainInfo, NetworkInfo};
use crate::error::VimError;

impl LibvirtConnector {
    /// The compute node of passthrough interfaces: configured, else the libvirt host's name.
    pub(super) async fn compute_node(&self) -> Result<String, VimError> {
        if let Some(node) = &self.settings.compute_node {
            return Ok(node.clone());
        }
        self.host
            .get_or_try_init(|| async {
                Ok(self.virsh.run(&["hostname"], None).await?.trim().to_owned())
            })
            .await
            .cloned()
    }

    pub(super) async fn uuids(&self, command: &[&str]) -> Result<Vec<String>, VimError> {
        let out = self.virsh.run(command, None).await?;
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// The documents `dump` (`net-dumpxml`, `dumpxml`) prints for the `ids` that exist, read by
    /// `parse`, in one virsh process; the others are left out.
    async fn dumped<T>(
        &self,
        dump: &str,
        ids: &[String],
        root: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, VimError> {
        let commands: Vec<String> = ids.iter().map(|id| format!("{dump} {id}")).collect();
        let out = self.virsh.chain(&commands).await?;
        xml::documents(&out.stdout, root)
            .into_iter()
            .map(|d| parse(d).map_err(VimError::UnexpectedResponse))
            .collect()
    }

    /// The networks of `ids` that exist.
    pub(super) async fn networks(&self, ids: &[String]) -> Result<Vec<NetworkInfo>, VimError> {
        self.dumped("net-dumpxml", ids, "network", NetworkInfo::parse)
            .await
    }

    /// The uuids of the networks that are active (started).
    pub(super) async fn active_networks(&self) -> Result<HashSet<String>, VimError> {
        Ok(self
            .uuids(&["net-list", "--uuid"])
            .await?
            .into_iter()
            .collect())
    }

    pub(super) async fn all_networks(&self) -> Result<Vec<NetworkInfo>, VimError> {
        let ids = self.uuids(&["net-list", "--all", "--uuid"]).await?;
        self.networks(&ids).await
    }

    pub(super) async fn network(&self, id: &str) -> Result<NetworkInfo, VimError> {
        let doc = self.virsh.run(&["net-dumpxml", id], None).await?;
        NetworkInfo::parse(&doc).map_err(VimError::UnexpectedResponse)
    }

    /// The domains of `ids` that exist.
    pub(super) async fn domains(&self, ids: &[String]) -> Result<Vec<DomainInfo>, VimError> {
        self.dumped("dumpxml", ids, "domain", DomainInfo::parse)
            .await
    }

    pub(super) async fn all_domains(&self) -> Result<Vec<DomainInfo>, VimError> {
        let ids = self.uuids(&["list", "--all", "--uuid"]).await?;
        self.domains(&ids).await
    }

    pub(super) async fn domain(&self, id: &str) -> Result<DomainInfo, VimError> {
        let doc = self.virsh.run(&["dumpxml", id], None).await?;
        DomainInfo::parse(&doc).map_err(VimError::UnexpectedResponse)
    }

    /// Runs a command whose "already done" answer (`is not active`, `already active`…) is success.
    pub(super) async fn idempotent(&self, args: &[&str], done: &[&str]) -> Result<(), VimError> {
        match self.virsh.run(args, None).await {
            Ok(_) => Ok(()),
            Err(e) if done.iter().any(|d| e.to_string().contains(d)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A VLAN of the range that no network on the data bridge uses.
    pub(super) async fn free_vlan(&self, bridge: &str) -> Result<u16, VimError> {
        let used: HashSet<u16> = self
            .all_networks()
            .await?
            .into_iter()
            .filter(|n| n.bridge.as_deref() == Some(bridge))
            .filter_map(|n| n.vlan)
            .collect();
        let [low, high] = self.settings.vlan_range;
        (low..=high).find(|v| !used.contains(v)).ok_or_else(|| {
            VimError::BadRequest(format!(
                "vlan: every VLAN of config.vlan_range [{low}, {high}] is in use on {bridge}"
            ))
        })
    }

    /// Passthrough slots no domain's interface holds, in configured order.
    pub(super) async fn free_slots(&self) -> Result<Vec<String>, VimError> {
        let used: HashSet<String> = self
            .all_domains()
            .await?
            .into_iter()
            .flat_map(|d| d.nics.into_iter().filter_map(|n| n.target))
            .collect();
        Ok(self
            .settings
            .passthrough_slots
            .iter()
            .filter(|s| !used.contains(&slot_device(s)))
            .cloned()
            .collect())
    }

    /// The slot whose data-bridge port `device` is, if it is one of the configured slots.
    pub(super) fn slot_of(&self, device: &str) -> Option<&str> {
        self.settings
            .passthrough_slots
            .iter()
            .find(|s| slot_device(s) == device)
            .map(String::as_str)
    }

    /// MAC → IP of the DHCP leases of `networks` (by name), and the networks themselves.
    pub(super) async fn leases_and_networks(
        &self,
        networks: &HashSet<String>,
    ) -> Result<(HashMap<String, String>, HashMap<String, NetworkInfo>), VimError> {
        let commands: Vec<String> = networks
            .iter()
            .flat_map(|n| [format!("net-dumpxml {n}"), format!("net-dhcp-leases {n}")])
            .collect();
        let out = self.virsh.chain(&commands).await?;
        let nets = xml::documents(&out.stdout, "network")
            .into_iter()
            .filter_map(|d| NetworkInfo::parse(d).ok())
            .map(|n| (n.name.clone(), n))
            .collect();
        Ok((xml::leases(&out.stdout).into_iter().collect(), nets))
    }
}
