//! Leases of VIM accounts between instances (issue 14), on the real databases: fair shares,
//! hand-back when an instance joins, immediate takeover from a dead instance (PostgreSQL: its
//! liveness lock is gone), takeover from a paused one only after expiry, and the fence that
//! refuses a write from an owner that lost its lease.

mod common;

use std::sync::Arc;

use common::account;
use rovim_core::VimAccountId;
use rovim_store::leases::{
    Fence, Lease, Member, announce, hold_liveness, lease_round, leave, list_instances,
};
use rovim_store::test_support::{TestDb, backends, postgres};
use rovim_store::{AccountStatusUpdate, AnyConnection, DbWrite, DbWriter, StoreError, WriteBatch};

fn member(n: i64) -> Member {
    Member {
        id: format!("instance-{n}-{}", uuid::Uuid::new_v4().simple()),
        address: format!("http://10.0.0.{n}:8080"),
        version: "test".into(),
        // Random per run: test schemas share one database's advisory lock space.
        lock_key: (rand_key() % i32::MAX as u64) as i64,
    }
}

fn rand_key() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

async fn accounts(db: &TestDb, writer: &DbWriter, n: usize) -> Vec<VimAccountId> {
    let _ = db;
    let mut ids = Vec::new();
    for i in 0..n {
        let a = account(&format!("vim-{i}"));
        ids.push(a.id);
        writer.write(DbWrite::InsertVimAccount(a)).await.unwrap();
    }
    ids.sort();
    ids
}

fn joined(db: &TestDb, m: &Member) -> AnyConnection {
    let mut c = db.store.dedicated_conn().unwrap();
    hold_liveness(&mut c, m).unwrap();
    c
}

fn status_write(vim: VimAccountId, fence: Option<Fence>) -> DbWrite {
    DbWrite::Batch(WriteBatch {
        accounts: vec![(
            vim,
            AccountStatusUpdate {
                status: rovim_core::AccountStatus::Enabled,
                error_msg: None,
                restarts: 1,
            },
        )],
        fence,
        ..WriteBatch::default()
    })
}

fn fence(m: &Member, l: &Lease) -> Fence {
    Fence {
        vim: l.vim,
        owner: Arc::from(m.id.as_str()),
        epoch: l.epoch,
    }
}

#[actix_rt::test]
async fn one_instance_takes_every_account_and_a_restart_takes_them_over_at_once() {
    for db in backends() {
        let writer = DbWriter::start(db.store.clone(), 64, common::logger());
        let ids = accounts(&db, &writer, 5).await;
        let a = member(1);
        let mut ca = joined(&db, &a);
        let round = lease_round(&mut ca, &a, 10.0).unwrap();
        assert_eq!(round.held.iter().map(|l| l.vim).collect::<Vec<_>>(), ids);
        assert!(round.held.iter().all(|l| l.epoch == 1), "{round:?}");
        // Its own fence holds.
        writer
            .write(status_write(ids[0], Some(fence(&a, &round.held[0]))))
            .await
            .unwrap();
        // A restart: the old process is gone (its connection closed), a new id takes all now,
        // not after the 10 s expiry, each at the next epoch.
        drop(ca);
        let b = member(2);
        let mut cb = joined(&db, &b);
        let taken = lease_round(&mut cb, &b, 10.0).unwrap();
        assert_eq!(taken.held.len(), 5, "{}: {taken:?}", db.name());
        assert!(taken.held.iter().all(|l| l.epoch == 2));
        // On PostgreSQL the old owner's writes are refused (SQLite has one instance, made sure
        // by the file lock of `serve`: no fence there); the new owner's land.
        let stale = writer
            .write(status_write(ids[0], Some(fence(&a, &round.held[0]))))
            .await;
        match db.store.backend() {
            rovim_store::Backend::Postgres => assert!(
                matches!(stale, Err(StoreError::Fenced { vim }) if vim == ids[0]),
                "{stale:?}"
            ),
            rovim_store::Backend::Sqlite => assert!(stale.is_ok(), "{stale:?}"),
        }
        writer
            .write(status_write(ids[0], Some(fence(&b, &taken.held[0]))))
            .await
            .unwrap();
        let members = list_instances(&mut db.store.conn().unwrap()).unwrap();
        assert_eq!(members.len(), 1, "{members:?}");
        assert_eq!(members[0].id, b.id);
        assert_eq!(members[0].accounts, ids);
    }
}

#[actix_rt::test]
#[cfg_attr(
    rovim_no_pg,
    ignore = "needs PostgreSQL: set ROVIM_TEST_DATABASE_URL (bash .ci/run does)"
)]
async fn a_refused_write_does_not_hold_back_the_others_of_its_group_commit() {
    {
        let db = postgres().expect("ROVIM_TEST_DATABASE_URL");
        let writer = DbWriter::start(db.store.clone(), 64, common::logger());
        let ids = accounts(&db, &writer, 2).await;
        let a = member(1);
        let mut ca = joined(&db, &a);
        let held = lease_round(&mut ca, &a, 10.0).unwrap().held;
        let stale = Fence {
            epoch: held[0].epoch - 1,
            ..fence(&a, &held[0])
        };
        // Queued together: one commit.
        let r1 = writer
            .enqueue(status_write(ids[0], Some(stale)))
            .await
            .unwrap();
        let r2 = writer
            .enqueue(status_write(ids[1], Some(fence(&a, &held[1]))))
            .await
            .unwrap();
        assert!(matches!(r1.await.unwrap(), Err(StoreError::Fenced { .. })));
        r2.await.unwrap().unwrap();
        let restarts: Vec<i32> =
            rovim_store::accounts::list_vim_accounts(&mut db.store.conn().unwrap())
                .unwrap()
                .into_iter()
                .map(|a| a.restart_count)
                .collect();
        assert_eq!(
            restarts.iter().sum::<i32>(),
            1,
            "{}: {restarts:?}",
            db.name()
        );
    }
}

#[actix_rt::test]
#[cfg_attr(
    rovim_no_pg,
    ignore = "needs PostgreSQL: set ROVIM_TEST_DATABASE_URL (bash .ci/run does)"
)]
async fn instances_share_the_accounts_fairly_and_hand_back_when_one_joins_or_leaves() {
    let db = postgres().expect("ROVIM_TEST_DATABASE_URL");
    let writer = DbWriter::start(db.store.clone(), 64, common::logger());
    let ids = accounts(&db, &writer, 12).await;
    let ms: Vec<Member> = (1..=4).map(member).collect();
    let mut conns: Vec<AnyConnection> = ms.iter().take(3).map(|m| joined(&db, m)).collect();
    let mut held = vec![0usize; 4];
    for _ in 0..3 {
        for i in 0..3 {
            held[i] = lease_round(&mut conns[i], &ms[i], 10.0).unwrap().held.len();
        }
    }
    assert_eq!(&held[..3], &[4, 4, 4]);
    conns.push(joined(&db, &ms[3]));
    for _ in 0..2 {
        for i in 0..4 {
            held[i] = lease_round(&mut conns[i], &ms[i], 10.0).unwrap().held.len();
        }
    }
    assert_eq!(held, vec![3, 3, 3, 3]);
    // Balanced: more rounds move nothing.
    for i in 0..4 {
        let r = lease_round(&mut conns[i], &ms[i], 10.0).unwrap();
        assert!(r.claimed.is_empty() && r.released.is_empty(), "{r:?}");
    }
    // A planned stop hands everything back at once; the others take it in their next round.
    assert_eq!(leave(&mut conns[3], &ms[3].id).unwrap(), 3);
    for i in 0..3 {
        held[i] = lease_round(&mut conns[i], &ms[i], 10.0).unwrap().held.len();
    }
    assert_eq!(held[..3].iter().sum::<usize>(), 12);
    assert!(held[..3].iter().all(|&h| h == 4), "{held:?}");
    let members = list_instances(&mut db.store.conn().unwrap()).unwrap();
    assert_eq!(members.len(), 3);
    let mut all: Vec<VimAccountId> = members.iter().flat_map(|m| m.accounts.clone()).collect();
    all.sort();
    assert_eq!(all, ids, "every account owned once");
}

#[actix_rt::test]
#[cfg_attr(
    rovim_no_pg,
    ignore = "needs PostgreSQL: set ROVIM_TEST_DATABASE_URL (bash .ci/run does)"
)]
async fn a_dead_instance_is_taken_over_at_once_a_paused_one_only_after_its_lease_expires() {
    let db = postgres().expect("ROVIM_TEST_DATABASE_URL");
    let writer = DbWriter::start(db.store.clone(), 64, common::logger());
    accounts(&db, &writer, 4).await;
    let (a, b) = (member(1), member(2));
    let mut ca = joined(&db, &a);
    let mut cb = joined(&db, &b);
    assert_eq!(lease_round(&mut ca, &a, 1.0).unwrap().held.len(), 4);
    // B is live but A holds everything and is not short: B gets nothing yet (A hands 2 back
    // at its next round).
    assert_eq!(lease_round(&mut cb, &b, 1.0).unwrap().held.len(), 0);
    assert_eq!(lease_round(&mut ca, &a, 1.0).unwrap().released.len(), 2);
    assert_eq!(lease_round(&mut cb, &b, 1.0).unwrap().held.len(), 2);
    // A pauses (holds its lock, stops renewing): nothing moves before the expiry...
    assert_eq!(lease_round(&mut cb, &b, 1.0).unwrap().held.len(), 2);
    std::thread::sleep(std::time::Duration::from_millis(1_300));
    // ...then its leases are free: B takes them, at the next epoch.
    let took = lease_round(&mut cb, &b, 1.0).unwrap();
    assert_eq!(took.held.len(), 4, "{took:?}");
    assert_eq!(took.claimed.len(), 2);
    // A wakes up: its renewal finds nothing of its own any more (it stands down); being live
    // again, it gets its share back through B's hand-back, at newer epochs.
    assert_eq!(lease_round(&mut ca, &a, 1.0).unwrap().held.len(), 0);
    assert_eq!(lease_round(&mut cb, &b, 1.0).unwrap().released.len(), 2);
    let back = lease_round(&mut ca, &a, 1.0).unwrap();
    assert_eq!(back.held.len(), 2);
    assert!(back.held.iter().all(|l| l.epoch >= 3), "{back:?}");
    // A dies: B takes everything in its next round, no waiting for the expiry.
    drop(ca);
    let r = lease_round(&mut cb, &b, 10.0).unwrap();
    assert_eq!(r.held.len(), 4, "{r:?}");
    assert_eq!(r.live_instances, 1);
}

/// A joining instance announces itself after its first round: the others hear it at once (and
/// run a round then, sharing the accounts with it, instead of at their next renewal).
#[actix_rt::test]
#[cfg_attr(
    rovim_no_pg,
    ignore = "needs PostgreSQL: set ROVIM_TEST_DATABASE_URL (bash .ci/run does)"
)]
async fn a_joining_instance_is_announced_to_the_others() {
    let db = postgres().expect("ROVIM_TEST_DATABASE_URL");
    let (a, b) = (member(1), member(2));
    let mut ca = joined(&db, &a);
    rovim_store::notify::listen(&mut ca).unwrap();
    lease_round(&mut ca, &a, 10.0).unwrap();
    let mut cb = joined(&db, &b);
    let first = lease_round(&mut cb, &b, 10.0).unwrap();
    assert_eq!(first.live_instances, 2);
    announce(&mut cb, &b.id).unwrap();
    let AnyConnection::Postgresql(pg) = &mut ca else {
        unreachable!("a PostgreSQL connection")
    };
    let start = std::time::Instant::now();
    // Test schemas share one database, and so its notifications: b's is the one named by b.
    while !pg
        .notifications_iter()
        .filter_map(Result::ok)
        .any(|n| n.channel == rovim_store::notify::LEASES && n.payload == b.id)
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "a never heard b join"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
