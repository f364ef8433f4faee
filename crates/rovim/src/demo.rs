//! `rovim demo`: a newcomer's first run. Starts the engine on a temporary SQLite database with a
//! simulated VIM and SDN controller, deploys a sample (a management net, a data net, three VMs,
//! one with SR-IOV), waits until the VMs are ACTIVE and the SR-IOV port is wired on the SDN
//! controller, shows the result, deletes it all and checks that both are empty again.
//! (Once the HTTP API lands, the demo drives the real service over HTTP instead.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rovim_core::{ActionId, ItemId, ItemKind, ItemStatus, SdnControllerId, VimAccountId, VimType};
use rovim_engine::{ActionRequest, Connectors, Engine, EngineConfig, RefreshConfig, Submitted};
use rovim_store::{NewSdnController, NewVimAccount, Store, reads};
use serde_json::json;

pub fn run(log: slog::Logger) -> anyhow::Result<()> {
    actix_rt::System::new().block_on(demo(log))
}

async fn demo(log: slog::Logger) -> anyhow::Result<()> {
    let started = Instant::now();
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let url = dir
        .path()
        .join("rovim-demo.db")
        .to_string_lossy()
        .into_owned();
    let store = Store::open(&url).context("opening the demo database")?;
    println!("database: {url} (SQLite, migrated)");
    let connectors = Arc::new(Connectors::new());
    // Short polls so the demo shows BUILD turning ACTIVE within seconds.
    let config = EngineConfig {
        refresh: RefreshConfig {
            build_secs: 0.5,
            active_secs: 2.0,
            ..RefreshConfig::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::start(store.clone(), config, connectors.clone(), log).await?;

    let sdn_id = SdnControllerId::random();
    engine
        .add_sdn_controller(NewSdnController {
            id: sdn_id,
            name: "demo-sdn".into(),
            sdn_type: "sim".into(),
            url: "sim-sdn://demo".into(),
            username: None,
            secret: None,
            config: json!({}),
        })
        .await?;
    let sdn = connectors
        .sim_sdn("sim-sdn://demo")
        .context("the demo's SDN controller")?;

    let vim = VimAccountId::random();
    let sim_url = "sim://demo";
    engine
        .add_account(NewVimAccount {
            id: vim,
            name: "demo-sim".into(),
            vim_type: VimType::Sim,
            url: sim_url.into(),
            tenant: None,
            username: None,
            secret: None,
            config: json!({"build_seconds": 2, "latency_ms": 20, "seed": 7}),
            sdn_controller: Some(sdn_id),
        })
        .await?;
    let cloud = connectors
        .sim_cloud(sim_url)
        .context("the demo's sim VIM")?;
    println!(
        "VIM account: demo-sim (simulated VIM, 20 ms per call, VMs boot in 2 s), SDN controller: demo-sdn\n"
    );

    let v = vim.to_string();
    let vm = |name: &str, nets: serde_json::Value| {
        json!({"vim_account": v, "action": "CREATE", "item": "vm",
               "params": {"name": name, "image_id": "ubuntu-24.04", "flavor_id": "m1.small", "networks": nets}})
    };
    let deploy: ActionRequest = serde_json::from_value(json!({
        "description": "demo deployment",
        "tasks": [
            {"vim_account": v, "action": "CREATE", "item": "net",
             "params": {"name": "mgmt", "ip_profile": {"subnet_address": "192.168.100.0/24"}}},
            {"vim_account": v, "action": "CREATE", "item": "net", "params": {"name": "data", "type": "data"}},
            vm("web", json!([{"net": {"task": 0}}])),
            vm("db", json!([{"net": {"task": 0}}])),
            vm("dpi", json!([{"net": {"task": 0}}, {"net": {"task": 1}, "type": "VF"}])),
        ]
    }))?;
    let sub = engine.submit(deploy).await?;
    println!(
        "submitted action {} ({} tasks)",
        sub.action,
        sub.tasks.len()
    );
    wait(&store, sub.action).await?;
    active(&store, &sub).await?;
    show(&store, &sub)?;
    println!(
        "\nSDN: {} network(s), {} external port(s)",
        sdn.networks().len(),
        sdn.ports().len()
    );

    let mut deletes = Vec::new();
    for (_, kind, id) in sub.tasks.iter().filter(|t| t.1 == ItemKind::Vm) {
        deletes.push(json!({"vim_account": v, "action": "DELETE", "item": kind.to_string(), "item_id": id.to_string()}));
    }
    let vm_count = deletes.len() as u32;
    for (_, kind, id) in sub.tasks.iter().filter(|t| t.1 == ItemKind::Net) {
        deletes.push(json!({"vim_account": v, "action": "DELETE", "item": kind.to_string(), "item_id": id.to_string(),
                            "depends_on": (0..vm_count).collect::<Vec<_>>()}));
    }
    let teardown: ActionRequest =
        serde_json::from_value(json!({"description": "demo teardown", "tasks": deletes}))?;
    let del = engine.submit(teardown).await?;
    println!(
        "\nsubmitted teardown {} ({} tasks)",
        del.action,
        del.tasks.len()
    );
    wait(&store, del.action).await?;
    let left = (cloud.net_count(), cloud.vm_count(), cloud.port_count());
    if !sdn.networks().is_empty() || !sdn.ports().is_empty() {
        bail!("the SDN controller still holds networks or ports");
    }
    engine.shutdown().await?;
    if left != (0, 0, 0) {
        bail!(
            "the VIM still holds {} nets, {} VMs, {} ports",
            left.0,
            left.1,
            left.2
        );
    }
    println!(
        "the VIM is empty again (0 nets, 0 VMs, 0 ports), and so is the SDN controller; demo done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Waits until every VM is ACTIVE and every passthrough interface has its SDN port, showing the
/// VM statuses as they change.
async fn active(store: &Store, sub: &Submitted) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    loop {
        let mut conn = store.conn()?;
        let mut line = String::from("  VMs:");
        let mut ready = true;
        for (_, _, id) in sub.tasks.iter().filter(|t| t.1 == ItemKind::Vm) {
            let vm = reads::get_vm(&mut conn, *id)?.context("vm row")?;
            line.push_str(&format!(" {} {}", vm.name, vm.status));
            let wired = vm
                .interfaces
                .iter()
                .all(|i| !i.iface_type.is_passthrough() || i.sdn_port_id.is_some());
            ready &= vm.status == ItemStatus::Active && wired;
        }
        if line != last {
            println!("{line}");
            last = line;
        }
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the VMs were not ACTIVE and wired within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Shows the action's progress until every task has settled; fails if one failed.
async fn wait(store: &Store, id: ActionId) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        let (a, tasks) = reads::get_action(&mut *store.conn()?, id)?;
        let line = format!(
            "  {}: {}/{} done, {} failed",
            a.overall_status(),
            a.number_done,
            a.number_tasks,
            a.number_failed
        );
        if line != last {
            println!("{line}");
            last = line;
        }
        match a.overall_status() {
            "BUILD" if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            "DONE" => return Ok(()),
            "BUILD" => bail!("action {id} did not finish within 60 s"),
            _ => {
                for t in tasks.iter().filter(|t| t.error_msg.is_some()) {
                    println!("  task {}: {}", t.key, t.error_msg.as_deref().unwrap_or(""));
                }
                bail!("action {id} failed");
            }
        }
    }
}

fn show(store: &Store, sub: &Submitted) -> anyhow::Result<()> {
    let mut conn = store.conn()?;
    println!(
        "\n{:<6} {:<6} {:<8} {:<38}",
        "NET", "TYPE", "STATUS", "VIM ID"
    );
    for (_, _, id) in sub.tasks.iter().filter(|t| t.1 == ItemKind::Net) {
        let n = reads::get_net(&mut conn, *id)?.context("net row")?;
        println!(
            "{:<6} {:<6} {:<8} {:<38}",
            n.name,
            format!("{:?}", n.net_type).to_lowercase(),
            n.status,
            n.vim_id.unwrap_or_default()
        );
    }
    println!(
        "\n{:<6} {:<8} {:<10} {:<16} {:<18} {:<14} {:<5} {:<16}",
        "VM", "STATUS", "INTERFACE", "IP", "MAC", "PCI", "VLAN", "SDN PORT"
    );
    let vms: Vec<ItemId> = sub
        .tasks
        .iter()
        .filter(|t| t.1 == ItemKind::Vm)
        .map(|t| t.2)
        .collect();
    for id in vms {
        let vm = reads::get_vm(&mut conn, id)?.context("vm row")?;
        for (i, iface) in vm.interfaces.iter().enumerate() {
            let (name, status) = if i == 0 {
                (vm.name.as_str(), vm.status.to_string())
            } else {
                ("", String::new())
            };
            println!(
                "{:<6} {:<8} {:<10} {:<16} {:<18} {:<14} {:<5} {:<16}",
                name,
                status,
                format!("{:?}", iface.iface_type),
                iface.ip_address.as_deref().unwrap_or("-"),
                iface.mac_address.as_deref().unwrap_or("-"),
                iface.pci.as_deref().unwrap_or("-"),
                iface.vlan.map_or("-".to_string(), |v| v.to_string()),
                iface.sdn_port_id.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(())
}
