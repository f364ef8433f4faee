//! Issue 10's first defect, attacked: work that reaches a VimActor while it boots (a new
//! account, a restart) must be counted exactly once, and an action reads DONE only when every
//! one of its tasks is settled. The invariant checker runs after every step.

mod common;

use std::time::Duration;

use common::*;
use rovim_core::{ItemId, TaskStatus};
use serde_json::json;

/// 1 net + 6 VMs submitted at once on an account whose actor is still booting (its VIM answers
/// in 300 ms), and 0.1 s later a DELETE of 3 of the VMs: 7/7 and 3/3, every time.
#[actix_rt::test]
async fn work_submitted_while_the_actor_boots_is_counted_once() {
    for db in rovim_store::test_support::backends() {
        let h = Harness::on(db).await;
        for round in 0..3 {
            let (vim, cloud) = h
                .sim(
                    &format!("boot-{round}"),
                    json!({"latency_ms": 300, "build_seconds": 0}),
                )
                .await;
            let mut tasks = vec![net_task(vim, "n")];
            for i in 0..6 {
                tasks.push(vm_task(vim, &format!("v{i}"), &[0]));
            }
            let create = h.submit(json!({"tasks": tasks})).await;
            h.check();
            tokio::time::sleep(Duration::from_millis(100)).await;
            let vms: Vec<ItemId> = create.tasks[1..4].iter().map(|t| t.2).collect();
            let delete = h
                .submit(json!({"tasks": vms.iter().map(|v| delete_task(vim, "vm", *v)).collect::<Vec<_>>()}))
                .await;
            // Whenever the action reads settled, every task is (checked on every poll).
            h.until(|| {
                h.check();
                let (a, tasks) = h.action(create.action);
                if a.overall_status() != "BUILD" {
                    assert!(tasks.iter().all(|t| !t.status.is_open()), "{tasks:?}");
                }
                (a.overall_status() != "BUILD").then_some(())
            })
            .await;
            let (c, _) = h.settled(create.action).await;
            let (d, dt) = h.settled(delete.action).await;
            assert_eq!(
                (c.number_tasks, c.number_done, c.number_failed),
                (7, 7, 0),
                "round {round}"
            );
            assert_eq!(
                (d.number_tasks, d.number_done, d.number_failed),
                (3, 3, 0),
                "round {round}: {dt:?}"
            );
            h.check_vim(vim, &cloud);
            assert_eq!(cloud.vm_count(), 3, "three VMs left");
        }
    }
}

/// The same after a restart: an action submitted while the actor reloads its unfinished work
/// (a DELETE of VMs whose CREATEs are still open) is counted once.
#[actix_rt::test]
async fn work_submitted_while_the_actor_reloads_after_a_restart_is_counted_once() {
    let mut h = Harness::new().await;
    let (vim, cloud) = h
        .sim("reload", json!({"latency_ms": 200, "build_seconds": 0}))
        .await;
    let mut tasks = vec![net_task(vim, "n")];
    for i in 0..4 {
        tasks.push(vm_task(vim, &format!("v{i}"), &[0]));
    }
    let create = h.submit(json!({"tasks": tasks})).await;
    for _ in 0..3 {
        h.restart().await;
        h.check();
    }
    let vms: Vec<ItemId> = create.tasks[1..].iter().map(|t| t.2).collect();
    let delete = h
        .submit(
            json!({"tasks": vms.iter().map(|v| delete_task(vim, "vm", *v)).collect::<Vec<_>>()}),
        )
        .await;
    let second = h
        .submit(
            json!({"tasks": vms.iter().map(|v| delete_task(vim, "vm", *v)).collect::<Vec<_>>()}),
        )
        .await;
    let (c, ct) = h.settled(create.action).await;
    let (d, dt) = h.settled(delete.action).await;
    let (s, st) = h.settled(second.action).await;
    assert_eq!(
        (c.number_done, c.number_failed),
        (5, 0),
        "{:?}",
        statuses(&ct)
    );
    assert_eq!(
        (d.number_done, d.number_failed),
        (4, 0),
        "{:?}",
        statuses(&dt)
    );
    assert_eq!(
        (s.number_done, s.number_failed),
        (4, 0),
        "{:?}",
        statuses(&st)
    );
    assert!(
        st.iter().all(|t| t.status == TaskStatus::Superseded),
        "a second DELETE is a no-op: {:?}",
        statuses(&st)
    );
    h.check_vim(vim, &cloud);
    assert_eq!((cloud.vm_count(), cloud.port_count()), (0, 0));
}

/// An account reads STARTING until its actor is up, then ENABLED.
#[actix_rt::test]
async fn an_account_is_enabled_only_once_its_actor_is_up() {
    let h = Harness::new().await;
    let (vim, _cloud) = h.sim("slow", json!({"latency_ms": 500})).await;
    let row = rovim_store::accounts::get_vim_account(&mut h.store().conn().unwrap(), vim).unwrap();
    assert_eq!(row.status.as_str(), "STARTING");
    let state = h.engine.account_states().await.unwrap();
    assert_eq!(state[0].status.as_str(), "STARTING");
    h.account_until(vim, |s| s.status.as_str() == "ENABLED" && s.running)
        .await;
}

/// Accounts registered one after the other, fast, as an orchestrator (or `rovim bench`) does:
/// each is leased, started and recorded ENABLED in the database. On SQLite the writer's
/// transaction used to begin with a read (the lease fence): when the keeper's lease round
/// committed in between, the write failed at once with "database is locked" and some accounts
/// stayed STARTING for good.
#[actix_rt::test]
async fn accounts_registered_in_a_burst_are_all_recorded_enabled() {
    for db in rovim_store::test_support::backends() {
        let h = Harness::on(db).await;
        let mut ids = Vec::new();
        for i in 0..30 {
            let url = format!("sim://burst-{i}-{}", rovim_core::VimAccountId::generate());
            ids.push(add_sim(&h.engine, &format!("burst{i}"), &url, json!({}), None).await);
        }
        let start = std::time::Instant::now();
        loop {
            let rows =
                rovim_store::accounts::list_vim_accounts(&mut h.store().conn().unwrap()).unwrap();
            let starting: Vec<_> = rows
                .iter()
                .filter(|a| a.status.as_str() != "ENABLED")
                .map(|a| a.name.clone())
                .collect();
            if starting.is_empty() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{}: not ENABLED: {starting:?}",
                h.db.name()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
