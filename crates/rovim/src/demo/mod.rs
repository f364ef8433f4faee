//! `rovim demo`: a newcomer's first run. In one process it starts the real service (the HTTP API
//! on an ephemeral loopback port, SQLite in a temporary directory), then acts as an orchestrator
//! over HTTP: submits a sample deployment, shows progress until everything is ACTIVE and wired,
//! prints nets, VMs, IPs, MACs and SDN ports, deletes it all, and checks that the VIM and the SDN
//! controller are empty again. On the simulated VIM and SDN controller by default (a management
//! net, a data net, three VMs, one with SR-IOV); with `--vim libvirt`, on a libvirt host with the
//! Ryu controller, booting real guests that ping each other over the SDN VLAN ([`libvirt`]).

mod libvirt;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rovim_api::{ApiState, Tokens, configure};
use rovim_engine::{Connectors, Engine, EngineConfig, RefreshConfig};
use rovim_store::Store;
use serde_json::{Value, json};

pub use libvirt::LibvirtDemo;

/// Which VIM the demo deploys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoVim {
    /// rovim's simulated VIM and SDN controller: nothing to install.
    Sim,
    /// A libvirt host and the Ryu controller (`bash .ci/sdn.sh; bash .ci/libvirt.sh` make both).
    Libvirt,
}

pub fn run(log: slog::Logger, vim: DemoVim, lab: LibvirtDemo) -> anyhow::Result<()> {
    actix_rt::System::new().block_on(async move {
        let service = Service::start(log).await?;
        let outcome = match vim {
            DemoVim::Sim => sim(&service).await,
            DemoVim::Libvirt => libvirt::run(&service, &lab).await,
        };
        service.stop().await?;
        let elapsed = outcome?;
        println!("demo done in {:.1} s", elapsed.as_secs_f64());
        Ok(())
    })
}

/// The service the demo talks to, in this process.
struct Service {
    api: Api,
    engine: Engine,
    server: actix_web::dev::ServerHandle,
    connectors: Arc<Connectors>,
    started: Instant,
    _dir: tempfile::TempDir,
}

impl Service {
    async fn start(log: slog::Logger) -> anyhow::Result<Service> {
        let started = Instant::now();
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let url = dir
            .path()
            .join("rovim-demo.db")
            .to_string_lossy()
            .into_owned();
        let store = Store::open(&url).context("opening the demo database")?;
        // Short polls so the demo shows BUILD turning ACTIVE within seconds.
        let config = EngineConfig {
            refresh: RefreshConfig {
                build_secs: 0.5,
                active_secs: 2.0,
                ..RefreshConfig::default()
            },
            ..EngineConfig::default()
        };
        let connectors = Arc::new(Connectors::new());
        let engine = Engine::start(store, config, connectors.clone(), log).await?;
        let state = ApiState {
            engine: engine.clone(),
            tokens: Tokens::default(),
        };
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new().configure(configure(state.clone()))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .context("binding the demo's API")?;
        let addr = server.addrs().first().copied().context("no address")?;
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        let api = Api {
            base: format!("http://{addr}"),
            http: rovim_vim::tls::client()?,
        };
        println!("rovim is serving on {} (database {url})", api.base);
        println!("dashboard: {}/ui (live while the demo runs)", api.base);
        Ok(Service {
            api,
            engine,
            server: handle,
            connectors,
            started,
            _dir: dir,
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.server.stop(true).await;
        self.engine.shutdown().await?;
        Ok(())
    }

    /// Deletes the deployment: the VMs, then the nets once the VMs are gone.
    async fn tear_down(&self, account: &str, items: &[(String, String)]) -> anyhow::Result<()> {
        let mut tasks: Vec<Value> = items
            .iter()
            .filter(|(kind, _)| kind == "vm")
            .map(|(_, id)| json!({"vim_account": account, "action": "DELETE", "item": "vm", "item_id": id}))
            .collect();
        let vm_tasks: Vec<usize> = (0..tasks.len()).collect();
        tasks.extend(items.iter().filter(|(kind, _)| kind == "net").map(|(_, id)| {
            json!({"vim_account": account, "action": "DELETE", "item": "net", "item_id": id, "depends_on": vm_tasks})
        }));
        let del = self
            .api
            .post(
                "/v1/actions",
                json!({"description": "demo teardown", "tasks": tasks}),
            )
            .await?;
        println!("\nPOST /v1/actions -> teardown {}", del["action_id"]);
        self.api.wait(del["action_id"].as_str().unwrap_or("")).await
    }
}

/// Submits a deployment and waits until it is done, its VMs ACTIVE and wired (`within`); its
/// items as (kind, id).
async fn deploy(
    api: &Api,
    deployment: Value,
    within: Duration,
) -> anyhow::Result<Vec<(String, String)>> {
    let sub = api.post("/v1/actions", deployment).await?;
    let items: Vec<(String, String)> = sub["tasks"]
        .as_array()
        .context("tasks")?
        .iter()
        .map(|t| {
            (
                t["item"].as_str().unwrap_or("").to_owned(),
                t["item_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    println!(
        "POST /v1/actions -> action {} ({} tasks)",
        sub["action_id"],
        items.len()
    );
    api.wait(sub["action_id"].as_str().unwrap_or("")).await?;
    api.until_active(&items, within).await?;
    api.show(&items).await?;
    Ok(items)
}

/// The deployment on the simulated VIM and SDN controller.
async fn sim(service: &Service) -> anyhow::Result<Duration> {
    let api = &service.api;
    let sdn = api
        .post(
            "/v1/sdn-controllers",
            json!({"name": "demo-sdn", "type": "sim", "url": "sim-sdn://demo"}),
        )
        .await?;
    let vim = api
        .post(
            "/v1/vim-accounts",
            json!({"name": "demo-sim", "type": "sim", "url": "sim://demo", "user": "admin", "password": "demo",
                   "config": {"build_seconds": 2, "latency_ms": 20, "seed": 7}, "sdn_controller": sdn["id"]}),
        )
        .await?;
    println!(
        "POST /v1/sdn-controllers -> {}; POST /v1/vim-accounts -> {} ({})\n",
        sdn["id"], vim["id"], vim["status"]
    );

    let vm = |name: &str, nets: Value| {
        json!({"vim_account": "demo-sim", "action": "CREATE", "item": "vm",
               "params": {"name": name, "image_id": "ubuntu-24.04", "flavor_id": "m1.small", "networks": nets}})
    };
    let items = deploy(
        api,
        json!({
            "description": "demo deployment",
            "tasks": [
                {"vim_account": "demo-sim", "action": "CREATE", "item": "net",
                 "params": {"name": "mgmt", "ip_profile": {"subnet_address": "192.168.100.0/24"}}},
                {"vim_account": "demo-sim", "action": "CREATE", "item": "net", "params": {"name": "data", "type": "data"}},
                vm("web", json!([{"net": {"task": 0}}])),
                vm("db", json!([{"net": {"task": 0}}])),
                vm("dpi", json!([{"net": {"task": 0}}, {"net": {"task": 1}, "type": "VF"}])),
            ]
        }),
        Duration::from_secs(30),
    )
    .await?;
    let cloud = service
        .connectors
        .sim_cloud("sim://demo")
        .context("the demo's sim VIM")?;
    let sdn_ctl = service
        .connectors
        .sim_sdn("sim-sdn://demo")
        .context("the demo's SDN controller")?;
    println!(
        "\nSDN controller: {} network(s), {} external port(s)",
        sdn_ctl.networks().len(),
        sdn_ctl.ports().len()
    );

    service.tear_down("demo-sim", &items).await?;
    let left = (cloud.net_count(), cloud.vm_count(), cloud.port_count());
    if left != (0, 0, 0) {
        bail!(
            "the VIM still holds {} nets, {} VMs, {} ports",
            left.0,
            left.1,
            left.2
        );
    }
    if !sdn_ctl.networks().is_empty() || !sdn_ctl.ports().is_empty() {
        bail!("the SDN controller still holds networks or ports");
    }
    println!("the VIM is empty again (0 nets, 0 VMs, 0 ports), and so is the SDN controller");
    Ok(service.started.elapsed())
}

/// The orchestrator's side: plain HTTP calls to the service.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn send(&self, r: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let resp = r.send().await.context("calling the demo's API")?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{status}: {}", body["error"]);
        }
        Ok(body)
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// Shows the action's progress (long-polling) until it ends; fails if it failed.
    async fn wait(&self, id: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = String::new();
        loop {
            let a = self.get(&format!("/v1/actions/{id}?wait=5")).await?;
            let line = format!(
                "  {}: {}/{} done, {} failed",
                a["status"].as_str().unwrap_or(""),
                a["number_done"],
                a["number_tasks"],
                a["number_failed"]
            );
            if line != last {
                println!("{line}");
                last = line;
            }
            match a["status"].as_str() {
                Some("DONE") => return Ok(()),
                Some("BUILD") if Instant::now() < deadline => {}
                Some("BUILD") => bail!("action {id} did not finish within 60 s"),
                _ => {
                    for t in a["tasks"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|t| t["error"].is_string())
                    {
                        println!("  task {}: {}", t["index"], t["error"]);
                    }
                    bail!("action {id} failed");
                }
            }
        }
    }

    /// Waits until every VM is ACTIVE and every passthrough interface has its SDN port.
    async fn until_active(
        &self,
        items: &[(String, String)],
        within: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        loop {
            let mut line = String::from("  VMs:");
            let mut ready = true;
            for (_, id) in items.iter().filter(|(k, _)| k == "vm") {
                let vm = self.get(&format!("/v1/vms/{id}")).await?;
                line.push_str(&format!(
                    " {} {}",
                    vm["name"].as_str().unwrap_or(""),
                    vm["status"].as_str().unwrap_or("")
                ));
                let wired = vm["interfaces"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|i| i["type"] == "virtual" || i["sdn_port_id"].is_string());
                ready &= vm["status"] == "ACTIVE" && wired;
            }
            if line != last {
                println!("{line}");
                last = line;
            }
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the VMs were not ACTIVE and wired within {} s",
                    within.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn show(&self, items: &[(String, String)]) -> anyhow::Result<()> {
        println!(
            "\n{:<6} {:<6} {:<8} {:<38} {:<16}",
            "NET", "TYPE", "STATUS", "VIM ID", "SDN NET"
        );
        for (_, id) in items.iter().filter(|(k, _)| k == "net") {
            let n = self.get(&format!("/v1/nets/{id}")).await?;
            let s = |k: &str| n[k].as_str().unwrap_or("-").to_owned();
            println!(
                "{:<6} {:<6} {:<8} {:<38} {:<16}",
                s("name"),
                s("type"),
                s("status"),
                s("vim_id"),
                s("sdn_net_id")
            );
        }
        println!(
            "\n{:<6} {:<8} {:<10} {:<16} {:<18} {:<14} {:<5} {:<16}",
            "VM", "STATUS", "INTERFACE", "IP", "MAC", "PCI", "VLAN", "SDN PORT"
        );
        for (_, id) in items.iter().filter(|(k, _)| k == "vm") {
            let vm = self.get(&format!("/v1/vms/{id}")).await?;
            for (i, iface) in vm["interfaces"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let s = |k: &str| match &iface[k] {
                    Value::String(s) => s.clone(),
                    Value::Null => "-".into(),
                    other => other.to_string(),
                };
                let (name, status) = if i == 0 {
                    (
                        vm["name"].as_str().unwrap_or("").to_owned(),
                        vm["status"].as_str().unwrap_or("").to_owned(),
                    )
                } else {
                    (String::new(), String::new())
                };
                println!(
                    "{:<6} {:<8} {:<10} {:<16} {:<18} {:<14} {:<5} {:<16}",
                    name,
                    status,
                    s("type"),
                    s("ip_address"),
                    s("mac_address"),
                    s("pci"),
                    s("vlan"),
                    s("sdn_port_id")
                );
            }
        }
        Ok(())
    }
}
