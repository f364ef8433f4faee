//! SQLite on a disk that fills up, then on one that turns read-only, under a running service:
//! submissions are refused with 503 and a clear reason (not 500, not a crash), nothing that was
//! acknowledged is lost, and once the disk has room (or is writable) again everything completes.
//!
//! The disk is a small tmpfs mounted for the test (root with CAP_SYS_ADMIN, as on CI); where
//! mounting is not allowed the test says it skips, and under `CI=true` that is a failure.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        ok.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, mode: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(self.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes a file until the disk is full; returns it.
fn fill(disk: &SmallDisk) -> PathBuf {
    use std::io::Write;
    let path = disk.path().join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

fn action(name: &str) -> Value {
    let mut tasks = vec![
        json!({"vim_account": "lab", "action": "CREATE", "item": "net", "params": {"name": name}}),
    ];
    for i in 0..3 {
        tasks.push(json!({"vim_account": "lab", "action": "CREATE", "item": "vm",
            "params": {"name": format!("{name}-v{i}"), "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-0"}]}}));
    }
    json!({ "tasks": tasks })
}

/// Submits until one is refused; returns the acknowledged action ids and the refusal.
async fn submit_until_refused(
    http: &reqwest::Client,
    rovim: &Proc,
    prefix: &str,
) -> (Vec<String>, (u16, Option<String>, Value)) {
    let mut acked = Vec::new();
    for i in 0..200 {
        let r = http
            .post(format!("{}/v1/actions", rovim.url))
            .json(&action(&format!("{prefix}{i}")))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = r.json().await.unwrap();
        if status == 201 {
            acked.push(body["action_id"].as_str().unwrap().to_owned());
        } else {
            return (acked, (status, retry, body));
        }
    }
    panic!("200 submissions and the disk never refused one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_then_read_only_disk_refuses_clearly_and_loses_nothing() {
    let Some(disk) = SmallDisk::mount("4m") else {
        rovim_core::test_peers::absent(
            "a small disk: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)",
        );
        return;
    };
    let db = disk.path().join("rovim.db");
    let db = db.to_str().unwrap();
    let http = http();
    let sim = sim_vim(r#"{"build_seconds": 0, "latency_ms": 20}"#);
    let rovim = serve(db);
    let vim = register_sim(&http, &rovim, "lab", &sim).await;
    let first = submit_one(&http, &rovim, "before").await;

    // Full.
    let filler = fill(&disk);
    let (acked_full, (status, retry, body)) = submit_until_refused(&http, &rovim, "full").await;
    assert_eq!(status, 503, "{body}");
    assert!(retry.is_some(), "503 with Retry-After");
    let reason = body["error"]["reason"].as_str().unwrap().to_lowercase();
    assert!(reason.contains("full"), "the reason says so: {reason}");
    eprintln!(
        "disk full: {} more action(s) acknowledged, then {status}: {reason}",
        acked_full.len()
    );
    std::fs::remove_file(filler).unwrap();

    // Read-only: a service started on it says why it cannot run, and stores nothing.
    drop(rovim); // (a mounted file system cannot turn read-only under open files)
    disk.remount("ro");
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--database-url", db, "serve", "--listen", "127.0.0.1:0"])
        .env_remove("ROVIM_DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(!out.status.success(), "refused to run: {stderr}");
    assert!(
        stderr.contains("cannot be written: a read-only disk"),
        "the reason says so: {stderr}"
    );
    disk.remount("rw");
    let rovim = serve(db);

    let mut all = vec![first];
    all.extend(acked_full);
    let start = Instant::now();
    for id in &all {
        let a = settle(&http, &rovim, id).await;
        assert_eq!(a["status"], "DONE", "{a}");
        assert!(start.elapsed() < Duration::from_secs(120));
    }
    let store = rovim_store::Store::open(db).unwrap();
    let v = check_all(&http, &store, &vim, &sim).await;
    assert!(v.is_empty(), "{v:#?}");
    let state = get(&http, format!("{}/v1/state", sim.url)).await;
    assert_eq!(
        (state["nets"].as_u64(), state["vms"].as_u64()),
        (Some(all.len() as u64), Some(3 * all.len() as u64)),
        "exactly what was acknowledged: {state}"
    );
}

/// One submission that must be accepted (the disk has room).
async fn submit_one(http: &reqwest::Client, rovim: &Proc, name: &str) -> String {
    let answer = submit(http, rovim, &action(name))
        .await
        .expect("accepted (201)");
    answer["action_id"].as_str().unwrap().to_owned()
}
