//! `GET /v1/events` on a real `rovim serve` with a `rovim sim-vim` process as its VIM, read as
//! a browser's EventSource reads it: the events of an action arrive as they happen (each task
//! settled, the action's progress up to DONE, the VM turning ACTIVE), a reconnection with
//! `Last-Event-ID` gets exactly what came after that event, a filter keeps to its account, and
//! the account turning ERROR when its VIM goes away is an event too. `rovim action watch`, which
//! follows that stream, rides through a restart of the service.

mod support;

use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::sse::Events;
use support::{get, http, register_sim, serve, serve_on, sim_vim, submit};

#[tokio::test]
async fn an_action_s_events_arrive_as_they_happen_and_resume_after_the_last_one_seen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rovim.db");
    let rovim = serve(db.to_str().unwrap());
    let http = http();
    let sim = sim_vim(r#"{"build_seconds": 1}"#);
    let vim = register_sim(&http, &rovim, "lab", &sim).await;
    let other_sim = sim_vim(r#"{"build_seconds": 0}"#);
    let other = register_sim(&http, &rovim, "other", &other_sim).await;

    let mut all = Events::open(&http, &rovim, "", None).await;
    let mut lab_only = Events::open(&http, &rovim, &format!("?vim_account={vim}"), None).await;
    let made = submit(
        &http,
        &rovim,
        &json!({"tasks": [
            {"vim_account": "lab", "action": "CREATE", "item": "net", "params": {"name": "n"}},
            {"vim_account": "lab", "action": "CREATE", "item": "vm", "depends_on": [0],
             "params": {"name": "v", "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-0"}]}},
            {"vim_account": "other", "action": "CREATE", "item": "net", "params": {"name": "o"}},
        ]}),
    )
    .await
    .unwrap();
    let action = made["action_id"].as_str().unwrap().to_owned();
    let vm = made["tasks"][1]["item_id"].as_str().unwrap().to_owned();

    let seen = all
        .until(|kind, d| {
            kind == "item_status" && d["item_id"] == vm.as_str() && d["status"] == "ACTIVE"
        })
        .await;
    let settled: Vec<_> = seen.iter().filter(|e| e.1 == "task_settled").collect();
    assert_eq!(settled.len(), 3, "{seen:#?}");
    assert!(
        settled
            .iter()
            .all(|e| e.2["status"] == "DONE" && e.2["action"] == action.as_str())
    );
    let progress: Vec<_> = seen.iter().filter(|e| e.1 == "action_progress").collect();
    assert_eq!(
        progress.last().unwrap().2["status"],
        "DONE",
        "the last progress of the action is its end: {progress:#?}"
    );
    assert_eq!(progress.last().unwrap().2["number_done"], 3);
    let ids: Vec<u64> = seen.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "in order: {ids:?}");

    let filtered = lab_only
        .until(|kind, d| {
            kind == "item_status" && d["item_id"] == vm.as_str() && d["status"] == "ACTIVE"
        })
        .await;
    assert!(
        filtered
            .iter()
            .all(|e| e.2["vim_account"] == vim.as_str() || e.1 == "action_progress"),
        "only the lab account's events: {filtered:#?}"
    );
    assert!(filtered.iter().any(|e| e.1 == "task_settled"));

    // A reconnection after the first settlement gets the rest, from the next event on.
    let first = settled[0].0;
    let mut resumed = Events::open(&http, &rovim, "", Some(first)).await;
    let again = resumed
        .until(|kind, d| {
            kind == "item_status" && d["item_id"] == vm.as_str() && d["status"] == "ACTIVE"
        })
        .await;
    assert!(again.iter().all(|e| e.0 > first), "{again:#?}");
    let expected: Vec<u64> = seen
        .iter()
        .filter(|e| e.0 > first && e.1 != "action_progress")
        .map(|e| e.0)
        .collect();
    let got: Vec<u64> = again
        .iter()
        .filter(|e| e.1 != "action_progress")
        .map(|e| e.0)
        .collect();
    assert_eq!(got, expected, "exactly what came after event {first}");
    // What a reconnection replays is there at once: the action's progress comes once, after the
    // last of its two settlements, not after each (one read of its counters per burst).
    let replayed: Vec<&str> = again
        .iter()
        .filter(|e| e.1 == "task_settled" || e.1 == "action_progress")
        .map(|e| e.1.as_str())
        .collect();
    assert_eq!(
        replayed,
        ["task_settled", "task_settled", "action_progress"],
        "{again:#?}"
    );
    assert_eq!(
        again.iter().find(|e| e.1 == "action_progress").unwrap().2["status"],
        "DONE"
    );

    // The other account's VIM goes away: its next call fails, the account turns ERROR.
    drop(other_sim);
    submit(
        &http,
        &rovim,
        &json!({"tasks": [{"vim_account": "other", "action": "CREATE", "item": "net", "params": {"name": "o2"}}]}),
    )
    .await
    .unwrap();
    let down = all
        .until(|kind, d| {
            kind == "account" && d["vim_account"] == other.as_str() && d["status"] == "ERROR"
        })
        .await;
    let e = &down.last().unwrap().2;
    assert!(e["reason"].is_string(), "{e}");

    let bad = http
        .get(format!("{}/v1/events", rovim.url))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body.to_string().contains("Last-Event-ID"), "{body}");

    // After a restart, a reconnection with the last number seen before it is told that events
    // may be missing (what happened between the two runs is not kept), then follows the new run.
    let last_seen = down.last().unwrap().0;
    drop(all);
    drop(rovim);
    let rovim = serve(db.to_str().unwrap());
    let mut after_restart = Events::open(&http, &rovim, "", Some(last_seen)).await;
    let first = after_restart.next(Duration::from_secs(10)).await;
    assert_eq!(
        first.as_ref().map(|e| e.1.as_str()),
        Some("gap"),
        "{first:?}"
    );
    assert!(
        first.unwrap().2["reason"]
            .as_str()
            .unwrap()
            .contains("before this rovim started")
    );
}

/// `rovim action watch` follows an action across a crash and restart of the service: its
/// stream breaks, the service is out of reach for a while, and the watch still ends with the
/// action DONE, all of its tasks counted.
#[tokio::test]
async fn action_watch_rides_through_a_restart_of_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rovim.db");
    let rovim = serve(db.to_str().unwrap());
    let listen = rovim.url.trim_start_matches("http://").to_owned();
    let http = http();
    let sim = sim_vim(r#"{"latency_ms": 300}"#);
    register_sim(&http, &rovim, "lab", &sim).await;
    // A chain: each net waits for the one before, so the action lasts a few seconds.
    let n = 8;
    let tasks: Vec<Value> = (0..n)
        .map(|i| {
            json!({"vim_account": "lab", "action": "CREATE", "item": "net",
                "params": {"name": format!("n{i}")},
                "depends_on": if i == 0 { vec![] } else { vec![i - 1] }})
        })
        .collect();
    let made = submit(&http, &rovim, &json!({ "tasks": tasks }))
        .await
        .unwrap();
    let action = made["action_id"].as_str().unwrap().to_owned();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--api-url", &rovim.url, "action", "watch", &action])
        .env_remove("ROVIM_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the CLI");

    let state = |url: &str| get(&http, format!("{url}/v1/actions/{action}?tasks=false"));
    let start = Instant::now();
    let before = loop {
        let v = state(&rovim.url).await;
        if v["number_done"].as_u64() >= Some(2) {
            break v;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(before["status"], "BUILD", "killed mid-action: {before}");
    drop(rovim);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rovim = serve_on(db.to_str().unwrap(), &listen, &[]);

    let start = Instant::now();
    let status = loop {
        if let Some(status) = watch.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = watch.kill();
            panic!("the watch did not end: {:?}", watch.wait_with_output());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let out = watch.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("DONE") && stdout.contains(&format!("{n}/{n} done")),
        "{stdout}"
    );
    assert!(
        stderr.contains("waiting up to 60 s") && stderr.contains("reached the rovim API again"),
        "the watch saw the service go and come back: {stderr}"
    );
    let after = state(&rovim.url).await;
    assert_eq!(
        (after["status"].as_str(), after["number_done"].as_u64()),
        (Some("DONE"), Some(n as u64)),
        "{after}"
    );
}
