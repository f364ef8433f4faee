//! Drift: how an element as the VIM reports it differs from what was asked of it (a VM's
//! flavor, image and interface count; a net's VLAN and type). Shown and counted, never
//! "fixed": the operator decides.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::params::{NetType, TaskParams};

/// What was asked of an element that its VIM can be checked against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Asked {
    Net {
        net_type: NetType,
        /// Only when the request named one (otherwise the VIM picks it).
        vlan: Option<u16>,
    },
    Vm {
        flavor: String,
        image: String,
        interfaces: usize,
    },
}

impl Asked {
    pub fn of(params: &TaskParams) -> Asked {
        match params {
            TaskParams::Net(n) => Asked::Net {
                net_type: n.net_type,
                vlan: n.vlan,
            },
            TaskParams::Vm(v) => Asked::Vm {
                flavor: v.flavor_id.clone(),
                image: v.image_id.clone(),
                interfaces: v.networks.len(),
            },
        }
    }
}

/// One copy of each distinct [`Asked`]: a deployment asks the same flavor and image of many
/// VMs, and each live element would otherwise hold its own (issue 13's memory per element).
#[derive(Debug, Default)]
pub struct AskedPool(HashSet<Arc<Asked>>);

impl AskedPool {
    pub fn share(&mut self, asked: Asked) -> Arc<Asked> {
        if let Some(known) = self.0.get(&asked) {
            return known.clone();
        }
        let shared = Arc::new(asked);
        self.0.insert(shared.clone());
        shared
    }
}

/// What a VIM reports of the same things; `None` where it does not say (AWS subnets have no
/// VLAN), so nothing is compared there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Whether the net is a VLAN (data-plane) net; VIMs do not tell data from ptp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataplane: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Each difference as a sentence, e.g. `flavor: asked m1.small, the VIM has m1.large`; empty
/// when the element is as asked. `interfaces` is how many the VIM reports for a VM, `None`
/// when that count says nothing (a server still building, or failed, has no bound ports yet).
pub fn drift(asked: &Asked, seen: &Seen, interfaces: Option<usize>) -> Vec<String> {
    let mut out = Vec::new();
    let mut differ = |what: &str, asked: String, has: String| {
        if asked != has {
            out.push(format!("{what}: asked {asked}, the VIM has {has}"));
        }
    };
    match asked {
        Asked::Net { net_type, vlan } => {
            let class = |dataplane: bool| {
                if dataplane {
                    "a VLAN net"
                } else {
                    "an overlay net"
                }
            };
            if let Some(d) = seen.dataplane.filter(|d| *d != net_type.is_dataplane()) {
                differ(
                    "type",
                    format!("{} ({})", net_type.as_str(), class(!d)),
                    class(d).to_owned(),
                );
            }
            if let (Some(want), Some(has)) = (vlan, seen.vlan) {
                differ("vlan", want.to_string(), has.to_string());
            }
        }
        Asked::Vm {
            flavor,
            image,
            interfaces: want,
        } => {
            if let Some(has) = &seen.flavor {
                differ("flavor", flavor.clone(), has.clone());
            }
            if let Some(has) = &seen.image {
                differ("image", image.clone(), has.clone());
            }
            if let Some(has) = interfaces {
                differ("interfaces", want.to_string(), has.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vm() -> Asked {
        Asked::Vm {
            flavor: "m1.small".into(),
            image: "cirros".into(),
            interfaces: 2,
        }
    }

    #[test]
    fn each_difference_is_named_with_both_values() {
        let seen = Seen {
            flavor: Some("m1.large".into()),
            image: Some("cirros".into()),
            ..Seen::default()
        };
        assert_eq!(
            drift(&vm(), &seen, Some(3)),
            vec![
                "flavor: asked m1.small, the VIM has m1.large",
                "interfaces: asked 2, the VIM has 3"
            ]
        );
        let net = Asked::Net {
            net_type: NetType::Data,
            vlan: Some(1001),
        };
        let seen = Seen {
            dataplane: Some(false),
            vlan: Some(1002),
            ..Seen::default()
        };
        assert_eq!(
            drift(&net, &seen, None),
            vec![
                "type: asked data (a VLAN net), the VIM has an overlay net",
                "vlan: asked 1001, the VIM has 1002"
            ]
        );
    }

    #[test]
    fn what_the_vim_does_not_say_or_the_request_did_not_ask_is_not_compared() {
        let any_vlan = Asked::Net {
            net_type: NetType::Ptp,
            vlan: None,
        };
        let seen = Seen {
            dataplane: Some(true),
            vlan: Some(3000),
            ..Seen::default()
        };
        assert!(
            drift(&any_vlan, &seen, None).is_empty(),
            "ptp and data are both VLAN nets"
        );
        assert!(drift(&vm(), &Seen::default(), Some(2)).is_empty());
        assert!(
            drift(&vm(), &Seen::default(), None).is_empty(),
            "no count (still building): no interface drift"
        );
    }

    #[test]
    fn identical_asks_share_one_copy() {
        let mut pool = AskedPool::default();
        let a = pool.share(vm());
        let b = pool.share(vm());
        let c = pool.share(Asked::Net {
            net_type: NetType::Bridge,
            vlan: None,
        });
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    proptest! {
        /// An element reported exactly as asked never drifts.
        #[test]
        fn as_asked_is_no_drift(flavor in "[a-z0-9.]{1,12}", image in "[a-z0-9-]{1,12}", n in 0usize..8, vlan in 1u16..4095) {
            let asked = Asked::Vm { flavor: flavor.clone(), image: image.clone(), interfaces: n };
            let seen = Seen { flavor: Some(flavor), image: Some(image), ..Seen::default() };
            prop_assert!(drift(&asked, &seen, Some(n)).is_empty());
            let net = Asked::Net { net_type: NetType::Data, vlan: Some(vlan) };
            let seen = Seen { dataplane: Some(true), vlan: Some(u32::from(vlan)), ..Seen::default() };
            prop_assert!(drift(&net, &seen, None).is_empty());
        }
    }
}
