//! The engine's task rules on an AWS account served by moto: superseding, FIND (one, none),
//! FIND-then-CREATE, failed dependencies, found nets left alone, a second DELETE a no-op.

mod common;

use common::*;
use rovim_core::TaskStatus;

use rovim_vim::testing::moto;
use serde_json::json;

#[cfg_attr(
    rovim_no_moto,
    ignore = "needs moto: .ci/run installs it, or set ROVIM_MOTO_SERVER"
)]
#[actix_rt::test]
async fn task_rules_hold_on_aws() {
    let Some(moto) = moto() else { return };
    let (boot, vpc) = aws_vpc(&moto.endpoint, "10.11.0.0/16").await;
    let h = Harness::new().await;
    h.aws("aws", &moto.endpoint, &vpc).await;
    let net = |name: &str| json!({"vim_account": "aws", "action": "CREATE", "item": "net", "params": {"name": name}});
    let find = |name: &str| json!({"vim_account": "aws", "action": "FIND", "item": "net", "find": {"name": name}});

    // DELETE while the CREATE is pending: both superseded, no subnet made.
    let item = rovim_core::ItemId::generate();
    let mut create = net("never");
    create["item_id"] = json!(item.to_string());
    let sub = h.submit(json!({"tasks": [create, {"vim_account": "aws", "action": "DELETE", "item": "net", "item_id": item.to_string()}]})).await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(statuses(&tasks), vec![TaskStatus::Superseded; 2]);
    let subnets = |vpc: String| {
        let boot = &boot;
        async move {
            let p = [
                ("Filter.1.Name".to_owned(), "vpc-id".to_owned()),
                ("Filter.1.Value.1".to_owned(), vpc),
            ];
            boot.ec2().call("DescribeSubnets", &p).await.unwrap()
        }
    };
    assert!(
        !subnets(vpc.clone()).await.contains("subnetId"),
        "no subnet was made"
    );

    // FIND one / none, FIND-then-CREATE, and a dependency on the failed FIND.
    let made = h.submit(json!({"tasks": [net("shared")]})).await;
    h.settled(made.action).await;
    let ftc = json!({"vim_account": "aws", "action": "CREATE", "item": "net", "find": {"name": "fresh"}, "params": {"name": "fresh"}});
    let vm = json!({"vim_account": "aws", "action": "CREATE", "item": "vm",
        "params": {"name": "v", "image_id": "ami-x", "flavor_id": "t3.micro", "networks": [{"net": "TASK-1"}]}});
    let sub = h
        .submit(json!({"tasks": [find("shared"), find("absent"), ftc, vm]}))
        .await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![
            TaskStatus::Done,
            TaskStatus::Failed,
            TaskStatus::Done,
            TaskStatus::Failed
        ],
        "{tasks:#?}"
    );
    assert!(!tasks[0].created && tasks[2].created);
    assert!(
        tasks[3]
            .error_msg
            .as_deref()
            .unwrap()
            .contains(&format!("{}.1", sub.action))
    );

    // Deleting the found net leaves the subnet; deleting the created one removes it; again: no-op.
    let (found, created) = (sub.tasks[0].2, made.tasks[0].2);
    let del = h.submit(json!({"tasks": [
        {"vim_account": "aws", "action": "DELETE", "item": "net", "item_id": found.to_string()},
        {"vim_account": "aws", "action": "DELETE", "item": "net", "item_id": created.to_string()}]})).await;
    let (_, tasks) = h.settled(del.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Superseded, TaskStatus::Finished]
    );
    let again = h.submit(json!({"tasks": [{"vim_account": "aws", "action": "DELETE", "item": "net", "item_id": created.to_string()}]})).await;
    let (_, tasks) = h.settled(again.action).await;
    assert_eq!(
        tasks[0].status,
        TaskStatus::Superseded,
        "a second DELETE is a no-op"
    );
    let left = subnets(vpc.clone()).await;
    assert!(
        !left.contains(">shared<"),
        "the created-then-found subnet is gone"
    );
    assert!(
        left.contains(">fresh<"),
        "the FIND-then-CREATE net is still there"
    );
}
