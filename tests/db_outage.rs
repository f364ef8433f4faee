//! A database outage in the middle of a run: the PostgreSQL server is stopped while rovim has
//! work in flight, then started again. While it is down `/readyz` answers 503 and submissions
//! 503 with `Retry-After` (not 500); no actor dies for good; once it is back everything
//! completes, nothing is counted twice, nothing leaks.
//!
//! It stops and starts the PostgreSQL cluster named by `ROVIM_TEST_PG_CTL` (e.g. `15 main`, as
//! `.ci/run` sets it): a developer's own server is never restarted unless asked. Unset, the
//! test says it skips; under `CI=true` that is a failure.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

/// Starts the cluster again when dropped, so a failing assertion never leaves it down.
struct Restart<'a>(&'a str);

impl Drop for Restart<'_> {
    fn drop(&mut self) {
        pg_ctl(self.0, "start");
    }
}

fn pg_ctl(cluster: &str, verb: &str) {
    let mut args: Vec<&str> = vec!["--skip-systemctl-redirect"];
    args.extend(cluster.split_whitespace());
    args.push(verb);
    let out = Command::new("pg_ctlcluster").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "pg_ctlcluster {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg_attr(
    rovim_no_pg_ctl,
    ignore = "needs ROVIM_TEST_PG_CTL (the cluster to restart) and ROVIM_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_mid_run_loses_and_repeats_nothing() {
    let Some(cluster) = std::env::var("ROVIM_TEST_PG_CTL")
        .ok()
        .filter(|c| !c.is_empty())
    else {
        rovim_core::test_peers::absent(
            "ROVIM_TEST_PG_CTL is not set (the PostgreSQL cluster to restart)",
        );
        return;
    };
    let Some(db) = rovim_store::test_support::postgres() else {
        return;
    };
    let http = http();
    let sim = sim_vim(r#"{"build_seconds": 0, "latency_ms": 100}"#);
    let rovim = serve(&db.url);
    let vim = register_sim(&http, &rovim, "lab", &sim).await;
    let mut tasks = vec![
        json!({"vim_account": "lab", "action": "CREATE", "item": "net", "params": {"name": "n"}}),
    ];
    for i in 0..8 {
        tasks.push(json!({"vim_account": "lab", "action": "CREATE", "item": "vm",
            "params": {"name": format!("v{i}"), "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-0"}]}}));
    }
    let r = http
        .post(format!("{}/v1/actions", rovim.url))
        .json(&json!({ "tasks": tasks }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let first = r.json::<Value>().await.unwrap()["action_id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;

    pg_ctl(&cluster, "stop");
    let restart = Restart(&cluster);
    let down = async {
        let ready = http
            .get(format!("{}/readyz", rovim.url))
            .send()
            .await
            .unwrap();
        let submit = http
            .post(format!("{}/v1/actions", rovim.url))
            .json(&json!({"tasks": [{"vim_account": "lab", "action": "CREATE", "item": "net", "params": {"name": "m"}}]}))
            .send()
            .await
            .unwrap();
        let status = ready.status();
        let why: Value = ready.json().await.unwrap_or_default();
        (
            status,
            why,
            submit.status(),
            submit.headers().get("retry-after").cloned(),
        )
    };
    let (ready, why, submit, retry_after) = down.await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(restart);
    assert_eq!(ready, 503, "/readyz while the database is down");
    // In PostgreSQL's own words, not MultiConnection's "Invalid connection url".
    let reason = why["error"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    eprintln!("readyz while down: {reason}");
    assert!(
        !reason.contains("Invalid connection url") && reason.contains("database"),
        "{why}"
    );
    assert_eq!(submit, 503, "a submission while the database is down");
    assert!(retry_after.is_some(), "503 with Retry-After");

    let start = Instant::now();
    while http
        .get(format!("{}/readyz", rovim.url))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let done = settle(&http, &rovim, &first).await;
    assert_eq!(
        (done["status"].clone(), done["number_done"].clone()),
        (json!("DONE"), json!(9)),
        "{done}"
    );
    let v = check_all(&http, &db.store, &vim, &sim).await;
    assert!(v.is_empty(), "{v:#?}");
    let account = get(&http, format!("{}/v1/vim-accounts/{vim}", rovim.url)).await;
    let start = Instant::now();
    let mut account = account;
    while account["status"] != "ENABLED" {
        assert!(start.elapsed() < Duration::from_secs(30), "{account}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        account = get(&http, format!("{}/v1/vim-accounts/{vim}", rovim.url)).await;
    }
}
