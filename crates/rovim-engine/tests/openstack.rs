//! The engine on an OpenStack account (real Keystone and Neutron from `.ci/openstack.sh`, real
//! Nova from `.ci/nova.sh`): nets created with subnets, found, refreshed and deleted; then nets
//! and VMs end to end, the VMs booted by Nova on ports Nova binds.

mod common;

use common::*;
use rovim_core::{InterfaceType, ItemStatus, TaskStatus};
use serde_json::json;

/// The test engine's quick retries, with a call timeout for a real cloud: a server create (its
/// ports, then the POST) takes seconds on a loaded machine, and 5 s cut one just as Nova
/// answered (the retry then met the first server's ports: PortInUse, 2026-12-02).
fn real_vim_config() -> rovim_engine::EngineConfig {
    rovim_engine::EngineConfig {
        call_timeout_secs: 60.0,
        ..rovim_engine::test_support::fast_config()
    }
}

/// How long a server may take to turn ACTIVE with its addresses.
const BUILD: std::time::Duration = std::time::Duration::from_secs(90);

#[cfg_attr(
    rovim_no_keystone,
    ignore = "needs Keystone and Neutron: eval \"$(bash .ci/openstack.sh)\""
)]
#[actix_rt::test]
async fn nets_through_the_engine_on_keystone_and_neutron() {
    let Some(url) = keystone_url() else { return };
    let h = Harness::with(rovim_store::test_support::sqlite(), real_vim_config()).await;
    h.openstack("os", url, "admin", json!({"physical_network": "physnet1"}))
        .await;
    let name = format!("engine-{}", std::process::id());
    let sub = h
        .submit(json!({"tasks": [
            {"vim_account": "os", "action": "CREATE", "item": "net",
             "params": {"name": name, "ip_profile": {"subnet_address": "10.30.0.0/24"}}},
            {"vim_account": "os", "action": "CREATE", "item": "net", "params": {"name": format!("{name}-d"), "type": "data"}},
            {"vim_account": "os", "action": "FIND", "item": "net", "find": {"name": name}, "depends_on": [0]},
        ]}))
        .await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(statuses(&tasks), vec![TaskStatus::Done; 3], "{tasks:#?}");
    assert_eq!(
        tasks[2].vim_id, tasks[0].vim_id,
        "FIND found the created net"
    );
    assert!(!tasks[2].created);
    h.until(|| (h.net(sub.tasks[0].2).status == ItemStatus::Active).then_some(()))
        .await;
    assert_eq!(h.net(sub.tasks[0].2).created_items.len(), 1, "its subnet");

    let del = h
        .submit(json!({"tasks": [
            {"vim_account": "os", "action": "DELETE", "item": "net", "item_id": sub.tasks[2].2.to_string()},
            {"vim_account": "os", "action": "DELETE", "item": "net", "item_id": sub.tasks[0].2.to_string()},
            {"vim_account": "os", "action": "DELETE", "item": "net", "item_id": sub.tasks[1].2.to_string()},
        ]}))
        .await;
    let (_, tasks) = h.settled(del.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![
            TaskStatus::Superseded,
            TaskStatus::Finished,
            TaskStatus::Finished
        ],
        "{tasks:#?}"
    );
    assert_eq!(h.net(sub.tasks[0].2).status, ItemStatus::Deleted);
}

/// One action makes a bridge net, a data net and two VMs on them (the second with an SR-IOV VF
/// on the data net); Nova boots them: each VM turns ACTIVE through the engine's refresh with
/// its interfaces' MACs, IPs, compute node and PCI slot from Nova's port bindings. A second
/// action deletes everything in dependency order: servers, ports, subnets and networks gone.
#[cfg_attr(
    rovim_no_nova,
    ignore = "needs Nova: eval \"$(bash .ci/openstack.sh)\"; eval \"$(bash .ci/nova.sh)\""
)]
#[actix_rt::test]
async fn nets_and_vms_end_to_end_on_the_real_nova() {
    let Some(url) = keystone_url() else { return };
    let Some(nova) = rovim_vim::testing::nova_peer() else {
        return;
    };
    let h = Harness::with(rovim_store::test_support::sqlite(), real_vim_config()).await;
    let vim = h
        .openstack(
            "os",
            url.clone(),
            "admin",
            json!({"physical_network": "physnet1"}),
        )
        .await;
    let name = format!("e2e-{}", std::process::id());
    let vm = |n: &str, networks: serde_json::Value| {
        json!({"vim_account": "os", "action": "CREATE", "item": "vm", "depends_on": [0, 1],
               "params": {"name": format!("{name}-{n}"), "image_id": nova.image, "flavor_id": nova.flavor,
                          "networks": networks}})
    };
    let made = h
        .submit(json!({"tasks": [
            {"vim_account": "os", "action": "CREATE", "item": "net",
             "params": {"name": format!("{name}-mgmt"), "ip_profile": {"subnet_address": "10.31.0.0/24"}}},
            {"vim_account": "os", "action": "CREATE", "item": "net",
             "params": {"name": format!("{name}-data"), "type": "data", "ip_profile": {"subnet_address": "10.32.0.0/24"}}},
            vm("a", json!([{"net": "TASK-0"}])),
            vm("b", json!([{"net": "TASK-0"}, {"net": "TASK-1", "type": "VF"}])),
        ]}))
        .await;
    let (action, tasks) = h.settled(made.action).await;
    assert_eq!(statuses(&tasks), vec![TaskStatus::Done; 4], "{tasks:#?}");
    assert_eq!(action.number_done, 4);
    let (a, b) = (made.tasks[2].2, made.tasks[3].2);
    let active = |id| {
        let v = h.vm(id);
        (v.status == ItemStatus::Active
            && v.interfaces
                .iter()
                .all(|i| i.ip_address.is_some() && i.compute_node.is_some()))
        .then_some(v)
    };
    // A real build: seconds, many more on a loaded machine's first servers.
    let va = h.until_within(BUILD, || active(a)).await;
    let vb = h.until_within(BUILD, || active(b)).await;
    assert_eq!(va.interfaces.len(), 1);
    assert!(
        va.interfaces[0]
            .ip_address
            .as_deref()
            .unwrap()
            .starts_with("10.31.")
    );
    assert_eq!(vb.interfaces.len(), 2);
    let vf = vb
        .interfaces
        .iter()
        .find(|i| i.iface_type == InterfaceType::VF)
        .unwrap();
    assert!(
        vf.ip_address.as_deref().unwrap().starts_with("10.32."),
        "{vf:?}"
    );
    assert!(
        vf.pci.as_deref().is_some_and(|p| p.ends_with(".1")),
        "{vf:?}"
    );
    for i in va.interfaces.iter().chain(&vb.interfaces) {
        assert_eq!(i.compute_node.as_deref(), Some("compute-0"), "{i:?}");
        assert!(
            i.mac_address.is_some() && i.vim_interface_id.is_some(),
            "{i:?}"
        );
    }
    assert!(
        va.drift.is_empty() && vb.drift.is_empty(),
        "{:?} {:?}",
        va.drift,
        vb.drift
    );
    assert_eq!(vb.created_items.len(), 2, "its two ports");

    let ids: Vec<_> = made.tasks.iter().map(|t| t.2).collect();
    let down = h
        .submit(json!({"tasks": [
            delete_task(vim, "vm", ids[2]), delete_task(vim, "vm", ids[3]),
            {"vim_account": "os", "action": "DELETE", "item": "net", "item_id": ids[0].to_string(), "depends_on": [0, 1]},
            {"vim_account": "os", "action": "DELETE", "item": "net", "item_id": ids[1].to_string(), "depends_on": [0, 1]},
        ]}))
        .await;
    let (_, tasks) = h.settled(down.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Finished; 4],
        "{tasks:#?}"
    );
    for id in [a, b] {
        assert_eq!(h.vm(id).status, ItemStatus::Deleted);
    }
    let watcher = rovim_vim::openstack::OpenStackConnector::new(
        &url,
        "admin",
        "admin",
        "admin",
        rovim_vim::openstack::OpenStackSettings::default(),
    )
    .unwrap();
    use rovim_vim::VimConnector;
    let servers = [va.vim_id.clone().unwrap(), vb.vim_id.clone().unwrap()];
    let start = std::time::Instant::now();
    while !watcher.refresh_vms(&servers).await.unwrap().is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "servers left on Nova"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    for i in va.interfaces.iter().chain(&vb.interfaces) {
        let port = i.vim_interface_id.as_deref().unwrap();
        let gone = watcher
            .keystone()
            .call(
                "network",
                reqwest::Method::GET,
                &format!("/v2.0/ports/{port}"),
                None,
            )
            .await;
        assert!(
            matches!(gone, Err(rovim_vim::VimError::NotFound(_))),
            "port {port}: {gone:?}"
        );
    }
    h.check();
}

/// Through the engine, what Nova refuses or fails reads clearly: a VM over the project's quota
/// fails its task at once (one attempt, no retry) naming the quota; a VM no host can take is
/// created, then turns ERROR with Nova's fault message.
#[cfg_attr(
    rovim_no_nova,
    ignore = "needs Nova: eval \"$(bash .ci/openstack.sh)\"; eval \"$(bash .ci/nova.sh)\""
)]
#[actix_rt::test]
async fn quota_refusals_and_build_faults_read_clearly_through_the_engine() {
    let Some(url) = keystone_url() else { return };
    let Some(nova) = rovim_vim::testing::nova_peer() else {
        return;
    };
    let h = Harness::with(rovim_store::test_support::sqlite(), real_vim_config()).await;
    h.openstack_in(
        "tight",
        url.clone(),
        &nova.quota_project,
        "admin",
        json!({}),
    )
    .await;
    let vim = h.openstack("os", url, "admin", json!({})).await;
    let name = format!("refused-{}", std::process::id());
    let vm = |account: &str, n: &str, flavor: &str| {
        json!({"vim_account": account, "action": "CREATE", "item": "vm",
               "params": {"name": format!("{name}-{n}"), "image_id": nova.image, "flavor_id": flavor,
                          "networks": []}})
    };
    let made = h
        .submit(json!({"tasks": [
            vm("tight", "over", &nova.flavor),
            vm("os", "huge", &nova.huge_flavor),
        ]}))
        .await;
    let (action, tasks) = h.settled(made.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Failed, TaskStatus::Done],
        "{tasks:#?}"
    );
    assert_eq!((action.number_done, action.number_failed), (1, 1));
    let refused = tasks[0].error_msg.as_deref().unwrap_or_default();
    assert!(
        refused.contains("Quota exceeded for instances") && !refused.contains("attempts"),
        "one well-worded try: {refused}"
    );
    assert_eq!(tasks[0].attempts, 1);
    let failed = h
        .until(|| {
            let v = h.vm(made.tasks[1].2);
            (v.status == ItemStatus::Error).then_some(v)
        })
        .await;
    let fault = failed.error_msg.unwrap_or_default();
    assert!(fault.contains("No valid host"), "Nova's fault: {fault}");
    let down = h
        .submit(json!({"tasks": [delete_task(vim, "vm", made.tasks[1].2)]}))
        .await;
    let (_, tasks) = h.settled(down.action).await;
    assert_eq!(statuses(&tasks), vec![TaskStatus::Finished], "{tasks:#?}");
    h.check();
}
