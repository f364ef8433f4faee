//! The libvirt VIM: nets are libvirt networks, VMs are domains, both defined from rovim's XML
//! and marked with rovim's token and installation in their metadata.
//!
//! Names: an element's libvirt name is its rovim name followed by the token's last twelve hex
//! digits (its title keeps the name as given). libvirt refuses a second element of one name, so
//! a create repeated after a lost answer meets the first one instead of making a twin.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use rovim_core::{FindFilter, ItemKind, ItemStatus, NetParams, Owned, Seen};
use tokio::sync::{Mutex, OnceCell};

use super::names::{libvirt_name, matches_filter};
use super::settings::LibvirtSettings;
use super::virsh::Virsh;
use super::xml::{self, DomainInfo, Marks, NetShape, NetworkInfo, Subnet};
use crate::connector::{
    CreateFailure, Created, ElementKind, InterfaceReport, NetReport, TaggedElement, TokenMatch,
    VimConnector, VimNet, VmCreated, VmReport, VmRequest, one_match,
};
use crate::error::VimError;

pub struct LibvirtConnector {
    pub(super) virsh: Virsh,
    pub(super) settings: LibvirtSettings,
    installation: String,
    pub(super) host: OnceCell<String>,
    /// Held from choosing a VLAN or passthrough slot until what uses it is defined.
    pub(super) allocation: Mutex<()>,
}

impl LibvirtConnector {
    pub fn new(uri: &str, settings: LibvirtSettings) -> LibvirtConnector {
        LibvirtConnector {
            virsh: Virsh::new("virsh", uri),
            settings,
            installation: String::new(),
            host: OnceCell::new(),
            allocation: Mutex::new(()),
        }
    }

    /// Marks what this connector creates or adopts with the rovim installation's id.
    pub fn with_installation(mut self, installation: &str) -> LibvirtConnector {
        self.installation = installation.to_owned();
        self
    }

    pub(super) fn marks(&self, token: &str) -> Marks {
        Marks {
            token: Some(token.to_owned()),
            installation: Some(self.installation.clone()),
            start: false,
        }
    }

    /// The shape of a new net (picking its VLAN: call under the allocation lock).
    async fn net_shape(&self, params: &NetParams) -> Result<NetShape, VimError> {
        if !params.net_type.is_dataplane() {
            let subnet = match &params.ip_profile {
                Some(p) => Subnet::from_profile(p).map_err(VimError::BadRequest)?,
                None => None,
            };
            return Ok(NetShape::Isolated(subnet));
        }
        let bridge = self.settings.data_bridge.clone().ok_or_else(|| {
            VimError::BadRequest(format!(
                "type: a {} net needs the account's config.data_bridge (an Open vSwitch bridge)",
                params.net_type.as_str()
            ))
        })?;
        let vlan = match params.vlan {
            Some(v) => v,
            None => self.free_vlan(&bridge).await?,
        };
        Ok(NetShape::Vlan { bridge, vlan })
    }

    async fn start_domain(&self, id: &str) -> Result<(), VimError> {
        self.idempotent(&["start", id], &["already active", "already running"])
            .await
    }

    fn vim_net(&self, n: &NetworkInfo, active: bool) -> VimNet {
        VimNet {
            id: n.uuid.clone(),
            name: n.display_name().to_owned(),
            status: if active {
                ItemStatus::Active
            } else {
                ItemStatus::Inactive
            },
            net_type: if n.vlan.is_some() {
                rovim_core::NetType::Data
            } else {
                rovim_core::NetType::Bridge
            },
            encapsulation: n.vlan.map(|_| "vlan".to_owned()),
            segmentation_id: n.vlan.map(u32::from),
            shared: false,
            error_msg: None,
        }
    }

    async fn set_marks(
        &self,
        kind: ItemKind,
        info: Target<'_>,
        token: &str,
    ) -> Result<(), VimError> {
        let element = self.marks(token).plain();
        let (command, id, live) = match (kind, info) {
            (ItemKind::Vm, Target::Domain(d)) => ("metadata", d.uuid.as_str(), d.running),
            (_, Target::Network(n, active)) => ("net-metadata", n.uuid.as_str(), active),
            (kind, _) => {
                return Err(VimError::NotSupported(format!("adopting a {kind}")));
            }
        };
        let mut args = vec![
            command,
            id,
            xml::NAMESPACE,
            "--key",
            xml::KEY,
            "--set",
            element.as_str(),
            "--config",
        ];
        if live {
            args.push("--live");
        }
        self.virsh.run(&args, None).await.map(|_| ())
    }
}

enum Target<'a> {
    Domain(&'a DomainInfo),
    Network(&'a NetworkInfo, bool),
}

/// An element found again (by token or ADOPT), with its interfaces' ids (MACs) in order.
fn found(vim_id: String, interface_ids: Vec<String>) -> TokenMatch {
    TokenMatch {
        created: Created {
            vim_id,
            created_items: Vec::new(),
        },
        interface_ids,
    }
}

fn leftover(id: &str) -> Option<Owned> {
    Some(Owned {
        vim_id: Some(id.to_owned()),
        created_items: Vec::new(),
    })
}

#[async_trait]
impl VimConnector for LibvirtConnector {
    fn refresh_batch_size(&self) -> usize {
        self.settings.refresh_batch_size
    }

    async fn check_connectivity(&self) -> Result<(), VimError> {
        self.compute_node().await.map(|_| ())
    }

    async fn create_net(&self, params: &NetParams, token: &str) -> Result<Created, CreateFailure> {
        let name = libvirt_name(&params.name, token);
        {
            let _allocating = self.allocation.lock().await;
            let shape = self.net_shape(params).await?;
            let doc = xml::network_xml(&name, &params.name, &self.marks(token), &shape);
            match self
                .virsh
                .run(&["net-define", "/dev/stdin"], Some(&doc))
                .await
            {
                Ok(_) | Err(VimError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let uuid = self.network(&name).await?.uuid;
        let started = async {
            self.idempotent(&["net-start", &uuid], &["already active"])
                .await?;
            self.virsh.run(&["net-autostart", &uuid], None).await
        };
        match started.await {
            Ok(_) => Ok(Created {
                vim_id: uuid,
                created_items: Vec::new(),
            }),
            Err(error) => Err(CreateFailure {
                error,
                leftover: leftover(&uuid),
            }),
        }
    }

    async fn finish_net(
        &self,
        _params: &NetParams,
        _token: &str,
        found: Created,
    ) -> Result<Created, CreateFailure> {
        self.idempotent(&["net-start", &found.vim_id], &["already active"])
            .await?;
        Ok(found)
    }

    async fn list_nets(&self, filter: &FindFilter) -> Result<Vec<VimNet>, VimError> {
        let active = self.active_networks().await?;
        Ok(self
            .all_networks()
            .await?
            .iter()
            .filter(|n| matches_filter(filter, &n.uuid, &n.name, n.title.as_deref()))
            .map(|n| self.vim_net(n, active.contains(&n.uuid)))
            .collect())
    }

    async fn get_net(&self, vim_id: &str) -> Result<VimNet, VimError> {
        let net = self.network(vim_id).await?;
        let active = self.active_networks().await?.contains(&net.uuid);
        Ok(self.vim_net(&net, active))
    }

    async fn delete_net(&self, owned: &Owned) -> Result<(), VimError> {
        let Some(id) = owned.vim_id.as_deref() else {
            return Ok(());
        };
        let net = self.network(id).await?;
        let users: Vec<String> = self
            .all_domains()
            .await?
            .into_iter()
            .filter(|d| {
                d.nics
                    .iter()
                    .any(|n| n.network.as_deref() == Some(&net.name))
            })
            .map(|d| d.name)
            .collect();
        if !users.is_empty() {
            return Err(VimError::InUse(format!(
                "network {} has interfaces of {}",
                net.name,
                users.join(", ")
            )));
        }
        self.idempotent(&["net-destroy", id], &["not active"])
            .await?;
        self.virsh
            .run(&["net-undefine", id], None)
            .await
            .map(|_| ())
    }

    async fn refresh_nets(&self, ids: &[String]) -> Result<HashMap<String, NetReport>, VimError> {
        let active = self.active_networks().await?;
        Ok(self
            .networks(ids)
            .await?
            .into_iter()
            .map(|n| {
                let up = active.contains(&n.uuid);
                let report = NetReport {
                    status: if up {
                        ItemStatus::Active
                    } else {
                        ItemStatus::Inactive
                    },
                    error_msg: (!up).then(|| format!("libvirt network {} is not active", n.name)),
                    vim_info: Some(
                        serde_json::json!({"name": n.name, "bridge": n.bridge, "vlan": n.vlan})
                            .to_string(),
                    ),
                    seen: Seen {
                        dataplane: Some(n.vlan.is_some()),
                        vlan: n.vlan.map(u32::from),
                        ..Seen::default()
                    },
                };
                (n.uuid, report)
            })
            .collect())
    }

    async fn create_vm(
        &self,
        request: &VmRequest,
        token: &str,
    ) -> Result<VmCreated, CreateFailure> {
        let (boot, vcpus, memory) = self.boot(request)?;
        let domain = self
            .define_domain(request, token, boot, (vcpus, memory))
            .await?;
        if request.params.start
            && let Err(error) = self.start_domain(&domain.uuid).await
        {
            return Err(CreateFailure {
                error,
                leftover: leftover(&domain.uuid),
            });
        }
        let made = found(domain.uuid.clone(), domain.macs());
        Ok(VmCreated {
            created: made.created,
            interface_ids: made.interface_ids,
        })
    }

    async fn delete_vm(&self, owned: &Owned) -> Result<(), VimError> {
        let Some(id) = owned.vim_id.as_deref() else {
            return Ok(());
        };
        self.idempotent(&["destroy", id], &["not running", "not active"])
            .await?;
        self.virsh.run(&["undefine", id], None).await.map(|_| ())
    }

    async fn refresh_vms(&self, ids: &[String]) -> Result<HashMap<String, VmReport>, VimError> {
        let domains = self.domains(ids).await?;
        let used: HashSet<String> = domains
            .iter()
            .flat_map(|d| d.nics.iter().filter_map(|n| n.network.clone()))
            .collect();
        let (leases, nets) = self.leases_and_networks(&used).await?;
        let node = self.compute_node().await.ok();
        let mut out = HashMap::with_capacity(domains.len());
        for d in domains {
            let mut waiting = false;
            let interfaces = d
                .nics
                .iter()
                .map(|nic| {
                    let net = nic.network.as_ref().and_then(|n| nets.get(n));
                    let ip = leases.get(&nic.mac).cloned();
                    waiting |= ip.is_none() && net.is_some_and(|n| n.dhcp);
                    let pci = nic.target.as_deref().and_then(|t| self.slot_of(t));
                    InterfaceReport {
                        vim_interface_id: nic.mac.clone(),
                        vim_net_id: net.map(|n| n.uuid.clone()),
                        mac_address: Some(nic.mac.clone()),
                        ip_address: ip,
                        compute_node: node.clone(),
                        pci: pci.map(str::to_owned),
                        vlan: net.and_then(|n| n.vlan),
                        vim_info: None,
                    }
                })
                .collect();
            let status = match (d.running, waiting) {
                (true, false) => ItemStatus::Active,
                (true, true) => ItemStatus::Build,
                (false, _) => ItemStatus::Inactive,
            };
            let report = VmReport {
                status,
                error_msg: (!d.running).then(|| format!("domain {} is shut off", d.name)),
                vim_info: Some(
                    serde_json::json!({"name": d.name, "running": d.running}).to_string(),
                ),
                interfaces,
                seen: Seen::default(),
            };
            out.insert(d.uuid, report);
        }
        Ok(out)
    }

    async fn list_tagged(&self) -> Result<Vec<TaggedElement>, VimError> {
        let mine = |m: &Marks| m.installation.as_deref() == Some(self.installation.as_str());
        let nets = self
            .all_networks()
            .await?
            .into_iter()
            .filter(|n| mine(&n.marks))
            .map(|n| TaggedElement {
                kind: ElementKind::Net,
                name: n.display_name().to_owned(),
                vim_id: n.uuid,
                token: n.marks.token,
                created_at: None,
            });
        let vms = self
            .all_domains()
            .await?
            .into_iter()
            .filter(|d| mine(&d.marks))
            .map(|d| TaggedElement {
                kind: ElementKind::Vm,
                name: d.display_name().to_owned(),
                vim_id: d.uuid,
                token: d.marks.token,
                created_at: None,
            });
        Ok(nets.chain(vms.collect::<Vec<_>>()).collect())
    }

    async fn adopt(
        &self,
        kind: ItemKind,
        filter: &FindFilter,
        token: &str,
    ) -> Result<TokenMatch, VimError> {
        let gone = |id: &str| VimError::NotFound(format!("{kind} {id} went while adopting it"));
        if kind == ItemKind::Vm {
            let domains = self.all_domains().await?;
            let ids = domains
                .iter()
                .filter(|d| matches_filter(filter, &d.uuid, &d.name, d.title.as_deref()))
                .map(|d| d.uuid.clone())
                .collect();
            let id = one_match(kind, filter, ids)?;
            let d = domains
                .into_iter()
                .find(|d| d.uuid == id)
                .ok_or_else(|| gone(&id))?;
            self.set_marks(kind, Target::Domain(&d), token).await?;
            return Ok(found(d.uuid.clone(), d.macs()));
        }
        let nets = self.all_networks().await?;
        let ids = nets
            .iter()
            .filter(|n| matches_filter(filter, &n.uuid, &n.name, n.title.as_deref()))
            .map(|n| n.uuid.clone())
            .collect();
        let id = one_match(kind, filter, ids)?;
        let n = nets
            .into_iter()
            .find(|n| n.uuid == id)
            .ok_or_else(|| gone(&id))?;
        let active = self.active_networks().await?.contains(&id);
        self.set_marks(kind, Target::Network(&n, active), token)
            .await?;
        Ok(found(n.uuid, Vec::new()))
    }

    async fn find_by_token(
        &self,
        kind: ItemKind,
        token: &str,
    ) -> Result<Option<TokenMatch>, VimError> {
        let ours = |m: &Marks| m.token.as_deref() == Some(token);
        if kind != ItemKind::Vm {
            return Ok(self
                .all_networks()
                .await?
                .into_iter()
                .find(|n| ours(&n.marks))
                .map(|n| found(n.uuid, Vec::new())));
        }
        let Some(d) = self
            .all_domains()
            .await?
            .into_iter()
            .find(|d| ours(&d.marks))
        else {
            return Ok(None);
        };
        // A create that stopped between the domain's definition and its start is completed.
        if !d.running && d.marks.start {
            self.start_domain(&d.uuid).await?;
        }
        Ok(Some(found(d.uuid.clone(), d.macs())))
    }
}
