//! Benchmark (not a test): the store's share of accepting an action. Actions of 1,000 CREATE
//! tasks in the shape of issue 13's workload (a bridge net at every index divisible by 5, the
//! four indexes after it VMs with one virtual interface on that net, with their params) are
//! inserted one after the other through the DbActor, on SQLite and, when
//! `ROVIM_TEST_DATABASE_URL` is set, PostgreSQL; prints the time per insert.
//!
//! Run: `cargo bench -p rovim-store --bench accept` (`-- --actions N` to change the count).

use std::time::Instant;

use rovim_core::{
    Action, ActionId, InterfaceType, ItemId, ItemKind, NetType, TaskKey, TaskParams, VimAccountId,
};
use rovim_store::test_support::{TestDb, postgres, sim_account, sqlite};
use rovim_store::{DbWrite, DbWriter, NewAction, NewInterface, NewNet, NewTask, NewVm};

const PER_ACTION: u32 = 1_000;

fn main() {
    let mut actions: usize = 20;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--actions") {
        actions = args[i + 1].parse().expect("--actions N");
    }
    let mut dbs: Vec<TestDb> = vec![sqlite()];
    dbs.extend(postgres());
    println!("backend   actions  rows/action  insert p50  insert max  rows/s");
    for db in dbs {
        actix_rt::System::new().block_on(run(db, actions));
    }
}

fn params(json: serde_json::Value) -> TaskParams {
    serde_json::from_value(json).expect("workload params parse")
}

/// One action of the workload, as the planner makes it.
fn workload_action(vim: VimAccountId) -> NewAction {
    let id = ActionId::generate();
    let mut a = NewAction {
        id,
        description: "bench".into(),
        tasks: Vec::new(),
        nets: Vec::new(),
        vms: Vec::new(),
    };
    let mut net = ItemId::generate();
    for i in 0..PER_ACTION {
        let item = ItemId::generate();
        let (kind, p) = if i % 5 == 0 {
            net = item;
            a.nets.push(NewNet {
                id: item,
                vim_account: vim,
                name: format!("net-{i}"),
                net_type: NetType::Bridge,
            });
            let p =
                params(serde_json::json!({"net": {"name": format!("net-{i}"), "type": "bridge"}}));
            (ItemKind::Net, p)
        } else {
            a.vms.push(NewVm {
                id: item,
                vim_account: vim,
                name: format!("vm-{i}"),
                interfaces: vec![NewInterface {
                    id: ItemId::generate(),
                    index: 0,
                    net: Some(net),
                    iface_type: InterfaceType::Virtual,
                    floating_ip: false,
                    port_security: true,
                }],
            });
            let first = i - i % 5;
            let p = params(serde_json::json!({"vm": {"name": format!("vm-{i}"),
                "image_id": "bench-image", "flavor_id": "bench-flavor",
                "networks": [{"net": {"task": first}, "type": "virtual"}]}}));
            (ItemKind::Vm, p)
        };
        let mut t = NewTask::new(i, vim, kind, item, Action::Create);
        t.params = Some(p);
        if kind == ItemKind::Vm {
            t.depends_on = vec![TaskKey::new(id, i - i % 5)];
        }
        a.tasks.push(t);
    }
    a
}

async fn run(db: TestDb, actions: usize) {
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let w = DbWriter::start(db.store.clone(), 1_024, log);
    let vim = sim_account(&w, "bench").await;
    let mut times = Vec::with_capacity(actions);
    let mut rows = 0;
    for _ in 0..actions {
        let a = workload_action(vim);
        rows = a.row_count();
        let started = Instant::now();
        w.write(DbWrite::InsertAction(a)).await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let total: f64 = times.iter().sum();
    times.sort_by(f64::total_cmp);
    println!(
        "{:<9} {:>7} {:>12} {:>8.1} ms {:>8.1} ms {:>7.0}",
        db.name(),
        actions,
        rows,
        times[times.len() / 2],
        times[times.len() - 1],
        (rows as f64 * actions as f64) / (total / 1e3)
    );
}
