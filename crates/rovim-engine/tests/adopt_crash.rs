//! ADOPT across a crash: the element was tagged on the VIM, the outcome never stored. The
//! restarted actor finds the element by the task's token (it carries it now) instead of
//! adopting again, and a DELETE then removes it. One test per binary: failpoints are global.

mod common;

use common::*;
use rovim_core::{ItemStatus, TaskStatus};
use serde_json::json;

#[actix_rt::test]
async fn an_adopt_whose_outcome_was_lost_is_found_by_its_token() {
    for db in rovim_store::test_support::backends() {
        let h = Harness::on(db).await;
        let (vim, cloud) = h.sim("adopt-crash", json!({})).await;
        let legacy = cloud.add_foreign_vm("legacy", "m1.small", "cirros");
        rovim_engine::failpoints::arm_after_create(1);
        let sub = h
            .submit(
                json!({"tasks": [{"vim_account": vim.to_string(), "action": "ADOPT",
                "item": "vm", "find": {"id": legacy}}]}),
            )
            .await;
        let (a, tasks) = h.settled(sub.action).await;
        assert_eq!((a.number_done, a.number_failed), (1, 0), "{tasks:?}");
        assert_eq!(tasks[0].vim_id.as_deref(), Some(legacy.as_str()));
        assert!(tasks[0].created);
        let state = h.account_until(vim, |s| s.restarts >= 1).await;
        assert_eq!(state.restarts, 1, "the failpoint stopped the actor once");
        let calls = cloud.calls();
        assert_eq!(
            calls.adopt, 1,
            "tagged once, found by token after the restart"
        );
        assert!(calls.find_by_token >= 2, "{calls:?}");

        let vm = sub.tasks[0].2;
        h.until(|| (h.vm(vm).status == ItemStatus::Active).then_some(()))
            .await;
        let del = h
            .submit(json!({"tasks": [delete_task(vim, "vm", vm)]}))
            .await;
        let (_, tasks) = h.settled(del.action).await;
        assert_eq!(tasks[0].status, TaskStatus::Finished, "{tasks:?}");
        assert_eq!(cloud.vm_count(), 0, "the adopted VM is deleted");
    }
}
