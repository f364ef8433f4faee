//! The service end to end, as a real process driven only over HTTP: `rovim serve` on a fresh
//! database (SQLite, and PostgreSQL when `ROVIM_TEST_DATABASE_URL` is set) and a `rovim sim-vim`
//! process as its VIM. rovim is killed with SIGKILL in the middle of an action and started again:
//! the action completes and the VIM holds exactly what was asked, nothing twice.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use rovim_store::test_support::backends;
use serde_json::{Value, json};
use support::{get, serve, settle, spawn};

#[tokio::test]
async fn kill_9_in_the_middle_of_an_action_then_restart_completes_it_without_duplicates() {
    for db in backends() {
        let http = {
            rovim_vim::tls::init();
            reqwest::Client::new()
        };
        let sim = spawn(
            &[
                "sim-vim",
                "--listen",
                "127.0.0.1:0",
                "--settings",
                r#"{"build_seconds": 0}"#,
            ],
            &[],
        );
        let rovim = serve(&db.url);
        support::register_sim(&http, &rovim, "remote", &sim).await;
        // The VIM takes the first net but holds its answer: rovim dies in that window.
        http.patch(format!("{}/v1/settings", sim.url))
            .json(&json!({"stall_after_create_ms": 600_000}))
            .send()
            .await
            .unwrap();
        let body = json!({"tasks": [
            {"vim_account": "remote", "action": "CREATE", "item": "net", "params": {"name": "n1"}},
            {"vim_account": "remote", "action": "CREATE", "item": "vm",
             "params": {"name": "v1", "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-0"}]}}]});
        let r = http
            .post(format!("{}/v1/actions", rovim.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let sub: Value = r.json().await.unwrap();
        let action = sub["action_id"].as_str().unwrap().to_owned();
        let start = Instant::now();
        while get(&http, format!("{}/v1/state", sim.url)).await["nets"] != 1 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the create never reached the VIM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(rovim); // SIGKILL

        http.patch(format!("{}/v1/settings", sim.url))
            .json(&json!({"stall_after_create_ms": 0}))
            .send()
            .await
            .unwrap();
        let rovim = serve(&db.url);
        let done = settle(&http, &rovim, &action).await;
        assert_eq!(done["status"], "DONE", "{done}");
        let state = get(&http, format!("{}/v1/state", sim.url)).await;
        assert_eq!(
            (state["nets"].clone(), state["vms"].clone()),
            (json!(1), json!(1)),
            "{state}"
        );
        assert_eq!(
            state["calls"]["create_net"], 1,
            "adopted by its token, not created twice: {state}"
        );
        // The VM's addresses come with its first poll after the create.
        let url = format!(
            "{}/v1/vms/{}",
            rovim.url,
            sub["tasks"][1]["item_id"].as_str().unwrap()
        );
        let mut vm = get(&http, url.clone()).await;
        for _ in 0..100 {
            if vm["interfaces"][0]["mac_address"].is_string() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            vm = get(&http, url.clone()).await;
        }
        assert!(vm["interfaces"][0]["mac_address"].is_string(), "{vm}");
    }
}

#[tokio::test]
async fn sigterm_stops_the_service_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rovim.db");
    let mut rovim = serve(db.to_str().unwrap());
    let http = {
        rovim_vim::tls::init();
        reqwest::Client::new()
    };
    let r = http
        .get(format!("{}/readyz", rovim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pid = rovim.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = rovim.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "rovim did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}

/// `rovim serve` on a public address with these tokens (none: unset); it is meant to refuse.
fn serve_publicly(tokens: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rovim"));
    cmd.args([
        "--database-url",
        ":memory:",
        "serve",
        "--listen",
        "0.0.0.0:0",
    ]);
    match tokens {
        Some(t) => cmd.env("ROVIM_API_TOKENS", t),
        None => cmd.env_remove("ROVIM_API_TOKENS"),
    };
    cmd.output().unwrap()
}

#[test]
fn a_public_address_without_tokens_is_refused() {
    let out = serve_publicly(None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without authentication"));
}

/// Issue 14: two `rovim serve` on one SQLite file were two writers running the same tasks. The
/// second now refuses, naming the holder and the way out; after a kill -9 of the first the
/// file is free again (the kernel dropped the lock), nothing stale is left behind.
#[tokio::test]
async fn a_second_serve_on_the_same_sqlite_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rovim.db").to_string_lossy().into_owned();
    let mut first = serve(&db);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--database-url", &db, "serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("a second serve on the same SQLite file is running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = child.wait_with_output().unwrap();
    assert!(!second.status.success(), "a second serve started");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!(
            "in use by another rovim (pid {}",
            first.child.id()
        )),
        "{err}"
    );
    assert!(err.contains("PostgreSQL"), "{err}");
    assert!(
        second.stdout.is_empty(),
        "the refused serve listened: {:?}",
        String::from_utf8_lossy(&second.stdout)
    );
    // The first one still serves.
    let ready = support::http()
        .get(format!("{}/readyz", first.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let _again = serve(&db);
}

const CLI_TOKEN: &str = "cli-token-0123456789abcdef";

/// Issue 11: `ROVIM_API_TOKENS=""` on a public address used to mean "a token is configured"
/// to the listen check and "no token" to the API: every request passed. Now it cannot start.
#[test]
fn an_empty_or_short_token_refuses_to_start_naming_it_not_showing_it() {
    for (tokens, says) in [
        ("", "API token #1: empty"),
        ("abc,hunter2", "API token #1: shorter"),
    ] {
        let out = serve_publicly(Some(tokens));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{tokens:?} must not start");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!stderr.contains("hunter2"), "never the token: {stderr}");
    }
}

/// Issue 11: `rovim --help` printed ROVIM_DATABASE_URL's value, password included.
#[test]
fn help_never_prints_the_database_url_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .arg("--help")
        .env(
            "ROVIM_DATABASE_URL",
            "postgres://rovim:hunter2-secret@db/rovim",
        )
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("ROVIM_DATABASE_URL"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
}

/// Runs a client command against `api`; returns (success, stdout, stderr).
fn cli(api: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--api-url", api, "--token", CLI_TOKEN])
        .args(args)
        .env_remove("ROVIM_DATABASE_URL")
        .output()
        .expect("run the CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_drives_the_service_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rovim.db");
    let rovim = spawn(
        &[
            "--database-url",
            db.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
        &[("ROVIM_API_TOKENS", CLI_TOKEN)],
    );
    let api = rovim.url.clone();

    let (ok, out, err) = cli(
        &api,
        &[
            "vim",
            "add",
            "lab",
            "--type",
            "sim",
            "--url",
            "sim://cli",
            "--config",
            r#"{"build_seconds": 0}"#,
            "--password",
            "pw-secret",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("lab") && !out.contains("pw-secret"), "{out}");
    let (ok, out, _) = cli(&api, &["vim", "list", "--output", "json"]);
    assert!(ok);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["name"], "lab");
    // The instances sharing the database: this one, running the account (once leased).
    let account = list[0]["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let instances: Value = loop {
        let (ok, out, err) = cli(&api, &["instances", "--output", "json"]);
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        if v[0]["vim_accounts"] == json!([account]) {
            break v;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{v}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(instances.as_array().unwrap().len(), 1);
    assert_eq!(instances[0]["this"], true);
    let (ok, table, _) = cli(&api, &["instances"]);
    assert!(ok);
    assert!(
        table.contains(instances[0]["id"].as_str().unwrap()),
        "{table}"
    );

    let file = dir.path().join("deploy.yaml");
    std::fs::write(&file, "description: cli\ntasks:\n  - {vim_account: lab, action: CREATE, item: net, params: {name: n1}}\n  - {vim_account: lab, action: CREATE, item: vm, params: {name: v1, image_id: i, flavor_id: f, networks: [{net: TASK-0}]}}\n").unwrap();
    let (ok, out, err) = cli(
        &api,
        &[
            "action",
            "submit",
            file.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    assert!(ok, "{err}");
    let sub: Value = serde_json::from_str(&out).unwrap();
    let id = sub["action_id"].as_str().unwrap().to_owned();
    let (ok, out, err) = cli(&api, &["action", "watch", &id]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("DONE") && out.contains("2/2 done"), "{out}");
    assert!(
        err.contains("[##############################] 2/2"),
        "a full progress bar: {err}"
    );
    let (ok, out, _) = cli(&api, &["action", "list"]);
    assert!(ok && out.contains(&id) && out.starts_with("ID"), "{out}");

    // Issue 11 (8): an id is a UUID before it reaches a URL path (`../actions` used to list
    // actions), and text from the service cannot drive the terminal in a table.
    let (ok, out, err) = cli(&api, &["vim", "show", "../actions"]);
    assert!(!ok && !out.contains(&id), "{out}");
    assert!(err.contains("invalid VIM account id '../actions'"), "{err}");
    let evil = dir.path().join("evil.json");
    std::fs::write(&evil, r#"{"description": "red\u001b[31m\nforged", "tasks": [{"vim_account": "lab", "action": "CREATE", "item": "net", "params": {"name": "n2"}}]}"#).unwrap();
    let (ok, _, err) = cli(&api, &["action", "submit", evil.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, out, _) = cli(&api, &["action", "list"]);
    assert!(
        ok && !out.contains('\u{1b}') && !out.contains("\nforged"),
        "{out:?}"
    );
    assert!(out.contains(r"red\u{1b}[31m\nforged"), "{out}");

    let vim_id = list[0]["id"].as_str().unwrap().to_owned();
    // ROVIM_VIM_PASSWORD in the environment (as for `vim add`) must not replace the password
    // at an edit that does not ask for it (issue 11).
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--api-url", &api, "--token", CLI_TOKEN])
        .args([
            "vim", "edit", &vim_id, "--tenant", "blue", "--output", "json",
        ])
        .env_remove("ROVIM_DATABASE_URL")
        .env("ROVIM_VIM_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    let (ok, out, err) = (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(ok, "{err}");
    let stored = rovim_store::accounts::get_vim_account(
        &mut rovim_store::Store::open(db.to_str().unwrap())
            .unwrap()
            .conn()
            .unwrap(),
        vim_id.parse().unwrap(),
    )
    .unwrap();
    assert_eq!(
        stored.secret.as_ref().and_then(|s| s.expose().ok()),
        Some("pw-secret"),
        "the password is unchanged"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["tenant"],
        "blue"
    );
    let (ok, _, err) = cli(&api, &["vim", "rm", &vim_id]);
    assert!(
        !ok && err.contains("409"),
        "live elements protect it: {err}"
    );
    // Issue 15: the account's orphans (none: what it made is live, and younger than the
    // grace period anyway); a dry-run sweep deletes nothing; --dry-run alone is refused.
    let (ok, out, err) = cli(&api, &["vim", "orphans", &vim_id, "--output", "json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([]));
    let (ok, out, err) = cli(
        &api,
        &[
            "vim",
            "orphans",
            &vim_id,
            "--sweep",
            "--dry-run",
            "--output",
            "json",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([]));
    assert!(err.contains("would delete 0 orphan(s)"), "{err}");
    let (ok, _, err) = cli(&api, &["vim", "orphans", &vim_id, "--dry-run"]);
    assert!(!ok && err.contains("--sweep"), "{err}");
    let (ok, _, err) = cli(
        &api,
        &["vim", "show", "00000000-0000-0000-0000-000000000000"],
    );
    assert!(!ok && err.contains("404"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--api-url", &api, "vim", "list"])
        .output()
        .unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("401"),
        "no token, no access"
    );
}

/// Issue 10's repro, black box: an out-of-process sim VIM answering in 300 ms, the account just
/// registered (its actor still booting), 1 net + 6 VMs submitted at once and 0.1 s later a
/// DELETE of 3 of the VMs: 7/7 and 3/3, never more, and DONE only when every task is settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_submitted_while_the_actor_boots_is_counted_once_over_http() {
    let http = support::http();
    for db in backends() {
        for round in 0..3 {
            let sim = support::sim_vim(r#"{"build_seconds": 0, "latency_ms": 300}"#);
            let rovim = serve(&db.url);
            let name = format!("boot{round}");
            support::register_sim(&http, &rovim, &name, &sim).await;
            let mut tasks = vec![
                json!({"vim_account": name, "action": "CREATE", "item": "net", "params": {"name": "n"}}),
            ];
            for i in 0..6 {
                tasks.push(json!({"vim_account": name, "action": "CREATE", "item": "vm",
                    "params": {"name": format!("v{i}"), "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-0"}]}}));
            }
            let create = support::submit(&http, &rovim, &json!({ "tasks": tasks }))
                .await
                .expect("the create is accepted");
            tokio::time::sleep(Duration::from_millis(100)).await;
            let deletes: Vec<Value> = (1..4)
                .map(|i| {
                    json!({"vim_account": name, "action": "DELETE", "item": "vm",
                    "item_id": create["tasks"][i]["item_id"]})
                })
                .collect();
            let delete = support::submit(&http, &rovim, &json!({ "tasks": deletes }))
                .await
                .expect("the delete is accepted");
            for (id, total) in [(&create["action_id"], 7), (&delete["action_id"], 3)] {
                let a = settle(&http, &rovim, id.as_str().unwrap()).await;
                assert_eq!(
                    (
                        a["number_done"].clone(),
                        a["number_tasks"].clone(),
                        a["status"].clone()
                    ),
                    (json!(total), json!(total), json!("DONE")),
                    "{} round {round}: {a}",
                    db.name()
                );
                assert!(
                    a["tasks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|t| t["status"] != "SCHEDULED" && t["status"] != "BUILD"),
                    "{a}"
                );
            }
            let v = support::check_counters(&db.store);
            assert!(v.is_empty(), "{v:#?}");
        }
    }
}

/// Issue 11 (4): with a key file, `serve` stores VIM passwords sealed; without the key (or with
/// another) it refuses to start, saying which key sealed them; `rovim rotate-key` moves them to
/// a new key, which `serve` then needs.
#[tokio::test]
async fn sealed_passwords_need_their_key_and_rotate_key_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rovim.db");
    let db = db.to_str().unwrap();
    let key_file = |name: &str, byte: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{}\n", byte.repeat(32))).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (k1, k2) = (key_file("k1", "a1"), key_file("k2", "b2"));
    let k2_id = rovim_store::SecretKey::from_hex(&"b2".repeat(32))
        .unwrap()
        .id()
        .to_owned();

    let rovim = support::serve_with(db, &[("ROVIM_SECRET_KEY_FILE", &k1)]);
    let made = support::http()
        .post(format!("{}/v1/vim-accounts", rovim.url))
        .json(&json!({"name": "lab", "type": "sim", "url": "sim://sealed", "user": "u", "password": "pw-in-the-clear"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    drop(rovim);
    for file in [db.to_owned(), format!("{db}-wal")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(15).any(|w| w == b"pw-in-the-clear"),
            "{file} holds no password"
        );
    }

    let serve = |env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_rovim"))
            .args(["--database-url", db, "serve", "--listen", "127.0.0.1:0"])
            .env_remove("ROVIM_DATABASE_URL")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let refused = serve(&[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("no key was given"),
        "{err}"
    );

    let rotate = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--database-url", db, "rotate-key", "--new-key-file", &k2])
        .env_remove("ROVIM_DATABASE_URL")
        .env("ROVIM_SECRET_KEY_FILE", &k1)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&rotate.stdout);
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    assert!(
        out.contains(&format!("1 secret(s) sealed with key {k2_id}")),
        "{out}"
    );

    let old = serve(&[("ROVIM_SECRET_KEY_FILE", &k1)]);
    let err = String::from_utf8_lossy(&old.stderr);
    assert!(
        !old.status.success() && err.contains(&format!("with key {k2_id}")),
        "{err}"
    );
    let rovim = support::serve_with(db, &[("ROVIM_SECRET_KEY_FILE", &k2)]);
    let list = get(&support::http(), format!("{}/v1/vim-accounts", rovim.url)).await;
    assert_eq!(list[0]["name"], "lab");
}
