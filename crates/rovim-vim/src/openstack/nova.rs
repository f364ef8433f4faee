//! VMs on OpenStack: Neutron ports (tagged with rovim's token, SR-IOV vnic types) and a Nova
//! server on them with the token in its metadata. Refresh lists the servers in one paginated
//! call and reads their interfaces from Neutron's ports (MAC, IP, binding host, PCI slot).

use std::collections::{HashMap, HashSet};

use reqwest::Method;
use rovim_core::CreatedKind;
use rovim_core::{CreatedItem, FindFilter, InterfaceType, ItemKind, ItemStatus, Owned, Seen};
use serde_json::{Value, json};

use super::connector::{OpenStackConnector, created_at, neutron_path, token_tag};
use crate::connector::{
    CreateFailure, Created, ElementKind, InterfaceReport, TaggedElement, TokenMatch, VmCreated,
    VmReport, VmRequest, one_match,
};
use crate::error::VimError;

/// The server metadata key that carries rovim's token.
pub const TOKEN_METADATA: &str = "rovim-token";
/// The server metadata key that carries the rovim installation's id.
pub const INSTALLATION_METADATA: &str = "rovim-installation";

impl OpenStackConnector {
    /// Ports first, then the server on them; a failure deletes the ports again.
    pub(super) async fn create_server(
        &self,
        request: &VmRequest,
        token: &str,
    ) -> Result<VmCreated, CreateFailure> {
        let project = self.keystone().session().await?.project_id;
        let p = &request.params;
        let mut ports: Vec<String> = Vec::new();
        for (i, (iface, net)) in p.networks.iter().zip(&request.vim_net_ids).enumerate() {
            let vnic = match iface.iface_type {
                InterfaceType::Virtual => "normal",
                InterfaceType::PF => "direct-physical",
                InterfaceType::VF | InterfaceType::VFnotShared => "direct",
            };
            let mut port = json!({"network_id": net, "project_id": project, "name": format!("{}-{i}", p.name),
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
        let mut server = json!({"name": p.name, "imageRef": p.image_id, "flavorRef": p.flavor_id,
            "networks": ports.iter().map(|id| json!({"port": id})).collect::<Vec<_>>(),
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
            .keystone()
            .call(
                "compute",
                Method::POST,
                "/servers",
                Some(&json!({"server": server})),
            )
            .await
        {
            Ok((_, v)) => v,
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
                .keystone()
                .call("compute", Method::DELETE, &format!("/servers/{id}"), None)
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

    /// Every server of the project, paginated with `limit`/`marker`.
    async fn servers(&self) -> Result<Vec<Value>, VimError> {
        let mut out: Vec<Value> = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let path = match &marker {
                Some(m) => format!("/servers/detail?limit=1000&marker={m}"),
                None => "/servers/detail?limit=1000".to_owned(),
            };
            let (_, v) = self
                .keystone()
                .call("compute", Method::GET, &path, None)
                .await?;
            let page = v["servers"].as_array().cloned().unwrap_or_default();
            let last = page
                .last()
                .and_then(|s| s["id"].as_str())
                .map(str::to_owned);
            let full = page.len() >= 1000;
            out.extend(page);
            match (full, last) {
                (true, Some(l)) => marker = Some(l),
                _ => return Ok(out),
            }
        }
    }

    pub(super) async fn refresh_servers(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, VmReport>, VimError> {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let servers: Vec<Value> = self
            .servers()
            .await?
            .into_iter()
            .filter(|s| s["id"].as_str().is_some_and(|i| wanted.contains(i)))
            .collect();
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
                    seen: server_seen(&s),
                },
            );
        }
        Ok(out)
    }

    /// The servers carrying this installation's id in their metadata (Nova cannot filter on
    /// metadata: the list is read whole, page by page, and filtered here).
    pub(super) async fn tagged_servers(&self) -> Result<Vec<TaggedElement>, VimError> {
        Ok(self
            .servers()
            .await?
            .into_iter()
            .filter(|s| s["metadata"][INSTALLATION_METADATA].as_str() == Some(self.installation()))
            .map(|s| TaggedElement {
                kind: ElementKind::Vm,
                vim_id: s["id"].as_str().unwrap_or_default().to_owned(),
                name: s["name"].as_str().unwrap_or_default().to_owned(),
                token: s["metadata"][TOKEN_METADATA].as_str().map(str::to_owned),
                created_at: created_at(&s["created"]),
            })
            .collect())
    }

    /// ADOPT of a server: its metadata and its ports get rovim's token and installation.
    pub(super) async fn adopt_server(
        &self,
        filter: &FindFilter,
        token: &str,
    ) -> Result<TokenMatch, VimError> {
        let ids = self
            .servers()
            .await?
            .into_iter()
            .filter(|s| {
                filter
                    .id
                    .as_deref()
                    .is_none_or(|i| s["id"].as_str() == Some(i))
            })
            .filter(|s| {
                filter
                    .name
                    .as_deref()
                    .is_none_or(|n| s["name"].as_str() == Some(n))
            })
            .filter_map(|s| s["id"].as_str().map(str::to_owned))
            .collect();
        let id = one_match(ItemKind::Vm, filter, ids)?;
        let meta = json!({"metadata": {TOKEN_METADATA: token, INSTALLATION_METADATA: self.installation()}});
        self.keystone()
            .call(
                "compute",
                Method::POST,
                &format!("/servers/{id}/metadata"),
                Some(&meta),
            )
            .await?;
        let v = self
            .neutron_call(Method::GET, &format!("/v2.0/ports?device_id={id}"), None)
            .await?;
        for port in v["ports"].as_array().into_iter().flatten() {
            if let Some(p) = port["id"].as_str() {
                self.tag_existing("ports", p, token).await?;
            }
        }
        self.find_server(token)
            .await?
            .ok_or_else(|| VimError::NotFound(format!("server {id} after adopting it")))
    }

    pub(super) async fn find_server(&self, token: &str) -> Result<Option<TokenMatch>, VimError> {
        let found = self
            .servers()
            .await?
            .into_iter()
            .find(|s| s["metadata"][TOKEN_METADATA].as_str() == Some(token));
        let Some(server) = found else { return Ok(None) };
        let id = server["id"].as_str().unwrap_or_default().to_owned();
        // The server's ports: those Nova bound to it, else (not bound yet) those with the token tag.
        let mut v = self
            .neutron_call(Method::GET, &format!("/v2.0/ports?device_id={id}"), None)
            .await?;
        if v["ports"].as_array().is_none_or(|p| p.is_empty()) {
            v = self
                .neutron_call(
                    Method::GET,
                    &format!("/v2.0/ports?tags={}", token_tag(token)),
                    None,
                )
                .await?;
        }
        let ports: Vec<String> = v["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["id"].as_str().map(str::to_owned))
            .collect();
        let created_items = ports
            .iter()
            .map(|p| CreatedItem {
                kind: CreatedKind::Port,
                id: p.clone(),
            })
            .collect();
        Ok(Some(TokenMatch {
            created: Created {
                vim_id: id,
                created_items,
            },
            interface_ids: ports,
        }))
    }
}

/// Nova server statuses (spec §2.4: SHUTOFF → INACTIVE; DELETED → DELETED).
/// A server's flavor (its id before microversion 2.47, its name since) and image (none for a
/// server booted from a volume).
fn server_seen(s: &Value) -> Seen {
    let flavor = &s["flavor"];
    Seen {
        flavor: flavor["id"]
            .as_str()
            .or(flavor["original_name"].as_str())
            .map(str::to_owned),
        image: s["image"]["id"].as_str().map(str::to_owned),
        ..Seen::default()
    }
}

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
}
