//! The dashboard (`/ui`) in a real browser: headless Chromium driven through ChromeDriver
//! (WebDriver), on a real `rovim serve` with a `rovim sim-vim` process as its VIM. The page is
//! opened once; an action submitted through the API shows up and its progress reaches 100 %,
//! its VMs turn ACTIVE, and the account turns ERROR when its VIM goes away, all without a
//! reload (the page's load time stays the same). Screenshots go to
//! `target/tmp/ui-screenshots/` (copies in `docs/ui/`).

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::{http, register_sim, serve, sim_vim, submit};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// ChromeDriver on a free port, and a WebDriver session of headless Chromium.
async fn browser() -> (Driver, Client) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian: chromium-driver)"),
    );
    let caps = json!({"goog:chromeOptions": {"binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]}});
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let start = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (driver, c),
            Err(e) if start.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    }
}

/// Waits until the element's text satisfies `ok`; its text.
async fn text_until(c: &Client, css: &str, ok: impl Fn(&str) -> bool, within: Duration) -> String {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < within {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && let Ok(t) = el.text().await
        {
            if ok(&t) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: still '{last}' after {within:?}");
}

async fn loaded_at(c: &Client) -> f64 {
    c.execute("return window.rovimLoadedAt;", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap()
}

async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[cfg_attr(
    rovim_no_chromium,
    ignore = "needs Chromium and ChromeDriver: apt-get install chromium chromium-driver"
)]
#[tokio::test]
async fn the_dashboard_follows_an_action_and_an_account_live() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rovim.db");
    let rovim = serve(db.to_str().unwrap());
    let http = http();
    let sim = sim_vim(r#"{"build_seconds": 1}"#);
    let vim = register_sim(&http, &rovim, "lab", &sim).await;

    let (_driver, c) = browser().await;
    c.goto(&format!("{}/ui", rovim.url)).await.unwrap();
    let account = format!("#accounts tr[data-id='{vim}']");
    text_until(
        &c,
        &format!("{account} .status"),
        |t| t == "ENABLED",
        Duration::from_secs(20),
    )
    .await;
    let first_load = loaded_at(&c).await;

    let made = submit(
        &http,
        &rovim,
        &json!({"description": "browser test", "tasks": [
            {"vim_account": "lab", "action": "CREATE", "item": "net", "params": {"name": "mgmt"}},
            {"vim_account": "lab", "action": "CREATE", "item": "vm", "depends_on": [0],
             "params": {"name": "web", "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-0"}]}},
            {"vim_account": "lab", "action": "CREATE", "item": "vm", "depends_on": [0],
             "params": {"name": "db", "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-0"}]}},
        ]}),
    )
    .await
    .unwrap();
    let action = made["action_id"].as_str().unwrap();
    let progress = format!("#actions tr[data-id='{action}'] .progress");
    text_until(
        &c,
        &progress,
        |t| t.contains("(100 %)"),
        Duration::from_secs(30),
    )
    .await;
    // Read in one go: the page redraws the row as events come.
    let percent = c
        .execute(
            "return document.querySelector(arguments[0]).dataset.percent;",
            vec![json!(progress)],
        )
        .await
        .unwrap();
    assert_eq!(percent, json!("100"));
    for task in [1, 2] {
        let vm = made["tasks"][task]["item_id"].as_str().unwrap();
        let status = format!("#items tr[data-id='{vm}'] .status");
        text_until(&c, &status, |t| t == "ACTIVE", Duration::from_secs(30)).await;
    }
    screenshot(&c, "action-done.png").await;

    // The VIM goes away; the next call fails and the account turns ERROR on the page.
    drop(sim);
    submit(
        &http,
        &rovim,
        &json!({"tasks": [{"vim_account": "lab", "action": "CREATE", "item": "net", "params": {"name": "late"}}]}),
    )
    .await
    .unwrap();
    text_until(
        &c,
        &format!("{account} .status"),
        |t| t == "ERROR",
        Duration::from_secs(30),
    )
    .await;
    let restarts = text_until(
        &c,
        &format!("{account} .restarts"),
        |t| t != "0",
        Duration::from_secs(30),
    )
    .await;
    assert!(restarts.parse::<u32>().unwrap() >= 1, "{restarts}");
    screenshot(&c, "account-error.png").await;
    assert_eq!(
        loaded_at(&c).await,
        first_load,
        "all of it without a reload"
    );
    c.close().await.unwrap();
}

/// With API tokens configured, the page asks for one (the API answered 401) and shows nothing
/// until it has it; given the token, it shows the accounts, and the token stays in the tab's
/// session storage only (a reload keeps it, the page's source never holds it).
#[cfg_attr(
    rovim_no_chromium,
    ignore = "needs Chromium and ChromeDriver: apt-get install chromium chromium-driver"
)]
#[tokio::test]
async fn the_dashboard_asks_for_the_token_the_api_wants() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rovim.db");
    let rovim = support::serve_with(
        db.to_str().unwrap(),
        &[("ROVIM_API_TOKENS", "s3cret-token-for-the-ui")],
    );
    let http = http();
    let sim = sim_vim(r#"{"build_seconds": 0}"#);
    let r = http
        .post(format!("{}/v1/vim-accounts", rovim.url))
        .bearer_auth("s3cret-token-for-the-ui")
        .json(&json!({"name": "lab", "type": "sim", "url": sim.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let vim = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (_driver, c) = browser().await;
    c.goto(&format!("{}/ui", rovim.url)).await.unwrap();
    let start = Instant::now();
    loop {
        let shown = c
            .execute(
                "return document.getElementById('login').classList.contains('shown');",
                vec![],
            )
            .await
            .unwrap();
        if shown == json!(true) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no token prompt");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = c
        .find_all(Locator::Css("#accounts tbody tr"))
        .await
        .unwrap();
    assert!(rows.is_empty(), "nothing shown without the token");
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys("s3cret-token-for-the-ui")
        .await
        .unwrap();
    c.find(Locator::Css("#login-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let account = format!("#accounts tr[data-id='{vim}'] .status");
    text_until(&c, &account, |t| t == "ENABLED", Duration::from_secs(20)).await;
    screenshot(&c, "token-given.png").await;
    c.refresh().await.unwrap();
    text_until(&c, &account, |t| t == "ENABLED", Duration::from_secs(20)).await;
    let source = c.source().await.unwrap();
    assert!(
        !source.contains("s3cret-token-for-the-ui"),
        "the token is not in the page"
    );
    c.close().await.unwrap();
}
