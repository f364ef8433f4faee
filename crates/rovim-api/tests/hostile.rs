//! 1,000 malformed or hostile requests, generated from a seed: wrong types, huge bodies, deep
//! YAML nesting and alias bombs, unknown fields, invalid UTF-8, wrong methods, bad paths and
//! queries. Every one must get a 4xx (never a 5xx) with a JSON error body, and the database
//! must be exactly as before.

use actix_web::http::Method;
use actix_web::{App, test};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rovim_api::{ApiState, Tokens, configure};
use rovim_engine::EngineConfig;
use rovim_engine::test_support::Harness;
use rovim_store::test_support::sqlite;
use rovim_store::{accounts, reads};
use serde_json::{Value, json};

fn valid_task() -> Value {
    json!({"vim_account": "vim1", "action": "CREATE", "item": "net", "params": {"name": "n"}})
}

/// Replaces a random leaf of `v` with a value of another type.
fn corrupt(v: &mut Value, rng: &mut StdRng) {
    let wrong = [
        json!(null),
        json!(42),
        json!(-1),
        json!(true),
        json!("x"),
        json!([]),
        json!({}),
        json!(1e308),
        json!("💥".repeat(50)),
    ];
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let k = &keys[rng.random_range(0..keys.len())];
            if rng.random_bool(0.5) {
                corrupt(map.get_mut(k).unwrap(), rng);
            } else {
                map.insert(k.clone(), wrong[rng.random_range(0..wrong.len())].clone());
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.random_range(0..items.len());
            corrupt(&mut items[i], rng);
        }
        _ => *v = wrong[rng.random_range(0..wrong.len())].clone(),
    }
}

fn hostile(rng: &mut StdRng, i: usize) -> test::TestRequest {
    let json_ct = ("content-type", "application/json");
    let yaml_ct = ("content-type", "application/yaml");
    match i % 12 {
        0 => {
            let mut body = json!({"description": "d", "tasks": [valid_task(), valid_task()]});
            corrupt(&mut body, rng);
            // Make sure it is wrong: an unknown VIM account as well.
            body["tasks"] = json!([{"vim_account": format!("ghost-{i}"), "action": "CREATE", "item": "net", "params": {"name": "n"}}]);
            test::TestRequest::post().uri("/v1/actions").set_json(body)
        }
        1 => {
            let mut task = valid_task();
            corrupt(&mut task, rng);
            task[format!("extra_{i}")] = json!(1);
            test::TestRequest::post()
                .uri("/v1/actions")
                .set_json(json!({"tasks": [task]}))
        }
        2 => {
            let mut bytes: Vec<u8> = (0..rng.random_range(1..200))
                .map(|_| rng.random())
                .collect();
            bytes.push(0xff); // never valid UTF-8
            test::TestRequest::post()
                .uri("/v1/actions")
                .insert_header(json_ct)
                .set_payload(bytes)
        }
        3 => {
            let depth = rng.random_range(200..5000);
            let body = format!("tasks: {}1{}", "[".repeat(depth), "]".repeat(depth));
            test::TestRequest::post()
                .uri("/v1/actions")
                .insert_header(yaml_ct)
                .set_payload(body)
        }
        4 => {
            let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
            let mut prev = 'a';
            for name in 'b'..='j' {
                bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
                prev = name;
            }
            bomb.push_str(&format!("tasks: *{prev}\n"));
            test::TestRequest::post()
                .uri("/v1/actions")
                .insert_header(yaml_ct)
                .set_payload(bomb)
        }
        5 => {
            let size = rovim_api::body::MAX_BODY + rng.random_range(1..4096);
            test::TestRequest::post()
                .uri("/v1/actions")
                .insert_header(json_ct)
                .set_payload(vec![b'['; size])
        }
        6 => {
            let methods = [
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
                Method::HEAD,
                Method::OPTIONS,
            ];
            let paths = [
                "/v1/actions",
                "/v1/vim-accounts",
                "/v1/sdn-controllers",
                "/v1/nets/x",
                "/v1/vms/x",
            ];
            let m = methods[rng.random_range(0..methods.len())].clone();
            let p = paths[rng.random_range(0..paths.len())];
            test::TestRequest::default().method(m).uri(p)
        }
        7 => {
            let junk: String = (0..rng.random_range(1..40))
                .map(|_| rng.random_range(b'a'..=b'z') as char)
                .collect();
            let paths = [
                format!("/v1/actions/{junk}"),
                format!("/v1/vms/{junk}"),
                format!("/v1/nets/{junk}"),
                format!("/v1/vim-accounts/{junk}"),
                format!("/v1/{junk}"),
                format!("/{junk}"),
            ];
            test::TestRequest::get().uri(&paths[rng.random_range(0..paths.len())])
        }
        8 => {
            let q = [
                "limit=-5",
                "limit=99999999999999999999",
                "limit=x",
                "wait=-1",
                "wait=abc",
                "zzz=1",
                "limit=0",
            ];
            let uri = if rng.random_bool(0.5) {
                format!("/v1/actions?{}", q[rng.random_range(0..q.len())])
            } else {
                format!(
                    "/v1/actions/00000000-0000-0000-0000-000000000000?{}",
                    q[rng.random_range(3..q.len())]
                )
            };
            test::TestRequest::get().uri(&uri)
        }
        9 => {
            let mut body = json!({"name": format!("acct-{i}"), "type": "sim", "url": "sim://h", "config": {"seed": 1}});
            corrupt(&mut body, rng);
            body["unexpected"] = json!(i);
            test::TestRequest::post()
                .uri("/v1/vim-accounts")
                .set_json(body)
        }
        10 => {
            let cts = [
                "text/plain",
                "application/xml",
                "multipart/form-data",
                "application/yaml",
                "image/png",
            ];
            let ct = cts[rng.random_range(0..cts.len())];
            let uri = if ct == "application/yaml" {
                "/v1/vim-accounts"
            } else {
                "/v1/actions"
            };
            test::TestRequest::post()
                .uri(uri)
                .insert_header(("content-type", ct))
                .set_payload("name: x")
        }
        _ => {
            // Valid shape, invalid meaning: cycles, self references, bad references, bad params.
            let bad = [
                json!({"tasks": [{"vim_account": "vim1", "action": "CREATE", "item": "net", "params": {"name": "n"}, "depends_on": [0]}]}),
                json!({"tasks": [{"vim_account": "vim1", "action": "DELETE", "item": "vm", "item_id": "00000000-0000-0000-0000-000000000001"}]}),
                json!({"tasks": [{"vim_account": "vim1", "action": "CREATE", "item": "vm", "params": {"name": "", "image_id": "i", "flavor_id": "f"}}]}),
                json!({"tasks": [{"vim_account": "vim1", "action": "CREATE", "item": "net", "params": {"name": "n", "vlan": 9999}}]}),
                json!({"tasks": []}),
                json!({"tasks": [{"vim_account": "vim1", "action": "FIND", "item": "net"}]}),
                json!({"tasks": [{"vim_account": "vim1", "action": "CREATE", "item": "vm",
                    "params": {"name": "v", "image_id": "i", "flavor_id": "f", "networks": [{"net": format!("TASK-{}", i)}]}}]}),
            ];
            test::TestRequest::post()
                .uri("/v1/actions")
                .set_json(bad[rng.random_range(0..bad.len())].clone())
        }
    }
}

#[actix_rt::test]
async fn a_thousand_hostile_requests_get_4xx_and_change_nothing() {
    let h = Harness::with(sqlite(), EngineConfig::default()).await;
    let (db, engine) = (&h.db, h.engine.clone());
    let app = test::init_service(App::new().configure(configure(ApiState {
        engine: engine.clone(),
        tokens: Tokens::default(),
    })))
    .await;
    let ok = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/v1/vim-accounts")
            .set_json(json!({"name": "vim1", "type": "sim", "url": "sim://hostile"}))
            .to_request(),
    )
    .await;
    assert_eq!(ok.status(), 201);
    let snapshot = || {
        let mut c = db.store.conn().unwrap();
        let actions = reads::list_actions(&mut c, 10_000).unwrap().len();
        let accounts: Vec<String> = accounts::list_vim_accounts(&mut c)
            .unwrap()
            .iter()
            .map(|a| a.name.clone())
            .collect();
        (actions, accounts)
    };
    let before = snapshot();
    let mut rng = StdRng::seed_from_u64(20261124);
    let mut by_status = std::collections::BTreeMap::new();
    for i in 0..1000 {
        let req = hostile(&mut rng, i).to_request();
        let (method, path) = (req.method().clone(), req.path().to_owned());
        let resp = test::call_service(&app, req).await;
        let status = resp.status();
        let body = test::read_body(resp).await;
        assert!(
            status.is_client_error(),
            "request {i} ({method} {path}) got {status}: {}",
            String::from_utf8_lossy(&body)
        );
        if method != Method::HEAD {
            let v: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| panic!("request {i}: body is not JSON"));
            assert!(v["error"]["reason"].is_string(), "request {i}: {v}");
        }
        *by_status.entry(status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(snapshot(), before, "the database is unchanged");
    assert!(by_status.len() >= 6, "a spread of refusals: {by_status:?}");
    engine.shutdown().await.unwrap();
}
