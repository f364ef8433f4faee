//! The `VimConnector` for OpenStack. Networks go through Neutron: a network (provider VLAN
//! attributes for data/ptp nets), its subnet from the IP profile (recorded as a created item so a
//! DELETE removes it), and rovim's token as a tag. VMs are in [`super::nova`].

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::Method;
use rovim_core::CreatedKind;
use rovim_core::{
    CreatedItem, FindFilter, IpVersion, ItemKind, ItemStatus, NetParams, NetType, Owned, Seen,
};
use serde_json::{Value, json};

use super::keystone::Keystone;
use super::paging::{End, Listing};
use super::settings::OpenStackSettings;
use crate::connector::{
    CreateFailure, Created, ElementKind, NetReport, TaggedElement, TokenMatch, VimConnector,
    VimNet, VmCreated, VmReport, VmRequest, one_match,
};
use crate::error::VimError;

/// The Neutron tag that carries rovim's token.
pub fn token_tag(token: &str) -> String {
    format!("{TOKEN_TAG_PREFIX}{token}")
}

const TOKEN_TAG_PREFIX: &str = "rovim:";

/// The Neutron tag that carries the installation's id (a separate tag: Neutron tags hold 60
/// characters, too few for the token and the installation together).
pub fn installation_tag(installation: &str) -> String {
    format!("{INSTALLATION_TAG_PREFIX}{installation}")
}

const INSTALLATION_TAG_PREFIX: &str = "rovim-installation:";

/// The path of a Neutron listing with its query (names and values encoded), e.g.
/// `/v2.0/ports?device_id=a&device_id=b`.
pub(super) fn neutron_path<'a>(
    collection: &str,
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    path_with_query(&format!("/v2.0/{collection}"), query)
}

/// A path with its query, names and values encoded: `/servers/detail?tags=rovim%3Ax`.
pub(super) fn path_with_query<'a>(
    path: &str,
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut url = reqwest::Url::parse(&format!("http://x{path}")).expect("static URL");
    url.query_pairs_mut().extend_pairs(query);
    match url.query() {
        Some(q) if !q.is_empty() => format!("{}?{q}", url.path()),
        _ => url.path().to_owned(),
    }
}

/// An adopted resource's tags (`{"tags": [...]}` as Neutron and Nova answer them): its own
/// ones kept, rovim's token and installation in place of any rovim tags it had.
pub(super) fn retagged(current: &Value, token: &str, installation: &str) -> Vec<String> {
    let mut tags: Vec<String> = current["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|t| !is_rovim_tag(t))
        .map(str::to_owned)
        .collect();
    tags.extend([token_tag(token), installation_tag(installation)]);
    tags
}

/// rovim's own tags (token, installation), which an ADOPT replaces.
fn is_rovim_tag(tag: &str) -> bool {
    tag.starts_with(TOKEN_TAG_PREFIX) || tag.starts_with(INSTALLATION_TAG_PREFIX)
}

/// The token a Neutron resource's (or a Nova server's) tags carry, if any.
pub(super) fn token_of(resource: &Value) -> Option<String> {
    resource["tags"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|t| t.strip_prefix(TOKEN_TAG_PREFIX))
        .map(str::to_owned)
}

/// An OpenStack `created_at` / `created` time (RFC 3339, `Z` or an offset).
pub(super) fn created_at(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.to_utc())
}

pub struct OpenStackConnector {
    keystone: Keystone,
    settings: OpenStackSettings,
    installation: String,
}

impl OpenStackConnector {
    pub fn new(
        auth_url: &str,
        user: &str,
        password: &str,
        project: &str,
        settings: OpenStackSettings,
    ) -> Result<Self, VimError> {
        let keystone = Keystone::new(auth_url, user, password, project, settings.clone())?;
        Ok(OpenStackConnector {
            keystone,
            settings,
            installation: String::new(),
        })
    }

    /// Marks what this connector creates or adopts with the rovim installation's id.
    pub fn with_installation(mut self, installation: &str) -> OpenStackConnector {
        self.installation = installation.to_owned();
        self
    }

    pub(super) fn installation(&self) -> &str {
        &self.installation
    }

    /// Sets rovim's two tags on a new Neutron resource (`networks`, `subnets`, `ports`),
    /// replacing the tags it has (none).
    pub(super) async fn tag_new(
        &self,
        collection: &str,
        id: &str,
        token: &str,
    ) -> Result<(), VimError> {
        let tags = json!({"tags": [token_tag(token), installation_tag(&self.installation)]});
        self.neutron(
            Method::PUT,
            &format!("/v2.0/{collection}/{id}/tags"),
            Some(&tags),
        )
        .await
        .map(|_| ())
    }

    /// Gives an existing Neutron resource rovim's two tags, keeping its other tags and
    /// replacing any rovim tag it had (from another installation, or an earlier owner).
    pub(super) async fn tag_existing(
        &self,
        collection: &str,
        id: &str,
        token: &str,
    ) -> Result<(), VimError> {
        let path = format!("/v2.0/{collection}/{id}/tags");
        let current = self.neutron(Method::GET, &path, None).await?;
        let tags = retagged(&current, token, &self.installation);
        self.neutron(Method::PUT, &path, Some(&json!({ "tags": tags })))
            .await
            .map(|_| ())
    }

    /// Every resource of a Neutron collection matching `query`, page by page (`limit` and
    /// `marker`); a server that does not paginate answers everything in the first page. A
    /// page whose marker was deleted since the page before is a 404 (`PortNotFound`,
    /// `NetworkNotFound`): the listing goes on from the marker before.
    async fn list_all(
        &self,
        collection: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, VimError> {
        let page_size = self.settings.list_page_size;
        let limit = page_size.to_string();
        let mut listing = Listing::new(End::ShortPage(page_size));
        loop {
            let path = neutron_path(
                collection,
                query
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .chain([("limit", limit.as_str())])
                    .chain(listing.marker().map(|m| ("marker", m))),
            );
            match self.neutron(Method::GET, &path, None).await {
                Ok(v) => {
                    let page = v[collection].as_array().cloned().unwrap_or_default();
                    if !listing.take(page) {
                        return Ok(listing.into_items());
                    }
                }
                Err(VimError::NotFound(_)) if listing.marker_lost() => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The page size of listings (Neutron's and Nova's `limit`).
    pub(super) fn list_page_size(&self) -> usize {
        self.settings.list_page_size
    }

    pub fn keystone(&self) -> &Keystone {
        &self.keystone
    }

    pub(super) async fn neutron_call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, VimError> {
        self.neutron(method, path, body).await
    }

    async fn neutron(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, VimError> {
        self.keystone
            .call("network", method, path, body)
            .await
            .map(|(_, v)| v)
    }

    async fn networks(&self, query: &[(&str, String)]) -> Result<Vec<Value>, VimError> {
        let path = neutron_path("networks", query.iter().map(|(k, v)| (*k, v.as_str())));
        let v = self.neutron(Method::GET, &path, None).await?;
        Ok(v["networks"].as_array().cloned().unwrap_or_default())
    }

    /// The subnet of a net's IP profile, if it has one.
    async fn create_subnet(
        &self,
        id: &str,
        project: &str,
        params: &NetParams,
    ) -> Result<Option<CreatedItem>, VimError> {
        let Some(ip) = &params.ip_profile else {
            return Ok(None);
        };
        let mut subnet = json!({
            "network_id": id, "project_id": project, "name": format!("{}-subnet", params.name),
            "ip_version": if ip.ip_version == IpVersion::IPv6 { 6 } else { 4 },
            "enable_dhcp": ip.dhcp.as_ref().is_none_or(|d| d.enabled),
        });
        match &ip.subnet_address {
            Some(cidr) => subnet["cidr"] = json!(cidr),
            None => {
                return Err(VimError::BadRequest(
                    "ip_profile.subnet_address: required on OpenStack".into(),
                ));
            }
        }
        if let Some(gw) = &ip.gateway_address {
            subnet["gateway_ip"] = json!(gw);
        }
        if !ip.dns_addresses.is_empty() {
            subnet["dns_nameservers"] = json!(ip.dns_addresses);
        }
        if let Some(d) = &ip.dhcp
            && let (Some(start), Some(count)) = (&d.start_address, d.count)
            && let Ok(first) = start.parse::<std::net::Ipv4Addr>()
        {
            let last =
                std::net::Ipv4Addr::from(u32::from(first).saturating_add(count.saturating_sub(1)));
            subnet["allocation_pools"] = json!([{"start": start, "end": last.to_string()}]);
        }
        let s = self
            .neutron(
                Method::POST,
                "/v2.0/subnets",
                Some(&json!({"subnet": subnet})),
            )
            .await?;
        Ok(s["subnet"]["id"].as_str().map(|sid| CreatedItem {
            kind: CreatedKind::Subnet,
            id: sid.to_owned(),
        }))
    }

    /// Deletes what a net create made besides the network: its subnets (gone already is fine).
    async fn delete_items(&self, items: &[CreatedItem]) -> Result<(), VimError> {
        for item in items.iter().filter(|i| i.kind == CreatedKind::Subnet) {
            match self
                .neutron(Method::DELETE, &format!("/v2.0/subnets/{}", item.id), None)
                .await
            {
                Ok(_) | Err(VimError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn net_status(text: &str) -> ItemStatus {
    match text {
        "ACTIVE" => ItemStatus::Active,
        "BUILD" => ItemStatus::Build,
        "DOWN" => ItemStatus::Down,
        "ERROR" => ItemStatus::Error,
        other => ItemStatus::from_vim(other),
    }
}

fn vim_net(n: &Value) -> VimNet {
    let s = |k: &str| n[k].as_str().map(str::to_owned);
    let net_type = match n["provider:network_type"].as_str() {
        Some("vlan") => NetType::Data,
        _ => NetType::Bridge,
    };
    VimNet {
        id: s("id").unwrap_or_default(),
        name: s("name").unwrap_or_default(),
        status: net_status(n["status"].as_str().unwrap_or("")),
        net_type,
        encapsulation: s("provider:network_type"),
        segmentation_id: n["provider:segmentation_id"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok()),
        shared: n["shared"].as_bool().unwrap_or(false),
        error_msg: None,
    }
}

#[async_trait]
impl VimConnector for OpenStackConnector {
    fn refresh_batch_size(&self) -> usize {
        self.settings.refresh_batch_size
    }

    async fn check_connectivity(&self) -> Result<(), VimError> {
        let s = self.keystone.session().await?;
        if !s.endpoints.contains_key("network") {
            return Err(VimError::NotSupported(
                "the Keystone catalog has no 'network' (Neutron) endpoint".into(),
            ));
        }
        if s.endpoints.contains_key("compute") {
            self.check_compute_version().await?;
        }
        Ok(())
    }

    async fn create_net(&self, params: &NetParams, token: &str) -> Result<Created, CreateFailure> {
        let project = self.keystone.session().await?.project_id;
        // The token rides in the description too: Neutron takes tags only after the network
        // exists, and an answer lost before them must not leave a network nobody can find.
        let mut network = json!({"name": params.name, "admin_state_up": true, "shared": params.shared,
            "project_id": project, "description": token_tag(token)});
        if params.net_type.is_dataplane() {
            let physnet = self.settings.physical_network.clone().ok_or_else(|| {
                VimError::BadRequest(
                    "config.physical_network: required for data and ptp nets".into(),
                )
            })?;
            network["provider:network_type"] = json!("vlan");
            network["provider:physical_network"] = json!(physnet);
            if let Some(vlan) = params.vlan {
                network["provider:segmentation_id"] = json!(vlan);
            }
        }
        let made = self
            .neutron(
                Method::POST,
                "/v2.0/networks",
                Some(&json!({"network": network})),
            )
            .await?;
        let id = made["network"]["id"]
            .as_str()
            .ok_or_else(|| VimError::UnexpectedResponse("Neutron: no network id".into()))?
            .to_owned();
        let owned = |items: Vec<CreatedItem>| Owned {
            vim_id: Some(id.clone()),
            created_items: items,
        };
        // From here on a failure leaves the network: returned as leftover so a DELETE removes it.
        let fail = |error: VimError, items: Vec<CreatedItem>| CreateFailure {
            error,
            leftover: Some(owned(items)),
        };
        if let Err(e) = self.tag_new("networks", &id, token).await {
            return Err(fail(e, Vec::new()));
        }
        let mut items = Vec::new();
        match self.create_subnet(&id, &project, params).await {
            Ok(subnet) => items.extend(subnet),
            Err(e) => return Err(fail(e, items)),
        }
        for subnet in &items {
            if let Err(e) = self.tag_new("subnets", &subnet.id, token).await {
                return Err(fail(e, items));
            }
        }
        Ok(Created {
            vim_id: id,
            created_items: items,
        })
    }

    async fn list_nets(&self, filter: &FindFilter) -> Result<Vec<VimNet>, VimError> {
        let mut q = Vec::new();
        if let Some(n) = &filter.name {
            q.push(("name", n.clone()));
        }
        if let Some(i) = &filter.id {
            q.push(("id", i.clone()));
        }
        if let Some(s) = filter.shared {
            q.push(("shared", s.to_string()));
        }
        if let Some(t) = &filter.tenant_id {
            q.push(("project_id", t.clone()));
        }
        Ok(self.networks(&q).await?.iter().map(vim_net).collect())
    }

    async fn get_net(&self, vim_id: &str) -> Result<VimNet, VimError> {
        let v = self
            .neutron(Method::GET, &format!("/v2.0/networks/{vim_id}"), None)
            .await?;
        Ok(vim_net(&v["network"]))
    }

    async fn delete_net(&self, owned: &Owned) -> Result<(), VimError> {
        self.delete_items(&owned.created_items).await?;
        let Some(id) = &owned.vim_id else {
            return Ok(());
        };
        self.neutron(Method::DELETE, &format!("/v2.0/networks/{id}"), None)
            .await
            .map(|_| ())
    }

    async fn refresh_nets(&self, ids: &[String]) -> Result<HashMap<String, NetReport>, VimError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(100) {
            let q: Vec<(&str, String)> = chunk.iter().map(|id| ("id", id.clone())).collect();
            for n in self.networks(&q).await? {
                let Some(id) = n["id"].as_str() else { continue };
                let report = NetReport {
                    status: net_status(n["status"].as_str().unwrap_or("")),
                    error_msg: None,
                    vim_info: Some(n.to_string()),
                    seen: Seen {
                        dataplane: n["provider:network_type"].as_str().map(|t| t == "vlan"),
                        vlan: n["provider:segmentation_id"]
                            .as_u64()
                            .and_then(|v| u32::try_from(v).ok())
                            .filter(|_| n["provider:network_type"] == "vlan"),
                        ..Seen::default()
                    },
                };
                out.insert(id.to_owned(), report);
            }
        }
        Ok(out)
    }

    async fn create_vm(
        &self,
        request: &VmRequest,
        token: &str,
    ) -> Result<VmCreated, CreateFailure> {
        self.create_server(request, token).await
    }

    async fn delete_vm(&self, owned: &Owned) -> Result<(), VimError> {
        self.delete_server(owned).await
    }

    async fn refresh_vms(&self, ids: &[String]) -> Result<HashMap<String, VmReport>, VimError> {
        self.refresh_servers(ids).await
    }

    async fn finish_net(
        &self,
        params: &NetParams,
        token: &str,
        mut found: Created,
    ) -> Result<Created, CreateFailure> {
        let id = found.vim_id.clone();
        let has_subnet = found
            .created_items
            .iter()
            .any(|c| c.kind == CreatedKind::Subnet);
        let completed = async {
            // Setting the tags the network has already changes nothing.
            self.tag_new("networks", &id, token).await?;
            if params.ip_profile.is_none() || has_subnet {
                return Ok(None);
            }
            let project = self.keystone.session().await?.project_id;
            let subnet = self.create_subnet(&id, &project, params).await?;
            if let Some(s) = &subnet {
                self.tag_new("subnets", &s.id, token).await?;
            }
            Ok(subnet)
        }
        .await;
        match completed {
            Ok(subnet) => {
                found.created_items.extend(subnet);
                Ok(found)
            }
            // The network stays the task's leftover, so a DELETE removes it.
            Err(error) => Err(CreateFailure {
                leftover: Some(found.owned()),
                error,
            }),
        }
    }

    async fn list_tagged(&self) -> Result<Vec<TaggedElement>, VimError> {
        let mine = [("tags-any", installation_tag(&self.installation))];
        let mut out = Vec::new();
        for (collection, kind) in [
            ("networks", ElementKind::Net),
            ("subnets", ElementKind::Subnet),
            ("ports", ElementKind::Port),
        ] {
            for r in self.list_all(collection, &mine).await? {
                out.push(TaggedElement {
                    kind,
                    vim_id: r["id"].as_str().unwrap_or_default().to_owned(),
                    name: r["name"].as_str().unwrap_or_default().to_owned(),
                    token: token_of(&r),
                    created_at: created_at(&r["created_at"]),
                });
            }
        }
        if self
            .keystone
            .session()
            .await?
            .endpoints
            .contains_key("compute")
        {
            out.extend(self.tagged_servers().await?);
        }
        Ok(out)
    }

    async fn adopt(
        &self,
        kind: ItemKind,
        filter: &FindFilter,
        token: &str,
    ) -> Result<TokenMatch, VimError> {
        if kind == ItemKind::Vm {
            return self.adopt_server(filter, token).await;
        }
        let mut q = Vec::new();
        if let Some(n) = &filter.name {
            q.push(("name", n.clone()));
        }
        if let Some(i) = &filter.id {
            q.push(("id", i.clone()));
        }
        let found = self.networks(&q).await?;
        let ids = found
            .iter()
            .filter_map(|n| n["id"].as_str())
            .map(str::to_owned);
        let id = one_match(kind, filter, ids.collect())?;
        self.tag_existing("networks", &id, token).await?;
        let subnets: Vec<String> = found
            .iter()
            .filter(|n| n["id"].as_str() == Some(id.as_str()))
            .flat_map(|n| n["subnets"].as_array().cloned().unwrap_or_default())
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        for s in &subnets {
            self.tag_existing("subnets", s, token).await?;
        }
        Ok(TokenMatch {
            created: Created {
                vim_id: id,
                created_items: subnets
                    .into_iter()
                    .map(|id| CreatedItem {
                        kind: CreatedKind::Subnet,
                        id,
                    })
                    .collect(),
            },
            interface_ids: Vec::new(),
        })
    }

    async fn find_by_token(
        &self,
        kind: ItemKind,
        token: &str,
    ) -> Result<Option<TokenMatch>, VimError> {
        match kind {
            ItemKind::Net => {
                let mut found = self.networks(&[("tags", token_tag(token))]).await?;
                if found.is_empty() {
                    // Made, but the answer was lost before the tag was set.
                    found = self.networks(&[("description", token_tag(token))]).await?;
                }
                let Some(n) = found.first() else {
                    return Ok(None);
                };
                let id = n["id"].as_str().unwrap_or_default().to_owned();
                let items = n["subnets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str())
                    .map(|s| CreatedItem {
                        kind: CreatedKind::Subnet,
                        id: s.to_owned(),
                    })
                    .collect();
                Ok(Some(TokenMatch {
                    created: Created {
                        vim_id: id,
                        created_items: items,
                    },
                    interface_ids: Vec::new(),
                }))
            }
            ItemKind::Vm => self.find_server(token).await,
        }
    }
}
