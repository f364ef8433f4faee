//! Faults on the wire between rovim and a real EC2 API (moto): a fault-injecting proxy breaks
//! the first request of one call type of the lifecycle (create a net and a VM on it, delete
//! both) in one of five ways: reset before the request, reset after it was carried out (the
//! answer lost), a 503, an answer slower than the call timeout, a truncated body. For every
//! fault at every call: the lifecycle completes, nothing is made twice (adopted by token),
//! nothing is left behind, the counters are exact.

mod common;

use std::time::Duration;

use common::*;
use rovim_core::TaskStatus;
use rovim_store::invariants::VimElement;
use rovim_store::test_support::sqlite;
use rovim_vim::testing::{Fault, FaultProxy, Rule, aws_inventory, moto};
use serde_json::json;

const CALLS: [&str; 6] = [
    "Action=CreateSubnet",
    "Action=RunInstances",
    "Action=DescribeInstances",
    "Action=DescribeSubnets",
    "Action=TerminateInstances",
    "Action=DeleteSubnet",
];

fn faults() -> [Fault; 5] {
    [
        Fault::ResetBefore,
        Fault::ResetAfter,
        Fault::Status(503, None),
        Fault::Slow(Duration::from_millis(1500)),
        Fault::Truncate,
    ]
}

async fn check(
    h: &Harness,
    vim: rovim_core::VimAccountId,
    watcher: &rovim_vim::aws::AwsConnector,
    vpc: &str,
) -> Vec<VimElement> {
    let inventory = elements(aws_inventory(watcher, vpc).await);
    h.check_inventory(vim, &inventory, "moto");
    inventory
}

#[cfg_attr(
    rovim_no_moto,
    ignore = "needs moto: .ci/run installs it, or set ROVIM_MOTO_SERVER"
)]
#[actix_rt::test]
async fn every_fault_at_every_call_of_the_lifecycle_leaves_no_twin_no_leak_no_lost_task() {
    let Some(moto) = moto() else { return };
    let config = wire_config();
    let mut report = Vec::new();
    for (case, call) in CALLS.iter().enumerate() {
        for (f, fault) in faults().into_iter().enumerate() {
            let (watcher, vpc) =
                aws_vpc(&moto.endpoint, &format!("10.{}.0.0/16", 10 + case * 5 + f)).await;
            let ami = between(
                &watcher.ec2().call("DescribeImages", &[]).await.unwrap(),
                "<imageId>",
                "</imageId>",
            );
            let proxy = FaultProxy::start(&moto.endpoint).await;
            proxy.add(Rule::once(call, fault.clone()));
            let h = Harness::with(sqlite(), config.clone()).await;
            let vim = h.aws("aws", &proxy.url, &vpc).await;
            let made = h
                .submit(json!({"tasks": [
                    {"vim_account": "aws", "action": "CREATE", "item": "net", "params": {"name": "n"}},
                    {"vim_account": "aws", "action": "CREATE", "item": "vm", "params": {"name": "v",
                        "image_id": ami, "flavor_id": "t3.micro", "networks": [{"net": "TASK-0"}]}}]}))
                .await;
            let (a, tasks) = h.settled(made.action).await;
            let what = format!("{call} / {fault:?}");
            assert_eq!(
                statuses(&tasks),
                vec![TaskStatus::Done; 2],
                "{what}: {:?}",
                tasks.iter().map(|t| &t.error_msg).collect::<Vec<_>>()
            );
            assert_eq!(a.number_done, 2);
            let inv = check(&h, vim, &watcher, &vpc).await;
            assert_eq!(
                (
                    inv.iter().filter(|e| e.kind == "net").count(),
                    inv.iter().filter(|e| e.kind == "vm").count()
                ),
                (1, 1),
                "{what}: one subnet, one instance"
            );
            // The VM's first poll (DescribeInstances, which a fault may fail once) made it ACTIVE.
            h.until(|| {
                (h.vm(made.tasks[1].2).status == rovim_core::ItemStatus::Active).then_some(())
            })
            .await;
            let down = h
                .submit(json!({"tasks": [
                    delete_task(vim, "vm", made.tasks[1].2), delete_task(vim, "net", made.tasks[0].2)]}))
                .await;
            let (d, dt) = h.settled(down.action).await;
            assert_eq!(
                (d.number_done, d.number_failed),
                (2, 0),
                "{what}: {:?}",
                dt.iter().map(|t| &t.error_msg).collect::<Vec<_>>()
            );
            let inv = check(&h, vim, &watcher, &vpc).await;
            assert!(inv.is_empty(), "{what}: left behind {inv:?}");
            let hit = proxy.faults_injected();
            assert_eq!(hit, 1, "{what}: the fault was injected: {:?}", proxy.log());
            report.push(what);
        }
    }
    eprintln!(
        "{} faults injected, one per (call, fault), each lifecycle clean",
        report.len()
    );
}
