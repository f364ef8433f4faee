//! What the engine guarantees when things go wrong: crashes at the worst moments, VIMs that are
//! down, flaky or refusing.

mod common;

use common::*;
use rovim_core::{AccountStatus, TaskStatus};
use rovim_engine::EngineConfig;
use rovim_store::accounts;
use rovim_store::test_support::sqlite;
use serde_json::json;

#[actix_rt::test]
async fn crash_after_the_vim_created_but_before_the_result_was_stored() {
    let mut h = Harness::new().await;
    let (vim, cloud) = h.sim("vim1", json!({})).await;
    let nets = h.submit(json!({"tasks": [net_task(vim, "n1")]})).await;
    h.settled(nets.action).await;

    // The VIM takes the creates but its answers hang: rovim dies in that window.
    cloud.update_settings(|s| s.stall_after_create_ms = 600_000);
    let mut vm = vm_task(vim, "v1", &[]);
    vm["params"]["networks"] = json!([{"net": {"net_item": nets.tasks[0].2.to_string()}}]);
    let sub = h.submit(json!({"tasks": [net_task(vim, "n2"), vm]})).await;
    h.until(|| (cloud.net_count() == 2 && cloud.vm_count() == 1).then_some(()))
        .await;
    let (_, tasks) = h.action(sub.action);
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Build, TaskStatus::Build],
        "the outcome is not stored yet"
    );

    cloud.update_settings(|s| s.stall_after_create_ms = 0);
    h.restart().await;
    let (action, tasks) = h.settled(sub.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Done, TaskStatus::Done],
        "{tasks:#?}"
    );
    assert_eq!(action.number_done, 2);
    assert_eq!(
        (cloud.net_count(), cloud.vm_count(), cloud.port_count()),
        (2, 1, 1),
        "adopted, not created twice"
    );
    assert_eq!((cloud.calls().create_net, cloud.calls().create_vm), (2, 1));
    assert!(tasks.iter().all(|t| t.created && t.vim_id.is_some()));
    // Filled in by its first poll.
    h.until(|| h.vm(sub.tasks[1].2).interfaces[0].mac_address.clone())
        .await;
}

#[actix_rt::test]
async fn crash_after_build_was_stored_but_before_the_vim_call() {
    let mut h = Harness::new().await;
    let (vim, cloud) = h.sim("vim1", json!({})).await;
    // Once the actor is up, the VIM turns so slow that rovim dies before its call lands.
    h.account_until(vim, |s| s.running).await;
    cloud.update_settings(|s| s.latency_ms = 600_000);
    let sub = h.submit(json!({"tasks": [net_task(vim, "n1")]})).await;
    h.until(|| (h.task(sub.action, 0).status == TaskStatus::Build).then_some(()))
        .await;
    assert_eq!(cloud.net_count(), 0);

    cloud.update_settings(|s| s.latency_ms = 0);
    h.restart().await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(tasks[0].status, TaskStatus::Done);
    assert_eq!(
        (cloud.net_count(), cloud.calls().create_net),
        (1, 1),
        "exactly one net"
    );
    assert_eq!(
        cloud.calls().find_by_token,
        1,
        "the BUILD task looked its token up first"
    );
}

#[actix_rt::test]
async fn an_unreachable_vim_is_retried_with_backoff_and_its_tasks_complete_once_it_is_back() {
    let h = Harness::new().await;
    let (down, cloud_down) = h.sim("down", json!({"unreachable": true})).await;
    let (up, cloud_up) = h.sim("up", json!({})).await;
    let sub = h
        .submit(
            json!({"tasks": [net_task(down, "d1"), net_task(up, "u1"), vm_task(down, "dv", &[0])]}),
        )
        .await;

    // The healthy VIM is not held up.
    h.until(|| (h.task(sub.action, 1).status == TaskStatus::Done).then_some(()))
        .await;
    assert_eq!(cloud_up.net_count(), 1);
    // The failing one restarts with backoff and shows why.
    let state = h.account_until(down, |s| s.restarts >= 2).await;
    assert_eq!(state.status, AccountStatus::Error);
    assert!(
        state.error.as_deref().unwrap().contains("unreachable"),
        "{state:?}"
    );
    let row = accounts::get_vim_account(&mut h.store().conn().unwrap(), down).unwrap();
    assert_eq!(row.status, AccountStatus::Error);
    assert!(row.restart_count >= 1 && row.error_msg.is_some());
    assert_eq!(
        h.task(sub.action, 0).status,
        TaskStatus::Scheduled,
        "its tasks wait in the database"
    );
    let metrics = h.engine.render_metrics();
    let restarts = format!("rovim_actor_restarts_total{{vim=\"{down}\"}} ");
    let line = metrics
        .lines()
        .find(|l| l.starts_with(&restarts))
        .expect("a restart counter for the failing VIM");
    assert!(
        line[restarts.len()..].parse::<u64>().unwrap() >= 2,
        "{line}"
    );
    assert_eq!(state.last_exit, Some(rovim_engine::ActorExit::VimDown));
    let exits = format!("rovim_actor_exits_total{{exit=\"vim_down\",vim=\"{down}\"}} ");
    assert!(metrics.contains(&exits), "counted by kind: {metrics}");

    cloud_down.set_unreachable(false);
    let (action, tasks) = h.settled(sub.action).await;
    assert_eq!(statuses(&tasks), vec![TaskStatus::Done; 3]);
    assert_eq!(action.number_done, 3);
    let row = h
        .until(|| {
            let row = accounts::get_vim_account(&mut h.store().conn().unwrap(), down).unwrap();
            (row.status == AccountStatus::Enabled).then_some(row)
        })
        .await;
    assert_eq!(row.error_msg, None);
}

#[actix_rt::test]
async fn a_vim_that_goes_away_mid_call_loses_no_task() {
    let h = Harness::new().await;
    let (vim, cloud) = h.sim("vim1", json!({"latency_ms": 300})).await;
    let sub = h
        .submit(json!({"tasks": [net_task(vim, "n1"), net_task(vim, "n2")]}))
        .await;
    // Both creates are on their way when the VIM goes away.
    h.until(|| (h.task(sub.action, 1).status == TaskStatus::Build).then_some(()))
        .await;
    cloud.set_unreachable(true);
    h.account_until(vim, |s| s.restarts >= 1).await;
    let (_, tasks) = h.action(sub.action);
    assert!(tasks.iter().all(|t| t.status.is_open()), "{tasks:#?}");
    cloud.set_unreachable(false);
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(statuses(&tasks), vec![TaskStatus::Done; 2]);
    assert_eq!(cloud.net_count(), 2);
}

#[actix_rt::test]
async fn a_flaky_vim_still_completes_every_task_and_a_permanent_error_fails_at_once() {
    let config = EngineConfig {
        max_attempts: 12,
        ..fast_config()
    };
    let h = Harness::with(sqlite(), config).await;
    let (vim, cloud) = h.sim("flaky", json!({"fail_rate": 0.3, "seed": 42})).await;
    let mut tasks: Vec<_> = (0..10).map(|i| net_task(vim, &format!("n{i}"))).collect();
    tasks.extend((0..10).map(|i| vm_task(vim, &format!("v{i}"), &[i])));
    let sub = h.submit(json!({ "tasks": tasks })).await;
    let (action, tasks) = h.settled(sub.action).await;
    assert_eq!(
        action.number_failed,
        0,
        "{:#?}",
        tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Failed)
            .collect::<Vec<_>>()
    );
    assert_eq!(action.number_done, 20);
    assert!(cloud.calls().refused > 0, "the VIM did refuse calls");
    assert!(tasks.iter().any(|t| t.attempts > 1));
    assert_eq!(
        (cloud.net_count(), cloud.vm_count()),
        (10, 10),
        "retries made no twins"
    );

    cloud.update_settings(|s| s.fail_rate = 0.0);
    let bad = h
        .submit(json!({"tasks": [{"vim_account": vim.to_string(), "action": "CREATE", "item": "net",
                                  "params": {"name": "bad", "ip_profile": {"subnet_address": "10.0.0.0/99"}}}]}))
        .await;
    let (_, tasks) = h.settled(bad.action).await;
    assert_eq!(
        (tasks[0].status, tasks[0].attempts),
        (TaskStatus::Failed, 1)
    );
    let msg = tasks[0].error_msg.as_deref().unwrap();
    assert!(
        msg.contains("refused") && msg.contains("subnet_address"),
        "{msg}"
    );
}

#[actix_rt::test]
async fn a_vm_create_that_fails_half_way_leaves_nothing_behind() {
    let h = Harness::new().await;
    let (vim, cloud) = h.sim("vim1", json!({})).await;
    let mut vm = vm_task(vim, "half", &[0]);
    vm["params"]["networks"]
        .as_array_mut()
        .unwrap()
        .push(json!({"net": {"vim_net_id": "no-such-net"}}));
    let sub = h.submit(json!({"tasks": [net_task(vim, "n1"), vm]})).await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(statuses(&tasks), vec![TaskStatus::Done, TaskStatus::Failed]);
    assert!(
        tasks[1]
            .error_msg
            .as_deref()
            .unwrap()
            .contains("no-such-net")
    );
    assert_eq!(tasks[1].attempts, 1, "not found is permanent");
    assert_eq!(
        (cloud.vm_count(), cloud.port_count()),
        (0, 0),
        "the first port was cleaned"
    );
}

#[actix_rt::test]
async fn a_call_that_never_answers_times_out_and_fails_after_its_retries() {
    let config = EngineConfig {
        call_timeout_secs: 0.2,
        max_attempts: 2,
        ..fast_config()
    };
    let h = Harness::with(sqlite(), config).await;
    let (vim, cloud) = h.sim("slow", json!({})).await;
    h.account_until(vim, |s| s.running).await;
    cloud.update_settings(|s| s.latency_ms = 60_000);
    let sub = h.submit(json!({"tasks": [net_task(vim, "n1")]})).await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(
        (tasks[0].status, tasks[0].attempts),
        (TaskStatus::Failed, 2)
    );
    let msg = tasks[0].error_msg.as_deref().unwrap();
    assert!(
        msg.contains("timed out") && msg.contains("2 attempts"),
        "{msg}"
    );
    assert_eq!(cloud.net_count(), 0);
}

#[actix_rt::test]
async fn a_create_that_times_out_but_happened_is_adopted_not_leaked() {
    let config = EngineConfig {
        call_timeout_secs: 0.2,
        max_attempts: 1,
        ..fast_config()
    };
    let h = Harness::with(sqlite(), config).await;
    let (vim, cloud) = h.sim("slow-answer", json!({})).await;
    h.account_until(vim, |s| s.running).await;
    // The VIM makes the net at once but answers after the call timeout.
    cloud.update_settings(|s| s.stall_after_create_ms = 1_000);
    let sub = h.submit(json!({"tasks": [net_task(vim, "n1")]})).await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_all_done(&tasks[..1]);
    assert!(tasks[0].created && tasks[0].vim_id.is_some());
    assert_eq!((cloud.net_count(), cloud.calls().create_net), (1, 1));
}

/// Ten minutes of VIM outage (tokio time paused, so it takes a moment): the VIM goes away with
/// work in flight and more is submitted during the outage; the actor restarts with backoff,
/// showing why; once the VIM is back every task completes, none FAILED, counted once.
#[actix_rt::test]
async fn a_ten_minute_vim_outage_fails_nothing() {
    let config = rovim_engine::EngineConfig {
        restart_min_secs: 1.0,
        restart_max_secs: 60.0,
        ..fast_config()
    };
    tokio::time::pause();
    let h = Harness::on_test_thread(config).await;
    let (vim, cloud) = h
        .sim("far", json!({"latency_ms": 200, "build_seconds": 0}))
        .await;
    let mut tasks = vec![net_task(vim, "n")];
    tasks.extend((0..5).map(|i| vm_task(vim, &format!("v{i}"), &[0])));
    let first = h.submit(json!({"tasks": tasks})).await;
    h.until(|| (h.task(first.action, 0).status != TaskStatus::Scheduled).then_some(()))
        .await;
    cloud.set_unreachable(true);
    let outage = tokio::time::Instant::now();
    h.account_until(vim, |s| s.restarts >= 1).await;
    let during = h
        .submit(json!({"tasks": [net_task(vim, "m"), delete_task(vim, "vm", first.tasks[5].2)]}))
        .await;
    while outage.elapsed() < std::time::Duration::from_secs(600) {
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        h.check();
    }
    let state = h.engine.account_states().await.unwrap();
    let s = state.iter().find(|s| s.id == vim).unwrap();
    assert_eq!(s.status, AccountStatus::Error);
    assert!(
        s.error.as_deref().unwrap().contains("unreachable") && s.restarts >= 5,
        "{s:?}"
    );
    cloud.set_unreachable(false);
    let (a, at) = h
        .settled_every(first.action, std::time::Duration::from_secs(1))
        .await;
    let (b, bt) = h
        .settled_every(during.action, std::time::Duration::from_secs(1))
        .await;
    assert_eq!(
        (a.number_done, a.number_failed),
        (6, 0),
        "{:?}",
        statuses(&at)
    );
    assert_eq!(
        (b.number_done, b.number_failed),
        (2, 0),
        "{:?}",
        statuses(&bt)
    );
    h.account_until(vim, |s| s.status == AccountStatus::Enabled)
        .await;
    h.check_vim(vim, &cloud);
    assert_eq!((cloud.net_count(), cloud.vm_count()), (2, 4));
}
