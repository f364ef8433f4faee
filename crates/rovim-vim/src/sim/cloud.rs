//! The simulated cloud itself: in-memory nets, VMs and ports behind one mutex, with the fault
//! knobs applied at the door of every call. Time is tokio's, so tests with paused time drive
//! BUILD → ACTIVE and rate limits deterministically.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rovim_core::CreatedKind;
use rovim_core::{
    CreatedItem, FindFilter, InterfaceType, ItemKind, ItemStatus, NetParams, NetType, Owned, Seen,
};
use serde::Serialize;
use tokio::time::Instant;

use super::settings::SimSettings;
use crate::connector::{
    CreateFailure, Created, ElementKind, InterfaceReport, NetReport, TaggedElement, TokenMatch,
    VimNet, VmCreated, VmReport, VmRequest, one_match,
};
use crate::error::VimError;

/// Compute nodes VMs are spread over.
const COMPUTE_NODES: u32 = 4;
/// First VLAN handed out to nets that do not ask for one.
const FIRST_VLAN: u16 = 1000;

/// How many calls of each kind the cloud answered (or refused), for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimCalls {
    pub check: u64,
    pub create_net: u64,
    pub list_nets: u64,
    pub get_net: u64,
    pub delete_net: u64,
    pub refresh_nets: u64,
    pub create_vm: u64,
    pub delete_vm: u64,
    pub refresh_vms: u64,
    pub find_by_token: u64,
    pub list_tagged: u64,
    pub adopt: u64,
    /// Calls refused by a fault knob (unreachable, rate limit, fail rate).
    pub refused: u64,
}

impl SimCalls {
    pub fn total(&self) -> u64 {
        self.check
            + self.create_net
            + self.list_nets
            + self.get_net
            + self.delete_net
            + self.refresh_nets
            + self.create_vm
            + self.delete_vm
            + self.refresh_vms
            + self.find_by_token
            + self.list_tagged
            + self.adopt
    }
}

/// One element of the sim's inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SimElement {
    /// `net`, `vm` or `port`.
    pub kind: String,
    pub vim_id: String,
    pub token: Option<String>,
}

impl SimElement {
    fn new(kind: &str, vim_id: &str, token: Option<&str>) -> SimElement {
        SimElement {
            kind: kind.into(),
            vim_id: vim_id.into(),
            token: token.filter(|t| !t.is_empty()).map(Into::into),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct SimNet {
    id: String,
    name: String,
    net_type: NetType,
    encapsulation: String,
    segmentation_id: u16,
    shared: bool,
    /// Network address and prefix, e.g. 10.0.3.0/24; none for a net without subnet.
    cidr: Option<(IpAddr, u8)>,
    #[serde(skip)]
    next_host: u32,
    #[serde(skip)]
    token: String,
    #[serde(skip)]
    installation: String,
    #[serde(skip)]
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
struct SimPort {
    id: String,
    net_id: String,
    mac: String,
    ip: Option<String>,
    #[serde(rename = "type")]
    iface_type: InterfaceType,
    compute_node: String,
    pci: Option<String>,
    vlan: Option<u16>,
}

#[derive(Debug, Clone, Serialize)]
struct SimVm {
    id: String,
    name: String,
    compute_node: String,
    ports: Vec<String>,
    #[serde(skip)]
    active_at: Instant,
    #[serde(skip)]
    ends_in_error: bool,
    #[serde(skip)]
    token: String,
    #[serde(skip)]
    installation: String,
    #[serde(skip)]
    created_at: DateTime<Utc>,
    flavor_id: String,
    image_id: String,
}

impl SimVm {
    fn status(&self, now: Instant) -> ItemStatus {
        match (now >= self.active_at, self.ends_in_error) {
            (false, _) => ItemStatus::Build,
            (true, false) => ItemStatus::Active,
            (true, true) => ItemStatus::Error,
        }
    }
}

struct State {
    settings: SimSettings,
    rng: StdRng,
    nets: BTreeMap<String, SimNet>,
    vms: BTreeMap<String, SimVm>,
    ports: HashMap<String, SimPort>,
    calls: SimCalls,
    next_vlan: u16,
    next_subnet: u32,
    next_pci: u32,
    /// Token bucket of the rate limit: tokens left and when they were counted.
    bucket: (f64, Instant),
}

enum Op {
    Check,
    CreateNet,
    ListNets,
    GetNet,
    DeleteNet,
    RefreshNets,
    CreateVm,
    DeleteVm,
    RefreshVms,
    FindByToken,
    ListTagged,
    Adopt,
}

/// A simulated cloud. Shared (`Arc`) between the connectors of the engine and the tests that
/// inspect it or change its knobs at run time.
pub struct SimCloud {
    state: Mutex<State>,
}

impl SimCloud {
    pub fn new(settings: SimSettings) -> SimCloud {
        let rng = StdRng::seed_from_u64(settings.seed);
        let burst = settings.rate_limit_qps.unwrap_or(1.0).max(1.0);
        SimCloud {
            state: Mutex::new(State {
                settings,
                rng,
                nets: BTreeMap::new(),
                vms: BTreeMap::new(),
                ports: HashMap::new(),
                calls: SimCalls::default(),
                next_vlan: FIRST_VLAN,
                next_subnet: 0,
                next_pci: 0,
                bucket: (burst, Instant::now()),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that matters
        // to a simulator, so a poisoned lock is simply taken over.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn settings(&self) -> SimSettings {
        self.lock().settings.clone()
    }

    /// Changes the knobs at run time (e.g. make the VIM unreachable in the middle of a test).
    pub fn update_settings(&self, change: impl FnOnce(&mut SimSettings)) {
        change(&mut self.lock().settings);
    }

    pub fn set_unreachable(&self, unreachable: bool) {
        self.update_settings(|s| s.unreachable = unreachable);
    }

    pub fn calls(&self) -> SimCalls {
        self.lock().calls.clone()
    }

    pub fn net_count(&self) -> usize {
        self.lock().nets.len()
    }

    pub fn vm_count(&self) -> usize {
        self.lock().vms.len()
    }

    /// Ports that exist, attached or not (a leak shows here).
    pub fn port_count(&self) -> usize {
        self.lock().ports.len()
    }

    pub fn net_names(&self) -> Vec<String> {
        self.lock().nets.values().map(|n| n.name.clone()).collect()
    }

    pub fn vm_names(&self) -> Vec<String> {
        self.lock().vms.values().map(|v| v.name.clone()).collect()
    }

    /// Every element the VIM holds with the token it carries (a port carries its VM's, none if
    /// no VM holds it): what the invariant checker compares with rovim's database.
    pub fn inventory(&self) -> Vec<SimElement> {
        let st = self.lock();
        let mut out = Vec::new();
        for n in st.nets.values() {
            out.push(SimElement::new("net", &n.id, Some(&n.token)));
        }
        let mut owner: HashMap<&str, &str> = HashMap::new();
        for v in st.vms.values() {
            out.push(SimElement::new("vm", &v.id, Some(&v.token)));
            for p in &v.ports {
                owner.insert(p, &v.token);
            }
        }
        for p in st.ports.values() {
            out.push(SimElement::new(
                "port",
                &p.id,
                owner.get(p.id.as_str()).copied(),
            ));
        }
        out
    }

    /// Removes an element as an operator would, behind rovim's back. Returns whether it existed.
    pub fn delete_behind_back(&self, vim_id: &str) -> bool {
        let mut st = self.lock();
        if let Some(vm) = st.vms.remove(vim_id) {
            for p in vm.ports {
                st.ports.remove(&p);
            }
            return true;
        }
        st.nets.remove(vim_id).is_some()
    }

    /// Changes the IP of a VM's port as a DHCP renewal would (the SDN port must not be re-made).
    pub fn set_port_ip(&self, port_id: &str, ip: &str) -> bool {
        match self.lock().ports.get_mut(port_id) {
            Some(p) => {
                p.ip = Some(ip.to_owned());
                true
            }
            None => false,
        }
    }

    /// Applies the fault knobs in the order a real VIM would: unreachable, then latency, then
    /// rate limit, then transient failure.
    async fn enter(&self, op: Op) -> Result<(), VimError> {
        let latency = {
            let mut st = self.lock();
            if st.settings.unreachable {
                st.calls.refused += 1;
                return Err(VimError::Connection("sim VIM is unreachable".into()));
            }
            Duration::from_millis(st.settings.latency_ms)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let mut st = self.lock();
        if st.settings.unreachable {
            // The VIM went away while the request was on its way.
            st.calls.refused += 1;
            return Err(VimError::Connection("sim VIM is unreachable".into()));
        }
        if let Some(qps) = st.settings.rate_limit_qps {
            let now = Instant::now();
            let (tokens, since) = st.bucket;
            let refilled =
                (tokens + now.duration_since(since).as_secs_f64() * qps).min(qps.max(1.0));
            if refilled < 1.0 {
                st.bucket = (refilled, now);
                st.calls.refused += 1;
                let wait = Duration::from_secs_f64((1.0 - refilled) / qps);
                return Err(VimError::RateLimited {
                    retry_after: Some(wait),
                });
            }
            st.bucket = (refilled - 1.0, now);
        }
        let fail_rate = st.settings.fail_rate;
        if fail_rate > 0.0 && st.rng.random::<f64>() < fail_rate {
            st.calls.refused += 1;
            return Err(VimError::UnexpectedResponse(
                "sim VIM: 503 Service Unavailable (fail_rate)".into(),
            ));
        }
        let c = &mut st.calls;
        *match op {
            Op::Check => &mut c.check,
            Op::CreateNet => &mut c.create_net,
            Op::ListNets => &mut c.list_nets,
            Op::GetNet => &mut c.get_net,
            Op::DeleteNet => &mut c.delete_net,
            Op::RefreshNets => &mut c.refresh_nets,
            Op::CreateVm => &mut c.create_vm,
            Op::DeleteVm => &mut c.delete_vm,
            Op::RefreshVms => &mut c.refresh_vms,
            Op::FindByToken => &mut c.find_by_token,
            Op::ListTagged => &mut c.list_tagged,
            Op::Adopt => &mut c.adopt,
        } += 1;
        Ok(())
    }

    pub async fn check_connectivity(&self) -> Result<(), VimError> {
        self.enter(Op::Check).await
    }

    pub async fn create_net(
        &self,
        params: &NetParams,
        token: &str,
        installation: &str,
    ) -> Result<Created, CreateFailure> {
        self.enter(Op::CreateNet).await?;
        let made = self.create_net_now(params, token, installation)?;
        self.stall_after_create().await;
        Ok(made)
    }

    /// Holds a create's answer back after it took effect (the `stall_after_create_ms` knob).
    async fn stall_after_create(&self) {
        let stall = self.lock().settings.stall_after_create_ms;
        if stall > 0 {
            tokio::time::sleep(Duration::from_millis(stall)).await;
        }
    }

    fn create_net_now(
        &self,
        params: &NetParams,
        token: &str,
        installation: &str,
    ) -> Result<Created, CreateFailure> {
        let mut st = self.lock();
        let id = new_id(&mut st.rng);
        let segmentation_id = match params.vlan {
            Some(v) => v,
            None => {
                st.next_vlan = st.next_vlan.checked_add(1).unwrap_or(FIRST_VLAN);
                st.next_vlan
            }
        };
        let encapsulation = if params.net_type.is_dataplane() {
            st.settings.dataplane_encapsulation.clone()
        } else {
            "vxlan".to_owned()
        };
        let cidr = match params
            .ip_profile
            .as_ref()
            .and_then(|p| p.subnet_address.as_deref())
        {
            Some(text) => {
                Some(parse_cidr(text).map_err(|e| CreateFailure::from(VimError::BadRequest(e)))?)
            }
            None => {
                st.next_subnet += 1;
                let n = st.next_subnet;
                Some((IpAddr::from([10, (n >> 8) as u8, n as u8, 0]), 24))
            }
        };
        let net = SimNet {
            id: id.clone(),
            name: params.name.clone(),
            net_type: params.net_type,
            encapsulation,
            segmentation_id,
            shared: params.shared,
            cidr,
            next_host: 2,
            token: token.to_owned(),
            installation: installation.to_owned(),
            created_at: Utc::now(),
        };
        st.nets.insert(id.clone(), net);
        Ok(Created {
            vim_id: id,
            created_items: Vec::new(),
        })
    }

    pub async fn list_nets(&self, filter: &FindFilter) -> Result<Vec<VimNet>, VimError> {
        self.enter(Op::ListNets).await?;
        let st = self.lock();
        Ok(st
            .nets
            .values()
            .filter(|n| filter.name.as_ref().is_none_or(|x| *x == n.name))
            .filter(|n| filter.id.as_ref().is_none_or(|x| *x == n.id))
            .filter(|n| filter.shared.is_none_or(|x| x == n.shared))
            .map(vim_net)
            .collect())
    }

    pub async fn get_net(&self, vim_id: &str) -> Result<VimNet, VimError> {
        self.enter(Op::GetNet).await?;
        let st = self.lock();
        st.nets
            .get(vim_id)
            .map(vim_net)
            .ok_or_else(|| VimError::NotFound(format!("network {vim_id}")))
    }

    pub async fn delete_net(&self, owned: &Owned) -> Result<(), VimError> {
        self.enter(Op::DeleteNet).await?;
        let mut st = self.lock();
        let Some(id) = owned.vim_id.as_deref() else {
            return Ok(());
        };
        let mut users: Vec<&str> = st
            .ports
            .values()
            .filter(|p| p.net_id == id)
            .map(|p| p.id.as_str())
            .collect();
        if !users.is_empty() && st.nets.contains_key(id) {
            users.sort_unstable();
            return Err(VimError::InUse(format!(
                "network {id} still has {} port(s) in use: {}",
                users.len(),
                users.join(", ")
            )));
        }
        match st.nets.remove(id) {
            Some(_) => Ok(()),
            None => Err(VimError::NotFound(format!("network {id}"))),
        }
    }

    pub async fn refresh_nets(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, NetReport>, VimError> {
        self.enter(Op::RefreshNets).await?;
        let st = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| st.nets.get(id))
            .map(|n| {
                let report = NetReport {
                    status: ItemStatus::Active,
                    error_msg: None,
                    vim_info: serde_json::to_string(n).ok(),
                    seen: Seen {
                        dataplane: Some(n.net_type.is_dataplane()),
                        vlan: Some(u32::from(n.segmentation_id)),
                        ..Seen::default()
                    },
                };
                (n.id.clone(), report)
            })
            .collect())
    }

    /// Makes the ports, then the server; a failure in between deletes the ports again, so a
    /// half-made VM leaves nothing behind (reference 98e909c).
    pub async fn create_vm(
        &self,
        request: &VmRequest,
        token: &str,
        installation: &str,
    ) -> Result<VmCreated, CreateFailure> {
        self.enter(Op::CreateVm).await?;
        let made = self.create_vm_now(request, token, installation)?;
        self.stall_after_create().await;
        Ok(made)
    }

    fn create_vm_now(
        &self,
        request: &VmRequest,
        token: &str,
        installation: &str,
    ) -> Result<VmCreated, CreateFailure> {
        let mut st = self.lock();
        if request.vim_net_ids.len() != request.params.networks.len() {
            return Err(
                VimError::BadRequest("one VIM net id per interface is required".into()).into(),
            );
        }
        let node = st.rng.random_range(0..COMPUTE_NODES);
        let compute_node = format!("sim-compute-{node}");
        let mut ports = Vec::new();
        for (iface, net_id) in request.params.networks.iter().zip(&request.vim_net_ids) {
            let Some(net) = st.nets.get_mut(net_id) else {
                for p in &ports {
                    st.ports.remove(p);
                }
                return Err(VimError::NotFound(format!(
                    "network {net_id} (interface of VM '{}')",
                    request.params.name
                ))
                .into());
            };
            let ip = net.cidr.map(|(base, _)| host_ip(base, net.next_host));
            net.next_host += 1;
            let vlan = iface
                .iface_type
                .is_passthrough()
                .then_some(net.segmentation_id);
            let net_id = net.id.clone();
            let pci = if iface.iface_type.is_passthrough() {
                st.next_pci += 1;
                let n = st.next_pci;
                Some(format!(
                    "0000:{:02x}:{:02x}.{}",
                    0x81 + (n >> 8) % 16,
                    (n >> 3) % 32,
                    n % 8
                ))
            } else {
                None
            };
            let mac = match &iface.mac_address {
                Some(m) => m.to_lowercase(),
                None => {
                    let b: [u8; 3] = st.rng.random();
                    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
                }
            };
            let id = new_id(&mut st.rng);
            let port = SimPort {
                id: id.clone(),
                net_id,
                mac,
                ip,
                iface_type: iface.iface_type,
                compute_node: compute_node.clone(),
                pci,
                vlan,
            };
            st.ports.insert(id.clone(), port);
            ports.push(id);
        }
        let id = new_id(&mut st.rng);
        let build = Duration::from_secs_f64(st.settings.build_seconds);
        let ends_in_error = st.settings.error_vm_names.contains(&request.params.name);
        let vm = SimVm {
            id: id.clone(),
            name: request.params.name.clone(),
            compute_node,
            ports: ports.clone(),
            active_at: Instant::now() + build,
            ends_in_error,
            token: token.to_owned(),
            installation: installation.to_owned(),
            created_at: Utc::now(),
            flavor_id: request.params.flavor_id.clone(),
            image_id: request.params.image_id.clone(),
        };
        st.vms.insert(id.clone(), vm);
        let created_items = ports
            .iter()
            .map(|p| CreatedItem {
                kind: CreatedKind::Port,
                id: p.clone(),
            })
            .collect();
        Ok(VmCreated {
            created: Created {
                vim_id: id,
                created_items,
            },
            interface_ids: ports,
        })
    }

    pub async fn delete_vm(&self, owned: &Owned) -> Result<(), VimError> {
        self.enter(Op::DeleteVm).await?;
        let mut st = self.lock();
        let vm = owned.vim_id.as_deref().and_then(|id| st.vms.remove(id));
        let mut ports: Vec<String> = owned
            .created_items
            .iter()
            .filter(|c| c.kind == CreatedKind::Port)
            .map(|c| c.id.clone())
            .collect();
        if let Some(vm) = &vm {
            ports.extend(vm.ports.iter().cloned());
        }
        for p in ports {
            st.ports.remove(&p);
        }
        match (&owned.vim_id, vm) {
            (Some(id), None) => Err(VimError::NotFound(format!("server {id}"))),
            _ => Ok(()),
        }
    }

    pub async fn refresh_vms(&self, ids: &[String]) -> Result<HashMap<String, VmReport>, VimError> {
        self.enter(Op::RefreshVms).await?;
        let st = self.lock();
        let now = Instant::now();
        Ok(ids
            .iter()
            .filter_map(|id| st.vms.get(id))
            .map(|vm| {
                let status = vm.status(now);
                let error_msg = (status == ItemStatus::Error)
                    .then(|| format!("sim VIM: VM '{}' failed to boot (error_vm_names)", vm.name));
                let interfaces = vm
                    .ports
                    .iter()
                    .filter_map(|p| st.ports.get(p))
                    .map(interface_report)
                    .collect();
                let report = VmReport {
                    status,
                    error_msg,
                    vim_info: serde_json::to_string(vm).ok(),
                    interfaces,
                    seen: Seen {
                        flavor: Some(vm.flavor_id.clone()),
                        image: Some(vm.image_id.clone()),
                        ..Seen::default()
                    },
                };
                (vm.id.clone(), report)
            })
            .collect())
    }

    /// Every net, VM and VM port marked with `installation`.
    pub async fn list_tagged(&self, installation: &str) -> Result<Vec<TaggedElement>, VimError> {
        self.enter(Op::ListTagged).await?;
        let st = self.lock();
        let mut out = Vec::new();
        for n in st.nets.values().filter(|n| n.installation == installation) {
            out.push(tagged(
                ElementKind::Net,
                &n.id,
                &n.name,
                &n.token,
                n.created_at,
            ));
        }
        for v in st.vms.values().filter(|v| v.installation == installation) {
            out.push(tagged(
                ElementKind::Vm,
                &v.id,
                &v.name,
                &v.token,
                v.created_at,
            ));
            for p in v.ports.iter().filter(|p| st.ports.contains_key(*p)) {
                out.push(tagged(ElementKind::Port, p, "", &v.token, v.created_at));
            }
        }
        Ok(out)
    }

    /// Marks the one net or VM `filter` names with `token` and `installation` (ADOPT).
    pub async fn adopt(
        &self,
        kind: ItemKind,
        filter: &FindFilter,
        token: &str,
        installation: &str,
    ) -> Result<TokenMatch, VimError> {
        self.enter(Op::Adopt).await?;
        let mut st = self.lock();
        let matches = |id: &str, name: &str| {
            filter.id.as_deref().is_none_or(|x| x == id)
                && filter.name.as_deref().is_none_or(|x| x == name)
        };
        let ids: Vec<String> = match kind {
            ItemKind::Net => st
                .nets
                .values()
                .filter(|n| matches(&n.id, &n.name))
                .map(|n| n.id.clone())
                .collect(),
            ItemKind::Vm => st
                .vms
                .values()
                .filter(|v| matches(&v.id, &v.name))
                .map(|v| v.id.clone())
                .collect(),
        };
        let id = one_match(kind, filter, ids)?;
        match kind {
            ItemKind::Net => {
                let n = st.nets.get_mut(&id).expect("matched above");
                n.token = token.to_owned();
                n.installation = installation.to_owned();
            }
            ItemKind::Vm => {
                let v = st.vms.get_mut(&id).expect("matched above");
                v.token = token.to_owned();
                v.installation = installation.to_owned();
            }
        }
        drop(st);
        Ok(self.token_match(kind, token).expect("tagged above"))
    }

    /// Changes a VM's flavor or a net's VLAN as an operator would, behind rovim's back
    /// (what drift detection must notice). Returns whether the element exists.
    pub fn change_behind_back(
        &self,
        vim_id: &str,
        flavor: Option<&str>,
        vlan: Option<u16>,
    ) -> bool {
        let mut st = self.lock();
        if let Some(vm) = st.vms.get_mut(vim_id) {
            if let Some(f) = flavor {
                vm.flavor_id = f.to_owned();
            }
            return true;
        }
        if let Some(net) = st.nets.get_mut(vim_id) {
            if let Some(v) = vlan {
                net.segmentation_id = v;
            }
            return true;
        }
        false
    }

    /// Adds a VM made by someone else (no token, no installation mark), for ADOPT.
    pub fn add_foreign_vm(&self, name: &str, flavor: &str, image: &str) -> String {
        let mut st = self.lock();
        let id = new_id(&mut st.rng);
        let vm = SimVm {
            id: id.clone(),
            name: name.to_owned(),
            compute_node: "sim-compute-0".into(),
            ports: Vec::new(),
            active_at: Instant::now(),
            ends_in_error: false,
            token: String::new(),
            installation: String::new(),
            created_at: Utc::now(),
            flavor_id: flavor.to_owned(),
            image_id: image.to_owned(),
        };
        st.vms.insert(id.clone(), vm);
        id
    }

    pub async fn find_by_token(
        &self,
        kind: ItemKind,
        token: &str,
    ) -> Result<Option<TokenMatch>, VimError> {
        self.enter(Op::FindByToken).await?;
        Ok(self.token_match(kind, token))
    }

    fn token_match(&self, kind: ItemKind, token: &str) -> Option<TokenMatch> {
        let st = self.lock();
        match kind {
            ItemKind::Net => st
                .nets
                .values()
                .find(|n| n.token == token)
                .map(|n| TokenMatch {
                    created: Created {
                        vim_id: n.id.clone(),
                        created_items: Vec::new(),
                    },
                    interface_ids: Vec::new(),
                }),
            ItemKind::Vm => st
                .vms
                .values()
                .find(|v| v.token == token)
                .map(|v| TokenMatch {
                    created: Created {
                        vim_id: v.id.clone(),
                        created_items: v
                            .ports
                            .iter()
                            .map(|p| CreatedItem {
                                kind: CreatedKind::Port,
                                id: p.clone(),
                            })
                            .collect(),
                    },
                    interface_ids: v.ports.clone(),
                }),
        }
    }
}

fn tagged(
    kind: ElementKind,
    id: &str,
    name: &str,
    token: &str,
    created_at: DateTime<Utc>,
) -> TaggedElement {
    TaggedElement {
        kind,
        vim_id: id.to_owned(),
        name: name.to_owned(),
        token: Some(token.to_owned()).filter(|t| !t.is_empty()),
        created_at: Some(created_at),
    }
}

fn new_id(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

fn vim_net(n: &SimNet) -> VimNet {
    VimNet {
        id: n.id.clone(),
        name: n.name.clone(),
        status: ItemStatus::Active,
        net_type: n.net_type,
        encapsulation: Some(n.encapsulation.clone()),
        segmentation_id: Some(u32::from(n.segmentation_id)),
        shared: n.shared,
        error_msg: None,
    }
}

fn interface_report(p: &SimPort) -> InterfaceReport {
    InterfaceReport {
        vim_interface_id: p.id.clone(),
        vim_net_id: Some(p.net_id.clone()),
        mac_address: Some(p.mac.clone()),
        ip_address: p.ip.clone(),
        compute_node: Some(p.compute_node.clone()),
        pci: p.pci.clone(),
        vlan: p.vlan,
        vim_info: serde_json::to_string(p).ok(),
    }
}

fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let bad =
        || format!("ip_profile.subnet_address: '{text}' is not an address/prefix like 10.0.0.0/24");
    let (addr, len) = text.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(bad());
    }
    Ok((addr, len))
}

fn host_ip(base: IpAddr, host: u32) -> String {
    match base {
        IpAddr::V4(a) => std::net::Ipv4Addr::from(u32::from(a).wrapping_add(host)).to_string(),
        IpAddr::V6(a) => {
            std::net::Ipv6Addr::from(u128::from(a).wrapping_add(u128::from(host))).to_string()
        }
    }
}
