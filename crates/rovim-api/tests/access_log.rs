//! Issue 11 (12): a log line per request (method, path, status, duration, request id; never the
//! body or the token) and an audit record per account or controller change, read back from the
//! JSON log the service writes.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{App, test};
use rovim_api::{ApiState, Tokens, configure};
use rovim_engine::{Connectors, Engine, EngineConfig};
use rovim_store::test_support::sqlite;
use serde_json::{Value, json};
use slog::Drain;

/// The JSON log lines written so far.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn logger(&self) -> slog::Logger {
        let drain = slog_json::Json::default(self.clone()).fuse();
        slog::Logger::root(Mutex::new(drain).fuse(), slog::o!())
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn records(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

const TOKEN: &str = "access-log-token-0123456789";
const PASSWORD: &str = "s3cret-vim-password";

#[actix_rt::test]
async fn every_request_is_logged_and_every_change_audited_without_secrets() {
    let db = sqlite();
    let logs = Captured::default();
    let engine = Engine::start(
        db.store.clone(),
        EngineConfig::default(),
        Arc::new(Connectors::new()),
        logs.logger(),
    )
    .await
    .unwrap();
    let app = test::init_service(App::new().configure(configure(ApiState {
        engine: engine.clone(),
        tokens: Tokens::new(vec![TOKEN.into()]).unwrap(),
    })))
    .await;
    let auth = ("authorization", format!("Bearer {TOKEN}"));

    let refused = test::call_service(
        &app,
        test::TestRequest::get().uri("/v1/actions").to_request(),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let made = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/v1/vim-accounts")
            .insert_header(auth.clone())
            .insert_header(("x-request-id", "orchestrator-42"))
            .set_json(json!({"name": "audited", "type": "sim", "url": "sim://audited", "user": "u", "password": PASSWORD}))
            .to_request(),
    )
    .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    assert_eq!(
        made.headers().get("x-request-id").unwrap(),
        "orchestrator-42"
    );
    let vim: Value = test::read_body_json(made).await;
    let id = vim["id"].as_str().unwrap();
    let edited = test::call_service(
        &app,
        test::TestRequest::patch()
            .uri(&format!("/v1/vim-accounts/{id}"))
            .insert_header(auth.clone())
            .insert_header(("x-request-id", "a\" status=\"200"))
            .set_json(json!({"password": format!("{PASSWORD}-2"), "url": "sim://audited-2"}))
            .to_request(),
    )
    .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let edit_id = edited
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        edit_id.parse::<uuid::Uuid>().is_ok(),
        "a request id that could forge log text is replaced: {edit_id}"
    );
    let gone = test::call_service(
        &app,
        test::TestRequest::delete()
            .uri(&format!("/v1/vim-accounts/{id}"))
            .insert_header(auth.clone())
            .to_request(),
    )
    .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    engine.shutdown().await.unwrap();

    let text = logs.text();
    for secret in [TOKEN, PASSWORD] {
        assert!(!text.contains(secret), "{secret} reached the log:\n{text}");
    }
    let records = logs.records();
    let requests: Vec<&Value> = records.iter().filter(|r| r["msg"] == "request").collect();
    let line = |method: &str, status: u64| {
        requests
            .iter()
            .find(|r| r["method"] == method && r["status"] == status)
            .unwrap_or_else(|| panic!("no {method} {status} line in {requests:?}"))
    };
    let denied = line("GET", 401);
    assert_eq!(denied["path"], "/v1/actions");
    let created = line("POST", 201);
    assert_eq!(
        (created["path"].as_str(), created["request_id"].as_str()),
        (Some("/v1/vim-accounts"), Some("orchestrator-42"))
    );
    assert!(
        created["duration_ms"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            >= 0.0
    );
    line("PATCH", 200);
    line("DELETE", 204);

    let audits: Vec<&Value> = records.iter().filter(|r| r["msg"] == "audit").collect();
    let kinds: Vec<&str> = audits
        .iter()
        .map(|r| r["audit"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "vim_account.created",
            "vim_account.edited",
            "vim_account.deleted"
        ]
    );
    assert!(audits.iter().all(|r| r["target"] == id));
    assert_eq!(
        audits[0]["request_id"], "orchestrator-42",
        "an audit record points at its request"
    );
    assert_eq!(audits[1]["request_id"], edit_id.as_str());
    assert_eq!(
        audits[1]["fields"], "url,password",
        "the fields changed, never their values"
    );
}
