//! The DbActor's group commit and its resilience.

mod common;

use common::{account, logger, sample, stored_sample};
use rovim_core::{AccountStatus, VimAccountId};
use rovim_store::test_support::backends;
use rovim_store::{AccountStatusUpdate, DbWrite, DbWriter, WriteBatch};
use std::sync::atomic::Ordering;

/// An exact increment (`restart_count + 1`) that group commit must neither lose nor repeat.
fn bump(vim: VimAccountId) -> DbWrite {
    let mut b = WriteBatch::default();
    b.accounts.push((
        vim,
        AccountStatusUpdate {
            status: AccountStatus::Error,
            error_msg: None,
            restarts: 1,
        },
    ));
    DbWrite::Batch(b)
}

fn restarts(db: &rovim_store::test_support::TestDb, vim: VimAccountId) -> i32 {
    rovim_store::accounts::get_vim_account(&mut db.store.conn().unwrap(), vim)
        .unwrap()
        .restart_count
}

#[actix_rt::test]
async fn concurrent_writes_are_group_committed_and_none_is_lost() {
    for db in backends() {
        let (w, acc, _) = stored_sample(&db, 1024).await;
        let commits_before = w.stats().commits.load(Ordering::Relaxed);

        let mut pending = Vec::new();
        for _ in 0..300 {
            pending.push(w.enqueue(bump(acc.id)).await.unwrap());
        }
        for rx in pending {
            rx.await.unwrap().unwrap();
        }
        assert_eq!(restarts(&db, acc.id), 300, "{}", db.name());
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
        let (w, acc, _) = stored_sample(&db, 1024).await;

        // A second account with the same name: refused by the unique constraint.
        let mut bad = account("vim-a");
        bad.id = VimAccountId::generate();
        // queued before any is awaited, so they share one flush
        let a = w.enqueue(bump(acc.id)).await.unwrap();
        let b = w.enqueue(DbWrite::InsertVimAccount(bad)).await.unwrap();
        let c = w.enqueue(bump(acc.id)).await.unwrap();
        assert!(a.await.unwrap().is_ok());
        assert!(b.await.unwrap().is_err());
        assert!(c.await.unwrap().is_ok());
        assert_eq!(restarts(&db, acc.id), 2, "{}", db.name());
        w.ping().await.unwrap();
    }
}

/// A panic inside the writer (a failpoint write): every write it held gets an error reply and
/// nothing of them is committed; the writer goes on with the next writes.
#[actix_rt::test]
async fn a_panic_in_the_writer_fails_the_writes_it_held_and_the_writer_goes_on() {
    for db in backends() {
        let w = DbWriter::start(db.store.clone(), 1024, logger());
        let acc = account("vim-a");
        w.write(DbWrite::InsertVimAccount(acc.clone()))
            .await
            .unwrap();
        // Queued before any is awaited: one group, one transaction.
        let a = w.enqueue(bump(acc.id)).await.unwrap();
        let p = w.enqueue(DbWrite::Panic).await.unwrap();
        let c = w.enqueue(bump(acc.id)).await.unwrap();
        for rx in [a, p, c] {
            let e = rx
                .await
                .expect("a reply, not a dropped channel")
                .unwrap_err();
            assert!(e.to_string().contains("panic"), "{e}");
        }
        assert_eq!(restarts(&db, acc.id), 0, "{}: nothing committed", db.name());
        for _ in 0..3 {
            w.write(bump(acc.id)).await.unwrap();
        }
        w.ping().await.unwrap();
        assert_eq!(
            restarts(&db, acc.id),
            3,
            "{}: the writer goes on",
            db.name()
        );
    }
}

#[actix_rt::test]
async fn writes_wait_for_room_when_the_bound_is_reached() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, SqliteConnection};
    use std::time::Duration;

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
    // Another writer holds the database: the DbActor cannot commit (it waits in SQLite's busy
    // handler, well within its timeout), so the two writes in flight stay in flight.
    let mut blocker = SqliteConnection::establish(&db.url).unwrap();
    blocker.batch_execute("BEGIN IMMEDIATE").unwrap();
    let first = w.enqueue(bump(acc.id)).await.unwrap();
    let second = w.enqueue(bump(acc.id)).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), w.enqueue(bump(acc.id)))
            .await
            .is_err(),
        "a third write must wait while two are in flight and none is committed"
    );
    blocker.batch_execute("ROLLBACK").unwrap();
    let third = tokio::time::timeout(Duration::from_secs(10), w.enqueue(bump(acc.id)))
        .await
        .expect("room is made as soon as a write is committed")
        .unwrap();
    for rx in [first, second, third] {
        rx.await.unwrap().unwrap();
    }
    assert_eq!(restarts(&db, acc.id), 3, "all three committed, once each");
}
