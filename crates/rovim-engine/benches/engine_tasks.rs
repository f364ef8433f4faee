//! Benchmark (not a test): 10,000 tasks over 10 sim VIMs, once with zero VIM latency and once
//! with 50 ms per call, on the embedded SQLite. Each VIM gets 10 actions of 20 nets + 80 VMs (each
//! VM on one of its action's nets). Prints tasks/s and the p50/p99 task latency (stored
//! `modified_at - created_at` of each task: submission to final outcome).
//!
//! Run: `cargo bench -p rovim-engine --bench engine_tasks` (`-- --vims N --actions N --latency-ms a,b`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rovim_core::{ActionId, TaskStatus};
use rovim_engine::test_support::{Harness, add_sim};
use rovim_engine::{ActionRequest, EngineConfig};
use rovim_store::reads;
use rovim_store::test_support::sqlite;
use serde_json::json;

const NETS: usize = 20;
const VMS: usize = 80;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .map(|i| args[i + 1].clone())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let vims: usize = arg(&args, "--vims").map_or(10, |v| v.parse().expect("--vims N"));
    let actions: usize = arg(&args, "--actions").map_or(10, |v| v.parse().expect("--actions N"));
    let latencies: Vec<u64> = arg(&args, "--latency-ms").map_or_else(
        || vec![0, 50],
        |v| {
            v.split(',')
                .map(|x| x.parse().expect("--latency-ms a,b"))
                .collect()
        },
    );
    println!("latency  vims  tasks   seconds  tasks/s   p50 ms   p99 ms  commits  mean group");
    for latency in latencies {
        actix_rt::System::new().block_on(run(vims, actions, latency));
    }
}

async fn run(vims: usize, actions: usize, latency_ms: u64) {
    let h = Harness::with(sqlite(), EngineConfig::default()).await;
    let (db, engine) = (&h.db, h.engine.clone());
    let mut accounts = Vec::new();
    for v in 0..vims {
        let config = json!({"latency_ms": latency_ms, "build_seconds": 0});
        let name = format!("bench-{v}");
        accounts.push(add_sim(&engine, &name, &format!("sim://{name}"), config, None).await);
    }
    let start = Instant::now();
    let mut ids: Vec<ActionId> = Vec::new();
    for a in 0..actions {
        for vim in &accounts {
            let mut tasks: Vec<serde_json::Value> = (0..NETS)
                .map(|n| {
                    json!({"vim_account": vim.to_string(), "action": "CREATE", "item": "net",
                                "params": {"name": format!("a{a}-n{n}")}})
                })
                .collect();
            tasks.extend((0..VMS).map(|v| {
                json!({"vim_account": vim.to_string(), "action": "CREATE", "item": "vm",
                       "params": {"name": format!("a{a}-v{v}"), "image_id": "img", "flavor_id": "small",
                                  "networks": [{"net": {"task": v % NETS}}]}})
            }));
            let req: ActionRequest = serde_json::from_value(json!({"tasks": tasks})).unwrap();
            ids.push(engine.submit(req).await.expect("accepted").action);
        }
    }
    let total = ids.len() * (NETS + VMS);
    // Wait for every action to settle, checking the database as an orchestrator would.
    let mut open = ids.clone();
    while !open.is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut conn = db.store.conn().unwrap();
        open.retain(|id| {
            reads::get_action(&mut conn, *id)
                .unwrap()
                .0
                .overall_status()
                == "BUILD"
        });
    }
    let secs = start.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = Vec::with_capacity(total);
    let mut conn = db.store.conn().unwrap();
    for id in &ids {
        let (action, tasks) = reads::get_action(&mut conn, *id).unwrap();
        assert_eq!(action.number_failed, 0, "no task may fail");
        for t in tasks {
            assert_eq!(t.status, TaskStatus::Done);
            lat.push((t.modified_at - t.created_at).num_microseconds().unwrap() as f64 / 1000.0);
        }
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let stats = engine.writer().stats();
    let commits = stats.commits.load(Ordering::Relaxed);
    let writes = stats.writes.load(Ordering::Relaxed);
    println!(
        "{:>5} ms  {vims:>4}  {total:>5}  {secs:>8.2}  {:>7.0}  {:>7.1}  {:>7.1}  {commits:>7}  {:>10.1}",
        latency_ms,
        total as f64 / secs,
        pct(0.50),
        pct(0.99),
        writes as f64 / commits.max(1) as f64
    );
    engine.shutdown().await.unwrap();
}
