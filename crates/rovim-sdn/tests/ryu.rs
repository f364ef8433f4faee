//! The Ryu connector against the real Ryu (ofctl_rest) and Open vSwitch in userspace that
//! `.ci/sdn.sh` starts: two switch ports of `br-data` stand for two SR-IOV interfaces, each in
//! its own network namespace, and real packets tell whether the rules rovim writes join them.
//! Without the lab the test is ignored (`ROVIM_TEST_RYU_URL`); under CI=true it fails.

use rovim_core::{NetType, SdnNetStatus};
use rovim_sdn::testing::{
    LAB_MAC_A as MAC_A, LAB_MAC_B as MAC_B, a_reaches_b, rovim_rules, ryu_url,
};
use rovim_sdn::{RyuSdn, RyuSettings, SdnConnector, SdnError, SdnNetRequest, SdnPortRequest};
use serde_json::json;

fn port(net_id: &str, name: &str, pci: &str, mac: &str) -> SdnPortRequest {
    SdnPortRequest {
        name: name.into(),
        net_id: net_id.into(),
        compute_node: "compute-0".into(),
        pci: pci.into(),
        vlan: Some(100),
        mac: Some(mac.into()),
        region: String::new(),
    }
}

/// An SDN network and two external ports on the real Ryu: the two interfaces exchange packets
/// (and the rules' counters rise) only while both ports exist; a port or network is found again
/// by its name; after the network's delete no rule with rovim's cookies is left.
#[cfg_attr(
    rovim_no_ryu,
    ignore = "needs Ryu and Open vSwitch: eval \"$(bash .ci/sdn.sh)\""
)]
#[tokio::test]
async fn ports_on_a_vlan_segment_carry_packets_only_while_they_exist() {
    let Some(url) = ryu_url() else { return };
    let settings = RyuSettings::from_config(&json!({"port_mapping": [
        {"compute_node": "compute-0", "pci": "0000:01:00.1", "switch_dpid": 1, "switch_port": 1},
        {"compute_node": "compute-0", "pci": "0000:02:00.1", "switch_dpid": 1, "switch_port": 2}]}))
    .unwrap();
    let ryu = RyuSdn::new(&url, settings).unwrap();
    assert!(
        rovim_rules(&url).await.is_empty(),
        "a clean switch to start with"
    );
    assert!(
        !a_reaches_b(),
        "a secure-mode switch with no rule carries nothing"
    );

    let name = format!("data.rovim-{}", uuid::Uuid::now_v7().simple());
    let request = SdnNetRequest {
        name: name.clone(),
        net_type: NetType::Data,
        vlan: 100,
        region: String::new(),
    };
    let net = ryu.create_network(&request).await.unwrap();
    assert_eq!(ryu.find_network(&name).await.unwrap(), Some(net.clone()));
    assert_eq!(ryu.find_network("data.nobody").await.unwrap(), None);
    assert_eq!(
        ryu.show_network(&net).await.unwrap().status,
        SdnNetStatus::Active
    );
    assert_eq!(
        ryu.create_network(&request).await.unwrap(),
        net,
        "made again: the same network"
    );
    let other_vlan = SdnNetRequest {
        vlan: 200,
        ..request.clone()
    };
    assert!(matches!(
        ryu.create_network(&other_vlan).await,
        Err(SdnError::Conflict(_))
    ));

    let a = ryu
        .create_port(&port(&net, &format!("{name}.vm-a"), "0000:01:00.1", MAC_A))
        .await
        .unwrap();
    assert!(!a_reaches_b(), "one port alone reaches nobody");
    let b = ryu
        .create_port(&port(&net, &format!("{name}.vm-b"), "0000:02:00.1", MAC_B))
        .await
        .unwrap();
    assert!(a_reaches_b(), "both ports on the segment: packets pass");
    let counted: u64 = rovim_rules(&url)
        .await
        .iter()
        .filter(|r| r["match"]["in_port"] == 1)
        .filter_map(|r| r["packet_count"].as_u64())
        .sum();
    assert!(counted > 0, "the admitting rule counted them");
    assert_eq!(
        ryu.find_port(&net, &format!("{name}.vm-b")).await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(
        ryu.find_port(&net, &format!("{name}.vm-c")).await.unwrap(),
        None
    );
    let mut ports = ryu.list_ports(&net).await.unwrap();
    ports.sort_by(|x, y| x.pci.cmp(&y.pci));
    let seen: Vec<_> = ports
        .iter()
        .map(|p| (p.id.as_str(), p.pci.as_str(), p.mac.as_deref(), p.vlan))
        .collect();
    assert_eq!(
        seen,
        vec![
            (a.as_str(), "0000:01:00.1", Some(MAC_A), Some(100)),
            (b.as_str(), "0000:02:00.1", Some(MAC_B), Some(100))
        ]
    );
    let unmapped = ryu
        .create_port(&port(&net, "x", "0000:09:00.1", MAC_A))
        .await
        .unwrap_err();
    assert!(
        matches!(&unmapped, SdnError::BadRequest(m) if m.contains("config.port_mapping")),
        "{unmapped}"
    );

    ryu.delete_port(&b).await.unwrap();
    assert!(
        !a_reaches_b(),
        "b's port deleted: its traffic no longer passes"
    );
    assert!(matches!(
        ryu.delete_port(&b).await,
        Err(SdnError::NotFound(_))
    ));
    assert_eq!(ryu.list_ports(&net).await.unwrap().len(), 1);

    ryu.delete_network(&net).await.unwrap();
    assert!(
        rovim_rules(&url).await.is_empty(),
        "no rule with rovim's cookies is left"
    );
    assert!(matches!(
        ryu.show_network(&net).await,
        Err(SdnError::NotFound(_))
    ));
    assert!(matches!(
        ryu.delete_network(&net).await,
        Err(SdnError::NotFound(_))
    ));
}
