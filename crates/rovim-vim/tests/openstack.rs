//! The OpenStack connector against the real Keystone (v3) and Neutron (v2.0) servers that
//! `.ci/openstack.sh` installs and starts (ROVIM_TEST_KEYSTONE_URL). Without them the test skips
//! with a message; under CI=true it fails.

use rovim_core::{FindFilter, ItemKind, NetParams, NetType};
use rovim_vim::openstack::{OpenStackConnector, OpenStackSettings};
use rovim_vim::{VimConnector, VimError};
use serde_json::json;

fn keystone_url() -> Option<String> {
    match std::env::var("ROVIM_TEST_KEYSTONE_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("ROVIM_TEST_KEYSTONE_URL is not set: run `eval \"$(bash .ci/openstack.sh)\"`")
        }
        Err(_) => {
            eprintln!(
                "skipping: ROVIM_TEST_KEYSTONE_URL is not set (eval \"$(bash .ci/openstack.sh)\" starts Keystone and Neutron)"
            );
            None
        }
    }
}

fn connector(url: &str, password: &str, config: serde_json::Value) -> OpenStackConnector {
    let settings = OpenStackSettings::from_config(&config).unwrap();
    OpenStackConnector::new(url, "admin", password, "admin", settings).unwrap()
}

fn net(name: &str, net_type: NetType, ip: Option<serde_json::Value>) -> NetParams {
    serde_json::from_value(json!({"name": name, "type": net_type, "ip_profile": ip})).unwrap()
}

#[tokio::test]
async fn networks_live_and_die_on_keystone_and_neutron() {
    let Some(url) = keystone_url() else { return };
    let bad = connector(&url, "wrong", json!({}));
    assert!(matches!(
        bad.check_connectivity().await,
        Err(VimError::Auth(_))
    ));

    let os = connector(&url, "admin", json!({"physical_network": "physnet1"}));
    os.check_connectivity().await.unwrap();
    let session = os.keystone().session().await.unwrap();
    assert!(session.endpoints.contains_key("network"), "{session:?}");

    let suffix = std::process::id();
    let ip = json!({"ip_version": "IPv4", "subnet_address": "10.20.0.0/24", "gateway_address": "10.20.0.1",
                    "dns_addresses": ["10.20.0.53"], "dhcp": {"enabled": true, "start_address": "10.20.0.100", "count": 50}});
    let mgmt = os
        .create_net(
            &net(&format!("mgmt-{suffix}"), NetType::Bridge, Some(ip)),
            "tok-mgmt",
        )
        .await
        .unwrap();
    assert_eq!(
        mgmt.created_items.len(),
        1,
        "the subnet is recorded for clean-up: {mgmt:?}"
    );
    let data = os
        .create_net(
            &net(&format!("data-{suffix}"), NetType::Data, None),
            "tok-data",
        )
        .await
        .unwrap();
    let d = os.get_net(&data.vim_id).await.unwrap();
    assert_eq!(d.encapsulation.as_deref(), Some("vlan"));
    assert!(
        d.segmentation_id
            .is_some_and(|v| (1000..=2000).contains(&v)),
        "a VLAN of physnet1: {d:?}"
    );

    let no_physnet = connector(&url, "admin", json!({}));
    let e = no_physnet
        .create_net(&net("x", NetType::Ptp, None), "tok-x")
        .await
        .unwrap_err();
    assert!(
        e.error.to_string().contains("physical_network"),
        "{}",
        e.error
    );

    let by_name = os
        .list_nets(&FindFilter {
            name: Some(format!("mgmt-{suffix}")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_name.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        vec![mgmt.vim_id.clone()]
    );
    let found = os
        .find_by_token(ItemKind::Net, "tok-mgmt")
        .await
        .unwrap()
        .expect("found by its tag");
    assert_eq!(found.created, mgmt);
    assert!(
        os.find_by_token(ItemKind::Net, "tok-nobody")
            .await
            .unwrap()
            .is_none()
    );
    let ids = vec![
        mgmt.vim_id.clone(),
        data.vim_id.clone(),
        "00000000-0000-0000-0000-000000000000".into(),
    ];
    let reports = os.refresh_nets(&ids).await.unwrap();
    assert_eq!(reports.len(), 2, "an unknown id is absent");

    os.delete_net(&mgmt.owned()).await.unwrap();
    os.delete_net(&data.owned()).await.unwrap();
    assert!(matches!(
        os.delete_net(&data.owned()).await,
        Err(VimError::NotFound(_))
    ));
    assert!(
        os.find_by_token(ItemKind::Net, "tok-mgmt")
            .await
            .unwrap()
            .is_none()
    );
}
