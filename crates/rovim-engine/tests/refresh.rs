//! Refresh: live elements are polled in batches at the interval of their status, and only
//! changes reach the database. Tokio time is paused: the sim VIM's BUILD → ACTIVE and the
//! scheduler's timers follow the virtual clock.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use rovim_core::{ItemStatus, TaskStatus};
use serde_json::json;

fn writes(h: &Harness) -> u64 {
    h.engine.writer().stats().writes.load(Ordering::Relaxed)
}

async fn pass(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

#[actix_rt::test]
async fn a_building_vm_is_polled_every_5_s_then_every_60_s_and_only_changes_are_written() {
    tokio::time::pause();
    let h = Harness::on_test_thread(fast_config()).await;
    let (vim, cloud) = h.sim("vim1", json!({"build_seconds": 20})).await;
    let sub = h
        .submit(json!({"tasks": [net_task(vim, "n"), vm_task(vim, "v", &[0])]}))
        .await;
    h.settled(sub.action).await;
    let vm = sub.tasks[1].2;
    assert_eq!(h.vm(vm).status, ItemStatus::Build);
    let polls0 = cloud.calls().refresh_vms;

    pass(17).await; // BUILD: due every 5 s ± 10 %
    let building = cloud.calls().refresh_vms - polls0;
    assert!(
        (3..=4).contains(&building),
        "{building} polls in 17 s of BUILD"
    );
    assert_eq!(h.vm(vm).status, ItemStatus::Build);

    pass(10).await; // ACTIVE at 20 s, seen by the next poll
    h.until(|| (h.vm(vm).status == ItemStatus::Active).then_some(()))
        .await;
    let (polls1, writes1) = (cloud.calls().refresh_vms, writes(&h));

    pass(185).await; // ACTIVE: due every 60 s ± 10 %
    let active = cloud.calls().refresh_vms - polls1;
    assert!(
        (3..=4).contains(&active),
        "{active} polls in 185 s of ACTIVE"
    );
    assert_eq!(writes(&h), writes1, "nothing changed, nothing written");
}

#[actix_rt::test]
async fn a_thousand_live_elements_cost_ceil_n_over_batch_calls_per_interval() {
    tokio::time::pause();
    let h = Harness::on_test_thread(fast_config()).await;
    let (vim, cloud) = h.sim("vim1", json!({"refresh_batch_size": 100})).await;
    let tasks: Vec<_> = (0..1000).map(|i| net_task(vim, &format!("n{i}"))).collect();
    let sub = h.submit(json!({ "tasks": tasks })).await;
    let (action, _) = h.settled(sub.action).await;
    assert_eq!(action.number_done, 1000);
    assert_eq!(h.engine.tracked_elements().await.unwrap(), 1000);
    pass(70).await; // every element has been polled once
    let c0 = cloud.calls().refresh_nets;
    pass(300).await; // five intervals
    let calls = cloud.calls().refresh_nets - c0;
    assert!(
        (45..=55).contains(&calls),
        "{calls} refresh calls for 1,000 nets over 5 intervals of 60 s"
    );
}

#[actix_rt::test]
async fn deleted_behind_rovims_back_becomes_deleted_and_an_outage_marks_the_batch() {
    tokio::time::pause();
    let h = Harness::on_test_thread(fast_config()).await;
    let (vim, cloud) = h.sim("vim1", json!({"build_seconds": 0})).await;
    let find = json!({"vim_account": vim.to_string(), "action": "FIND", "item": "net", "find": {"name": "n0"}});
    let sub = h
        .submit(
            json!({"tasks": [net_task(vim, "n0"), net_task(vim, "n1"), vm_task(vim, "v", &[1])]}),
        )
        .await;
    h.settled(sub.action).await;
    // A second rovim item on the same VIM net (BUG-15): both must follow it.
    let twin = h.submit(json!({"tasks": [find]})).await;
    h.settled(twin.action).await;
    let (n0, n1, v) = (sub.tasks[0].2, sub.tasks[1].2, sub.tasks[2].2);
    let twin_net = twin.tasks[0].2;

    cloud.set_unreachable(true);
    pass(70).await;
    let all = |s: ItemStatus| {
        [
            h.net(n0).status,
            h.net(n1).status,
            h.vm(v).status,
            h.net(twin_net).status,
        ]
        .iter()
        .all(|x| *x == s)
    };
    h.until(|| all(ItemStatus::VimError).then_some(())).await;
    assert!(h.vm(v).error_msg.unwrap().contains("unreachable"));
    cloud.set_unreachable(false);
    let polls = cloud.calls().refresh_vms;
    pass(10).await; // polled again soon after the outage, not a whole interval later
    assert!(cloud.calls().refresh_vms > polls);
    h.until(|| all(ItemStatus::Active).then_some(())).await;
    assert_eq!(h.vm(v).error_msg, None);

    let vm_vim_id = h.vm(v).vim_id.unwrap();
    let n0_vim_id = h.net(n0).vim_id.unwrap();
    assert!(cloud.delete_behind_back(&vm_vim_id));
    assert!(cloud.delete_behind_back(&n0_vim_id));
    pass(70).await;
    h.until(|| (h.vm(v).status == ItemStatus::Deleted).then_some(()))
        .await;
    let vm = h.vm(v);
    assert!(vm.error_msg.unwrap().contains("deleted outside rovim"));
    h.until(|| (h.net(n0).status == ItemStatus::Deleted).then_some(()))
        .await;
    h.until(|| (h.net(twin_net).status == ItemStatus::Deleted).then_some(()))
        .await;
    assert_eq!(h.net(n1).status, ItemStatus::Active);
    assert_eq!(h.task(sub.action, 2).status, TaskStatus::Done);
}

#[actix_rt::test]
async fn polling_is_rebuilt_from_the_database_on_restart_and_deleted_elements_leave_it() {
    let mut h = Harness::new().await;
    let (vim, _cloud) = h.sim("vim1", json!({"build_seconds": 0})).await;
    let sub = h
        .submit(json!({"tasks": [net_task(vim, "a"), net_task(vim, "b"), vm_task(vim, "v", &[0])]}))
        .await;
    h.settled(sub.action).await;
    assert_eq!(h.engine.tracked_elements().await.unwrap(), 3);
    let del = h
        .submit(json!({"tasks": [delete_task(vim, "net", sub.tasks[1].2)]}))
        .await;
    h.settled(del.action).await;
    assert_eq!(
        h.engine.tracked_elements().await.unwrap(),
        2,
        "the deleted net left polling at once"
    );

    h.restart().await;
    let mut tries = 0;
    let (vim_state, n) = loop {
        tries += 1;
        assert!(
            tries < 2000,
            "the restarted actor never tracked its elements"
        );
        let s = h
            .engine
            .account_states()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.id == vim)
            .unwrap();
        let n = h.engine.tracked_elements().await.unwrap();
        if s.running && n > 0 {
            break (s, n);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(vim_state.running);
    assert_eq!(n, 2, "the live net and VM, from the database");
}
