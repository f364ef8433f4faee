//! The HTTP API in process (actix-web test service over a real Engine, SQLite and the sim VIM):
//! the happy path, then bad input that must be refused with the field and the reason and leave
//! the database unchanged.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use rovim_api::{ApiState, Tokens, configure};
use rovim_engine::test_support::start_engine;
use rovim_engine::{Connectors, Engine, EngineConfig, RefreshConfig};
use rovim_store::test_support::{TestDb, sqlite};
use rovim_store::{accounts, reads};
use serde_json::{Value, json};

async fn engine(db: &TestDb) -> Engine {
    let config = EngineConfig {
        refresh: RefreshConfig {
            build_secs: 0.2,
            active_secs: 1.0,
            ..RefreshConfig::default()
        },
        ..EngineConfig::default()
    };
    start_engine(db.store.clone(), config, Arc::new(Connectors::new())).await
}

macro_rules! app {
    ($engine:expr, $tokens:expr) => {
        test::init_service(App::new().configure(configure(ApiState {
            engine: $engine.clone(),
            tokens: $tokens,
        })))
        .await
    };
}

/// `POST uri` with a JSON body.
async fn post(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
    uri: &str,
    body: impl serde::Serialize,
) -> (StatusCode, Value) {
    call(app, test::TestRequest::post().uri(uri).set_json(body)).await
}

/// A fresh SQLite database, an engine over it and the API in front: `(db, engine, app)`.
macro_rules! served {
    ($tokens:expr) => {{
        let db = sqlite();
        let engine = engine(&db).await;
        let app = app!(engine, $tokens);
        (db, engine, app)
    }};
}

async fn call(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
    req: test::TestRequest,
) -> (StatusCode, Value) {
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status();
    let body = test::read_body(resp).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn counts(db: &TestDb) -> (usize, usize) {
    let mut c = db.store.conn().unwrap();
    (
        reads::list_actions(&mut c, 1000).unwrap().len(),
        accounts::list_vim_accounts(&mut c).unwrap().len(),
    )
}

#[actix_rt::test]
async fn an_orchestrator_deploys_over_http_in_json_and_yaml() {
    let (_db, engine, app) = served!(Tokens::default());

    let (s, sdn) = post(
        &app,
        "/v1/sdn-controllers",
        json!({"name": "sdn1", "type": "sim", "url": "sim-sdn://api-test"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sdn}");
    let (s, vim) = post(&app, "/v1/vim-accounts", json!({
        "name": "vim1", "type": "sim", "url": "sim://api-test", "user": "admin", "password": "hunter2",
        "config": {"build_seconds": 0}, "sdn_controller": sdn["id"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{vim}");
    assert_eq!(vim["name"], "vim1");
    let (s, list) = call(&app, test::TestRequest::get().uri("/v1/vim-accounts")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains("hunter2") && !vim.to_string().contains("hunter2"),
        "the password never comes back"
    );

    let body = json!({"description": "web tier", "tasks": [
        {"vim_account": "vim1", "action": "CREATE", "item": "net", "params": {"name": "mgmt"}},
        {"vim_account": "vim1", "action": "CREATE", "item": "vm",
         "params": {"name": "web", "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-0"}]}}]});
    let (s, sub) = post(&app, "/v1/actions", &body).await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let action = sub["action_id"].as_str().unwrap().to_owned();
    let vm_id = sub["tasks"][1]["item_id"].as_str().unwrap().to_owned();
    let mut view = Value::Null;
    for _ in 0..50 {
        let (s, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/v1/actions/{action}?wait=5")),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        view = v;
        if view["status"] != "BUILD" {
            break;
        }
    }
    assert_eq!(view["status"], "DONE", "{view}");
    assert_eq!(
        (view["number_done"].clone(), view["number_failed"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(view["tasks"][1]["status"], "DONE");
    // The VM's state, addresses included, comes with its first poll (refresh.first_secs).
    let mut vm = Value::Null;
    for _ in 0..100 {
        let (s, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/v1/vms/{vm_id}")),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        vm = v;
        if vm["status"] == "ACTIVE" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(vm["status"], "ACTIVE", "{vm}");
    assert!(
        vm["interfaces"][0]["mac_address"]
            .as_str()
            .unwrap()
            .starts_with("fa:16:3e")
    );
    assert!(vm["interfaces"][0]["ip_address"].is_string());

    let yaml = "description: from yaml\ntasks:\n  - vim_account: vim1\n    action: CREATE\n    item: net\n    params: {name: data, type: data}\n";
    let req = test::TestRequest::post()
        .uri("/v1/actions")
        .insert_header(("content-type", "application/yaml"))
        .set_payload(yaml);
    let (s, sub) = call(&app, req).await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let net_id = sub["tasks"][0]["item_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, net) = call(
        &app,
        test::TestRequest::get().uri(&format!("/v1/nets/{net_id}")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(net["type"], "data");
    assert!(
        net["sdn_net_id"].is_string(),
        "wired through the SDN controller: {net}"
    );
    let (s, list) = call(&app, test::TestRequest::get().uri("/v1/actions?limit=10")).await;
    assert_eq!((s, list.as_array().unwrap().len()), (StatusCode::OK, 2));
    let (s, _) = call(&app, test::TestRequest::get().uri("/healthz")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, ready) = call(&app, test::TestRequest::get().uri("/readyz")).await;
    assert_eq!(s, StatusCode::OK, "{ready}");
    let resp =
        test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    let vim_id = vim["id"].as_str().unwrap();
    for needle in [
        "rovim_tasks_settled_total{action=\"CREATE\",status=\"DONE\"} 3".to_owned(),
        format!("rovim_vim_call_seconds_count{{call=\"create_vm\",vim=\"{vim_id}\"}} 1"),
        "rovim_db_commits_total".to_owned(),
        "rovim_refresh_lag_seconds_count".to_owned(),
    ] {
        assert!(text.contains(&needle), "{needle} missing from:\n{text}");
    }
    assert!(!text.contains("hunter2"));
    engine.shutdown().await.unwrap();
}

#[actix_rt::test]
async fn bad_input_is_refused_with_the_field_and_changes_nothing() {
    let (db, engine, app) = served!(Tokens::default());
    let (s, _) = post(
        &app,
        "/v1/vim-accounts",
        json!({"name": "vim1", "type": "sim", "url": "sim://bad-input"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let before = counts(&db);
    let net =
        json!({"vim_account": "vim1", "action": "CREATE", "item": "net", "params": {"name": "n"}});

    let cases: Vec<(test::TestRequest, StatusCode, &str)> = vec![
        (test::TestRequest::post().uri("/v1/actions").set_json(json!({"tasks": [net], "colour": "red"})), StatusCode::UNPROCESSABLE_ENTITY, "colour"),
        (test::TestRequest::post().uri("/v1/actions").set_json(json!({"description": "x"})), StatusCode::UNPROCESSABLE_ENTITY, "tasks"),
        (test::TestRequest::post().uri("/v1/actions").set_json(json!({"tasks": "many"})), StatusCode::UNPROCESSABLE_ENTITY, "body"),
        (test::TestRequest::post().uri("/v1/actions").set_json(json!({"tasks": [{"vim_account": "nope", "action": "CREATE", "item": "net", "params": {"name": "n"}}]})),
            StatusCode::UNPROCESSABLE_ENTITY, "tasks[0].vim_account"),
        (test::TestRequest::post().uri("/v1/actions").set_json(json!({"tasks": [net, {"vim_account": "vim1", "action": "CREATE", "item": "vm",
            "params": {"name": "v", "image_id": "i", "flavor_id": "f", "networks": [{"net": "TASK-9"}]}}]})),
            StatusCode::UNPROCESSABLE_ENTITY, "tasks[1].params.networks[0].net"),
        (test::TestRequest::post().uri("/v1/actions").set_json(json!({"tasks": [{"vim_account": "vim1", "action": "EXPLODE", "item": "net"}]})),
            StatusCode::UNPROCESSABLE_ENTITY, "body"),
        (test::TestRequest::post().uri("/v1/actions").insert_header(("content-type", "application/json")).set_payload("{\"tasks\": ["),
            StatusCode::BAD_REQUEST, "body"),
        (test::TestRequest::post().uri("/v1/actions").insert_header(("content-type", "application/json")).set_payload(vec![0xff, 0xfe, 0x00]),
            StatusCode::BAD_REQUEST, "body"),
        (test::TestRequest::post().uri("/v1/actions").insert_header(("content-type", "text/plain")).set_payload("tasks"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE, "content-type"),
        (test::TestRequest::post().uri("/v1/actions").insert_header(("content-type", "application/json"))
            .set_payload(vec![b' '; rovim_api::body::MAX_BODY + 1]), StatusCode::PAYLOAD_TOO_LARGE, "body"),
        (test::TestRequest::post().uri("/v1/vim-accounts").set_json(json!({"name": "v2", "type": "sim", "url": "sim://x", "config": {"latnecy_ms": 1}})),
            StatusCode::UNPROCESSABLE_ENTITY, "config"),
        (test::TestRequest::post().uri("/v1/vim-accounts").set_json(json!({"name": "v3", "type": "vmware", "url": "x"})),
            StatusCode::UNPROCESSABLE_ENTITY, "body"),
        (test::TestRequest::post().uri("/v1/vim-accounts").set_json(json!({"name": "vim1", "type": "sim", "url": "sim://dup"})),
            StatusCode::CONFLICT, ""),
        (test::TestRequest::get().uri("/v1/actions/not-a-uuid"), StatusCode::NOT_FOUND, "path"),
        (test::TestRequest::get().uri("/v1/vms/00000000-0000-0000-0000-000000000000"), StatusCode::NOT_FOUND, "path"),
        (test::TestRequest::delete().uri("/v1/actions"), StatusCode::METHOD_NOT_ALLOWED, "method"),
        (test::TestRequest::get().uri("/v1/nowhere"), StatusCode::NOT_FOUND, "path"),
        (test::TestRequest::get().uri("/v1/actions?limit=0"), StatusCode::BAD_REQUEST, "limit"),
        (test::TestRequest::get().uri("/v1/actions?limit=abc"), StatusCode::BAD_REQUEST, "query"),
    ];
    for (i, (req, want, field)) in cases.into_iter().enumerate() {
        let (s, body) = call(&app, req).await;
        assert_eq!(s, want, "case {i}: {body}");
        assert_eq!(body["error"]["status"], want.as_u16(), "case {i}: {body}");
        assert!(
            body["error"]["field"].as_str().unwrap().contains(field),
            "case {i}: {body}"
        );
        assert!(
            !body["error"]["reason"].as_str().unwrap().is_empty(),
            "case {i}"
        );
    }
    assert_eq!(counts(&db), before, "nothing was stored");
    engine.shutdown().await.unwrap();
}

/// Issue 11 (8): a refusal stores nothing (an SDN controller with a bad config used to be stored
/// before the 422, so the retry met a 409), PATCH has the limits of create, names carry no
/// control characters, and a 409 speaks of the field, not of the database's tables.
#[actix_rt::test]
async fn refusals_are_atomic_and_name_the_field() {
    let (db, engine, app) = served!(Tokens::default());
    let sdn_count = |db: &TestDb| {
        accounts::list_sdn_controllers(&mut db.store.conn().unwrap())
            .unwrap()
            .len()
    };
    let long = "n".repeat(300);
    for (body, field) in [
        (
            json!({"name": "f", "type": "sim", "url": "sim-sdn://f", "config": {"refuse_ports": "yes"}}),
            "config",
        ),
        (
            json!({"name": long, "type": "sim", "url": "sim-sdn://f"}),
            "name",
        ),
        (
            json!({"name": "f\n2026-12-01 INFO forged", "type": "sim", "url": "sim-sdn://f"}),
            "name",
        ),
        (
            json!({"name": "f", "type": "sim", "url": "file:///etc/passwd"}),
            "url",
        ),
        (
            json!({"name": "f", "type": "onos", "url": "http://127.0.0.1:1"}),
            "type",
        ),
        (
            json!({"name": "f", "type": "ryu", "url": "http://127.0.0.1:1",
                   "config": {"port_mapping": [{"compute_node": "c", "pci": "p"}]}}),
            "config",
        ),
    ] {
        let (s, refused) = post(&app, "/v1/sdn-controllers", &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {refused}");
        assert_eq!(refused["error"]["field"], field, "{refused}");
        assert_eq!(sdn_count(&db), 0, "{body} stored nothing");
    }
    let (s, sdn) = post(
        &app,
        "/v1/sdn-controllers",
        json!({"name": "f", "type": "sim", "url": "sim-sdn://f"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the retry of a refused controller is not a conflict: {sdn}"
    );

    for name in ["a", "b"] {
        let (s, v) = post(
            &app,
            "/v1/vim-accounts",
            json!({"name": name, "type": "sim", "url": format!("sim://atomic-{name}")}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (s, clash) = post(
        &app,
        "/v1/vim-accounts",
        json!({"name": "a", "type": "sim", "url": "sim://atomic-c"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let reason = clash["error"]["reason"].as_str().unwrap();
    assert!(reason.contains("named 'a'"), "{reason}");
    for raw in ["UNIQUE", "constraint", "vim_accounts"] {
        assert!(
            !reason.contains(raw),
            "the database's own text leaked: {reason}"
        );
    }

    let list = |db: &TestDb| accounts::list_vim_accounts(&mut db.store.conn().unwrap()).unwrap();
    let a = list(&db).into_iter().find(|v| v.name == "a").unwrap();
    let uri = format!("/v1/vim-accounts/{}", a.id);
    for (body, status, field) in [
        (
            json!({"name": "x".repeat(5000)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            json!({"name": "tab\there"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            json!({"name": "   "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (json!({"url": ""}), StatusCode::UNPROCESSABLE_ENTITY, "url"),
        (
            json!({"name": "ok-name", "url": "gopher://x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "url",
        ),
        (json!({"name": "b"}), StatusCode::CONFLICT, ""),
    ] {
        let (s, refused) = call(&app, test::TestRequest::patch().uri(&uri).set_json(&body)).await;
        assert_eq!(s, status, "{body}: {refused}");
        assert_eq!(refused["error"]["field"], field, "{refused}");
        assert!(!refused.to_string().contains("UNIQUE"), "{refused}");
    }
    let after = list(&db).into_iter().find(|v| v.id == a.id).unwrap();
    assert_eq!(
        (after.name.as_str(), after.url.as_str()),
        ("a", "sim://atomic-a"),
        "no refused PATCH changed anything"
    );
    engine.shutdown().await.unwrap();
}

/// Issue 11: on the default loopback listen without tokens, a web page the operator opens
/// could submit actions (a POST without Content-Type was read as JSON; any Host was served).
#[actix_rt::test]
async fn without_tokens_only_local_json_requests_are_served() {
    let (db, engine, app) = served!(Tokens::default());
    let account = json!({"name": "local", "type": "sim", "url": "sim://local"}).to_string();
    let post = || {
        test::TestRequest::post()
            .uri("/v1/vim-accounts")
            .set_payload(account.clone())
    };
    let (s, body) = call(&app, post()).await;
    assert_eq!(
        s,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no Content-Type: {body}"
    );
    let (s, _) = call(&app, post().insert_header(("content-type", "text/plain"))).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let json = ("content-type", "application/json");
    let (s, body) = call(
        &app,
        post()
            .insert_header(json)
            .insert_header(("host", "evil.example:9090")),
    )
    .await;
    assert_eq!(
        (s, body["error"]["field"].clone()),
        (StatusCode::FORBIDDEN, json!("host")),
        "{body}"
    );
    let (s, body) = call(
        &app,
        post()
            .insert_header(json)
            .insert_header(("host", "127.0.0.1:9090"))
            .insert_header(("origin", "http://evil.example")),
    )
    .await;
    assert_eq!(
        (s, body["error"]["field"].clone()),
        (StatusCode::FORBIDDEN, json!("origin")),
        "{body}"
    );
    assert_eq!(counts(&db).1, 0, "nothing stored");
    let (s, body) = call(
        &app,
        post()
            .insert_header(json)
            .insert_header(("host", "localhost:9090"))
            .insert_header(("origin", "http://localhost:9090")),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    engine.shutdown().await.unwrap();
}

/// Issue 11: credentials embedded in a VIM URL were stored and shown; such a URL is refused
/// now (naming the field), as are other schemes, queries and link-local hosts.
#[actix_rt::test]
async fn vim_urls_are_checked_and_credentials_in_them_refused() {
    let (db, engine, app) = served!(Tokens::default());
    for (url, why) in [
        (
            "http://admin:hunter2-pw@127.0.0.1:1",
            "credentials go in user and password",
        ),
        ("file:///etc/passwd", "scheme 'file'"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://127.0.0.1:1/x?y=z", "query"),
    ] {
        let (s, body) = post(
            &app,
            "/v1/vim-accounts",
            json!({"name": "u", "type": "sim", "url": url}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["error"]["field"], "url");
        let reason = body["error"]["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{url}: {reason}");
        assert!(!reason.contains("hunter2"), "{reason}");
    }
    assert_eq!(counts(&db).1, 0, "nothing stored");
    engine.shutdown().await.unwrap();
}

#[actix_rt::test]
async fn tokens_guard_the_api_but_not_health() {
    const TOKEN: &str = "t0ken-0123456789abcdef";
    let (_db, engine, app) = served!(Tokens::new(vec![TOKEN.into()]).unwrap());
    let (s, body) = call(&app, test::TestRequest::get().uri("/v1/vim-accounts")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let refused = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/v1/vim-accounts")
            .to_request(),
    )
    .await;
    assert_eq!(
        refused.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"rovim\"",
        "a 401 says how to authenticate"
    );
    let (s, _) = call(
        &app,
        test::TestRequest::get()
            .uri("/v1/vim-accounts")
            .insert_header(("authorization", "Bearer wrong")),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = call(
        &app,
        test::TestRequest::get()
            .uri("/v1/vim-accounts")
            .insert_header(("authorization", format!("Bearer {TOKEN}"))),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &app,
        test::TestRequest::get()
            .uri("/v1/vim-accounts")
            .insert_header(("authorization", format!("bearer {TOKEN}"))),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "the scheme is case-insensitive");
    let (s, _) = call(&app, test::TestRequest::get().uri("/healthz")).await;
    assert_eq!(s, StatusCode::OK);
    engine.shutdown().await.unwrap();
}

#[actix_rt::test]
async fn accounts_are_edited_and_deleted_and_live_elements_protect_them() {
    let (_db, engine, app) = served!(Tokens::default());
    let (_, sdn) = post(
        &app,
        "/v1/sdn-controllers",
        json!({"name": "sdn1", "type": "sim", "url": "sim-sdn://edit"}),
    )
    .await;
    let (_, vim) = post(
        &app,
        "/v1/vim-accounts",
        json!({"name": "vim1", "type": "sim", "url": "sim://edit", "sdn_controller": sdn["id"]}),
    )
    .await;
    let id = vim["id"].as_str().unwrap().to_owned();

    let (s, edited) = call(
        &app,
        test::TestRequest::patch()
            .uri(&format!("/v1/vim-accounts/{id}"))
            .set_json(json!({"name": "vim1-renamed", "config": {"latency_ms": 5}, "tenant": "t1"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{edited}");
    assert_eq!(
        (
            edited["name"].clone(),
            edited["tenant"].clone(),
            edited["config"]["latency_ms"].clone()
        ),
        (json!("vim1-renamed"), json!("t1"), json!(5))
    );
    let (s, e) = call(
        &app,
        test::TestRequest::patch()
            .uri(&format!("/v1/vim-accounts/{id}"))
            .set_json(json!({"config": {"latnecy": 1}})),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("config"))
    );
    let (s, _) = call(
        &app,
        test::TestRequest::delete().uri(&format!(
            "/v1/sdn-controllers/{}",
            sdn["id"].as_str().unwrap()
        )),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "a VIM account still names it");

    let (s, sub) = post(&app, "/v1/actions", json!({"tasks": [
        {"vim_account": "vim1-renamed", "action": "CREATE", "item": "net", "params": {"name": "n"}}]})).await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let action = sub["action_id"].as_str().unwrap().to_owned();
    for _ in 0..50 {
        let (_, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/v1/actions/{action}?wait=2")),
        )
        .await;
        if v["status"] == "DONE" {
            break;
        }
    }
    let (s, e) = call(
        &app,
        test::TestRequest::delete().uri(&format!("/v1/vim-accounts/{id}")),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["reason"].as_str().unwrap().contains("live"));
    let (s, _) = call(
        &app,
        test::TestRequest::delete().uri(&format!("/v1/vim-accounts/{id}?force=true")),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(
        &app,
        test::TestRequest::get().uri(&format!("/v1/vim-accounts/{id}")),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &app,
        test::TestRequest::delete().uri(&format!(
            "/v1/sdn-controllers/{}",
            sdn["id"].as_str().unwrap()
        )),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    engine.shutdown().await.unwrap();
}

#[actix_rt::test]
async fn the_openapi_document_describes_every_route() {
    let (_db, engine, app) = served!(Tokens::default());
    let (s, doc) = call(&app, test::TestRequest::get().uri("/v1/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/vim-accounts", "post"),
        ("/v1/vim-accounts", "get"),
        ("/v1/vim-accounts/{id}", "get"),
        ("/v1/vim-accounts/{id}", "patch"),
        ("/v1/vim-accounts/{id}", "delete"),
        ("/v1/sdn-controllers", "post"),
        ("/v1/sdn-controllers", "get"),
        ("/v1/sdn-controllers/{id}", "delete"),
        ("/v1/actions", "post"),
        ("/v1/actions", "get"),
        ("/v1/actions/{id}", "get"),
        ("/v1/nets/{id}", "get"),
        ("/v1/vms/{id}", "get"),
        ("/v1/vim-accounts/{id}/orphans", "get"),
        ("/v1/vim-accounts/{id}/orphans/sweep", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/v1/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ActionRequest",
        "TaskRequest",
        "VmParams",
        "NetParams",
        "Interface",
        "ErrorBody",
        "VmView",
        "NewAccount",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    assert!(
        schemas["TaskRequest"]["properties"]
            .get("depends_on")
            .is_some()
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    engine.shutdown().await.unwrap();
}

/// Issue 14: the instances sharing the database, and who runs each account. On SQLite the one
/// instance runs everything; /readyz names it.
#[actix_rt::test]
async fn instances_list_this_one_with_the_accounts_it_runs() {
    let (_db, engine, app) = served!(Tokens::default());
    let (s, vim) = post(
        &app,
        "/v1/vim-accounts",
        json!({"name": "vim1", "type": "sim", "url": "sim://instances"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{vim}");
    let id = vim["id"].as_str().unwrap().to_owned();
    // Leased by the next round (at once for an account added here).
    let mut owner = Value::Null;
    for _ in 0..100 {
        let (_, v) = call(
            &app,
            test::TestRequest::get().uri(&format!("/v1/vim-accounts/{id}")),
        )
        .await;
        owner = v["owner"].clone();
        if !owner.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(owner, engine.instance_id());
    let (s, all) = call(&app, test::TestRequest::get().uri("/v1/instances")).await;
    assert_eq!(s, StatusCode::OK);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["id"], engine.instance_id());
    assert_eq!(all[0]["this"], true);
    assert_eq!(all[0]["vim_accounts"], json!([id]));
    assert!(all[0]["heartbeat_at"].is_string());
    let (s, ready) = call(&app, test::TestRequest::get().uri("/readyz")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ready["instance"], engine.instance_id());
    let (s, _) = call(&app, test::TestRequest::post().uri("/v1/instances")).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
}

/// Issue 15 over HTTP: a forced account removal leaves its net on the VIM; an account on the
/// same VIM lists it as an orphan, a dry run shows it and keeps it, a sweep deletes it.
#[actix_rt::test]
async fn orphans_are_listed_and_swept_over_http() {
    let db = sqlite();
    let config = EngineConfig {
        sweep: rovim_engine::SweepConfig {
            interval_secs: 0.0,
            grace_secs: 0.0,
            ..rovim_engine::SweepConfig::default()
        },
        ..EngineConfig::default()
    };
    let engine = start_engine(db.store.clone(), config, Arc::new(Connectors::new())).await;
    let app = app!(engine, Tokens::default());
    let account = |name: &str| json!({"name": name, "type": "sim", "url": "sim://orphans-http"});
    let (_, old) = post(&app, "/v1/vim-accounts", account("old")).await;
    let (s, sub) = post(
        &app,
        "/v1/actions",
        json!({"tasks": [
        {"vim_account": "old", "action": "CREATE", "item": "net", "params": {"name": "left"}}]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let action = sub["action_id"].as_str().unwrap().to_owned();
    let (_, done) = call(
        &app,
        test::TestRequest::get().uri(&format!("/v1/actions/{action}?wait=10")),
    )
    .await;
    assert_eq!(done["status"], "DONE", "{done}");
    let old = old["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        &app,
        test::TestRequest::delete().uri(&format!("/v1/vim-accounts/{old}?force=true")),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, new) = post(&app, "/v1/vim-accounts", account("new")).await;
    let new = new["id"].as_str().unwrap().to_owned();
    let orphans = format!("/v1/vim-accounts/{new}/orphans");

    let (s, listed) = call(&app, test::TestRequest::get().uri(&orphans)).await;
    assert_eq!(s, StatusCode::OK, "{listed}");
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0]["kind"].clone(), listed[0]["name"].clone()),
        (json!("net"), json!("left"))
    );
    assert!(
        listed[0]["why"].as_str().unwrap().contains("no task"),
        "{listed:?}"
    );

    let (s, dry) = post(&app, &format!("{orphans}/sweep?dry_run=true"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!(
        (
            dry["dry_run"].clone(),
            dry["deleted"].as_array().unwrap().len()
        ),
        (json!(true), 1)
    );
    let (_, still) = call(&app, test::TestRequest::get().uri(&orphans)).await;
    assert_eq!(
        still.as_array().unwrap().len(),
        1,
        "a dry run deletes nothing"
    );

    let (s, swept) = post(&app, &format!("{orphans}/sweep"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{swept}");
    assert_eq!(swept["deleted"][0]["vim_id"], listed[0]["vim_id"]);
    assert!(swept["failed"].as_array().unwrap().is_empty());
    let (_, after) = call(&app, test::TestRequest::get().uri(&orphans)).await;
    assert_eq!(after, json!([]));
    let resp =
        test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    let metrics = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(
        metrics.contains(&format!("rovim_orphans{{vim=\"{new}\"}} 0")),
        "the gauge follows the sweep"
    );
    assert!(
        metrics.contains(&format!("rovim_orphans_deleted_total{{vim=\"{new}\"}} 1")),
        "{metrics}"
    );

    // Bad input: an unknown account, an unknown query parameter, a wrong method.
    let unknown = rovim_core::VimAccountId::generate();
    let (s, e) = call(
        &app,
        test::TestRequest::get().uri(&format!("/v1/vim-accounts/{unknown}/orphans")),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, e) = post(&app, &format!("{orphans}/sweep?dryrun=true"), json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, e) = call(
        &app,
        test::TestRequest::get().uri(&format!("{orphans}/sweep")),
    )
    .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{e}");
    engine.shutdown().await.unwrap();
}
