//! Benchmark (not a test): 100,000 live elements on one sim VIM, polled at the ACTIVE interval.
//! Prints the VIM refresh calls per interval, the process CPU time per interval and the resident
//! memory per live element (engine + its in-process sim VIM, which holds the same elements).
//!
//! Run: `cargo bench -p rovim-engine --bench refresh_load` (`-- --elements N --interval-secs S
//! --batch N`). The ACTIVE interval is shortened to `--interval-secs` (default 10) so a run
//! takes minutes, not hours; calls and CPU per interval do not depend on its length.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rovim_engine::test_support::{add_sim, start_engine};
use rovim_engine::{ActionRequest, Connectors, EngineConfig, RefreshConfig};
use rovim_store::reads;
use rovim_store::test_support::sqlite;
use serde_json::json;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .map(|i| args[i + 1].clone())
}

/// User + system CPU time of this process, from /proc (Linux).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let elements: usize =
        arg(&args, "--elements").map_or(100_000, |v| v.parse().expect("--elements N"));
    let interval: f64 =
        arg(&args, "--interval-secs").map_or(10.0, |v| v.parse().expect("--interval-secs S"));
    let batch: usize = arg(&args, "--batch").map_or(1000, |v| v.parse().expect("--batch N"));
    actix_rt::System::new().block_on(run(elements, interval, batch));
}

async fn run(elements: usize, interval: f64, batch: usize) {
    let db = sqlite();
    let config = EngineConfig {
        max_in_flight: 32,
        refresh: RefreshConfig {
            active_secs: interval,
            ..RefreshConfig::default()
        },
        ..EngineConfig::default()
    };
    let connectors = Arc::new(Connectors::new());
    let engine = start_engine(db.store.clone(), config, connectors.clone()).await;
    let rss0 = rss_bytes();
    let config = json!({"refresh_batch_size": batch});
    let vim = add_sim(&engine, "bench", "sim://refresh-bench", config, None).await;
    let cloud = connectors.sim_cloud("sim://refresh-bench").expect("cloud");
    let t0 = Instant::now();
    let mut ids = Vec::new();
    for chunk in 0..elements.div_ceil(1000) {
        let n = (elements - chunk * 1000).min(1000);
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                json!({"vim_account": vim.to_string(), "action": "CREATE", "item": "net",
                            "params": {"name": format!("n{chunk}-{i}")}})
            })
            .collect();
        let req: ActionRequest = serde_json::from_value(json!({ "tasks": tasks })).unwrap();
        ids.push(engine.submit(req).await.expect("accepted").action);
    }
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut conn = db.store.conn().unwrap();
        if ids.iter().all(|id| {
            reads::get_action(&mut conn, *id)
                .unwrap()
                .0
                .overall_status()
                != "BUILD"
        }) {
            break;
        }
    }
    let created_in = t0.elapsed();
    while engine.tracked_elements().await.unwrap() < elements {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the first, creation-shaped round of polls pass, then measure whole intervals.
    tokio::time::sleep(Duration::from_secs_f64(interval * 1.2)).await;
    let intervals = 3.0;
    let (calls0, cpu0, w0) = (cloud.calls().refresh_nets, cpu(), Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(interval * intervals)).await;
    let calls = (cloud.calls().refresh_nets - calls0) as f64 / intervals;
    let cpu_per = (cpu() - cpu0).as_secs_f64() / intervals;
    let wall = w0.elapsed().as_secs_f64() / intervals;
    let per_element = (rss_bytes().saturating_sub(rss0)) as f64 / elements as f64;
    println!(
        "elements  batch  interval  calls/interval  cpu s/interval  cpu %  bytes/element  created in"
    );
    println!(
        "{elements:>8}  {batch:>5}  {interval:>6.0} s  {calls:>14.1}  {cpu_per:>14.3}  {:>5.1}  {per_element:>13.0}  {:>8.1} s",
        100.0 * cpu_per / wall,
        created_in.as_secs_f64()
    );
    engine.shutdown().await.unwrap();
}
