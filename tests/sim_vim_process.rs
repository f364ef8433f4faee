//! A simulated VIM in its own process (`rovim sim-vim`) outlives a crash of the engine that uses
//! it: the engine dies after the VIM created a net and a VM but before it stored the outcome; a
//! new engine over the same database adopts both by their idempotency tokens, creates nothing
//! twice, and later deletes everything.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rovim_core::{ActionId, TaskStatus};
use rovim_engine::test_support::{add_sim, start_engine};
use rovim_engine::{ActionRequest, Connectors, EngineConfig};
use rovim_store::test_support::sqlite;
use rovim_store::{Store, reads};
use serde_json::{Value, json};
use support::{Proc, sim_vim};

async fn state(http: &reqwest::Client, sim: &Proc) -> Value {
    http.get(format!("{}/v1/state", sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn settle(store: &Store, id: ActionId) -> Vec<TaskStatus> {
    let start = Instant::now();
    loop {
        let (a, tasks) = reads::get_action(&mut store.conn().unwrap(), id).unwrap();
        if a.overall_status() != "BUILD" {
            return tasks.iter().map(|t| t.status).collect();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "action {id} did not settle"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_rt::test]
async fn the_sim_vim_process_outlives_an_engine_crash() {
    let sim = sim_vim(r#"{"build_seconds": 0}"#);
    rovim_vim::tls::init();
    let http = reqwest::Client::new();
    let db = sqlite();
    let config = EngineConfig {
        restart_min_secs: 0.05,
        restart_max_secs: 0.2,
        ..EngineConfig::default()
    };
    let engine = start_engine(
        db.store.clone(),
        config.clone(),
        Arc::new(Connectors::new()),
    )
    .await;
    let vim = add_sim(&engine, "remote-sim", &sim.url, json!({}), None).await;

    // The VIM will take the creates but hold their answers back.
    let r = http
        .patch(format!("{}/v1/settings", sim.url))
        .json(&json!({"stall_after_create_ms": 600_000}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let v = vim.to_string();
    let req: ActionRequest = serde_json::from_value(json!({"tasks": [
        {"vim_account": v, "action": "CREATE", "item": "net", "params": {"name": "n1"}},
        {"vim_account": v, "action": "CREATE", "item": "vm",
         "params": {"name": "v1", "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-0"}]}},
    ]}))
    .unwrap();
    // The net's create stalls, so the VM cannot start: wait for the net only, crash, then the VM.
    let sub = engine.submit(req).await.unwrap();
    let start = Instant::now();
    while state(&http, &sim).await["nets"] != 1 {
        assert!(start.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    engine.shutdown().await.unwrap(); // the crash: the net's outcome was never stored
    let (_, tasks) = reads::get_action(&mut db.store.conn().unwrap(), sub.action).unwrap();
    assert_eq!(tasks[0].status, TaskStatus::Build);

    http.patch(format!("{}/v1/settings", sim.url))
        .json(&json!({"stall_after_create_ms": 0}))
        .send()
        .await
        .unwrap();
    let engine = start_engine(db.reopen(), config, Arc::new(Connectors::new())).await;
    assert_eq!(
        settle(&db.store, sub.action).await,
        vec![TaskStatus::Done, TaskStatus::Done]
    );
    let s = state(&http, &sim).await;
    assert_eq!(
        (s["nets"].clone(), s["vms"].clone(), s["ports"].clone()),
        (json!(1), json!(1), json!(1)),
        "{s}"
    );
    assert_eq!(
        s["calls"]["create_net"], 1,
        "the net was adopted, not created again: {s}"
    );

    let (_, tasks) = reads::get_action(&mut db.store.conn().unwrap(), sub.action).unwrap();
    let items: Vec<_> = sub.tasks.iter().map(|t| t.2.to_string()).collect();
    let del: ActionRequest = serde_json::from_value(json!({"tasks": [
        {"vim_account": v, "action": "DELETE", "item": "vm", "item_id": items[1]},
        {"vim_account": v, "action": "DELETE", "item": "net", "item_id": items[0], "depends_on": [0]},
    ]}))
    .unwrap();
    assert!(tasks.iter().all(|t| t.vim_id.is_some()));
    let del = engine.submit(del).await.unwrap();
    assert_eq!(
        settle(&db.store, del.action).await,
        vec![TaskStatus::Finished, TaskStatus::Finished]
    );
    let s = state(&http, &sim).await;
    assert_eq!(
        (s["nets"].clone(), s["vms"].clone(), s["ports"].clone()),
        (json!(0), json!(0), json!(0)),
        "{s}"
    );
    engine.shutdown().await.unwrap();
}
