//! The OpenStack connector against the real Keystone (v3) and Neutron (v2.0) servers that
//! `.ci/openstack.sh` installs and starts (ROVIM_TEST_KEYSTONE_URL). Without them the test skips
//! with a message; under CI=true it fails.

use rovim_core::{FindFilter, ItemKind, NetParams, NetType};
use rovim_vim::openstack::{OpenStackConnector, OpenStackSettings};
use rovim_vim::{VimConnector, VimError};
use serde_json::json;

fn keystone_url() -> Option<String> {
    match std::env::var("ROVIM_TEST_KEYSTONE_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("ROVIM_TEST_KEYSTONE_URL is not set: run `eval \"$(bash .ci/openstack.sh)\"`")
        }
        Err(_) => {
            eprintln!(
                "skipping: ROVIM_TEST_KEYSTONE_URL is not set (eval \"$(bash .ci/openstack.sh)\" starts Keystone and Neutron)"
            );
            None
        }
    }
}

fn connector(url: &str, password: &str, config: serde_json::Value) -> OpenStackConnector {
    let settings = OpenStackSettings::from_config(&config).unwrap();
    OpenStackConnector::new(url, "admin", password, "admin", settings).unwrap()
}

fn net(name: &str, net_type: NetType, ip: Option<serde_json::Value>) -> NetParams {
    serde_json::from_value(json!({"name": name, "type": net_type, "ip_profile": ip})).unwrap()
}

#[cfg_attr(
    rovim_no_keystone,
    ignore = "needs Keystone and Neutron: eval \"$(bash .ci/openstack.sh)\""
)]
#[tokio::test]
async fn networks_live_and_die_on_keystone_and_neutron() {
    let Some(url) = keystone_url() else { return };
    let bad = connector(&url, "wrong", json!({}));
    assert!(matches!(
        bad.check_connectivity().await,
        Err(VimError::Auth(_))
    ));

    let os = connector(&url, "admin", json!({"physical_network": "physnet1"}));
    os.check_connectivity().await.unwrap();
    let session = os.keystone().session().await.unwrap();
    assert!(session.endpoints.contains_key("network"), "{session:?}");

    let suffix = std::process::id();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let tok = |name: &str| format!("tok-{name}-{run}");
    let ip = json!({"ip_version": "IPv4", "subnet_address": "10.20.0.0/24", "gateway_address": "10.20.0.1",
                    "dns_addresses": ["10.20.0.53"], "dhcp": {"enabled": true, "start_address": "10.20.0.100", "count": 50}});
    let mgmt = os
        .create_net(
            &net(&format!("mgmt-{suffix}"), NetType::Bridge, Some(ip)),
            &tok("mgmt"),
        )
        .await
        .unwrap();
    assert_eq!(
        mgmt.created_items.len(),
        1,
        "the subnet is recorded for clean-up: {mgmt:?}"
    );
    let data = os
        .create_net(
            &net(&format!("data-{suffix}"), NetType::Data, None),
            &tok("data"),
        )
        .await
        .unwrap();
    let d = os.get_net(&data.vim_id).await.unwrap();
    assert_eq!(d.encapsulation.as_deref(), Some("vlan"));
    assert!(
        d.segmentation_id
            .is_some_and(|v| (1000..=2000).contains(&v)),
        "a VLAN of physnet1: {d:?}"
    );

    let no_physnet = connector(&url, "admin", json!({}));
    let e = no_physnet
        .create_net(&net("x", NetType::Ptp, None), &tok("x"))
        .await
        .unwrap_err();
    assert!(
        e.error.to_string().contains("physical_network"),
        "{}",
        e.error
    );

    let by_name = os
        .list_nets(&FindFilter {
            name: Some(format!("mgmt-{suffix}")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_name.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        vec![mgmt.vim_id.clone()]
    );
    let found = os
        .find_by_token(ItemKind::Net, &tok("mgmt"))
        .await
        .unwrap()
        .expect("found by its tag");
    assert_eq!(found.created, mgmt);
    assert!(
        os.find_by_token(ItemKind::Net, &tok("nobody"))
            .await
            .unwrap()
            .is_none()
    );
    let ids = vec![
        mgmt.vim_id.clone(),
        data.vim_id.clone(),
        "00000000-0000-0000-0000-000000000000".into(),
    ];
    let reports = os.refresh_nets(&ids).await.unwrap();
    assert_eq!(reports.len(), 2, "an unknown id is absent");

    os.delete_net(&mgmt.owned()).await.unwrap();
    os.delete_net(&data.owned()).await.unwrap();
    assert!(matches!(
        os.delete_net(&data.owned()).await,
        Err(VimError::NotFound(_))
    ));
    assert!(
        os.find_by_token(ItemKind::Net, &tok("mgmt"))
            .await
            .unwrap()
            .is_none()
    );
}

/// A Nova stand-in: Nova cannot run here (it needs placement, a scheduler, a conductor and a
/// compute driver), so this mock answers the compute calls with the response shapes of the
/// OpenStack Compute API reference (fixtures/nova/*.json name their source) and, as Nova does,
/// binds the server's Neutron ports (device_id, binding:host_id) on the real Neutron.
mod nova_mock {
    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpResponse, HttpServer, web};
    use serde_json::{Value, json};

    const CREATE: &str = include_str!("fixtures/nova/server_create.json");
    const DETAIL: &str = include_str!("fixtures/nova/server_detail.json");
    pub const HOST: &str = "compute-1";

    #[derive(Clone)]
    struct Server {
        id: String,
        body: Value,
        ports: Vec<String>,
        listed: u32,
    }

    struct State {
        servers: Mutex<Vec<Server>>,
        neutron: String,
        http: reqwest::Client,
    }

    fn fill(template: &str, pairs: &[(&str, &str)]) -> Value {
        let mut text = template.to_owned();
        for (k, v) in pairs {
            text = text.replace(&format!("\"{k}\""), &serde_json::to_string(v).unwrap());
            text = text.replace(&format!("/{k}\""), &format!("/{v}\""));
        }
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("_source");
        v
    }

    async fn bind(state: &State, ports: &[String], device: &str, host: &str) {
        for p in ports {
            let body = json!({"port": {"device_id": device, "device_owner": if device.is_empty() { "" } else { "compute:nova" },
                                       "binding:host_id": host}});
            let _ = state
                .http
                .put(format!("{}/v2.0/ports/{p}", state.neutron))
                .json(&body)
                .send()
                .await;
        }
    }

    async fn create(state: web::Data<State>, body: web::Json<Value>) -> HttpResponse {
        let s = &body["server"];
        let id = uuid::Uuid::new_v4().to_string();
        let ports: Vec<String> = s["networks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["port"].as_str().map(String::from))
            .collect();
        bind(&state, &ports, &id, HOST).await;
        state.servers.lock().unwrap().push(Server {
            id: id.clone(),
            body: s.clone(),
            ports,
            listed: 0,
        });
        HttpResponse::Accepted().json(fill(CREATE, &[("ID", &id)]))
    }

    async fn detail(state: web::Data<State>) -> HttpResponse {
        let mut servers = state.servers.lock().unwrap();
        let list: Vec<Value> = servers
            .iter_mut()
            .map(|s| {
                // BUILD the first time a server is listed, ACTIVE afterwards.
                let status = if s.listed == 0 { "BUILD" } else { "ACTIVE" };
                s.listed += 1;
                let b = &s.body;
                let mut v = fill(
                    DETAIL,
                    &[
                        ("ID", &s.id),
                        ("NAME", b["name"].as_str().unwrap_or("")),
                        ("STATUS", status),
                        ("HOST", HOST),
                        ("IMAGE", b["imageRef"].as_str().unwrap_or("")),
                        ("FLAVOR", b["flavorRef"].as_str().unwrap_or("")),
                    ],
                );
                v["server"]["metadata"] = b["metadata"].clone();
                v["server"].take()
            })
            .collect();
        HttpResponse::Ok().json(json!({"servers": list}))
    }

    async fn delete(state: web::Data<State>, id: web::Path<String>) -> HttpResponse {
        let gone = {
            let mut servers = state.servers.lock().unwrap();
            let at = servers.iter().position(|s| s.id == *id);
            at.map(|i| servers.remove(i))
        };
        match gone {
            Some(s) => {
                bind(&state, &s.ports, "", "").await;
                HttpResponse::NoContent().finish()
            }
            None => HttpResponse::NotFound().json(
                json!({"itemNotFound": {"code": 404, "message": "Instance could not be found."}}),
            ),
        }
    }

    /// Starts the mock on a free port; returns its URL.
    pub fn start(neutron: String) -> String {
        rovim_vim::tls::init();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            servers: Mutex::new(Vec::new()),
            neutron,
            http: reqwest::Client::new(),
        });
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let data = web::Data::from(state);
                HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .route("/servers", web::post().to(create))
                        .route("/servers/detail", web::get().to(detail))
                        .route("/servers/{id}", web::delete().to(delete))
                })
                .workers(1)
                .listen(listener)
                .unwrap()
                .run()
                .await
                .unwrap();
            });
        });
        url
    }
}

/// Puts the mock into Keystone's catalog as the `compute` service (replacing an older one).
async fn register_compute(admin: &OpenStackConnector, url: &str) {
    use reqwest::Method;
    rovim_vim::testing::forget_compute(admin).await;
    let (_, made) = admin
        .keystone()
        .call(
            "identity",
            Method::POST,
            "/services",
            Some(&json!({"service": {"type": "compute", "name": "nova-mock"}})),
        )
        .await
        .unwrap();
    let sid = made["service"]["id"].as_str().unwrap();
    let ep = json!({"endpoint": {"service_id": sid, "interface": "public", "region_id": "RegionOne", "url": url}});
    admin
        .keystone()
        .call("identity", Method::POST, "/endpoints", Some(&ep))
        .await
        .unwrap();
}

#[cfg_attr(
    rovim_no_keystone,
    ignore = "needs Keystone and Neutron: eval \"$(bash .ci/openstack.sh)\""
)]
#[tokio::test]
async fn vms_on_neutron_ports_and_the_nova_mock() {
    let Some(url) = keystone_url() else { return };
    let admin = connector(&url, "admin", json!({"physical_network": "physnet1"}));
    let session = admin.keystone().session().await.unwrap();
    let nova = nova_mock::start(session.endpoints["network"].clone());
    register_compute(&admin, &nova).await;
    // A fresh connector reads the catalog with the compute endpoint in it.
    let os = connector(&url, "admin", json!({"physical_network": "physnet1"}))
        .with_installation(&format!("nova-mock-{}", uuid::Uuid::new_v4()));
    let suffix = std::process::id();
    let token = format!("tok-web-{}", uuid::Uuid::new_v4().simple());
    let mgmt = os
        .create_net(
            &net(
                &format!("vmnet-{suffix}"),
                NetType::Bridge,
                Some(json!({"subnet_address": "10.40.0.0/24"})),
            ),
            &format!("{token}-net"),
        )
        .await
        .unwrap();
    let data = os
        .create_net(
            &net(
                &format!("vmdata-{suffix}"),
                NetType::Data,
                Some(json!({"subnet_address": "10.41.0.0/24"})),
            ),
            &format!("{token}-data"),
        )
        .await
        .unwrap();
    let params: rovim_core::VmParams = serde_json::from_value(json!({"name": "web", "image_id": "cirros", "flavor_id": "m1.small",
        "networks": [{"net": "x"}, {"net": "y", "type": "VF"}], "cloud_config": {"packages": ["nginx"]}})).unwrap();
    let request = rovim_vim::VmRequest {
        params,
        vim_net_ids: vec![mgmt.vim_id.clone(), data.vim_id.clone()],
    };
    let made = os.create_vm(&request, &token).await.unwrap();
    assert_eq!(made.interface_ids.len(), 2);
    assert_eq!(
        made.created.created_items.len(),
        2,
        "the ports are rovim's to delete"
    );

    let id = made.created.vim_id.clone();
    let first = os.refresh_vms(std::slice::from_ref(&id)).await.unwrap();
    assert_eq!(
        first[&id].status,
        rovim_core::ItemStatus::Build,
        "the mock's first listing says BUILD"
    );
    let found = os
        .find_by_token(ItemKind::Vm, &token)
        .await
        .unwrap()
        .expect("found by metadata");
    assert_eq!(found.created.vim_id, made.created.vim_id);
    let mut ports = found.interface_ids.clone();
    ports.sort();
    let mut want = made.interface_ids.clone();
    want.sort();
    assert_eq!(ports, want);
    let second = os
        .refresh_vms(&[id.clone(), "no-such-server".into()])
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    let r = &second[&id];
    assert_eq!(r.status, rovim_core::ItemStatus::Active);
    assert_eq!(r.interfaces.len(), 2, "{r:?}");
    for iface in &r.interfaces {
        assert!(
            iface.mac_address.is_some() && iface.ip_address.is_some(),
            "{iface:?}"
        );
        assert_eq!(iface.compute_node.as_deref(), Some(nova_mock::HOST));
    }
    let vf = r
        .interfaces
        .iter()
        .find(|i| i.vim_net_id.as_deref() == Some(data.vim_id.as_str()))
        .unwrap();
    assert!(vf.ip_address.as_deref().unwrap().starts_with("10.41."));

    // Issue 15: the server is listed with this installation's tagged elements (Nova by its
    // metadata, its ports by their Neutron tags), with its token.
    let tagged = os.list_tagged().await.unwrap();
    let server = tagged
        .iter()
        .find(|e| e.vim_id == id)
        .expect("the server is listed");
    assert_eq!(
        (server.kind, server.token.as_deref()),
        (rovim_vim::ElementKind::Vm, Some(token.as_str()))
    );
    for port in &made.interface_ids {
        assert!(
            tagged
                .iter()
                .any(|e| &e.vim_id == port && e.kind == rovim_vim::ElementKind::Port),
            "port {port}"
        );
    }

    os.delete_vm(&made.created.owned()).await.unwrap();
    assert!(
        os.refresh_vms(std::slice::from_ref(&id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        os.find_by_token(ItemKind::Vm, &token)
            .await
            .unwrap()
            .is_none()
    );
    os.delete_net(&mgmt.owned()).await.unwrap();
    os.delete_net(&data.owned()).await.unwrap();
    // Out of the shared catalog again: nothing answers there once this test ends.
    rovim_vim::testing::forget_compute(&admin).await;
}

/// A connector on the Neutron that checks every token with Keystone, with Keystone behind a
/// proxy that counts the authentications.
async fn on_checked_neutron(
    url: &str,
    renew_before_secs: f64,
) -> Option<(OpenStackConnector, rovim_vim::testing::FaultProxy)> {
    let neutron = match std::env::var("ROVIM_TEST_NEUTRON_AUTH_URL") {
        Ok(u) => u,
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "ROVIM_TEST_NEUTRON_AUTH_URL is not set: run `eval \"$(bash .ci/openstack.sh)\"`"
            )
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: ROVIM_TEST_NEUTRON_AUTH_URL is not set (no Neutron behind Keystone)"
            );
            return None;
        }
    };
    let keystone = rovim_vim::testing::FaultProxy::start(url.trim_end_matches("/v3")).await;
    let c = connector(
        &format!("{}/v3", keystone.url),
        "admin",
        json!({"endpoint_override": {"network": neutron}, "token_renew_before_secs": renew_before_secs}),
    );
    Some((c, keystone))
}

fn authentications(keystone: &rovim_vim::testing::FaultProxy) -> usize {
    keystone
        .log()
        .iter()
        .filter(|(r, _)| r.starts_with("POST /v3/auth/tokens"))
        .count()
}

/// A token revoked in Keystone is refused by Neutron (401): the connector authenticates again,
/// once, and the call goes through.
#[cfg_attr(
    any(rovim_no_keystone, rovim_no_neutron_auth),
    ignore = "needs Keystone and a Neutron behind it: eval \"$(bash .ci/openstack.sh)\""
)]
#[tokio::test]
async fn a_revoked_token_is_replaced_after_neutron_refuses_it() {
    let Some(url) = keystone_url() else { return };
    let Some((c, keystone)) = on_checked_neutron(&url, 300.0).await else {
        return;
    };
    c.list_nets(&FindFilter::default()).await.unwrap();
    assert_eq!(authentications(&keystone), 1);
    let token = c.keystone().current_token().await.expect("a token");
    let admin = connector(&url, "admin", json!({}));
    admin.check_connectivity().await.unwrap();
    let admin_token = admin.keystone().current_token().await.unwrap();
    let revoked = reqwest::Client::new()
        .delete(format!("{url}/auth/tokens"))
        .header("x-auth-token", admin_token)
        .header("x-subject-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204, "Keystone revoked the token");
    c.list_nets(&FindFilter::default())
        .await
        .expect("after a 401, a new token and the call again");
    assert_eq!(authentications(&keystone), 2, "one re-authentication");
    assert_ne!(c.keystone().current_token().await.unwrap(), token);
}

/// A token close to its expiry (here: Keystone's 1 h tokens renewed 3 s after they are issued)
/// is renewed before a call, without waiting for a 401.
#[cfg_attr(
    any(rovim_no_keystone, rovim_no_neutron_auth),
    ignore = "needs Keystone and a Neutron behind it: eval \"$(bash .ci/openstack.sh)\""
)]
#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let Some(url) = keystone_url() else { return };
    let Some((c, keystone)) = on_checked_neutron(&url, 3600.0 - 3.0).await else {
        return;
    };
    c.list_nets(&FindFilter::default()).await.unwrap();
    let first = c.keystone().current_token().await.unwrap();
    c.list_nets(&FindFilter::default()).await.unwrap();
    assert_eq!(authentications(&keystone), 1, "still fresh: reused");
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    c.list_nets(&FindFilter::default()).await.unwrap();
    assert_eq!(authentications(&keystone), 2, "renewed before its expiry");
    assert_ne!(c.keystone().current_token().await.unwrap(), first);
}

/// Issue 11: the HTTP client followed a 307 to another origin and sent the Keystone password
/// there. No redirect is followed now: the password never leaves for the other address, and
/// the call fails with the status it got.
#[cfg_attr(
    rovim_no_keystone,
    ignore = "needs Keystone and Neutron: eval \"$(bash .ci/openstack.sh)\""
)]
#[tokio::test]
async fn a_redirect_is_not_followed_with_the_credentials() {
    use rovim_vim::testing::{Fault, FaultProxy, Rule};
    let Some(url) = keystone_url() else { return };
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let to = format!("http://{}/v3/auth/tokens", elsewhere.local_addr().unwrap());
    let proxy = FaultProxy::start(url.trim_end_matches("/v3")).await;
    proxy.add(Rule::once("POST /v3/auth/tokens", Fault::Redirect(to)));
    let c = connector(
        &format!("{}/v3", proxy.url),
        "admin-password-here",
        json!({}),
    );
    let answer =
        tokio::time::timeout(std::time::Duration::from_secs(5), c.check_connectivity()).await;
    assert!(
        elsewhere.accept().is_err(),
        "nothing (and no password) went to the redirect's target"
    );
    let e = answer.expect("answered at once").unwrap_err();
    assert!(e.to_string().contains("307"), "{e}");
}
