//! SDN exactly-once across a crash (a test binary of its own: the failpoint is global, and its
//! tests take turns). The engine "crashes" right after the VIM and the SDN controller made a
//! data net and its SDN network, before the outcome is stored; after the restart the VIM net is
//! adopted by its token and the SDN network found again by its name: one of each, not two. On
//! the sim controller, and on the real Ryu (`.ci/sdn.sh`), where the network is rules on a
//! switch found again by the cookie its name gives.

mod common;

use common::*;
use serde_json::json;

/// The failpoint is global: one test at a time.
static FAILPOINT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes a data net on the account `vim` with the engine crashing right after the VIM and the
/// controller made it (before the outcome is stored); returns the net's item once the restarted
/// actor settled its task.
async fn data_net_through_a_crash(
    h: &Harness,
    vim: rovim_core::VimAccountId,
) -> rovim_core::ItemId {
    h.account_until(vim, |s| s.running).await;
    rovim_engine::failpoints::arm_after_create(1);
    let sub = h
        .submit(
            json!({"tasks": [{"vim_account": vim.to_string(), "action": "CREATE", "item": "net",
            "params": {"name": "data", "type": "data"}}]}),
        )
        .await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_all_done(&tasks[..1]);
    let restarts = h.account_until(vim, |s| s.running).await.restarts;
    assert!(restarts >= 1, "the failpoint stopped the actor once");
    sub.tasks[0].2
}

#[actix_rt::test]
async fn an_sdn_network_made_before_a_crash_is_found_again_not_made_twice() {
    let _turn = FAILPOINT.lock().await;
    let h = Harness::new().await;
    let (sdn_id, sdn) = h.sim_sdn("sdn1").await;
    let (vim, cloud) = h
        .sim_with("vim1", json!({"build_seconds": 0}), Some(sdn_id))
        .await;
    let net = data_net_through_a_crash(&h, vim).await;
    let nets = sdn.networks();
    assert_eq!(nets.len(), 1, "found again by its name: {nets:?}");
    assert_eq!(cloud.net_count(), 1, "adopted by its token");
    assert_eq!(h.net(net).sdn_net_id.as_deref(), Some(nets[0].0.as_str()));
    h.check_vim(vim, &cloud);
}

#[cfg_attr(
    rovim_no_ryu,
    ignore = "needs Ryu and Open vSwitch: eval \"$(bash .ci/sdn.sh)\""
)]
#[actix_rt::test]
async fn a_ryu_network_made_before_a_crash_is_found_again_not_made_twice() {
    let Some(url) = rovim_sdn::testing::ryu_url() else {
        return;
    };
    let _turn = FAILPOINT.lock().await;
    let h = Harness::new().await;
    let mapping = json!([{"compute_node": "sim-compute-0", "pci": "0000:81:00.1",
                          "switch_dpid": 1, "switch_port": 1}]);
    let sdn = h.ryu_sdn(&url, mapping).await;
    let (vim, cloud) = h
        .sim_with("vim1", json!({"build_seconds": 0}), Some(sdn))
        .await;
    let net = data_net_through_a_crash(&h, vim).await;
    let markers: Vec<_> = rovim_sdn::testing::rovim_rules(&url)
        .await
        .into_iter()
        .filter(|r| r["priority"] == 1)
        .collect();
    assert_eq!(markers.len(), 1, "one network on the switch: {markers:#?}");
    let id = format!("{:016x}", markers[0]["cookie"].as_u64().unwrap());
    assert_eq!(
        h.net(net).sdn_net_id.as_deref(),
        Some(id.as_str()),
        "the net records the network found again by its name"
    );
    assert_eq!(cloud.net_count(), 1, "adopted by its token");
    h.check_vim(vim, &cloud);
    let down = h
        .submit(json!({"tasks": [delete_task(vim, "net", net)]}))
        .await;
    let (_, t) = h.settled(down.action).await;
    assert_eq!(t[0].status, rovim_core::TaskStatus::Finished, "{t:#?}");
    assert!(
        rovim_sdn::testing::rovim_rules(&url).await.is_empty(),
        "its rules went with it"
    );
}
