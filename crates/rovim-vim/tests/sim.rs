//! The simulated VIM through the `VimConnector` trait, with tokio time paused so BUILD → ACTIVE
//! and the rate limit are exact.

use std::sync::Arc;
use std::time::Duration;

use rovim_core::{
    FindFilter, Interface, InterfaceType, IpProfile, ItemKind, ItemStatus, NetParams, NetRef,
    NetType, VmParams,
};
use rovim_vim::{SimCloud, SimConnector, SimSettings, VimConnector, VimError, VmRequest};

fn sim(settings: SimSettings) -> SimConnector {
    SimConnector::new(Arc::new(SimCloud::new(settings)))
}

fn net(name: &str, net_type: NetType) -> NetParams {
    NetParams {
        name: name.into(),
        net_type,
        ip_profile: None,
        shared: false,
        vlan: None,
    }
}

fn vm(name: &str, ifaces: &[InterfaceType]) -> VmParams {
    VmParams {
        name: name.into(),
        description: None,
        start: true,
        image_id: "cirros".into(),
        flavor_id: "m1.small".into(),
        networks: ifaces
            .iter()
            .map(|t| Interface {
                name: None,
                net: NetRef::Task(0),
                iface_type: *t,
                model: None,
                mac_address: None,
                port_security: true,
                floating_ip: false,
                vpci: None,
            })
            .collect(),
        cloud_config: None,
        disks: Vec::new(),
        availability_zone: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_vm_builds_then_becomes_active_with_addresses_from_its_subnet() {
    let c = sim(SimSettings {
        build_seconds: 5.0,
        ..SimSettings::default()
    });
    let mut p = net("mgmt", NetType::Bridge);
    p.ip_profile = Some(IpProfile {
        subnet_address: Some("192.168.7.0/24".into()),
        ..IpProfile::default()
    });
    let n = c.create_net(&p, "tok-net").await.unwrap();
    let data = c
        .create_net(&net("data", NetType::Data), "tok-data")
        .await
        .unwrap();
    let req = VmRequest {
        params: vm("vm1", &[InterfaceType::Virtual, InterfaceType::VF]),
        vim_net_ids: vec![n.vim_id.clone(), data.vim_id.clone()],
    };
    let made = c.create_vm(&req, "tok-vm").await.unwrap();
    assert_eq!(made.interface_ids.len(), 2);
    assert_eq!(
        made.created.created_items.len(),
        2,
        "ports are recorded for clean-up"
    );

    let r = c
        .refresh_vms(std::slice::from_ref(&made.created.vim_id))
        .await
        .unwrap();
    assert_eq!(r[&made.created.vim_id].status, ItemStatus::Build);
    tokio::time::advance(Duration::from_secs(5)).await;
    let r = c
        .refresh_vms(std::slice::from_ref(&made.created.vim_id))
        .await
        .unwrap();
    let report = &r[&made.created.vim_id];
    assert_eq!(report.status, ItemStatus::Active);
    let virt = &report.interfaces[0];
    assert_eq!(virt.ip_address.as_deref(), Some("192.168.7.2"));
    assert!(
        virt.mac_address
            .as_deref()
            .unwrap()
            .starts_with("fa:16:3e:")
    );
    assert_eq!((virt.pci.as_deref(), virt.vlan), (None, None));
    let vf = &report.interfaces[1];
    let data_vlan = c
        .get_net(&data.vim_id)
        .await
        .unwrap()
        .segmentation_id
        .unwrap();
    assert_eq!(vf.vlan.map(u32::from), Some(data_vlan));
    assert!(vf.pci.is_some() && vf.compute_node == virt.compute_node);
    assert_eq!(vf.vim_net_id.as_deref(), Some(data.vim_id.as_str()));
}

#[tokio::test(start_paused = true)]
async fn named_vms_end_in_error_with_a_message() {
    let c = sim(SimSettings {
        build_seconds: 1.0,
        error_vm_names: vec!["bad".into()],
        ..SimSettings::default()
    });
    let made = c
        .create_vm(
            &VmRequest {
                params: vm("bad", &[]),
                vim_net_ids: vec![],
            },
            "t",
        )
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    let r = c
        .refresh_vms(std::slice::from_ref(&made.created.vim_id))
        .await
        .unwrap();
    let report = &r[&made.created.vim_id];
    assert_eq!(report.status, ItemStatus::Error);
    assert!(report.error_msg.as_deref().unwrap().contains("bad"));
}

#[tokio::test]
async fn tokens_find_what_was_created_and_list_filters_apply() {
    let c = sim(SimSettings::default());
    let a = c
        .create_net(&net("a", NetType::Bridge), "tok-a")
        .await
        .unwrap();
    c.create_net(&net("b", NetType::Bridge), "tok-b")
        .await
        .unwrap();
    c.create_net(&net("b", NetType::Bridge), "tok-b2")
        .await
        .unwrap();
    let found = c
        .find_by_token(ItemKind::Net, "tok-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.created.vim_id, a.vim_id);
    assert!(
        c.find_by_token(ItemKind::Net, "tok-zzz")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        c.find_by_token(ItemKind::Vm, "tok-a")
            .await
            .unwrap()
            .is_none(),
        "kinds are apart"
    );
    let by_name = |n: &str| FindFilter {
        name: Some(n.into()),
        ..FindFilter::default()
    };
    assert_eq!(c.list_nets(&by_name("a")).await.unwrap().len(), 1);
    assert_eq!(c.list_nets(&by_name("b")).await.unwrap().len(), 2);
    assert_eq!(c.list_nets(&by_name("c")).await.unwrap().len(), 0);
}

#[tokio::test]
async fn deletes_clean_ports_and_a_net_in_use_is_refused() {
    let c = sim(SimSettings::default());
    let n = c
        .create_net(&net("n", NetType::Bridge), "t1")
        .await
        .unwrap();
    let made = c
        .create_vm(
            &VmRequest {
                params: vm("v", &[InterfaceType::Virtual]),
                vim_net_ids: vec![n.vim_id.clone()],
            },
            "t2",
        )
        .await
        .unwrap();
    let e = c.delete_net(&n.owned()).await.unwrap_err();
    assert!(matches!(e, VimError::InUse(_)), "{e}");
    c.delete_vm(&made.created.owned()).await.unwrap();
    assert_eq!(c.cloud().port_count(), 0);
    c.delete_net(&n.owned()).await.unwrap();
    assert!(matches!(
        c.delete_net(&n.owned()).await,
        Err(VimError::NotFound(_))
    ));
    assert_eq!(c.cloud().net_count(), 0);
}

#[tokio::test]
async fn a_vm_on_a_missing_net_fails_and_leaves_no_port() {
    let c = sim(SimSettings::default());
    let n = c
        .create_net(&net("n", NetType::Bridge), "t1")
        .await
        .unwrap();
    let req = VmRequest {
        params: vm("v", &[InterfaceType::Virtual, InterfaceType::Virtual]),
        vim_net_ids: vec![n.vim_id.clone(), "no-such-net".into()],
    };
    let f = c.create_vm(&req, "t2").await.unwrap_err();
    assert!(matches!(f.error, VimError::NotFound(_)), "{}", f.error);
    assert_eq!((c.cloud().port_count(), c.cloud().vm_count()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn fault_knobs_give_classified_errors() {
    let c = sim(SimSettings {
        unreachable: true,
        ..SimSettings::default()
    });
    let e = c.check_connectivity().await.unwrap_err();
    assert!(matches!(e, VimError::Connection(_)) && e.is_retryable());
    c.cloud().set_unreachable(false);
    c.check_connectivity().await.unwrap();

    let c = sim(SimSettings {
        rate_limit_qps: Some(2.0),
        ..SimSettings::default()
    });
    c.check_connectivity().await.unwrap();
    c.check_connectivity().await.unwrap();
    let e = c.check_connectivity().await.unwrap_err();
    let wait = e
        .retry_after()
        .expect("a rate limit says when to come back");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(500),
        "{wait:?}"
    );
    tokio::time::advance(wait).await;
    c.check_connectivity().await.unwrap();
    assert_eq!((c.cloud().calls().check, c.cloud().calls().refused), (3, 1));

    let c = sim(SimSettings {
        latency_ms: 250,
        ..SimSettings::default()
    });
    let t0 = tokio::time::Instant::now();
    c.check_connectivity().await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(250));
}

#[tokio::test]
async fn the_fail_rate_is_deterministic_for_a_seed() {
    async fn pattern(seed: u64) -> Vec<bool> {
        let c = sim(SimSettings {
            fail_rate: 0.5,
            seed,
            ..SimSettings::default()
        });
        let mut out = Vec::new();
        for _ in 0..64 {
            out.push(c.check_connectivity().await.is_ok());
        }
        out
    }
    let a = pattern(7).await;
    assert_eq!(a, pattern(7).await);
    let ok = a.iter().filter(|x| **x).count();
    assert!((16..=48).contains(&ok), "about half succeed: {ok}");
    assert_ne!(a, pattern(8).await);
}
