//! VMs on OpenStack: Neutron ports (tagged with rovim's token, SR-IOV vnic types) and a Nova
//! server on them, created with rovim's token and installation as server tags (and metadata, for
//! people). Every compute call states microversion [`COMPUTE_MICROVERSION`]. Refresh lists the
//! servers in one paginated call and reads their interfaces from Neutron's ports (MAC, IP,
//! binding host, PCI slot); lookups by token are one tag-filtered listing.

use std::collections::{HashMap, HashSet};

use reqwest::Method;
use rovim_core::CreatedKind;
use rovim_core::{CreatedItem, FindFilter, InterfaceType, ItemKind, ItemStatus, Owned, Seen};
use serde_json::{Value, json};

use super::connector::{
    OpenStackConnector, created_at, installation_tag, neutron_path, path_with_query, retagged,
    token_of, token_tag,
};
use super::paging::{End, Listing};
use crate::connector::{
    CreateFailure, Created, ElementKind, InterfaceReport, TaggedElement, TokenMatch, VmCreated,
    VmReport, VmRequest, one_match,
};
use crate::error::VimError;

/// The server metadata key that carries rovim's token (shown to people; lookups use the tags).
pub const TOKEN_METADATA: &str = "rovim-token";
/// The server metadata key that carries the rovim installation's id.
pub const INSTALLATION_METADATA: &str = "rovim-installation";
/// The compute API microversion rovim states on every Nova call: 2.52 creates a server with its
/// tags, so the token is on it from its first moment (2.26 filters servers by tag). Nova has
/// offered it since OpenStack Queens (2018).
pub const COMPUTE_MICROVERSION: &str = "2.52";
/// Nova's largest page (`osapi_max_limit`'s default).
const NOVA_MAX_PAGE: usize = 1000;

impl OpenStackConnector {
    /// Ports first, then the server on them. A refused server deletes the ports again; a server
    /// whose fate is unknown (no answer, 5xx) keeps them: Nova may have it on them, and the
    /// retry finds it by token or, when there is none, reuses them (they carry the token).
    pub(super) async fn create_server(
        &self,
        request: &VmRequest,
        token: &str,
    ) -> Result<VmCreated, CreateFailure> {
        let project = self.keystone().session().await?.project_id;
        let p = &request.params;
        let earlier = self.ports_of_token(token).await?;
        let mut ports: Vec<String> = Vec::new();
        let mut reused = false;
        for (i, (iface, net)) in p.networks.iter().zip(&request.vim_net_ids).enumerate() {
            let name = format!("{}-{i}", p.name);
            let reusable = earlier.iter().find(|port| {
                port["name"].as_str() == Some(name.as_str())
                    && port["network_id"].as_str() == Some(net.as_str())
                    && port["device_id"].as_str().is_none_or(str::is_empty)
                    && !ports
                        .iter()
                        .any(|id| port["id"].as_str() == Some(id.as_str()))
            });
            if let Some(id) = reusable.and_then(|port| port["id"].as_str()) {
                ports.push(id.to_owned());
                reused = true;
                continue;
            }
            let vnic = match iface.iface_type {
                InterfaceType::Virtual => "normal",
                InterfaceType::PF => "direct-physical",
                InterfaceType::VF | InterfaceType::VFnotShared => "direct",
            };
            let mut port = json!({"network_id": net, "project_id": project, "name": name,
                                  "binding:vnic_type": vnic, "port_security_enabled": iface.port_security});
            if let Some(mac) = &iface.mac_address {
                port["mac_address"] = json!(mac);
            }
            let id = match self
                .neutron_call(Method::POST, "/v2.0/ports", Some(&json!({"port": port})))
                .await
            {
                Ok(v) => match v["port"]["id"].as_str() {
                    Some(id) => id.to_owned(),
                    None => {
                        return Err(self
                            .undo_ports(
                                &ports,
                                VimError::UnexpectedResponse("Neutron: no port id".into()),
                            )
                            .await);
                    }
                },
                Err(e) => return Err(self.undo_ports(&ports, e).await),
            };
            ports.push(id.clone());
            if let Err(e) = self.tag_new("ports", &id, token).await {
                return Err(self.undo_ports(&ports, e).await);
            }
        }
        let networks = if ports.is_empty() {
            // Since 2.37 a server without interfaces says so.
            json!("none")
        } else {
            json!(
                ports
                    .iter()
                    .map(|id| json!({"port": id}))
                    .collect::<Vec<_>>()
            )
        };
        let mut server = json!({"name": p.name, "imageRef": p.image_id, "flavorRef": p.flavor_id,
            "networks": networks,
            "tags": [token_tag(token), installation_tag(self.installation())],
            "metadata": {TOKEN_METADATA: token, INSTALLATION_METADATA: self.installation()}});
        if let Some(az) = &p.availability_zone {
            server["availability_zone"] = json!(az);
        }
        if let Some(cloud) = &p.cloud_config {
            let text = match cloud {
                Value::String(s) => s.clone(),
                other => format!("#cloud-config\n{other}"),
            };
            server["user_data"] = json!(base64(text.as_bytes()));
        }
        let made = match self
            .compute(Method::POST, "/servers", Some(&json!({"server": server})))
            .await
        {
            Ok(v) => v,
            Err(error) if error.is_retryable() => {
                return Err(CreateFailure {
                    error,
                    leftover: ports_kept(&ports),
                });
            }
            Err(VimError::Conflict(m)) if reused && m.contains("is still in use") => {
                return self.port_taken_by_earlier_try(token, &ports, m).await;
            }
            Err(e) => return Err(self.undo_ports(&ports, e).await),
        };
        let Some(id) = made["server"]["id"].as_str().map(str::to_owned) else {
            return Err(self
                .undo_ports(
                    &ports,
                    VimError::UnexpectedResponse("Nova: no server id".into()),
                )
                .await);
        };
        Ok(VmCreated {
            created: Created {
                vim_id: id,
                created_items: port_items(&ports),
            },
            interface_ids: ports,
        })
    }

    /// Nova refused the server because a port an earlier try left was taken meanwhile: that
    /// try's create reached Nova after all (its answer was lost, and the lookup before this
    /// retry came before Nova listed it), and its server is this VM. The ports are never
    /// deleted here: they are that server's.
    async fn port_taken_by_earlier_try(
        &self,
        token: &str,
        ports: &[String],
        refusal: String,
    ) -> Result<VmCreated, CreateFailure> {
        match self.find_server(token).await {
            Ok(Some(found)) => Ok(VmCreated {
                created: found.created,
                interface_ids: found.interface_ids,
            }),
            Ok(None) | Err(_) => Err(CreateFailure {
                error: VimError::Busy(format!(
                    "{refusal} (a port an earlier try made for this VM; its server is looked up \
                     again at the retry)"
                )),
                leftover: ports_kept(ports),
            }),
        }
    }

    /// A compute API call at [`COMPUTE_MICROVERSION`]; the JSON body of its answer.
    pub(super) async fn compute(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, VimError> {
        let version = format!("compute {COMPUTE_MICROVERSION}");
        let headers = [
            ("openstack-api-version", version.as_str()),
            ("x-openstack-nova-api-version", COMPUTE_MICROVERSION),
        ];
        self.keystone()
            .call_with("compute", method, path, body, &headers)
            .await
            .map(|(_, v)| v)
    }

    /// Refuses a Nova too old for [`COMPUTE_MICROVERSION`], naming what it offers.
    pub(super) async fn check_compute_version(&self) -> Result<(), VimError> {
        let v = self.compute(Method::GET, "/", None).await?;
        let max = v["version"]["version"].as_str().unwrap_or_default();
        if supports(max, COMPUTE_MICROVERSION) {
            return Ok(());
        }
        let offered = if max.is_empty() { "none" } else { max };
        Err(VimError::NotSupported(format!(
            "Nova offers compute microversions up to {offered}; rovim needs {COMPUTE_MICROVERSION} \
             (OpenStack Queens or later)"
        )))
    }

    /// The Neutron ports carrying this token (an earlier try's, or a server's).
    async fn ports_of_token(&self, token: &str) -> Result<Vec<Value>, VimError> {
        let tag = token_tag(token);
        let v = self
            .neutron_call(
                Method::GET,
                &neutron_path("ports", [("tags", tag.as_str())]),
                None,
            )
            .await?;
        Ok(v["ports"].as_array().cloned().unwrap_or_default())
    }

    /// Deletes ports of a failed VM create; returns the error, with what stays as leftover.
    async fn undo_ports(&self, ports: &[String], error: VimError) -> CreateFailure {
        let mut left = Vec::new();
        for p in ports {
            match self
                .neutron_call(Method::DELETE, &format!("/v2.0/ports/{p}"), None)
                .await
            {
                Ok(_) | Err(VimError::NotFound(_)) => {}
                Err(_) => left.push(CreatedItem {
                    kind: CreatedKind::Port,
                    id: p.clone(),
                }),
            }
        }
        let leftover = Owned {
            vim_id: None,
            created_items: left,
        }
        .non_empty();
        CreateFailure { error, leftover }
    }

    pub(super) async fn delete_server(&self, owned: &Owned) -> Result<(), VimError> {
        let mut gone = None;
        if let Some(id) = &owned.vim_id {
            match self
                .compute(Method::DELETE, &format!("/servers/{id}"), None)
                .await
            {
                Ok(_) => {}
                Err(VimError::NotFound(m)) => gone = Some(m),
                Err(e) => return Err(e),
            }
        }
        for port in owned
            .created_items
            .iter()
            .filter(|c| c.kind == CreatedKind::Port)
        {
            match self
                .neutron_call(Method::DELETE, &format!("/v2.0/ports/{}", port.id), None)
                .await
            {
                Ok(_) | Err(VimError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        match gone {
            Some(m) if owned.created_items.is_empty() => Err(VimError::NotFound(m)),
            _ => Ok(()),
        }
    }

    /// The servers of the project matching `query` (every one when empty), with their details,
    /// page by page until an empty page (see [`End::EmptyPage`]).
    async fn servers(&self, query: &[(&str, &str)]) -> Result<Vec<Value>, VimError> {
        let limit = self.list_page_size().min(NOVA_MAX_PAGE).to_string();
        let mut listing = Listing::new(End::EmptyPage);
        loop {
            let path = path_with_query(
                "/servers/detail",
                query
                    .iter()
                    .copied()
                    .chain([("limit", limit.as_str())])
                    .chain(listing.marker().map(|m| ("marker", m))),
            );
            match self.compute(Method::GET, &path, None).await {
                Ok(v) => {
                    let page = v["servers"].as_array().cloned().unwrap_or_default();
                    if !listing.take(page) {
                        return Ok(listing.into_items());
                    }
                }
                Err(e) if marker_lost(&e) && listing.marker_lost() => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Flavor names to ids: since microversion 2.47 a server shows its flavor's name, not its id.
    async fn flavor_ids(&self) -> Result<HashMap<String, String>, VimError> {
        let v = self
            .compute(Method::GET, "/flavors?is_public=None", None)
            .await?;
        Ok(v["flavors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f["name"].as_str()?.to_owned(), f["id"].as_str()?.to_owned())))
            .collect())
    }

    pub(super) async fn refresh_servers(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, VmReport>, VimError> {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut servers: Vec<Value> = self
            .servers(&[])
            .await?
            .into_iter()
            .filter(|s| s["id"].as_str().is_some_and(|i| wanted.contains(i)))
            .collect();
        // Gone means gone: a server the listing missed is asked for by id before it is
        // reported missing (and then DELETED).
        let listed: HashSet<String> = servers
            .iter()
            .filter_map(|s| s["id"].as_str().map(str::to_owned))
            .collect();
        for id in wanted.iter().filter(|id| !listed.contains(**id)) {
            servers.extend(self.server(id).await?);
        }
        let flavors = if servers.iter().any(|s| s["flavor"]["id"].is_null()) {
            self.flavor_ids().await?
        } else {
            HashMap::new()
        };
        let mut ports_by_server: HashMap<String, Vec<Value>> = HashMap::new();
        for chunk in servers.chunks(100) {
            let ids = chunk.iter().filter_map(|s| s["id"].as_str());
            let path = neutron_path("ports", ids.map(|id| ("device_id", id)));
            let v = self.neutron_call(Method::GET, &path, None).await?;
            for port in v["ports"].as_array().into_iter().flatten() {
                if let Some(dev) = port["device_id"].as_str() {
                    ports_by_server
                        .entry(dev.to_owned())
                        .or_default()
                        .push(port.clone());
                }
            }
        }
        let mut out = HashMap::with_capacity(servers.len());
        for s in servers {
            let Some(id) = s["id"].as_str().map(str::to_owned) else {
                continue;
            };
            let status = server_status(s["status"].as_str().unwrap_or(""));
            let error_msg = s["fault"]["message"].as_str().map(str::to_owned);
            let interfaces = ports_by_server
                .remove(&id)
                .unwrap_or_default()
                .iter()
                .map(port_report)
                .collect();
            out.insert(
                id,
                VmReport {
                    status,
                    error_msg,
                    vim_info: Some(s.to_string()),
                    interfaces,
                    seen: server_seen(&s, &flavors),
                },
            );
        }
        Ok(out)
    }

    /// The servers carrying this installation's tag: one tag-filtered listing. A server Nova is
    /// deleting is left out: its deletion has been asked for (a sweep would otherwise list it
    /// again and ask twice); should Nova fail to delete it, it comes back in ERROR, listed.
    pub(super) async fn tagged_servers(&self) -> Result<Vec<TaggedElement>, VimError> {
        let mine = installation_tag(self.installation());
        Ok(self
            .servers(&[("tags", mine.as_str())])
            .await?
            .into_iter()
            .filter(|s| !being_deleted(s))
            .map(|s| TaggedElement {
                kind: ElementKind::Vm,
                vim_id: s["id"].as_str().unwrap_or_default().to_owned(),
                name: s["name"].as_str().unwrap_or_default().to_owned(),
                token: token_of(&s),
                created_at: created_at(&s["created"]),
            })
            .collect())
    }

    /// ADOPT of a server: its tags (other tags kept, older rovim tags replaced), its metadata
    /// and its ports get rovim's token and installation.
    pub(super) async fn adopt_server(
        &self,
        filter: &FindFilter,
        token: &str,
    ) -> Result<TokenMatch, VimError> {
        let candidates = match (&filter.id, &filter.name) {
            (Some(id), _) => self.server(id).await?.into_iter().collect(),
            // Nova's `name` filter is a regular expression: the exact name is checked here.
            (None, Some(name)) => self.servers(&[("name", &regex_literal(name))]).await?,
            (None, None) => self.servers(&[]).await?,
        };
        let ids = candidates
            .into_iter()
            .filter(|s| {
                filter
                    .name
                    .as_deref()
                    .is_none_or(|n| s["name"].as_str() == Some(n))
            })
            .filter_map(|s| s["id"].as_str().map(str::to_owned))
            .collect();
        let id = one_match(ItemKind::Vm, filter, ids)?;
        let path = format!("/servers/{id}/tags");
        let current = self.compute(Method::GET, &path, None).await?;
        let tags = retagged(&current, token, self.installation());
        self.compute(Method::PUT, &path, Some(&json!({ "tags": tags })))
            .await?;
        let meta = json!({"metadata": {TOKEN_METADATA: token, INSTALLATION_METADATA: self.installation()}});
        self.compute(
            Method::POST,
            &format!("/servers/{id}/metadata"),
            Some(&meta),
        )
        .await?;
        let ports = self.bound_ports(&id).await?;
        for p in &ports {
            self.tag_existing("ports", p, token).await?;
        }
        Ok(token_match(id, ports))
    }

    /// The server `id` with its details, `None` when Nova has no such server.
    async fn server(&self, id: &str) -> Result<Option<Value>, VimError> {
        match self
            .compute(Method::GET, &format!("/servers/{id}"), None)
            .await
        {
            Ok(v) => Ok(Some(v["server"].clone())),
            Err(VimError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The ports Nova bound to the server `id`.
    async fn bound_ports(&self, id: &str) -> Result<Vec<String>, VimError> {
        let path = neutron_path("ports", [("device_id", id)]);
        let v = self.neutron_call(Method::GET, &path, None).await?;
        Ok(port_ids(v["ports"].as_array().into_iter().flatten()))
    }

    pub(super) async fn find_server(&self, token: &str) -> Result<Option<TokenMatch>, VimError> {
        let tag = token_tag(token);
        let found = self.servers(&[("tags", tag.as_str())]).await?;
        let Some(server) = found.first() else {
            return Ok(None);
        };
        let id = server["id"].as_str().unwrap_or_default().to_owned();
        // The server's ports: those Nova bound to it, else (not bound yet) those with the token tag.
        let mut ports = self.bound_ports(&id).await?;
        if ports.is_empty() {
            ports = port_ids(&self.ports_of_token(token).await?);
        }
        Ok(Some(token_match(id, ports)))
    }
}

/// Whether a page asked from a marker failed because Nova lost that server meanwhile: a 400
/// "marker … not found" when it was deleted, or a 500 (Nova 34: an AttributeError in
/// `get_marker_record`, whose instance mapping has no cell) when it was deleted while still a
/// build request, between being listed on one page and asked as the next page's marker. Both
/// were seen with servers made and deleted next to a listing.
fn marker_lost(e: &VimError) -> bool {
    match e {
        VimError::BadRequest(m) => m.contains("marker"),
        VimError::UnexpectedResponse(_) => true,
        _ => false,
    }
}

/// The ids of Neutron ports.
fn port_ids<'a>(ports: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    ports
        .into_iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect()
}

/// A VM found or adopted: the server and its ports, which are rovim's to delete with it.
fn token_match(vim_id: String, ports: Vec<String>) -> TokenMatch {
    TokenMatch {
        created: Created {
            vim_id,
            created_items: port_items(&ports),
        },
        interface_ids: ports,
    }
}

/// Ports as the created items of a VM (deleted with it).
fn port_items(ports: &[String]) -> Vec<CreatedItem> {
    ports
        .iter()
        .map(|p| CreatedItem {
            kind: CreatedKind::Port,
            id: p.clone(),
        })
        .collect()
}

/// The ports of a create whose server's fate is unknown, kept as its leftover: that server
/// may be on them, and a retry reuses them or a DELETE removes them.
fn ports_kept(ports: &[String]) -> Option<Owned> {
    Owned {
        vim_id: None,
        created_items: port_items(ports),
    }
    .non_empty()
}

/// Whether a Nova whose largest microversion is `max` ("2.104") offers `needed` ("2.52").
fn supports(max: &str, needed: &str) -> bool {
    let parse = |v: &str| -> Option<(u32, u32)> {
        let (major, minor) = v.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    matches!((parse(max), parse(needed)), (Some(m), Some(n)) if m >= n)
}

/// A name as a regular expression matching it and only it (Nova's `name` filter is one).
fn regex_literal(name: &str) -> String {
    format!("^{}$", regex_syntax::escape(name))
}

/// A server's flavor (its id; since microversion 2.47 Nova shows the name, mapped back through
/// `flavors`) and image (none for a server booted from a volume).
fn server_seen(s: &Value, flavors: &HashMap<String, String>) -> Seen {
    let flavor = &s["flavor"];
    Seen {
        flavor: flavor["id"]
            .as_str()
            .or_else(|| {
                let name = flavor["original_name"].as_str()?;
                Some(flavors.get(name).map_or(name, String::as_str))
            })
            .map(str::to_owned),
        image: s["image"]["id"].as_str().map(str::to_owned),
        ..Seen::default()
    }
}

/// Nova server statuses (spec §2.4: SHUTOFF → INACTIVE; DELETED → DELETED).
pub fn server_status(text: &str) -> ItemStatus {
    match text {
        "ACTIVE" => ItemStatus::Active,
        "BUILD" | "REBUILD" | "REBOOT" | "HARD_REBOOT" | "RESIZE" | "VERIFY_RESIZE"
        | "MIGRATING" => ItemStatus::Build,
        "SHUTOFF" => ItemStatus::Inactive,
        "PAUSED" => ItemStatus::Paused,
        "SUSPENDED" => ItemStatus::Suspended,
        "ERROR" => ItemStatus::Error,
        "DELETED" | "SOFT_DELETED" => ItemStatus::Deleted,
        _ => ItemStatus::Other,
    }
}

/// A Neutron port as an interface: MAC, first fixed IP, network, the host it is bound to as
/// compute node, PCI slot and VLAN from the binding profile.
fn port_report(p: &Value) -> InterfaceReport {
    let s = |v: &Value| v.as_str().filter(|x| !x.is_empty()).map(str::to_owned);
    InterfaceReport {
        vim_interface_id: s(&p["id"]).unwrap_or_default(),
        vim_net_id: s(&p["network_id"]),
        mac_address: s(&p["mac_address"]),
        ip_address: p["fixed_ips"]
            .as_array()
            .and_then(|f| f.first())
            .and_then(|f| s(&f["ip_address"])),
        compute_node: s(&p["binding:host_id"]),
        pci: s(&p["binding:profile"]["pci_slot"]),
        vlan: p["binding:profile"]["vlan"]
            .as_u64()
            .and_then(|v| u16::try_from(v).ok()),
        vim_info: Some(p.to_string()),
    }
}

/// Base64 (standard alphabet, padded), as Nova's `user_data` wants it.
fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Whether Nova is already deleting `server`: its DELETE was accepted (task state `deleting`)
/// or it is soft-deleted, waiting to be reclaimed.
fn being_deleted(server: &Value) -> bool {
    server["OS-EXT-STS:task_state"].as_str() == Some("deleting")
        || matches!(
            server["OS-EXT-STS:vm_state"].as_str(),
            Some("deleted" | "soft_deleted")
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_ports_and_user_data() {
        assert_eq!(server_status("SHUTOFF"), ItemStatus::Inactive);
        assert_eq!(server_status("HARD_REBOOT"), ItemStatus::Build);
        assert_eq!(server_status("SHELVED"), ItemStatus::Other);
        let port = json!({"id": "p1", "network_id": "n1", "mac_address": "fa:16:3e:00:00:01",
            "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}], "binding:host_id": "compute-7",
            "binding:profile": {"pci_slot": "0000:05:00.1", "physical_network": "physnet1"}});
        let r = port_report(&port);
        assert_eq!(
            (
                r.compute_node.as_deref(),
                r.pci.as_deref(),
                r.ip_address.as_deref()
            ),
            (Some("compute-7"), Some("0000:05:00.1"), Some("10.0.0.5"))
        );
        assert_eq!(base64(b"hi!"), "aGkh");
        assert_eq!(base64(b"hi"), "aGk=");
        assert_eq!(base64(b"#cloud-config"), "I2Nsb3VkLWNvbmZpZw==");
    }

    #[test]
    fn a_server_nova_is_deleting_is_told_apart() {
        let server = |vm: &str, task: Value| json!({"id": "s", "OS-EXT-STS:vm_state": vm, "OS-EXT-STS:task_state": task});
        assert!(being_deleted(&server("active", json!("deleting"))));
        assert!(being_deleted(&server("error", json!("deleting"))));
        assert!(being_deleted(&server("soft_deleted", Value::Null)));
        assert!(!being_deleted(&server("active", Value::Null)));
        assert!(!being_deleted(&server("building", json!("spawning"))));
        assert!(!being_deleted(&server("error", Value::Null)));
        assert!(!being_deleted(&json!({"id": "s"})));
    }

    #[test]
    fn microversions_compare_as_numbers() {
        assert!(supports("2.104", "2.52"));
        assert!(supports("2.52", "2.52"));
        assert!(
            !supports("2.42", "2.52"),
            "2.42 < 2.52 although \"42\" > \"104\""
        );
        assert!(!supports("", "2.52"));
    }

    #[test]
    fn names_are_matched_literally_and_flavors_by_id() {
        assert_eq!(regex_literal("vm.a(1)"), "^vm\\.a\\(1\\)$");
        let flavors = HashMap::from([("m1.small".to_owned(), "2".to_owned())]);
        let at_2_52 =
            json!({"flavor": {"original_name": "m1.small", "vcpus": 1}, "image": {"id": "i"}});
        assert_eq!(server_seen(&at_2_52, &flavors).flavor.as_deref(), Some("2"));
        let older = json!({"flavor": {"id": "7"}});
        assert_eq!(server_seen(&older, &flavors).flavor.as_deref(), Some("7"));
    }
}
