//! What the process-level tests share: real `rovim serve` and `rovim sim-vim` processes driven
//! over HTTP, and the invariant checker fed with the sim's inventory.
#![allow(dead_code)]

pub mod sse;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rovim_store::Store;
use rovim_store::invariants::{self, VimElement, Violation};
use serde_json::Value;

/// A child process killed (SIGKILL) when dropped; its stderr (the JSON logs) goes to a
/// temporary file, for [`Proc::log_tail`] when a test fails.
pub struct Proc {
    pub child: Child,
    pub url: String,
    log: tempfile::NamedTempFile,
}

impl Proc {
    /// The last `n` lines the process wrote on stderr.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `rovim ARGS` and waits for its `listening on URL` line.
pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Proc {
    let log = tempfile::NamedTempFile::new().expect("a log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rovim"));
    cmd.args(["--log-format", "json"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log.reopen().expect("the log file"));
    cmd.env_remove("ROVIM_DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start rovim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read the address");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Proc { child, url, log }
}

/// `rovim serve` on `db_url`, quick to restart failed actors.
pub fn serve(db_url: &str) -> Proc {
    serve_with(db_url, &[])
}

pub fn serve_with(db_url: &str, env: &[(&str, &str)]) -> Proc {
    serve_on(db_url, "127.0.0.1:0", env)
}

/// `rovim serve` on `db_url` listening on `listen` (the address of an earlier run, to restart
/// it where its clients are).
pub fn serve_on(db_url: &str, listen: &str, env: &[(&str, &str)]) -> Proc {
    let mut all = vec![
        ("ROVIM_ENGINE__RESTART_MIN_SECS", "0.1"),
        ("ROVIM_ENGINE__RESTART_MAX_SECS", "1"),
        ("ROVIM_ENGINE__RETRY_MIN_SECS", "0.05"),
        ("ROVIM_ENGINE__RETRY_MAX_SECS", "0.5"),
    ];
    all.extend_from_slice(env);
    spawn(
        &["--database-url", db_url, "serve", "--listen", listen],
        &all,
    )
}

/// `rovim sim-vim` with the given knobs.
pub fn sim_vim(settings: &str) -> Proc {
    spawn(
        &["sim-vim", "--listen", "127.0.0.1:0", "--settings", settings],
        &[],
    )
}

pub fn http() -> reqwest::Client {
    rovim_vim::tls::init();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub async fn get(http: &reqwest::Client, url: String) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// Registers the sim VIM process `sim` as account `name`; returns the account's id.
pub async fn register_sim(http: &reqwest::Client, rovim: &Proc, name: &str, sim: &Proc) -> String {
    let r = http
        .post(format!("{}/v1/vim-accounts", rovim.url))
        .json(&serde_json::json!({"name": name, "type": "sim", "url": sim.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let account: Value = r.json().await.unwrap();
    account["id"].as_str().unwrap().to_owned()
}

/// Submits an action; its answer when accepted (201), `None` when refused or unreachable.
pub async fn submit(http: &reqwest::Client, rovim: &Proc, body: &Value) -> Option<Value> {
    let r = http
        .post(format!("{}/v1/actions", rovim.url))
        .json(body)
        .send()
        .await
        .ok()?;
    (r.status() == 201).then_some(())?;
    r.json().await.ok()
}

/// Waits (long-polling) until the action is no longer BUILD.
pub async fn settle(http: &reqwest::Client, rovim: &Proc, action: &str) -> Value {
    let start = Instant::now();
    loop {
        let v = get(http, format!("{}/v1/actions/{action}?wait=2", rovim.url)).await;
        if v["status"] != "BUILD" {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "action did not settle: {v}"
        );
    }
}

/// The sim's elements with their tokens, as the invariant checker reads them.
pub async fn sim_inventory(http: &reqwest::Client, sim: &Proc) -> Vec<VimElement> {
    let state = get(http, format!("{}/v1/state", sim.url)).await;
    state["elements"]
        .as_array()
        .expect("the sim lists its elements")
        .iter()
        .map(|e| VimElement {
            kind: e["kind"].as_str().unwrap().to_owned(),
            vim_id: e["vim_id"].as_str().unwrap().to_owned(),
            token: e["token"].as_str().map(str::to_owned),
        })
        .collect()
}

/// The counter invariants, at any moment.
pub fn check_counters(store: &Store) -> Vec<Violation> {
    invariants::check_counters(&mut store.conn().unwrap()).unwrap()
}

/// All invariants against the sim, once its work has settled.
pub async fn check_all(
    http: &reqwest::Client,
    store: &Store,
    vim_account: &str,
    sim: &Proc,
) -> Vec<Violation> {
    let inventory = sim_inventory(http, sim).await;
    invariants::check_against_vim(&mut store.conn().unwrap(), vim_account, &inventory).unwrap()
}
