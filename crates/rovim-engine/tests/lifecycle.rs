//! The engine end to end on the sim VIM: create, find, delete, dependencies, superseding.

mod common;

use common::*;
use rovim_core::{ItemStatus, TaskStatus};
use rovim_store::test_support::backends;
use serde_json::json;

#[actix_rt::test]
async fn two_nets_and_three_vms_complete_on_every_backend() {
    for db in backends() {
        let h = Harness::on(db).await;
        let (vim, cloud) = h.sim("vim1", json!({"build_seconds": 0})).await;
        let sub = h
            .submit(json!({"description": "deploy", "tasks": [
                net_task(vim, "mgmt"), net_task(vim, "data"),
                vm_task(vim, "vm1", &[0]), vm_task(vim, "vm2", &[0, 1]),
                {"vim_account": vim.to_string(), "action": "CREATE", "item": "vm", "depends_on": [2, 3],
                 "params": {"name": "vm3", "image_id": "cirros", "flavor_id": "m1.small", "networks": [{"net": "TASK-1"}]}},
            ]}))
            .await;
        let (action, tasks) = h.settled(sub.action).await;
        assert_eq!(statuses(&tasks), vec![TaskStatus::Done; 5], "{tasks:#?}");
        assert_eq!(
            (
                action.number_tasks,
                action.number_done,
                action.number_failed
            ),
            (5, 5, 0)
        );
        assert_eq!(
            (cloud.net_count(), cloud.vm_count(), cloud.port_count()),
            (2, 3, 4)
        );
        // States and addresses come with the first poll after the creates.
        for (_, kind, item) in &sub.tasks {
            if *kind == rovim_core::ItemKind::Vm {
                h.until(|| (h.vm(*item).status == ItemStatus::Active).then_some(()))
                    .await;
            }
        }
        for (i, kind, item) in &sub.tasks {
            let t = &tasks[*i as usize];
            assert!(t.vim_id.is_some() && t.created, "task {i}");
            match kind {
                rovim_core::ItemKind::Net => assert_eq!(h.net(*item).vim_id, t.vim_id),
                rovim_core::ItemKind::Vm => {
                    let vm = h.vm(*item);
                    assert_eq!(vm.vim_id, t.vim_id);
                    assert_eq!(vm.status, ItemStatus::Active);
                    for iface in &vm.interfaces {
                        assert!(
                            iface
                                .mac_address
                                .as_deref()
                                .is_some_and(|m| m.starts_with("fa:16:3e")),
                            "{iface:?}"
                        );
                        assert!(
                            iface.ip_address.is_some() && iface.vim_interface_id.is_some(),
                            "{iface:?}"
                        );
                    }
                }
            }
        }
        // vm2's second interface sits on the data net created by task 1.
        let vm2 = h.vm(sub.tasks[3].2);
        assert_eq!(vm2.interfaces[1].vim_net_id, tasks[1].vim_id);
        h.engine.shutdown().await.unwrap();
    }
}

#[actix_rt::test]
async fn delete_while_create_is_pending_supersedes_it_without_a_vim_call() {
    let h = Harness::new().await;
    let (vim, cloud) = h.sim("vim1", json!({})).await;
    let item = rovim_core::ItemId::generate();
    let mut create = net_task(vim, "n1");
    create["item_id"] = json!(item.to_string());
    let sub = h
        .submit(json!({"tasks": [create, delete_task(vim, "net", item)]}))
        .await;
    let (action, tasks) = h.settled(sub.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Superseded, TaskStatus::Superseded]
    );
    assert_eq!(
        (action.number_done, action.number_failed),
        (2, 0),
        "superseded counts as done"
    );
    assert_eq!(cloud.calls().create_net + cloud.calls().delete_net, 0);
    assert_eq!(h.net(item).status, ItemStatus::Deleted);
}

#[actix_rt::test]
async fn delete_after_done_removes_the_element_and_a_second_delete_is_a_no_op() {
    let h = Harness::new().await;
    let (vim, cloud) = h.sim("vim1", json!({})).await;
    let sub = h
        .submit(json!({"tasks": [net_task(vim, "n1"), vm_task(vim, "v1", &[0])]}))
        .await;
    h.settled(sub.action).await;
    let (net, vm) = (sub.tasks[0].2, sub.tasks[1].2);
    assert_eq!((cloud.net_count(), cloud.vm_count()), (1, 1));

    // The net depends on the VM's deletion: a VIM refuses to delete a net with ports in use.
    let del = h
        .submit(json!({"tasks": [delete_task(vim, "vm", vm),
            {"vim_account": vim.to_string(), "action": "DELETE", "item": "net", "item_id": net.to_string(), "depends_on": [0]}]}))
        .await;
    let (_, tasks) = h.settled(del.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Finished, TaskStatus::Finished],
        "{tasks:#?}"
    );
    assert_eq!(
        (cloud.net_count(), cloud.vm_count(), cloud.port_count()),
        (0, 0, 0)
    );
    assert_eq!(h.net(net).status, ItemStatus::Deleted);
    assert_eq!(h.vm(vm).vim_id, None);
    let (_, created) = h.action(sub.action);
    assert_eq!(
        statuses(&created),
        vec![TaskStatus::Finished, TaskStatus::Finished],
        "the CREATEs ended"
    );

    let deletes_before = cloud.calls().delete_net;
    let again = h
        .submit(json!({"tasks": [delete_task(vim, "net", net)]}))
        .await;
    let (action, tasks) = h.settled(again.action).await;
    assert_eq!(tasks[0].status, TaskStatus::Superseded);
    assert_eq!(action.number_failed, 0);
    assert_eq!(
        cloud.calls().delete_net,
        deletes_before,
        "no second VIM delete"
    );
}

#[actix_rt::test]
async fn find_one_none_many_and_find_then_create() {
    let h = Harness::new().await;
    let (vim, cloud) = h.sim("vim1", json!({})).await;
    let sub = h.submit(json!({"tasks": [net_task(vim, "shared"), net_task(vim, "twin"), net_task(vim, "twin")]})).await;
    h.settled(sub.action).await;
    let find = |name: &str| json!({"vim_account": vim.to_string(), "action": "FIND", "item": "net", "find": {"name": name}});
    let ftc = |name: &str| {
        json!({"vim_account": vim.to_string(), "action": "CREATE", "item": "net",
                                 "find": {"name": name}, "params": {"name": name}})
    };
    let sub = h.submit(json!({"tasks": [find("shared"), find("nowhere"), find("twin"), ftc("shared"), ftc("fresh")]})).await;
    let (action, tasks) = h.settled(sub.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![
            TaskStatus::Done,
            TaskStatus::Failed,
            TaskStatus::Failed,
            TaskStatus::Done,
            TaskStatus::Done
        ]
    );
    assert_eq!((action.number_done, action.number_failed), (3, 2));
    assert!(!tasks[0].created && tasks[0].vim_id.is_some());
    assert!(
        tasks[1].error_msg.as_deref().unwrap().contains("not found"),
        "{:?}",
        tasks[1].error_msg
    );
    let many = tasks[2].error_msg.as_deref().unwrap();
    assert!(
        many.contains("More than one") && many.contains("twin"),
        "{many}"
    );
    assert!(
        !tasks[3].created,
        "an existing net is found, not created again"
    );
    assert!(tasks[4].created, "none found: created");
    assert_eq!(cloud.net_count(), 4);

    // Deleting a net that was only found leaves the VIM net alone.
    let found = sub.tasks[0].2;
    let del = h
        .submit(json!({"tasks": [delete_task(vim, "net", found)]}))
        .await;
    let (_, tasks) = h.settled(del.action).await;
    assert_eq!(tasks[0].status, TaskStatus::Superseded);
    assert_eq!(cloud.net_count(), 4);
    assert_eq!(cloud.calls().delete_net, 0);
}

#[actix_rt::test]
async fn a_failed_dependency_fails_its_dependents_naming_it() {
    let h = Harness::new().await;
    let (vim, cloud) = h.sim("vim1", json!({})).await;
    let sub = h
        .submit(json!({"tasks": [
            {"vim_account": vim.to_string(), "action": "FIND", "item": "net", "find": {"name": "absent"}},
            vm_task(vim, "v1", &[0]),
        ]}))
        .await;
    let (action, tasks) = h.settled(sub.action).await;
    assert_eq!(
        statuses(&tasks),
        vec![TaskStatus::Failed, TaskStatus::Failed]
    );
    assert_eq!(action.number_failed, 2);
    let msg = tasks[1].error_msg.as_deref().unwrap();
    assert!(
        msg.contains(&format!("{}.0", sub.action)) && msg.contains("failed"),
        "{msg}"
    );
    assert_eq!(cloud.calls().create_vm, 0);
    assert_eq!(h.vm(sub.tasks[1].2).status, ItemStatus::VimError);
}

#[actix_rt::test]
async fn a_dependency_on_another_vim_account_is_waited_for() {
    let h = Harness::new().await;
    let (a, cloud_a) = h.sim("vim-a", json!({"unreachable": true})).await;
    let (b, cloud_b) = h.sim("vim-b", json!({})).await;
    let mut vm = vm_task(b, "v1", &[2]);
    vm["depends_on"] = json!([0]);
    let sub = h
        .submit(json!({"tasks": [net_task(a, "on-a"), vm, net_task(b, "on-b")]}))
        .await;
    // vim-a is down: the VM on vim-b must wait although its own net is there.
    h.until(|| (cloud_b.net_count() == 1).then_some(())).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, tasks) = h.action(sub.action);
    assert_eq!(tasks[1].status, TaskStatus::Scheduled);
    assert_eq!(cloud_b.vm_count(), 0);
    cloud_a.set_unreachable(false);
    let (_, tasks) = h.settled(sub.action).await;
    assert_eq!(statuses(&tasks), vec![TaskStatus::Done; 3]);
    assert_eq!((cloud_a.net_count(), cloud_b.vm_count()), (1, 1));
}

#[actix_rt::test]
async fn a_refused_action_stores_nothing_and_names_the_field() {
    let h = Harness::new().await;
    let (vim, cloud) = h.sim("vim1", json!({})).await;
    let before = rovim_store::reads::list_actions(&mut h.store().conn().unwrap(), 100)
        .unwrap()
        .len();
    let req: rovim_engine::ActionRequest =
        serde_json::from_value(json!({"tasks": [net_task(vim, "ok"), vm_task(vim, "v", &[7])]}))
            .unwrap();
    let err = h.engine.submit(req).await.unwrap_err();
    match err {
        rovim_engine::EngineError::Rejected(rovim_engine::PlanError::Field(f)) => {
            assert_eq!(f.field, "tasks[1].params.networks[0].net");
        }
        other => panic!("{other:?}"),
    }
    let after = rovim_store::reads::list_actions(&mut h.store().conn().unwrap(), 100)
        .unwrap()
        .len();
    assert_eq!(before, after);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        cloud.calls().create_net,
        0,
        "the valid task of a refused action did not run"
    );
}

#[actix_rt::test]
async fn an_account_with_live_elements_is_only_detached_when_forced() {
    let h = Harness::new().await;
    let (vim, _cloud) = h.sim("vim1", json!({})).await;
    let sub = h.submit(json!({"tasks": [net_task(vim, "n")]})).await;
    h.settled(sub.action).await;
    let e = h.engine.detach_account(vim, false).await.unwrap_err();
    assert!(matches!(e, rovim_engine::EngineError::Conflict(_)), "{e}");
    assert!(
        h.engine
            .account_states()
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == vim)
    );
    h.engine.detach_account(vim, true).await.unwrap();
    assert!(
        !h.engine
            .account_states()
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == vim)
    );
}
