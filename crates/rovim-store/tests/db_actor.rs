//! The DbActor's group commit and its resilience.

mod common;

use common::{account, logger, sample};
use rovim_core::{CounterDelta, TaskKey, TaskStatus};
use rovim_store::reads::get_action;
use rovim_store::test_support::backends;
use rovim_store::{DbWrite, DbWriter, TaskUpdate, WriteBatch};
use std::sync::atomic::Ordering;

fn bump(action: rovim_core::ActionId) -> DbWrite {
    let mut b = WriteBatch::default();
    b.counters
        .push((action, CounterDelta { done: 1, failed: 0 }));
    DbWrite::Batch(b)
}

#[actix_rt::test]
async fn concurrent_writes_are_group_committed_and_none_is_lost() {
    for db in backends() {
        let w = DbWriter::start(db.store.clone(), 1024, logger());
        let acc = account("vim-a");
        w.write(DbWrite::InsertVimAccount(acc.clone()))
            .await
            .unwrap();
        let s = sample(acc.id);
        w.write(DbWrite::InsertAction(s.action.clone()))
            .await
            .unwrap();
        let commits_before = w.stats().commits.load(Ordering::Relaxed);

        let mut pending = Vec::new();
        for _ in 0..300 {
            pending.push(w.enqueue(bump(s.action.id)).await.unwrap());
        }
        for rx in pending {
            rx.await.unwrap().unwrap();
        }
        let (action, _) = get_action(&mut db.store.conn().unwrap(), s.action.id).unwrap();
        assert_eq!(action.number_done, 300, "{}", db.name());
        let commits = w.stats().commits.load(Ordering::Relaxed) - commits_before;
        assert!(
            commits < 300,
            "{}: 300 writes took {commits} commits: not grouped",
            db.name()
        );
        assert!(w.stats().largest_group.load(Ordering::Relaxed) > 1);
    }
}

#[actix_rt::test]
async fn a_bad_write_in_a_group_fails_alone() {
    for db in backends() {
        let w = DbWriter::start(db.store.clone(), 1024, logger());
        let acc = account("vim-a");
        w.write(DbWrite::InsertVimAccount(acc.clone()))
            .await
            .unwrap();
        let s = sample(acc.id);
        w.write(DbWrite::InsertAction(s.action.clone()))
            .await
            .unwrap();

        let mut bad = WriteBatch::default();
        bad.tasks.push((
            TaskKey::new(s.action.id, 42),
            TaskUpdate {
                status: Some(TaskStatus::Done),
                ..Default::default()
            },
        ));
        bad.counters.push((
            s.action.id,
            CounterDelta {
                done: 100,
                failed: 0,
            },
        ));
        // queued before any is awaited, so they share one flush
        let a = w.enqueue(bump(s.action.id)).await.unwrap();
        let b = w.enqueue(DbWrite::Batch(bad)).await.unwrap();
        let c = w.enqueue(bump(s.action.id)).await.unwrap();
        assert!(a.await.unwrap().is_ok());
        assert!(b.await.unwrap().is_err());
        assert!(c.await.unwrap().is_ok());
        let (action, _) = get_action(&mut db.store.conn().unwrap(), s.action.id).unwrap();
        assert_eq!(action.number_done, 2, "{}", db.name());
        w.ping().await.unwrap();
    }
}

#[actix_rt::test]
async fn writes_wait_for_room_when_the_bound_is_reached() {
    let db = rovim_store::test_support::sqlite();
    let w = DbWriter::start(db.store.clone(), 2, logger());
    let acc = account("vim-a");
    w.write(DbWrite::InsertVimAccount(acc.clone()))
        .await
        .unwrap();
    let s = sample(acc.id);
    w.write(DbWrite::InsertAction(s.action.clone()))
        .await
        .unwrap();
    let first = w.enqueue(bump(s.action.id)).await.unwrap();
    let second = w.enqueue(bump(s.action.id)).await.unwrap();
    // a third may only be queued once one of the two is done
    let third = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        w.enqueue(bump(s.action.id)),
    )
    .await
    .expect("room is made as soon as a write is committed")
    .unwrap();
    for rx in [first, second, third] {
        rx.await.unwrap().unwrap();
    }
}
