//! Real machines and real packets: the engine on the libvirt VIM of `.ci/libvirt.sh` (booted
//! tiny guests) with the real Ryu controller of `.ci/sdn.sh`. Each VM's VF interface is a port
//! of the lab's Open vSwitch bridge named after its passthrough slot, wired by the controller's
//! port mapping (by port name); the two guests ping each other over the data net's VLAN
//! segment, and say so on their serial consoles.

mod common;

use std::time::Duration;

use common::*;
use rovim_core::{ItemStatus, TaskStatus};
use rovim_sdn::testing::{rovim_rules, ryu_url};
use rovim_sdn::{RyuSdn, RyuSettings, SdnConnector};
use rovim_vim::libvirt::tiny_guest::pinger;
use rovim_vim::libvirt::{libvirt_name, slot_device};
use rovim_vim::testing::{libvirt_lab, libvirt_lab::LAB_SLOTS};
use serde_json::json;

const BOOT: Duration = Duration::from_secs(120);

#[cfg_attr(
    any(rovim_no_libvirt, rovim_no_ryu),
    ignore = "needs libvirt, Open vSwitch and Ryu: eval \"$(bash .ci/sdn.sh)\"; eval \"$(bash .ci/libvirt.sh)\""
)]
#[actix_rt::test]
async fn two_booted_guests_ping_each_other_over_the_sdn_vlan_only_while_their_ports_exist() {
    let (Some(lab), Some(url)) = (libvirt_lab(), ryu_url()) else {
        return;
    };
    lab.purge("sdn-");
    let host = lab.virsh(&["hostname"]).trim().to_owned();
    let mapping: Vec<_> = LAB_SLOTS[..2]
        .iter()
        .map(|pci| {
            json!({"compute_node": host, "pci": pci, "switch_dpid": 1,
                   "switch_port": slot_device(pci)})
        })
        .collect();
    let h = Harness::new().await;
    let sdn = h.ryu_sdn(&url, json!(mapping)).await;
    let vim = h.libvirt("lab", &lab.uri, lab.config(), Some(sdn)).await;
    let v = vim.to_string();
    let vm = |name: &str, me: &str, peer: &str| {
        json!({"vim_account": v, "action": "CREATE", "item": "vm", "depends_on": [0, 1],
               "params": {"name": name, "image_id": "guest", "flavor_id": "tiny",
                          "cloud_config": pinger(me, peer),
                          "networks": [{"net": "TASK-0"}, {"net": "TASK-1", "type": "VF"}]}})
    };
    let made = h
        .submit(json!({"tasks": [
            {"vim_account": v, "action": "CREATE", "item": "net",
             "params": {"name": "sdn-mgmt", "ip_profile": {"subnet_address": "10.77.3.0/24"}}},
            {"vim_account": v, "action": "CREATE", "item": "net", "params": {"name": "sdn-fabric", "type": "data"}},
            vm("sdn-a", "10.98.0.1", "10.98.0.2"),
            vm("sdn-b", "10.98.0.2", "10.98.0.1"),
        ]}))
        .await;
    let (_, tasks) = h.settled(made.action).await;
    assert_all_done(&tasks);
    let (fabric, a, b) = (made.tasks[1].2, made.tasks[2].2, made.tasks[3].2);
    let console = |task: usize, name: &str| libvirt_name(name, &tasks[task].idempotency_token);
    let (con_a, con_b) = (console(2, "sdn-a"), console(3, "sdn-b"));
    for id in [a, b] {
        let vm = h
            .until_within(BOOT, || {
                let vm = h.vm(id);
                (vm.status == ItemStatus::Active && vm.interfaces[1].sdn_port_id.is_some())
                    .then_some(vm)
            })
            .await;
        let vf = &vm.interfaces[1];
        assert_eq!(vf.compute_node.as_deref(), Some(host.as_str()));
        assert!(
            LAB_SLOTS[..2].contains(&vf.pci.as_deref().unwrap()),
            "{vf:?}"
        );
        assert!(
            vm.interfaces[0]
                .ip_address
                .as_deref()
                .unwrap()
                .starts_with("10.77.3.")
        );
    }
    let ryu = RyuSdn::new(
        &url,
        RyuSettings::from_config(&json!({"port_mapping": mapping})).unwrap(),
    )
    .unwrap();
    let sdn_net = h.net(fabric).sdn_net_id.unwrap();
    let ports = ryu.list_ports(&sdn_net).await.unwrap();
    assert_eq!(ports.len(), 2, "one SDN port per VF on Ryu: {ports:?}");
    assert!(
        ports.iter().all(|p| p.compute_node == host
            && p.vlan.is_some()
            && LAB_SLOTS.contains(&p.pci.as_str())),
        "{ports:?}"
    );
    for (con, peer) in [(&con_a, "10.98.0.2"), (&con_b, "10.98.0.1")] {
        let ok = format!("ROVIM-PING {peer} ok");
        assert!(
            lab.console_line(con, &ok, BOOT).await.is_some(),
            "{con} never reached {peer} over the VLAN:\n{}",
            lab.console(con)
        );
    }

    // b's SDN port goes (behind rovim's back): a's pings of b are lost from then on.
    let b_port = h.vm(b).interfaces[1].sdn_port_id.clone().unwrap();
    ryu.delete_port(&b_port).await.unwrap();
    let seen = lab.console(&con_a).len();
    let lost = async {
        loop {
            let text = lab.console(&con_a);
            let tail = &text[seen.min(text.len())..];
            // Past the line in flight when the port went, three pings in a row are lost.
            if tail.matches("ROVIM-PING 10.98.0.2 lost").count() >= 3
                && !tail.rsplit("lost").next().unwrap_or("").contains(" ok")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(30), lost)
            .await
            .is_ok(),
        "a still reaches b without b's SDN port:\n{}",
        &lab.console(&con_a)[seen..]
    );

    let teardown = h
        .submit(json!({"tasks": [
            delete_task(vim, "vm", a),
            delete_task(vim, "vm", b),
            {"vim_account": v, "action": "DELETE", "item": "net", "item_id": fabric.to_string(), "depends_on": [0, 1]},
            {"vim_account": v, "action": "DELETE", "item": "net", "item_id": made.tasks[0].2.to_string(), "depends_on": [0, 1]},
        ]}))
        .await;
    let (_, t) = h.settled(teardown.action).await;
    assert_eq!(statuses(&t), vec![TaskStatus::Finished; 4], "{t:#?}");
    assert!(lab.names("list", "sdn-").is_empty(), "domains gone");
    assert!(lab.names("net-list", "sdn-").is_empty(), "networks gone");
    assert!(
        rovim_rules(&url).await.is_empty(),
        "no rule with rovim's cookies is left on the switch"
    );
    h.check();
}
