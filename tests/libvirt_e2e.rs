//! rovim as a user runs it, on real machines: `rovim serve` (SQLite, and PostgreSQL when
//! `ROVIM_TEST_DATABASE_URL` is set) driven over HTTP, with a libvirt account on the libvirtd of
//! `.ci/libvirt.sh` booting the tiny guest. A bridge net and two VMs become running domains,
//! ACTIVE in rovim with the MAC asked and the IP their guest took by DHCP; a DELETE leaves
//! nothing. rovim killed with SIGKILL between a domain's creation and the write of its outcome
//! finds the domain again by its token when it restarts: no second domain.

mod support;

use std::time::{Duration, Instant};

use rovim_store::reads;
use rovim_store::test_support::backends;
use rovim_vim::libvirt::libvirt_name;
use rovim_vim::testing::{LibvirtLab, libvirt_lab};
use serde_json::{Value, json};
use support::{Proc, get, http, serve, settle, submit};

const BOOT: Duration = Duration::from_secs(120);

async fn register(http: &reqwest::Client, rovim: &Proc, lab: &LibvirtLab) -> String {
    let r = http
        .post(format!("{}/v1/vim-accounts", rovim.url))
        .json(&json!({"name": "lab", "type": "libvirt", "url": lab.uri, "config": lab.config()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The VM as the API shows it once ACTIVE with an address on each interface.
async fn active_vm(http: &reqwest::Client, rovim: &Proc, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let vm = get(http, format!("{}/v1/vms/{id}", rovim.url)).await;
        let addressed = vm["interfaces"]
            .as_array()
            .is_some_and(|i| i.iter().all(|i| i["ip_address"].is_string()));
        if vm["status"] == "ACTIVE" && addressed {
            return vm;
        }
        assert!(start.elapsed() < BOOT, "never ACTIVE with addresses: {vm}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn vm_task(name: &str, mac: &str) -> Value {
    json!({"vim_account": "lab", "action": "CREATE", "item": "vm", "depends_on": [0],
           "params": {"name": name, "image_id": "guest", "flavor_id": "tiny",
                      "networks": [{"net": "TASK-0", "mac_address": mac}]}})
}

#[cfg_attr(
    rovim_no_libvirt,
    ignore = "needs libvirt and the tiny guest: eval \"$(bash .ci/libvirt.sh)\""
)]
#[tokio::test]
async fn booted_vms_through_the_api_and_a_kill_9_between_a_domain_and_its_record() {
    let Some(lab) = libvirt_lab() else { return };
    let http = http();
    for (round, db) in backends().into_iter().enumerate() {
        lab.purge("api-");
        let rovim = serve(&db.url);
        register(&http, &rovim, &lab).await;
        let subnet = format!("10.77.{}", 10 + round);
        let macs = [
            format!("52:54:00:77:{:02x}:0a", 10 + round),
            format!("52:54:00:77:{:02x}:0b", 10 + round),
        ];
        let made = submit(
            &http,
            &rovim,
            &json!({"tasks": [
                {"vim_account": "lab", "action": "CREATE", "item": "net",
                 "params": {"name": "api-mgmt", "ip_profile": {"subnet_address": format!("{subnet}.0/24")}}},
                vm_task("api-a", &macs[0]),
                vm_task("api-b", &macs[1]),
            ]}),
        )
        .await
        .expect("accepted");
        let action = made["action_id"].as_str().unwrap().to_owned();
        assert_eq!(settle(&http, &rovim, &action).await["status"], "DONE");
        let item = |i: usize| made["tasks"][i]["item_id"].as_str().unwrap().to_owned();
        let tasks = reads::get_action(&mut db.store.conn().unwrap(), action.parse().unwrap())
            .unwrap()
            .1;
        for (i, (name, mac)) in [("api-a", &macs[0]), ("api-b", &macs[1])]
            .into_iter()
            .enumerate()
        {
            let vm = active_vm(&http, &rovim, &item(i + 1)).await;
            let iface = &vm["interfaces"][0];
            assert_eq!(iface["mac_address"], mac.as_str(), "{vm}");
            let ip = iface["ip_address"].as_str().unwrap();
            assert!(ip.starts_with(&format!("{subnet}.")), "{vm}");
            let domain = libvirt_name(name, &tasks[i + 1].idempotency_token);
            assert_eq!(lab.names("list", &domain), vec![domain.clone()]);
            let said = lab
                .console_line(&domain, &format!("ROVIM-GUEST eth0 {mac}"), BOOT)
                .await
                .unwrap_or_else(|| panic!("{domain} printed no lease:\n{}", lab.console(&domain)));
            assert!(
                said.ends_with(&format!(" {ip}")),
                "the guest says {said}; rovim {ip}"
            );
        }

        let teardown = submit(
            &http,
            &rovim,
            &json!({"tasks": [
                {"vim_account": "lab", "action": "DELETE", "item": "vm", "item_id": item(1)},
                {"vim_account": "lab", "action": "DELETE", "item": "vm", "item_id": item(2)},
                {"vim_account": "lab", "action": "DELETE", "item": "net", "item_id": item(0), "depends_on": [0, 1]},
            ]}),
        )
        .await
        .unwrap();
        let done = settle(&http, &rovim, teardown["action_id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "DONE", "{done}");
        assert!(lab.names("list", "api-").is_empty(), "domains gone");
        assert!(lab.names("net-list", "api-").is_empty(), "network gone");

        // rovim dies once libvirt has the domain, before the outcome is written.
        let made = submit(
            &http,
            &rovim,
            &json!({"tasks": [
                {"vim_account": "lab", "action": "CREATE", "item": "net",
                 "params": {"name": "api-mgmt", "ip_profile": {"subnet_address": format!("{subnet}.0/24")}}},
                vm_task("api-k", &macs[0]),
            ]}),
        )
        .await
        .unwrap();
        let action = made["action_id"].as_str().unwrap().to_owned();
        let start = Instant::now();
        while lab.names("list", "api-k").is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the domain never appeared"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(rovim); // SIGKILL
        let (_, tasks) =
            reads::get_action(&mut db.store.conn().unwrap(), action.parse().unwrap()).unwrap();
        assert_eq!(
            tasks[1].vim_id, None,
            "the kill came before the VM's outcome was written"
        );

        let rovim = serve(&db.url);
        let done = settle(&http, &rovim, &action).await;
        assert_eq!(done["status"], "DONE", "{done}");
        assert_eq!(lab.names("list", "api-k").len(), 1, "no second domain");
        let vm = active_vm(&http, &rovim, made["tasks"][1]["item_id"].as_str().unwrap()).await;
        let (_, tasks) =
            reads::get_action(&mut db.store.conn().unwrap(), action.parse().unwrap()).unwrap();
        assert_eq!(vm["vim_id"], json!(tasks[1].vim_id), "{vm}");
        assert_eq!(vm["interfaces"][0]["mac_address"], macs[0].as_str());

        let item = |i: usize| made["tasks"][i]["item_id"].as_str().unwrap().to_owned();
        let teardown = submit(
            &http,
            &rovim,
            &json!({"tasks": [
                {"vim_account": "lab", "action": "DELETE", "item": "vm", "item_id": item(1)},
                {"vim_account": "lab", "action": "DELETE", "item": "net", "item_id": item(0), "depends_on": [0]},
            ]}),
        )
        .await
        .unwrap();
        let done = settle(&http, &rovim, teardown["action_id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "DONE", "{done}");
        assert!(lab.names("list", "api-").is_empty() && lab.names("net-list", "api-").is_empty());
    }
}
