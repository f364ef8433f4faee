//! The engine with the real Ryu SDN controller (`.ci/sdn.sh`): a sim VIM stands in for the
//! compute side, and the lab's two namespaced switch ports for the two VMs' SR-IOV VFs (wired
//! by the controller's port mapping to the PCI slots the sim VIM reports). Real packets tell
//! whether what rovim asked of the controller carries traffic.

mod common;

use common::*;
use rovim_core::TaskStatus;
use rovim_sdn::testing::{LAB_MAC_A, LAB_MAC_B, a_reaches_b, rovim_rules, ryu_url};
use serde_json::json;

#[cfg_attr(
    rovim_no_ryu,
    ignore = "needs Ryu and Open vSwitch: eval \"$(bash .ci/sdn.sh)\""
)]
#[actix_rt::test]
async fn a_data_net_and_two_vf_vms_exchange_packets_through_ryu() {
    let Some(url) = ryu_url() else { return };
    // The sim VIM puts a VM on one of its four compute nodes and numbers VF slots in order: the
    // first VF made is 0000:81:00.1 (switch port 1, namespace a), the second 0000:81:00.2.
    let mapping: Vec<_> = (0..4)
        .flat_map(|node| {
            [(1, "0000:81:00.1"), (2, "0000:81:00.2")].map(|(port, pci)| {
                json!({"compute_node": format!("sim-compute-{node}"), "pci": pci,
                       "switch_dpid": 1, "switch_port": port})
            })
        })
        .collect();
    let h = Harness::new().await;
    let sdn = h.ryu_sdn(&url, json!(mapping)).await;
    let (vim, _) = h.sim_with("lab", json!({}), Some(sdn)).await;
    let v = vim.to_string();
    let vm = |name: &str, mac: &str, after: &[u32]| {
        json!({"vim_account": v, "action": "CREATE", "item": "vm", "depends_on": after,
               "params": {"name": name, "image_id": "cirros", "flavor_id": "m1.small",
                          "networks": [{"net": "TASK-0", "type": "VF", "mac_address": mac}]}})
    };
    let made = h
        .submit(json!({"tasks": [
            {"vim_account": v, "action": "CREATE", "item": "net", "params": {"name": "fabric", "type": "data"}},
            vm("a", LAB_MAC_A, &[0]),
            vm("b", LAB_MAC_B, &[1]),
        ]}))
        .await;
    let (_, tasks) = h.settled(made.action).await;
    assert_all_done(&tasks);
    let (net, a, b) = (made.tasks[0].2, made.tasks[1].2, made.tasks[2].2);
    for id in [a, b] {
        h.until(|| h.vm(id).interfaces[0].sdn_port_id.clone()).await;
    }
    assert!(h.net(net).sdn_net_id.is_some());
    assert!(
        a_reaches_b(),
        "the two VFs are on one VLAN segment: packets pass"
    );

    let gone = h
        .submit(json!({"tasks": [delete_task(vim, "vm", b)]}))
        .await;
    let (_, t) = h.settled(gone.action).await;
    assert_eq!(t[0].status, TaskStatus::Finished, "{t:#?}");
    assert!(
        !a_reaches_b(),
        "b's SDN port went with b: its VF is cut off"
    );

    let rest = h
        .submit(json!({"tasks": [
            delete_task(vim, "vm", a),
            {"vim_account": v, "action": "DELETE", "item": "net", "item_id": net.to_string(), "depends_on": [0]},
        ]}))
        .await;
    let (_, t) = h.settled(rest.action).await;
    assert_eq!(statuses(&t), vec![TaskStatus::Finished; 2], "{t:#?}");
    assert!(
        rovim_rules(&url).await.is_empty(),
        "no rule with rovim's cookies is left on the switch"
    );
    h.check();
}
