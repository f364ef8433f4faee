//! The engine on an AWS account served by moto (started here): a net and two VMs created,
//! polled to ACTIVE and deleted with nothing left; then a crash right after RunInstances and
//! before the outcome is stored (a failpoint): after the restart there is still one instance.
//! moto ignores ClientToken, so this holds only because recovery finds the instance by its tag.

mod common;

use std::time::Duration;

use common::*;
use rovim_core::{ItemStatus, TaskStatus};
use rovim_engine::{EngineConfig, RefreshConfig};
use rovim_store::test_support::sqlite;
use rovim_vim::VimConnector;
use rovim_vim::aws::AwsConnector;
use rovim_vim::testing::moto;
use serde_json::json;

/// Instances tagged with rovim tokens that are not terminated.
async fn live_instances(ec2: &AwsConnector) -> usize {
    let params = vec![
        ("Filter.1.Name".to_owned(), "tag-key".to_owned()),
        ("Filter.1.Value.1".to_owned(), "rovim-token".to_owned()),
        ("Filter.2.Name".to_owned(), "instance-state-name".to_owned()),
        ("Filter.2.Value.1".to_owned(), "pending".to_owned()),
        ("Filter.2.Value.2".to_owned(), "running".to_owned()),
    ];
    let xml = ec2.ec2().call("DescribeInstances", &params).await.unwrap();
    xml.matches("<instanceId>").count()
}

#[cfg_attr(
    rovim_no_moto,
    ignore = "needs moto: .ci/run installs it, or set ROVIM_MOTO_SERVER"
)]
#[actix_rt::test]
async fn the_engine_drives_aws_through_moto_and_a_crash_after_run_instances_makes_no_twin() {
    let Some(moto) = moto() else { return };
    let (watcher, vpc) = aws_vpc(&moto.endpoint, "10.9.0.0/16").await;
    let ami = between(
        &watcher.ec2().call("DescribeImages", &[]).await.unwrap(),
        "<imageId>",
        "</imageId>",
    );

    let config = EngineConfig {
        refresh: RefreshConfig {
            build_secs: 0.3,
            active_secs: 1.0,
            ..RefreshConfig::default()
        },
        ..fast_config()
    };
    let mut h = Harness::with(sqlite(), config).await;
    let vim = h.aws("aws", &moto.endpoint, &vpc).await;
    let vm = |name: &str| {
        json!({"vim_account": "aws", "action": "CREATE", "item": "vm",
        "params": {"name": name, "image_id": ami, "flavor_id": "t3.micro", "networks": [{"net": "TASK-0"}]}})
    };
    let sub = h.submit(json!({"tasks": [{"vim_account": "aws", "action": "CREATE", "item": "net", "params": {"name": "mgmt"}}, vm("a"), vm("b")]})).await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(statuses(&tasks), vec![TaskStatus::Done; 3], "{tasks:#?}");
    let subnet = tasks[0].vim_id.clone().unwrap();
    let (a, b) = (sub.tasks[1].2, sub.tasks[2].2);
    h.until(|| {
        (h.vm(a).status == ItemStatus::Active && h.vm(b).status == ItemStatus::Active).then_some(())
    })
    .await;
    let iface = &h.vm(a).interfaces[0];
    assert!(
        iface.mac_address.is_some()
            && iface
                .ip_address
                .as_deref()
                .is_some_and(|ip| ip.starts_with("10.9.")),
        "{iface:?}"
    );
    assert_eq!(live_instances(&watcher).await, 2);

    // The crash: RunInstances answered, the outcome never stored.
    rovim_engine::failpoints::arm_after_create(1);
    let c_sub = h
        .submit(json!({"tasks": [{"vim_account": "aws", "action": "CREATE", "item": "vm",
            "params": {"name": "c", "image_id": ami, "flavor_id": "t3.micro", "networks": [{"net": {"net_item": sub.tasks[0].2.to_string()}}]}}]}))
        .await;
    let (_, tasks) = h.settled(c_sub.action).await;
    assert_eq!(tasks[0].status, TaskStatus::Done, "{tasks:#?}");
    assert_eq!(
        live_instances(&watcher).await,
        3,
        "the crashed create was adopted, not repeated"
    );
    let state = h.account_until(vim, |s| s.restarts >= 1).await;
    assert_eq!(
        state.restarts, 1,
        "the failpoint stopped the actor once: {state:?}"
    );
    h.restart().await;

    // Everything goes away again.
    let mut deletes: Vec<_> = [a, b, c_sub.tasks[0].2]
        .iter()
        .map(|id| json!({"vim_account": "aws", "action": "DELETE", "item": "vm", "item_id": id.to_string()}))
        .collect();
    deletes.push(json!({"vim_account": "aws", "action": "DELETE", "item": "net", "item_id": sub.tasks[0].2.to_string(), "depends_on": [0, 1, 2]}));
    let del = h.submit(json!({"tasks": deletes})).await;
    let (_, tasks) = h.settled(del.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Finished; 4],
        "{tasks:#?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(live_instances(&watcher).await, 0);
    assert!(
        watcher.get_net(&subnet).await.is_err(),
        "the subnet is gone"
    );
}
