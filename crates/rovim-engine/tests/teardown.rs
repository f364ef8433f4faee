//! Issue 10's third defect, attacked: a deployment torn down the way orchestrators do it (the
//! VMs' DELETEs and the nets' DELETEs in one action, no `depends_on`) must leave the VIM empty.
//! A net's DELETE waits for the VMs rovim knows on it; a VIM that still reports the net in use
//! is retried for a bounded time.

mod common;

use common::*;
use rovim_core::{ItemId, TaskStatus};
use rovim_engine::EngineConfig;
use rovim_vim::VmRequest;
use serde_json::{Value, json};

/// A net with two VMs, made and ACTIVE; returns the net's and the VMs' item ids.
async fn deployment(h: &Harness, vim: rovim_core::VimAccountId) -> (ItemId, Vec<ItemId>) {
    let made = h
        .submit(json!({"tasks": [
            net_task(vim, "n"), vm_task(vim, "a", &[0]), vm_task(vim, "b", &[0])]}))
        .await;
    let (a, _) = h.settled(made.action).await;
    assert_eq!(a.number_done, 3);
    let net = made.tasks[0].2;
    let vms = made.tasks[1..].iter().map(|t| t.2).collect();
    (net, vms)
}

fn deletes(vim: rovim_core::VimAccountId, net: ItemId, vms: &[ItemId], net_first: bool) -> Value {
    let mut tasks: Vec<Value> = vms.iter().map(|v| delete_task(vim, "vm", *v)).collect();
    let n = delete_task(vim, "net", net);
    if net_first {
        tasks.insert(0, n);
    } else {
        tasks.push(n);
    }
    json!({ "tasks": tasks })
}

#[actix_rt::test]
async fn a_plain_teardown_in_either_order_leaves_the_vim_empty() {
    let runs = [false, true]
        .into_iter()
        .flat_map(|net_first| {
            rovim_store::test_support::backends()
                .into_iter()
                .map(move |db| (net_first, db))
        })
        .collect::<Vec<_>>();
    for (net_first, db) in runs {
        let h = Harness::on(db).await;
        let (vim, cloud) = h
            .sim("lab", json!({"latency_ms": 200, "build_seconds": 0}))
            .await;
        let (net, vms) = deployment(&h, vim).await;
        let down = h.submit(deletes(vim, net, &vms, net_first)).await;
        let (a, tasks) = h.settled(down.action).await;
        assert_eq!(
            (a.number_done, a.number_failed),
            (3, 0),
            "net first: {net_first}: {:?}",
            tasks
                .iter()
                .map(|t| (&t.status, &t.error_msg))
                .collect::<Vec<_>>()
        );
        assert!(tasks.iter().all(|t| t.status == TaskStatus::Finished));
        assert_eq!(
            (cloud.net_count(), cloud.vm_count(), cloud.port_count()),
            (0, 0, 0)
        );
        assert_eq!(
            cloud.calls().delete_net,
            1,
            "the net's DELETE waited: no call met a port"
        );
        h.check_vim(vim, &cloud);
    }
}

#[actix_rt::test]
async fn a_net_delete_waits_for_vm_deletes_of_another_action() {
    let h = Harness::new().await;
    let (vim, cloud) = h
        .sim("lab", json!({"latency_ms": 300, "build_seconds": 0}))
        .await;
    let (net, vms) = deployment(&h, vim).await;
    let vm_down = h
        .submit(
            json!({"tasks": vms.iter().map(|v| delete_task(vim, "vm", *v)).collect::<Vec<_>>()}),
        )
        .await;
    let net_down = h
        .submit(json!({"tasks": [delete_task(vim, "net", net)]}))
        .await;
    let (n, nt) = h.settled(net_down.action).await;
    let (v, _) = h.settled(vm_down.action).await;
    assert_eq!(
        (v.number_done, n.number_done),
        (2, 1),
        "{:?}",
        nt[0].error_msg
    );
    assert_eq!((cloud.net_count(), cloud.port_count()), (0, 0));
    h.check_vim(vim, &cloud);
}

#[actix_rt::test]
async fn a_net_delete_with_a_vm_staying_fails_naming_it_without_a_vim_call() {
    let h = Harness::new().await;
    let (vim, cloud) = h.sim("lab", json!({"build_seconds": 0})).await;
    let (net, vms) = deployment(&h, vim).await;
    let before = cloud.calls().delete_net;
    // VM `a` goes, VM `b` stays.
    let down = h
        .submit(json!({"tasks": [delete_task(vim, "vm", vms[0]), delete_task(vim, "net", net)]}))
        .await;
    let (a, tasks) = h.settled(down.action).await;
    assert_eq!((a.number_done, a.number_failed), (1, 1));
    let msg = tasks[1].error_msg.clone().unwrap();
    assert!(
        msg.contains("'b'") && msg.contains(&vms[1].to_string()) && !msg.contains("'a'"),
        "{msg}"
    );
    assert_eq!(cloud.calls().delete_net, before, "the VIM was not asked");
    assert_eq!((cloud.net_count(), cloud.vm_count()), (1, 1));
    h.check_vim(vim, &cloud);
}

/// A port rovim does not know (made by hand) keeps the net in use: the DELETE is retried with
/// backoff while it is there, and succeeds once it is gone; if it stays, the task fails after
/// `in_use_retry_secs`, naming the port.
#[actix_rt::test]
async fn a_net_in_use_on_the_vim_is_retried_for_a_bounded_time() {
    for removed in [true, false] {
        let config = EngineConfig {
            in_use_retry_secs: 2.0,
            ..fast_config()
        };
        let h = Harness::with(rovim_store::test_support::sqlite(), config).await;
        let (vim, cloud) = h.sim("lab", json!({"build_seconds": 0})).await;
        let made = h.submit(json!({"tasks": [net_task(vim, "n")]})).await;
        h.settled(made.action).await;
        let vim_net = h.net(made.tasks[0].2).vim_id.unwrap();
        let params: rovim_core::VmParams = serde_json::from_value(json!({
            "name": "by-hand", "image_id": "i", "flavor_id": "f", "networks": [{"net": {"vim_net_id": vim_net}}]}))
        .unwrap();
        let by_hand = cloud
            .create_vm(
                &VmRequest {
                    params,
                    vim_net_ids: vec![vim_net.clone()],
                },
                "",
                "",
            )
            .await
            .unwrap();
        let down = h
            .submit(json!({"tasks": [delete_task(vim, "net", made.tasks[0].2)]}))
            .await;
        if removed {
            h.until(|| (cloud.calls().delete_net >= 2).then_some(()))
                .await;
            assert!(cloud.delete_behind_back(&by_hand.created.vim_id));
        }
        let (a, tasks) = h.settled(down.action).await;
        if removed {
            assert_eq!(a.number_done, 1, "{:?}", tasks[0].error_msg);
            assert_eq!(cloud.net_count(), 0);
        } else {
            assert_eq!(a.number_failed, 1);
            let msg = tasks[0].error_msg.clone().unwrap();
            assert!(
                msg.contains("still in use on the VIM")
                    && msg.contains("port(s) in use: ")
                    && msg.contains("giving up"),
                "{msg}"
            );
            assert_eq!(cloud.net_count(), 1);
            assert!(cloud.calls().delete_net > 2, "retried");
        }
        // Kept when the DELETE failed, so a later DELETE can still remove it.
        let expected = (!removed).then_some(vim_net.as_str());
        assert_eq!(h.net(made.tasks[0].2).vim_id.as_deref(), expected);
    }
}
