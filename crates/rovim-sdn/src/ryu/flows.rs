//! The OpenFlow rules of an SDN network on one switch, and the cookies that name them.
//!
//! A cookie is `0x7276` ("rv") in its top 16 bits, the network's number in the next 24 and the
//! port's number in the low 24 (0 for the network's own rules). Numbers come from a hash of
//! the names rovim gives networks and ports (unique: they hold the task's token), so a network
//! or port is found again by its name after a crash, and deleted with exactly its rules.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const MAGIC: u64 = 0x7276;
/// Every rule rovim writes matches this cookie under this mask.
pub const ROVIM_COOKIE: u64 = MAGIC << 48;
pub const ROVIM_MASK: u64 = 0xffff << 48;
/// The cookie bits of a network (magic and network number): all its rules.
pub const NET_MASK: u64 = 0xffff_ffff_ff00_0000;
/// Every bit: exactly one port's rules (Ryu wants the unsigned value, not -1).
pub const EXACT_MASK: u64 = u64::MAX;
/// Rules that admit a member port's traffic.
const PORT_PRIORITY: u16 = 100;
/// The network's marker: the lowest rule, dropping its VLAN's tagged traffic that nothing
/// admitted (what a secure-mode switch does anyway); it records the network and its VLAN.
const MARKER_PRIORITY: u16 = 1;

/// A 24-bit number from a name, never 0 (kept for the network's own rules).
fn number(name: &str) -> u64 {
    let d = Sha256::digest(name.as_bytes());
    let n = (u64::from(d[0]) << 16) | (u64::from(d[1]) << 8) | u64::from(d[2]);
    n.max(1)
}

pub fn net_cookie(net_name: &str) -> u64 {
    (MAGIC << 48) | (number(net_name) << 24)
}

pub fn port_cookie(net: u64, port_name: &str) -> u64 {
    (net & NET_MASK) | number(port_name)
}

/// Whether a cookie names a port's rules (not the network's own).
pub fn is_port(cookie: u64) -> bool {
    cookie & !NET_MASK != 0
}

/// A port of the network on this switch: its switch port and the MAC it may send from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub cookie: u64,
    pub port: u32,
    pub mac: Option<String>,
}

/// The rules of a network on one switch (without `dpid`): its marker; for each member, its
/// traffic (from its MAC when known) out to the other members untagged and to each trunk
/// tagged with the VLAN; and the VLAN's traffic from each trunk, untagged, to the members.
pub fn switch_rules(net: u64, vlan: u16, members: &[Member], trunks: &[u32]) -> Vec<Value> {
    let mut rules = vec![json!({"cookie": net, "priority": MARKER_PRIORITY,
                                "match": {"dl_vlan": vlan}, "actions": []})];
    for m in members {
        let mut matching = json!({"in_port": m.port});
        if let Some(mac) = &m.mac {
            matching["dl_src"] = json!(mac);
        }
        let mut actions: Vec<Value> = members
            .iter()
            .filter(|o| o.port != m.port)
            .map(|o| json!({"type": "OUTPUT", "port": o.port}))
            .collect();
        if !trunks.is_empty() {
            actions.push(json!({"type": "PUSH_VLAN", "ethertype": 33024}));
            actions.push(json!({"type": "SET_FIELD", "field": "vlan_vid", "value": 0x1000 | u32::from(vlan)}));
            actions.extend(trunks.iter().map(|t| json!({"type": "OUTPUT", "port": t})));
        }
        rules.push(json!({"cookie": m.cookie, "priority": PORT_PRIORITY, "match": matching, "actions": actions}));
    }
    if !members.is_empty() {
        for t in trunks {
            let mut actions = vec![json!({"type": "POP_VLAN"})];
            actions.extend(
                members
                    .iter()
                    .map(|m| json!({"type": "OUTPUT", "port": m.port})),
            );
            rules.push(json!({"cookie": net, "priority": PORT_PRIORITY,
                              "match": {"in_port": t, "dl_vlan": vlan}, "actions": actions}));
        }
    }
    rules
}

/// The VLAN a network's marker rule records.
pub fn marker_vlan(rule: &Value) -> Option<u16> {
    if rule["priority"].as_u64() != Some(u64::from(MARKER_PRIORITY)) {
        return None;
    }
    rule["match"]["dl_vlan"]
        .as_u64()
        .or_else(|| rule["match"]["dl_vlan"].as_str()?.parse().ok())
        .and_then(|v| u16::try_from(v & 0xfff).ok())
}

/// A member read back from its rule.
pub fn member_of(rule: &Value) -> Option<Member> {
    let cookie = rule["cookie"].as_u64()?;
    if !is_port(cookie) {
        return None;
    }
    Some(Member {
        cookie,
        port: u32::try_from(rule["match"]["in_port"].as_u64()?).ok()?,
        mac: rule["match"]["dl_src"].as_str().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_name_the_network_and_its_ports() {
        let net = net_cookie("data.rovim-0123");
        assert_eq!(net >> 48, 0x7276);
        assert!(!is_port(net));
        let p = port_cookie(net, "data.rovim-0123.vm-1");
        assert!(is_port(p));
        assert_eq!(p & NET_MASK, net, "a port's rules are the network's");
        assert_ne!(net_cookie("other"), net);
        assert_eq!(
            net_cookie("data.rovim-0123"),
            net,
            "stable: found again by name"
        );
    }

    #[test]
    fn members_reach_each_other_and_the_trunks_and_read_back() {
        let net = net_cookie("n");
        let a = Member {
            cookie: port_cookie(net, "a"),
            port: 1,
            mac: Some("02:00:00:00:0a:01".into()),
        };
        let b = Member {
            cookie: port_cookie(net, "b"),
            port: 2,
            mac: None,
        };
        let rules = switch_rules(net, 100, &[a.clone(), b.clone()], &[7]);
        assert_eq!(rules.len(), 4, "marker, two members, one trunk: {rules:#?}");
        assert_eq!(marker_vlan(&rules[0]), Some(100));
        let out: Vec<_> = rules[1]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            out,
            ["OUTPUT", "PUSH_VLAN", "SET_FIELD", "OUTPUT"],
            "untagged to b first, then tagged to the trunk"
        );
        assert_eq!(rules[1]["actions"][2]["value"], 0x1000 | 100);
        assert_eq!(member_of(&rules[1]), Some(a));
        assert_eq!(member_of(&rules[2]), Some(b));
        assert_eq!(member_of(&rules[0]), None);
        assert_eq!(rules[3]["match"], json!({"in_port": 7, "dl_vlan": 100}));
        assert_eq!(
            switch_rules(net, 100, &[], &[7]).len(),
            1,
            "no member: the marker only"
        );
    }
}
