//! The typed queries, on SQLite and (when configured) PostgreSQL.

mod common;

use common::{account, logger, sample, stored_sample};
use rovim_core::CreatedKind;
use rovim_core::{AccountStatus, CreatedItem, ItemStatus, TaskKey, TaskStatus};
use rovim_store::reads::{get_action, get_net, get_task, get_vm, load_unfinished_tasks};
use rovim_store::test_support::backends;
use rovim_store::{
    AccountStatusUpdate, DbWrite, DbWriter, InterfaceUpdate, ItemUpdate, StoreError, TaskUpdate,
    WriteBatch,
};

#[actix_rt::test]
async fn an_action_is_stored_whole_and_read_back() {
    for db in backends() {
        let (_, acc, s) = stored_sample(&db, 64).await;

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
        let open = load_unfinished_tasks(&mut c, acc.id).unwrap();
        assert_eq!(open.len(), 3);
        assert!(
            open.iter()
                .zip(&s.action.tasks)
                .all(|(t, new)| t.params == new.params),
            "an open task is reloaded with its params"
        );
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
        dup.id = rovim_core::VimAccountId::generate();
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
        let (w, acc, s) = stored_sample(&db, 64).await;
        let k = |i| TaskKey::new(s.action.id, i);
        let port = CreatedItem {
            kind: CreatedKind::Port,
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
        assert!(s.action.tasks[0].params.is_some());
        assert_eq!(
            (open[0].params.as_ref(), open[0].find.as_ref()),
            (None, None),
            "a DONE task comes back without what only an open one needs"
        );
        assert_eq!(
            tasks[0].params, s.action.tasks[0].params,
            "the row keeps them"
        );

        // Some(None) clears a column; None leaves it alone
        let mut b = WriteBatch::default();
        b.nets.push((
            s.nets[0],
            ItemUpdate {
                vim_id: Some(None),
                ..Default::default()
            },
        ));
        w.write(DbWrite::Batch(b)).await.unwrap();
        let net = get_net(&mut c, s.nets[0]).unwrap().unwrap();
        assert_eq!(net.vim_id, None);
        assert_eq!(net.status, ItemStatus::Build);
    }
}

#[actix_rt::test]
async fn updates_of_missing_or_settled_tasks_change_nothing_and_are_reported_stale() {
    for db in backends() {
        let (w, _, s) = stored_sample(&db, 64).await;
        let k = |i| TaskKey::new(s.action.id, i);
        let settle = |key, status| {
            let mut b = WriteBatch::default();
            b.tasks.push((
                key,
                TaskUpdate {
                    status: Some(status),
                    vim_id: Some(Some(format!("{status}"))),
                    ..Default::default()
                },
            ));
            DbWrite::Batch(b)
        };
        let missing = w.write(settle(k(99), TaskStatus::Done)).await.unwrap();
        assert_eq!(missing.stale, vec![k(99)]);
        assert!(missing.settled.is_empty());

        let first = w.write(settle(k(0), TaskStatus::Done)).await.unwrap();
        assert_eq!(first.settled, vec![(k(0), TaskStatus::Done)]);
        // The same settlement again, a contradicting one, a reopening: all refused.
        for again in [TaskStatus::Done, TaskStatus::Failed, TaskStatus::Build] {
            let r = w.write(settle(k(0), again)).await.unwrap();
            assert_eq!(
                (r.settled.len(), r.stale.clone()),
                (0, vec![k(0)]),
                "{again}"
            );
        }
        let mut c = db.store.conn().unwrap();
        let t0 = get_task(&mut c, k(0)).unwrap().unwrap();
        assert_eq!(
            (t0.status, t0.vim_id.as_deref()),
            (TaskStatus::Done, Some("DONE"))
        );
        let (action, _) = get_action(&mut c, s.action.id).unwrap();
        assert_eq!(
            (action.number_done, action.number_failed),
            (1, 0),
            "{}",
            db.name()
        );
    }
}

/// The guarantee of issue 10 attacked directly: however many times and in whatever mix the
/// engine writes a task's settlement (one batch, several batches, one group commit), the
/// action counts each task once, and reads DONE only when every task is settled.
#[actix_rt::test]
async fn each_task_is_counted_once_however_often_its_settlement_is_written() {
    for db in backends() {
        let (w, _, s) = stored_sample(&db, 64).await;
        let k = |i| TaskKey::new(s.action.id, i);
        let update = |status| TaskUpdate {
            status: Some(status),
            ..Default::default()
        };
        // One batch settling task 0 twice and moving task 1 to BUILD.
        let mut b = WriteBatch::default();
        b.tasks.push((k(0), update(TaskStatus::Superseded)));
        b.tasks.push((k(0), update(TaskStatus::Superseded)));
        b.tasks.push((k(1), update(TaskStatus::Build)));
        // Queued together: one group commit holding three copies of the same batch.
        let copies: Vec<_> = [b.clone(), b.clone(), b]
            .into_iter()
            .map(|b| w.enqueue(DbWrite::Batch(b)))
            .collect();
        let mut settled = 0;
        for rx in copies {
            settled += rx.await.unwrap().await.unwrap().unwrap().settled.len();
        }
        assert_eq!(settled, 1, "one settlement committed in all");
        let mut c = db.store.conn().unwrap();
        let (action, _) = get_action(&mut c, s.action.id).unwrap();
        assert_eq!((action.number_done, action.number_failed), (1, 0));
        assert_eq!(action.overall_status(), "BUILD", "two tasks still open");

        // BUILD → FINISHED counts once; DONE → FINISHED counts nothing.
        let mut b = WriteBatch::default();
        b.tasks.push((k(1), update(TaskStatus::Finished)));
        b.tasks.push((k(2), update(TaskStatus::Done)));
        b.tasks.push((k(2), update(TaskStatus::Finished)));
        b.tasks.push((k(1), update(TaskStatus::Failed)));
        let r = w.write(DbWrite::Batch(b)).await.unwrap();
        assert_eq!(
            r.stale,
            vec![k(1)],
            "a FINISHED task does not fail afterwards"
        );
        let (action, tasks) = get_action(&mut c, s.action.id).unwrap();
        assert_eq!(
            (action.number_done, action.number_failed),
            (3, 0),
            "{}",
            db.name()
        );
        assert_eq!(action.overall_status(), "DONE");
        assert!(tasks.iter().all(|t| !t.status.is_open()));
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
        assert_eq!(
            got.secret.as_ref().and_then(|s| s.expose().ok()),
            Some("hunter2")
        );
        assert_eq!(
            format!("{:?}", got.secret),
            "Some(Secret(***))",
            "secrets never print"
        );
        assert_eq!(got.config["build_seconds"], 1);
    }
}

/// Issue 11: the SQLite file (which holds VIM credentials) was created 0644; it and its -wal
/// and -shm files are readable by their owner only now.
#[cfg(unix)]
#[test]
fn a_new_sqlite_database_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.db");
    let store = rovim_store::Store::open(path.to_str().unwrap()).unwrap();
    let _conn = store.conn().unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("private.db{suffix}"));
        if let Ok(meta) = std::fs::metadata(&file) {
            assert_eq!(
                meta.permissions().mode() & 0o777,
                0o600,
                "{}",
                file.display()
            );
        } else {
            assert_eq!(suffix, "-shm", "the database and its WAL exist");
        }
    }
}
