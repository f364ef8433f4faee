//! The VLAN rule of SDN assist (spec §1.12): a data or ptp net on an account with an SDN
//! controller gets an SDN network on the VIM net's VLAN. A VIM net that is not VLAN-encapsulated
//! fails the task (the caller keeps the VIM net as leftover so a DELETE removes it, BUG-11); a
//! VLAN net without a usable segmentation id stays usable, with the reason no SDN network was
//! made.

use crate::params::NetType;

/// What the VIM says of a dataplane net's encapsulation, and what follows for its SDN network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdnVlan {
    /// Wire an SDN network on this VLAN.
    Wire(u16),
    /// A VLAN net without a VLAN id rovim can use: no SDN network, the net stays usable.
    NoVlanId,
}

/// The VIM net is not VLAN-encapsulated: the task fails with these words (the reference's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("net '{net}' defined as type '{net_type}' has not vlan encapsulation '{encapsulation}'")]
pub struct NotVlan {
    pub net: String,
    pub net_type: &'static str,
    pub encapsulation: String,
}

pub fn sdn_vlan(
    net: &str,
    net_type: NetType,
    encapsulation: Option<&str>,
    segmentation_id: Option<u32>,
) -> Result<SdnVlan, NotVlan> {
    let encapsulation = encapsulation.unwrap_or_default();
    if encapsulation != "vlan" {
        return Err(NotVlan {
            net: net.to_owned(),
            net_type: net_type.as_str(),
            encapsulation: encapsulation.to_owned(),
        });
    }
    Ok(segmentation_id
        .and_then(|v| u16::try_from(v).ok())
        .map_or(SdnVlan::NoVlanId, SdnVlan::Wire))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vlan_net_is_wired_on_its_vlan() {
        assert_eq!(
            sdn_vlan("d", NetType::Data, Some("vlan"), Some(101)),
            Ok(SdnVlan::Wire(101))
        );
        assert_eq!(
            sdn_vlan("d", NetType::Ptp, Some("vlan"), None),
            Ok(SdnVlan::NoVlanId)
        );
        assert_eq!(
            sdn_vlan("d", NetType::Data, Some("vlan"), Some(70_000)),
            Ok(SdnVlan::NoVlanId),
            "not a VLAN id"
        );
    }

    #[test]
    fn another_encapsulation_fails_the_task_in_the_references_words() {
        let e = sdn_vlan("dp", NetType::Data, Some("vxlan"), Some(5)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "net 'dp' defined as type 'data' has not vlan encapsulation 'vxlan'"
        );
        let e = sdn_vlan("dp", NetType::Ptp, None, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "net 'dp' defined as type 'ptp' has not vlan encapsulation ''"
        );
    }
}
