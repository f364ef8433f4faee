//! Benchmark (not a test): 100,000 task outcomes written through the DbActor, on SQLite and, when
//! `ROVIM_TEST_DATABASE_URL` is set, PostgreSQL. Each write is one task outcome (status, VIM id)
//! plus its counter increment, as a VimActor sends them; up to 1,024 are in flight at once and
//! the DbActor commits whatever is queued in one transaction.
//!
//! Run: `cargo bench -p rovim-store --bench db_writes` (`-- --tasks N` to change the count).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rovim_core::{Action, ActionId, ItemId, ItemKind, TaskKey, TaskStatus};
use rovim_store::test_support::{TestDb, postgres, sim_account, sqlite};
use rovim_store::{DbWrite, DbWriter, NewAction, NewTask, TaskUpdate, WriteBatch};

const PER_ACTION: u32 = 1_000;
const IN_FLIGHT: usize = 1_024;

fn main() {
    let mut tasks: u32 = 100_000;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--tasks") {
        tasks = args[i + 1].parse().expect("--tasks N");
    }
    let mut dbs: Vec<TestDb> = vec![sqlite()];
    dbs.extend(postgres());
    println!("backend   tasks    seconds  outcomes/s  commits  mean group  mean commit");
    for db in dbs {
        actix_rt::System::new().block_on(run(db, tasks));
    }
}

async fn run(db: TestDb, total: u32) {
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let w = DbWriter::start(db.store.clone(), IN_FLIGHT, log);
    let vim = sim_account(&w, "bench").await;
    let mut keys = Vec::with_capacity(total as usize);
    let mut left = total;
    while left > 0 {
        let n = left.min(PER_ACTION);
        let id = ActionId::generate();
        let tasks = (0..n)
            .map(|i| NewTask::new(i, vim, ItemKind::Net, ItemId::generate(), Action::Find))
            .collect();
        w.write(DbWrite::InsertAction(NewAction {
            id,
            description: "bench".into(),
            tasks,
            nets: vec![],
            vms: vec![],
        }))
        .await
        .unwrap();
        keys.extend((0..n).map(|i| TaskKey::new(id, i)));
        left -= n;
    }

    let commits_before = w.stats().commits.load(Ordering::Relaxed);
    let micros_before = w.stats().commit_micros.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut pending: VecDeque<
        tokio::sync::oneshot::Receiver<Result<rovim_store::Applied, rovim_store::StoreError>>,
    > = VecDeque::with_capacity(IN_FLIGHT);
    for (i, key) in keys.iter().enumerate() {
        let mut b = WriteBatch::default();
        let update = TaskUpdate {
            status: Some(TaskStatus::Done),
            vim_id: Some(Some(format!("net-{i}"))),
            ..Default::default()
        };
        b.tasks.push((*key, update));
        if pending.len() >= IN_FLIGHT {
            let rx = pending.pop_front().unwrap();
            rx.await.unwrap().unwrap();
        }
        pending.push_back(w.enqueue(DbWrite::Batch(b)).await.unwrap());
    }
    for rx in pending {
        rx.await.unwrap().unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let commits = w.stats().commits.load(Ordering::Relaxed) - commits_before;
    let commit_ms =
        (w.stats().commit_micros.load(Ordering::Relaxed) - micros_before) as f64 / 1000.0;

    // every outcome landed, counters exact
    let mut c = db.store.conn().unwrap();
    let done: i64 = keys
        .chunks(PER_ACTION as usize)
        .map(|k| {
            rovim_store::reads::get_action(&mut c, k[0].action)
                .unwrap()
                .0
                .number_done as i64
        })
        .sum();
    assert_eq!(done, total as i64, "every outcome is counted once");

    println!(
        "{:<9} {:>6} {:>9.2} {:>11.0} {:>8} {:>11.1} {:>9.2} ms",
        db.name(),
        total,
        secs,
        total as f64 / secs,
        commits,
        total as f64 / commits.max(1) as f64,
        commit_ms / commits.max(1) as f64
    );
}
