//! The typed queries, on SQLite and (when configured) PostgreSQL.

mod common;

use common::{account, logger, sample};
use rovim_core::{AccountStatus, CounterDelta, CreatedItem, ItemStatus, TaskKey, TaskStatus};
use rovim_store::reads::{get_action, get_net, get_task, get_vm, load_unfinished_tasks};
use rovim_store::test_support::backends;
use rovim_store::{
    AccountStatusUpdate, DbWrite, DbWriter, InterfaceUpdate, ItemUpdate, StoreError, TaskUpdate,
    WriteBatch,
};

#[actix_rt::test]
async fn an_action_is_stored_whole_and_read_back() {
    for db in backends() {
        let w = DbWriter::start(db.store.clone(), 64, logger());
        let acc = account("vim-a");
        w.write(DbWrite::InsertVimAccount(acc.clone()))
            .await
            .unwrap();
        let s = sample(acc.id);
        w.write(DbWrite::InsertAction(s.action.clone()))
            .await
            .unwrap();

        let mut c = db.store.conn().unwrap();
        let (action, tasks) = get_action(&mut c, s.action.id).unwrap();
        assert_eq!(
            (
                action.number_tasks,
                action.number_done,
                action.number_failed
            ),
            (3, 0, 0),
            "{}",
            db.name()
        );
        assert_eq!(action.overall_status(), "BUILD");
        assert_eq!(tasks.len(), 3);
        for (t, new) in tasks.iter().zip(&s.action.tasks) {
            assert_eq!(t.key, TaskKey::new(s.action.id, new.index));
            assert_eq!(t.status, TaskStatus::Scheduled);
            assert_eq!(
                t.params, new.params,
                "params survive the database as typed values"
            );
            assert_eq!(t.find, new.find);
            assert_eq!(t.depends_on, new.depends_on);
            assert_eq!(t.idempotency_token, new.idempotency_token);
            assert!(!t.created);
        }
        assert_eq!(load_unfinished_tasks(&mut c, acc.id).unwrap().len(), 3);
        assert!(
            load_unfinished_tasks(&mut c, account("other").id)
                .unwrap()
                .is_empty()
        );

        let vm = get_vm(&mut c, s.vm).unwrap().unwrap();
        assert_eq!(vm.interfaces.len(), 2);
        assert_eq!(vm.interfaces[1].net, Some(s.nets[1]));
        assert_eq!(vm.interfaces[1].iface_type, rovim_core::InterfaceType::VF);
        assert!(!vm.interfaces[1].port_security);
        let net = get_net(&mut c, s.nets[1]).unwrap().unwrap();
        assert_eq!(net.net_type, rovim_core::NetType::Data);
        assert_eq!(net.status, ItemStatus::ScheduledCreation);
    }
}

#[actix_rt::test]
async fn a_rejected_action_leaves_no_row() {
    for db in backends() {
        let w = DbWriter::start(db.store.clone(), 64, logger());
        let real = account("vim-a");
        w.write(DbWrite::InsertVimAccount(real.clone()))
            .await
            .unwrap();
        let mut s = sample(real.id);
        // the VM's task names a VIM account that does not exist: the whole action is refused
        s.action.tasks[2].vim_account = account("ghost").id;
        let err = w
            .write(DbWrite::InsertAction(s.action.clone()))
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{}: {err}", db.name());
        let mut c = db.store.conn().unwrap();
        assert!(matches!(
            get_action(&mut c, s.action.id),
            Err(StoreError::NotFound { .. })
        ));
        assert!(
            get_net(&mut c, s.nets[0]).unwrap().is_none(),
            "no item row either"
        );
        assert!(get_vm(&mut c, s.vm).unwrap().is_none());
        // a duplicate account name is a conflict too, and the writer keeps working after it
        let mut dup = account("vim-a");
        dup.id = rovim_core::VimAccountId::random();
        assert!(
            w.write(DbWrite::InsertVimAccount(dup))
                .await
                .unwrap_err()
                .is_conflict()
        );
        w.ping().await.unwrap();
    }
}

#[actix_rt::test]
async fn outcomes_items_and_counters_are_applied_exactly() {
    for db in backends() {
        let w = DbWriter::start(db.store.clone(), 64, logger());
        let acc = account("vim-a");
        w.write(DbWrite::InsertVimAccount(acc.clone()))
            .await
            .unwrap();
        let s = sample(acc.id);
        w.write(DbWrite::InsertAction(s.action.clone()))
            .await
            .unwrap();
        let k = |i| TaskKey::new(s.action.id, i);
        let port = CreatedItem {
            kind: "port".into(),
            id: "p-1".into(),
        };

        let mut b = WriteBatch::default();
        b.tasks.push((
            k(0),
            TaskUpdate {
                status: Some(TaskStatus::Done),
                vim_id: Some(Some("net-1".into())),
                created: Some(true),
                ..Default::default()
            },
        ));
        b.nets.push((
            s.nets[0],
            ItemUpdate {
                status: Some(ItemStatus::Build),
                vim_id: Some(Some("net-1".into())),
                created: Some(true),
                created_items: Some(vec![port.clone()]),
                ..Default::default()
            },
        ));
        b.counters
            .push((s.action.id, CounterDelta { done: 1, failed: 0 }));
        w.write(DbWrite::Batch(b)).await.unwrap();

        let long = format!("{}{}", "h".repeat(1500), "t".repeat(1500));
        let mut b = WriteBatch::default();
        b.tasks.push((
            k(1),
            TaskUpdate {
                status: Some(TaskStatus::Failed),
                error_msg: Some(Some(long)),
                ..Default::default()
            },
        ));
        b.tasks.push((
            k(2),
            TaskUpdate {
                status: Some(TaskStatus::Failed),
                error_msg: Some(Some("dependency failed".into())),
                ..Default::default()
            },
        ));
        b.counters
            .push((s.action.id, CounterDelta { done: 0, failed: 1 }));
        b.counters
            .push((s.action.id, CounterDelta { done: 0, failed: 1 }));
        let iface = get_vm(&mut db.store.conn().unwrap(), s.vm)
            .unwrap()
            .unwrap()
            .interfaces[0]
            .id;
        b.interfaces.push((
            iface,
            InterfaceUpdate {
                mac_address: Some(Some("fa:16:3e:00:00:01".into())),
                ip_address: Some(Some("10.0.0.5".into())),
                vlan: Some(Some(1001)),
                ..Default::default()
            },
        ));
        w.write(DbWrite::Batch(b)).await.unwrap();

        let mut c = db.store.conn().unwrap();
        let (action, tasks) = get_action(&mut c, s.action.id).unwrap();
        assert_eq!(
            (action.number_done, action.number_failed),
            (1, 2),
            "{}",
            db.name()
        );
        assert_eq!(action.overall_status(), "FAILED");
        assert_eq!(tasks[0].vim_id.as_deref(), Some("net-1"));
        assert!(tasks[0].created);
        let msg = tasks[1].error_msg.as_deref().unwrap();
        assert_eq!(msg.chars().count(), 1023, "cut to the column size");
        assert!(msg.starts_with("hhh") && msg.ends_with("ttt"));
        let net = get_net(&mut c, s.nets[0]).unwrap().unwrap();
        assert_eq!(net.owned().unwrap().created_items, vec![port]);
        assert_eq!(net.owned().unwrap().vim_id.as_deref(), Some("net-1"));
        let vm = get_vm(&mut c, s.vm).unwrap().unwrap();
        assert_eq!(vm.interfaces[0].ip_address.as_deref(), Some("10.0.0.5"));
        assert_eq!(vm.interfaces[0].vlan, Some(1001));
        // only the DONE task is still unfinished (it is polled); FAILED ones are not reloaded
        let open = load_unfinished_tasks(&mut c, acc.id).unwrap();
        assert_eq!(open.iter().map(|t| t.key).collect::<Vec<_>>(), vec![k(0)]);

        // Some(None) clears a column; None leaves it alone
        let mut b = WriteBatch::default();
        b.tasks.push((
            k(0),
            TaskUpdate {
                vim_id: Some(None),
                ..Default::default()
            },
        ));
        w.write(DbWrite::Batch(b)).await.unwrap();
        let t0 = get_task(&mut c, k(0)).unwrap().unwrap();
        assert_eq!(t0.vim_id, None);
        assert_eq!(t0.status, TaskStatus::Done);
    }
}

#[actix_rt::test]
async fn an_update_of_a_missing_task_fails_and_changes_nothing() {
    for db in backends() {
        let w = DbWriter::start(db.store.clone(), 64, logger());
        let acc = account("vim-a");
        w.write(DbWrite::InsertVimAccount(acc.clone()))
            .await
            .unwrap();
        let s = sample(acc.id);
        w.write(DbWrite::InsertAction(s.action.clone()))
            .await
            .unwrap();
        let mut b = WriteBatch::default();
        b.counters
            .push((s.action.id, CounterDelta { done: 1, failed: 0 }));
        b.tasks.push((
            TaskKey::new(s.action.id, 99),
            TaskUpdate {
                status: Some(TaskStatus::Done),
                ..Default::default()
            },
        ));
        assert!(matches!(
            w.write(DbWrite::Batch(b)).await,
            Err(StoreError::NotFound { .. })
        ));
        let (action, _) = get_action(&mut db.store.conn().unwrap(), s.action.id).unwrap();
        assert_eq!(
            action.number_done,
            0,
            "{}: the batch is all or nothing",
            db.name()
        );
    }
}

#[actix_rt::test]
async fn account_status_and_restarts_are_recorded_and_survive_a_reopen() {
    for db in backends() {
        let w = DbWriter::start(db.store.clone(), 64, logger());
        let acc = account("vim-a");
        w.write(DbWrite::InsertVimAccount(acc.clone()))
            .await
            .unwrap();
        for _ in 0..2 {
            let mut b = WriteBatch::default();
            b.accounts.push((
                acc.id,
                AccountStatusUpdate {
                    status: AccountStatus::Error,
                    error_msg: Some("VIM unreachable".into()),
                    restarts: 1,
                },
            ));
            w.write(DbWrite::Batch(b)).await.unwrap();
        }
        let store = db.reopen();
        let got =
            rovim_store::accounts::get_vim_account(&mut store.conn().unwrap(), acc.id).unwrap();
        assert_eq!(got.status, AccountStatus::Error);
        assert_eq!(got.error_msg.as_deref(), Some("VIM unreachable"));
        assert_eq!(got.restart_count, 2);
        assert_eq!(got.secret.as_ref().map(|s| s.expose()), Some("hunter2"));
        assert_eq!(
            format!("{:?}", got.secret),
            "Some(Secret(***))",
            "secrets never print"
        );
        assert_eq!(got.config["build_seconds"], 1);
    }
}
