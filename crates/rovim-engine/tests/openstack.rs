//! The engine on an OpenStack account (real Keystone and Neutron from `.ci/openstack.sh`): nets
//! created with subnets, found, refreshed and deleted. (VMs are tested at the connector level,
//! against Neutron ports and the Nova mock: crates/rovim-vim/tests/openstack.rs.)

mod common;

use common::*;
use rovim_core::{ItemStatus, TaskStatus};
use serde_json::json;

#[cfg_attr(
    rovim_no_keystone,
    ignore = "needs Keystone and Neutron: eval \"$(bash .ci/openstack.sh)\""
)]
#[actix_rt::test]
async fn nets_through_the_engine_on_keystone_and_neutron() {
    let Some(url) = keystone_url() else { return };
    let h = Harness::new().await;
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
