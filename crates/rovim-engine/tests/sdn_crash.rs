//! SDN exactly-once across a crash (a test binary of its own: the failpoint is global). The
//! engine "crashes" right after the VIM and the SDN controller made a data net and its SDN
//! network, before the outcome is stored; after the restart the VIM net is adopted by its token
//! and the SDN network found again by its name: one of each, not two.

mod common;

use common::*;
use serde_json::json;

#[actix_rt::test]
async fn an_sdn_network_made_before_a_crash_is_found_again_not_made_twice() {
    let h = Harness::new().await;
    let (sdn_id, sdn) = h.sim_sdn("sdn1").await;
    let (vim, cloud) = h
        .sim_with("vim1", json!({"build_seconds": 0}), Some(sdn_id))
        .await;
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
    let nets = sdn.networks();
    assert_eq!(nets.len(), 1, "found again by its name: {nets:?}");
    assert_eq!(cloud.net_count(), 1, "adopted by its token");
    assert_eq!(
        h.net(sub.tasks[0].2).sdn_net_id.as_deref(),
        Some(nets[0].0.as_str())
    );
    h.check_vim(vim, &cloud);
}
