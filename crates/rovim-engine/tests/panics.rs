//! Issue 12: the panic paths. A connector that panics fails the one task whose call it was
//! making (the call runs as its own tokio task); a VimActor that panics in its own code is
//! dropped while unwinding, its StopNotice tells the Supervisor (exit `panicked`), and the
//! restarted actor reloads and finishes the work. A failed write of an account's status is
//! written again. Its own binary: the failpoints are global.

mod common;

use common::*;
use rovim_core::TaskStatus;
use rovim_engine::ActorExit;
use serde_json::json;

#[actix_rt::test]
async fn a_panicking_connector_fails_one_task_and_a_panicking_actor_is_restarted() {
    let h = Harness::new().await;
    let (vim, cloud) = h
        .sim("p", json!({"build_seconds": 0, "panic_vm_names": ["boom"]}))
        .await;
    let sub = h
        .submit(json!({"tasks": [net_task(vim, "n"), vm_task(vim, "boom", &[0]), vm_task(vim, "fine", &[0])]}))
        .await;
    let (action, tasks) = h.settled(sub.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Done, TaskStatus::Failed, TaskStatus::Done]
    );
    let error = tasks[1].error_msg.clone().unwrap_or_default();
    assert!(error.contains("the VIM call panicked"), "{error}");
    assert_eq!((action.number_done, action.number_failed), (2, 1));
    let state = h.account_until(vim, |s| s.running).await;
    assert_eq!(
        (state.restarts, state.last_exit),
        (0, None),
        "the actor went on"
    );
    h.check_vim(vim, &cloud);

    rovim_engine::failpoints::arm_panic_in_pump(1);
    let sub = h.submit(json!({"tasks": [net_task(vim, "after")]})).await;
    let state = h
        .account_until(vim, |s| s.last_exit == Some(ActorExit::Panicked))
        .await;
    assert!(state.restarts >= 1, "{state:?}");
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Done],
        "its successor did it"
    );
    let metrics = h.engine.render_metrics();
    let line = format!("rovim_actor_exits_total{{exit=\"panicked\",vim=\"{vim}\"}} 1");
    assert!(metrics.contains(&line), "{line} in\n{metrics}");
    h.check_vim(vim, &cloud);
}

/// A status write that fails (the database away for a moment) is written again: the account
/// does not stay STARTING in the database while its actor runs. (It was only logged.)
#[actix_rt::test]
async fn a_failed_status_write_is_retried() {
    for db in rovim_store::test_support::backends() {
        let h = Harness::on(db).await;
        rovim_engine::failpoints::arm_fail_status_write(1);
        let (vim, _cloud) = h.sim("status", json!({})).await;
        h.account_until(vim, |s| s.running).await;
        let start = std::time::Instant::now();
        loop {
            let row = rovim_store::accounts::get_vim_account(&mut h.store().conn().unwrap(), vim)
                .unwrap();
            if row.status.as_str() == "ENABLED" {
                break;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "{}: the account reads {} in the database",
                h.db.name(),
                row.status.as_str()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
