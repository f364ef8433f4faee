//! Issue 10's second defect, attacked: a VIM that throttles must slow rovim down, not fail its
//! work. Tokio time is paused, so minutes of throttled traffic run in a moment and the call
//! rate is measured on the VIM's own clock.

mod common;

use std::time::Duration;

use common::*;
use rovim_core::TaskStatus;
use rovim_engine::EngineConfig;
use serde_json::json;

/// The case of the issue: 200 tasks on a VIM that accepts 5 calls/s, default engine settings
/// (no `rate_limit_qps`): 200/200 DONE, few refusals, a call rate near the VIM's limit.
#[actix_rt::test]
async fn a_5_qps_vim_gets_all_200_tasks_done_at_about_its_rate() {
    tokio::time::pause();
    let h = Harness::on_test_thread(EngineConfig::default()).await;
    let (vim, cloud) = h
        .sim(
            "throttled",
            json!({"rate_limit_qps": 5.0, "build_seconds": 0}),
        )
        .await;
    h.account_until(vim, |s| s.running).await;
    let tasks: Vec<_> = (0..200).map(|i| net_task(vim, &format!("n{i}"))).collect();
    let start = tokio::time::Instant::now();
    let before = cloud.calls();
    let action = h.submit(json!({"tasks": tasks})).await;
    let (a, t) = h.settled_every(action.action, Duration::from_secs(1)).await;
    let elapsed = start.elapsed().as_secs_f64();
    let calls = cloud.calls();
    let accepted = calls.total() - before.total();
    let refused = calls.refused - before.refused;
    let rate = accepted as f64 / elapsed;
    eprintln!(
        "throttled VIM (5 calls/s): 200 tasks in {elapsed:.1} s of VIM time, {accepted} calls accepted \
         ({rate:.2}/s), {refused} refused"
    );
    assert_eq!(
        (a.number_done, a.number_failed),
        (200, 0),
        "{:?}",
        t.iter().find(|t| t.status == TaskStatus::Failed)
    );
    assert!(refused < 50, "{refused} calls refused for 200 tasks");
    assert!(
        rate > 3.5 && rate < 5.5,
        "the call rate settles near the VIM's 5/s: {rate:.2}/s"
    );
    h.check_vim(vim, &cloud);
    assert_eq!(cloud.net_count(), 200);
}

/// A VIM that never stops throttling fails the task after `throttle_deadline_secs`, saying so in
/// plain words (no Rust debug formatting).
#[actix_rt::test]
async fn a_vim_that_keeps_throttling_fails_the_task_after_the_deadline_with_a_clear_message() {
    let config = EngineConfig {
        throttle_deadline_secs: 120.0,
        ..fast_config()
    };
    tokio::time::pause();
    let h = Harness::on_test_thread(config).await;
    let (vim, cloud) = h
        .sim(
            "stingy",
            json!({"rate_limit_qps": 0.001, "build_seconds": 0}),
        )
        .await;
    h.account_until(vim, |s| s.running).await;
    let action = h
        .submit(json!({"tasks": [net_task(vim, "a"), net_task(vim, "b")]}))
        .await;
    let (a, tasks) = h.settled_every(action.action, Duration::from_secs(1)).await;
    assert_eq!((a.number_done, a.number_failed), (0, 2));
    for t in tasks {
        let msg = t.error_msg.unwrap();
        assert!(
            msg.contains("rate limited by the VIM (asked to retry after")
                && msg.contains("still throttled after 2 min, giving up"),
            "{msg}"
        );
        assert!(!msg.contains("Some("), "{msg}");
    }
    assert_eq!(cloud.net_count(), 0);
}
