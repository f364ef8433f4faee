//! The connector of a Ryu OpenFlow controller (`sdn_type: ryu`) through its REST API
//! (`ryu.app.ofctl_rest`). Ryu keeps no networks: an SDN network is a VLAN segment written as
//! rules on the switches, an external port the rules that admit one interface (its switch port,
//! and its MAC when known) into that segment. Everything lives in the switches' flow tables,
//! named by cookies (see [`flows`]), so a network or port is found again by its name after a
//! crash and deleted with exactly its rules.

mod flows;
mod settings;

use std::collections::HashMap;

use async_trait::async_trait;
use rovim_core::SdnNetStatus;
use serde_json::{Value, json};

pub use settings::{PortMapping, RyuSettings, Switch, SwitchPort};

use self::flows::{EXACT_MASK, Member, NET_MASK};
use crate::connector::{SdnConnector, SdnNetRequest, SdnNetState, SdnPort, SdnPortRequest};
use crate::error::SdnError;

pub struct RyuSdn {
    http: reqwest::Client,
    url: String,
    settings: RyuSettings,
}

fn id_of(cookie: u64) -> String {
    format!("{cookie:016x}")
}

fn cookie_of(id: &str) -> Result<u64, SdnError> {
    u64::from_str_radix(id, 16)
        .map_err(|_| SdnError::NotFound(format!("'{id}' is not an id this controller gave")))
}

impl RyuSdn {
    pub fn new(url: &str, settings: RyuSettings) -> Result<RyuSdn, SdnError> {
        // reqwest refuses to build a client before a TLS provider is installed (a second install
        // is refused harmlessly).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SdnError::Connection(format!("cannot build an HTTP client: {e}")))?;
        Ok(RyuSdn {
            http,
            url: url.trim_end_matches('/').to_owned(),
            settings,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, SdnError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| SdnError::Connection(format!("{method} {path}: {e}")))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| {
            SdnError::UnexpectedResponse(format!("{method} {path}: the answer was cut: {e}"))
        })?;
        let what = || {
            format!(
                "{method} {path}: {} {}",
                status.as_u16(),
                text.chars().take(300).collect::<String>()
            )
        };
        match status.as_u16() {
            200..=299 if text.trim().is_empty() => Ok(Value::Null),
            200..=299 => serde_json::from_str(&text).map_err(|_| {
                SdnError::UnexpectedResponse(format!("{method} {path}: the answer is not JSON"))
            }),
            404 => Err(SdnError::NotFound(what())),
            400..=499 => Err(SdnError::BadRequest(what())),
            _ => Err(SdnError::UnexpectedResponse(what())),
        }
    }

    /// The switches connected to the controller.
    async fn switches_up(&self) -> Result<Vec<u64>, SdnError> {
        let v = self
            .call(reqwest::Method::GET, "/stats/switches", None)
            .await?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect())
    }

    /// The configured switches, each connected, or a retryable error naming the one that is not.
    async fn switches(&self) -> Result<Vec<u64>, SdnError> {
        let up = self.switches_up().await?;
        let mut out = Vec::new();
        for s in &self.settings.switches {
            if !up.contains(&s.dpid) {
                return Err(SdnError::Connection(format!(
                    "switch {:016x} is not connected to the controller",
                    s.dpid
                )));
            }
            out.push(s.dpid);
        }
        Ok(out)
    }

    /// The numbers of the named ports of `dpid` (Ryu's port descriptions).
    async fn port_names(&self, dpid: u64) -> Result<HashMap<String, u32>, SdnError> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/stats/portdesc/{dpid}"),
                None,
            )
            .await?;
        Ok(v[dpid.to_string()]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let number = u32::try_from(p["port_no"].as_u64()?).ok()?;
                Some((p["name"].as_str()?.to_owned(), number))
            })
            .collect())
    }

    /// The OpenFlow number of a mapped port; a name not on the switch (yet) is retryable: its
    /// device appears when its VM starts.
    async fn port_number(&self, dpid: u64, port: &SwitchPort) -> Result<u32, SdnError> {
        match port {
            SwitchPort::Number(n) => Ok(*n),
            SwitchPort::Name(name) => {
                self.port_names(dpid)
                    .await?
                    .get(name)
                    .copied()
                    .ok_or_else(|| {
                        SdnError::Connection(format!(
                            "switch {dpid:016x} has no port named '{name}' (yet)"
                        ))
                    })
            }
        }
    }

    /// How many rules with rovim's cookies the configured switches hold: none once everything
    /// rovim wired is deleted.
    pub async fn rovim_rule_count(&self) -> Result<usize, SdnError> {
        let mut n = 0;
        for dpid in self.switches().await? {
            n += self
                .rules(dpid, flows::ROVIM_COOKIE, flows::ROVIM_MASK)
                .await?
                .len();
        }
        Ok(n)
    }

    /// The rules of `dpid` whose cookie matches `cookie` under `mask`.
    async fn rules(&self, dpid: u64, cookie: u64, mask: u64) -> Result<Vec<Value>, SdnError> {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/stats/flow/{dpid}"),
                Some(json!({"cookie": cookie, "cookie_mask": mask})),
            )
            .await?;
        Ok(v[dpid.to_string()].as_array().cloned().unwrap_or_default())
    }

    async fn delete_rules(&self, dpid: u64, cookie: u64, mask: u64) -> Result<(), SdnError> {
        self.call(
            reqwest::Method::POST,
            "/stats/flowentry/delete",
            Some(json!({"dpid": dpid, "cookie": cookie, "cookie_mask": mask})),
        )
        .await
        .map(|_| ())
    }

    /// The network on `dpid`, read from its rules in one request: its VLAN (from its marker;
    /// `None` when the network is not there) and its member ports.
    async fn segment_on(
        &self,
        dpid: u64,
        net: u64,
    ) -> Result<(Option<u16>, Vec<Member>), SdnError> {
        let rules = self.rules(dpid, net, NET_MASK).await?;
        let vlan = rules.iter().find_map(flows::marker_vlan);
        Ok((vlan, rules.iter().filter_map(flows::member_of).collect()))
    }

    /// Writes the network's rules on `dpid` for these members (the old ones first removed).
    async fn program(
        &self,
        dpid: u64,
        net: u64,
        vlan: u16,
        members: &[Member],
    ) -> Result<(), SdnError> {
        self.delete_rules(dpid, net, NET_MASK).await?;
        for mut rule in flows::switch_rules(net, vlan, members, self.settings.trunks(dpid)) {
            rule["dpid"] = json!(dpid);
            self.call(reqwest::Method::POST, "/stats/flowentry/add", Some(rule))
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl SdnConnector for RyuSdn {
    async fn create_network(&self, request: &SdnNetRequest) -> Result<String, SdnError> {
        let net = flows::net_cookie(&request.name);
        for dpid in self.switches().await? {
            match self.segment_on(dpid, net).await? {
                (Some(v), _) if v == request.vlan => {}
                (Some(v), _) => {
                    return Err(SdnError::Conflict(format!(
                        "network cookie {net:016x} is taken on switch {dpid:016x} by VLAN {v}"
                    )));
                }
                (None, members) => self.program(dpid, net, request.vlan, &members).await?,
            }
        }
        Ok(id_of(net))
    }

    async fn find_network(&self, name: &str) -> Result<Option<String>, SdnError> {
        let net = flows::net_cookie(name);
        for dpid in self.switches().await? {
            if self.segment_on(dpid, net).await?.0.is_some() {
                return Ok(Some(id_of(net)));
            }
        }
        Ok(None)
    }

    async fn show_network(&self, id: &str) -> Result<SdnNetState, SdnError> {
        let net = cookie_of(id)?;
        let up = self.switches_up().await?;
        let mut missing = Vec::new();
        let mut present = 0;
        for s in &self.settings.switches {
            if !up.contains(&s.dpid) {
                return Ok(SdnNetState {
                    status: SdnNetStatus::Error,
                    error: Some(format!(
                        "switch {:016x} is not connected to the controller",
                        s.dpid
                    )),
                });
            }
            match self.segment_on(s.dpid, net).await?.0 {
                Some(_) => present += 1,
                None => missing.push(format!("{:016x}", s.dpid)),
            }
        }
        if present == 0 {
            return Err(SdnError::NotFound(format!(
                "network {id}: no rule on any switch"
            )));
        }
        if !missing.is_empty() {
            return Ok(SdnNetState {
                status: SdnNetStatus::Error,
                error: Some(format!(
                    "the rules of network {id} are missing on switch {} (restarted without them?)",
                    missing.join(", ")
                )),
            });
        }
        Ok(SdnNetState {
            status: SdnNetStatus::Active,
            error: None,
        })
    }

    async fn delete_network(&self, id: &str) -> Result<(), SdnError> {
        let net = cookie_of(id)?;
        let mut found = false;
        for dpid in self.switches().await? {
            found |= !self.rules(dpid, net, NET_MASK).await?.is_empty();
            self.delete_rules(dpid, net, NET_MASK).await?;
        }
        if found {
            Ok(())
        } else {
            Err(SdnError::NotFound(format!("network {id}")))
        }
    }

    async fn create_port(&self, request: &SdnPortRequest) -> Result<String, SdnError> {
        let net = cookie_of(&request.net_id)?;
        let wiring = self
            .settings
            .wiring(&request.compute_node, &request.pci)
            .ok_or_else(|| {
                SdnError::BadRequest(format!(
                    "no switch port for PCI {} of compute node {} (config.port_mapping)",
                    request.pci, request.compute_node
                ))
            })?;
        let dpid = wiring.switch_dpid;
        self.switches().await?;
        let port = self.port_number(dpid, &wiring.switch_port).await?;
        let (vlan, members) = self.segment_on(dpid, net).await?;
        let vlan = vlan.ok_or_else(|| {
            SdnError::NotFound(format!("network {} on switch {dpid:016x}", request.net_id))
        })?;
        let cookie = flows::port_cookie(net, &request.name);
        let mut members: Vec<Member> = members
            .into_iter()
            .filter(|m| m.cookie != cookie && m.port != port)
            .collect();
        members.push(Member {
            cookie,
            port,
            mac: request.mac.clone(),
        });
        self.program(dpid, net, vlan, &members).await?;
        Ok(id_of(cookie))
    }

    async fn delete_port(&self, id: &str) -> Result<(), SdnError> {
        let cookie = cookie_of(id)?;
        let net = cookie & NET_MASK;
        for dpid in self.switches().await? {
            let (vlan, members) = self.segment_on(dpid, net).await?;
            if !members.iter().any(|m| m.cookie == cookie) {
                continue;
            }
            let members: Vec<Member> = members.into_iter().filter(|m| m.cookie != cookie).collect();
            match vlan {
                Some(vlan) => self.program(dpid, net, vlan, &members).await?,
                None => self.delete_rules(dpid, cookie, EXACT_MASK).await?,
            }
            return Ok(());
        }
        Err(SdnError::NotFound(format!("port {id}")))
    }

    async fn list_ports(&self, net_id: &str) -> Result<Vec<SdnPort>, SdnError> {
        let net = cookie_of(net_id)?;
        let mut out = Vec::new();
        for dpid in self.switches().await? {
            let (vlan, members) = self.segment_on(dpid, net).await?;
            let names = if self.settings.names_ports_of(dpid) && !members.is_empty() {
                self.port_names(dpid).await?
            } else {
                HashMap::new()
            };
            for m in members {
                let wired = self.settings.interface_at(dpid, m.port, &names);
                out.push(SdnPort {
                    id: id_of(m.cookie),
                    // Switches keep no names: a port is known by its id, and found by its name
                    // through the cookie the name gives (find_port).
                    name: id_of(m.cookie),
                    net_id: net_id.to_owned(),
                    compute_node: wired.map(|w| w.compute_node.clone()).unwrap_or_default(),
                    pci: wired.map(|w| w.pci.clone()).unwrap_or_default(),
                    vlan,
                    mac: m.mac,
                });
            }
        }
        Ok(out)
    }

    async fn find_port(&self, net_id: &str, name: &str) -> Result<Option<String>, SdnError> {
        let cookie = flows::port_cookie(cookie_of(net_id)?, name);
        for dpid in self.switches().await? {
            if !self.rules(dpid, cookie, EXACT_MASK).await?.is_empty() {
                return Ok(Some(id_of(cookie)));
            }
        }
        Ok(None)
    }
}
