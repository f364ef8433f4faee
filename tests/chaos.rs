//! The chaos suite: real `rovim serve` processes killed with SIGKILL at random moments of create
//! and delete phases, against an out-of-process sim VIM that is slow and holds create answers
//! (the "it happened but rovim never heard" window). Each round restarts rovim and at once
//! submits work while its actor boots: creates, plain teardowns (VM DELETEs and the net's, no
//! `depends_on`), DELETEs racing in-flight CREATEs, second DELETEs, and FINDs of the same VIM
//! net from two actions. The counter invariants are checked after every round; at the end every
//! acknowledged action must have settled, a final teardown must leave the VIM empty, and no
//! element may have a twin or leak.
//!
//! `ROVIM_CHAOS_KILLS` sets the kills per backend (50 by default; the soak runs 500, see
//! docs/reliability.md); `ROVIM_CHAOS_SEED` replays a run.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rovim_store::test_support::{TestDb, backends};
use rovim_store::{Store, reads};
use serde_json::{Value, json};
use support::*;

/// What the test knows it asked for.
#[derive(Default)]
struct World {
    /// Acknowledged actions (201).
    actions: Vec<String>,
    /// Nets made by acknowledged creates, with their VMs, not yet asked to be deleted.
    deployments: Vec<Deployment>,
    /// Items already asked to be deleted (a second DELETE of them must be a no-op).
    deleted: Vec<(&'static str, String)>,
    /// Names of nets made, for FINDs.
    net_names: Vec<String>,
    next: usize,
    refused: usize,
    /// Work to submit next (the second FIND of a net, from another action).
    queued: Vec<Value>,
}

struct Deployment {
    net: String,
    vms: Vec<String>,
}

fn task(action: &str, item: &str, id: &str) -> Value {
    json!({"vim_account": "chaos", "action": action, "item": item, "item_id": id})
}

impl World {
    fn create(&mut self, rng: &mut StdRng) -> Value {
        let name = format!("n{}", self.next);
        self.next += 1;
        let mut tasks = vec![
            json!({"vim_account": "chaos", "action": "CREATE", "item": "net",
            "params": {"name": name}}),
        ];
        for v in 0..rng.random_range(1..=3) {
            tasks.push(
                json!({"vim_account": "chaos", "action": "CREATE", "item": "vm",
                "params": {"name": format!("{name}-vm{v}"), "image_id": "i", "flavor_id": "f",
                           "networks": [{"net": "TASK-0"}]}}),
            );
        }
        json!({"description": "chaos create", "tasks": tasks})
    }

    /// The next piece of work, picked at random among what makes sense now.
    fn next_work(&mut self, rng: &mut StdRng) -> (Value, Option<Deployment>) {
        if let Some(body) = self.queued.pop() {
            return (body, None);
        }
        let roll = rng.random_range(0..10);
        if self.deployments.is_empty() || roll < 4 {
            return (self.create(rng), None);
        }
        let i = rng.random_range(0..self.deployments.len());
        match roll {
            // A plain teardown (VMs then the net, sometimes the net first), no depends_on.
            4..=6 => {
                let d = self.deployments.swap_remove(i);
                let mut tasks: Vec<Value> = d.vms.iter().map(|v| task("DELETE", "vm", v)).collect();
                let net = task("DELETE", "net", &d.net);
                if rng.random_bool(0.3) {
                    tasks.insert(0, net);
                } else {
                    tasks.push(net);
                }
                self.deleted.push(("net", d.net.clone()));
                self.deleted.extend(d.vms.iter().map(|v| ("vm", v.clone())));
                (
                    json!({"description": "chaos teardown", "tasks": tasks}),
                    Some(d),
                )
            }
            // One VM of the newest deployment: likely racing its CREATE.
            7 => {
                let d = self.deployments.last_mut().unwrap();
                let Some(vm) = d.vms.pop() else {
                    return (self.create(rng), None);
                };
                self.deleted.push(("vm", vm.clone()));
                (
                    json!({"description": "chaos race", "tasks": [task("DELETE", "vm", &vm)]}),
                    None,
                )
            }
            // A second DELETE of something already asked to be deleted.
            8 if !self.deleted.is_empty() => {
                let (kind, id) = self.deleted[rng.random_range(0..self.deleted.len())].clone();
                (
                    json!({"description": "chaos again", "tasks": [task("DELETE", kind, &id)]}),
                    None,
                )
            }
            // A FIND of a net that exists (or is being made).
            _ => {
                let name = self.net_names[rng.random_range(0..self.net_names.len())].clone();
                let find = json!({"vim_account": "chaos", "action": "FIND", "item": "net",
                    "find": {"name": name}});
                let body = json!({"description": "chaos find", "tasks": [find]});
                // The same VIM net found from a second action, right after.
                self.queued.push(body.clone());
                (body, None)
            }
        }
    }

    /// Records an acknowledged submission.
    fn acked(&mut self, body: &Value, answer: &Value) {
        self.actions
            .push(answer["action_id"].as_str().unwrap().to_owned());
        if body["description"] == "chaos create" {
            let ids: Vec<String> = answer["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["item_id"].as_str().unwrap().to_owned())
                .collect();
            self.net_names.push(
                body["tasks"][0]["params"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            self.deployments.push(Deployment {
                net: ids[0].clone(),
                vms: ids[1..].to_vec(),
            });
        }
    }
}

/// An error message without its ids and numbers, so failures group by kind.
fn failure_kind(msg: &str) -> String {
    msg.split_whitespace()
        .map(|w| {
            if w.chars()
                .filter(|c| c.is_ascii_hexdigit() || *c == '-')
                .count()
                >= 12
            {
                "<id>".to_owned()
            } else {
                w.chars().filter(|c| !c.is_ascii_digit()).collect()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(120)
        .collect()
}

/// Items not DELETED, as the database holds them: what the final teardown removes.
fn remaining(store: &Store) -> (Vec<String>, Vec<String>) {
    use diesel::prelude::*;
    use rovim_store::schema::{nets, vms};
    let mut c = store.conn().unwrap();
    let n: Vec<String> = nets::table
        .filter(nets::status.ne("DELETED"))
        .select(nets::id)
        .load(&mut *c)
        .unwrap();
    let v: Vec<String> = vms::table
        .filter(vms::status.ne("DELETED"))
        .select(vms::id)
        .load(&mut *c)
        .unwrap();
    (n, v)
}

async fn run(db: TestDb, kills: usize, seed: u64) {
    let backend = db.name();
    let mut rng = StdRng::seed_from_u64(seed);
    let http = http();
    let sim = sim_vim(r#"{"build_seconds": 0, "latency_ms": 20, "stall_after_create_ms": 60}"#);
    let mut world = World::default();
    let vim_id = {
        let rovim = serve(&db.url);
        register_sim(&http, &rovim, "chaos", &sim).await
    };
    let started = Instant::now();
    for round in 0..kills {
        let rovim = serve(&db.url);
        // Submitted at once: the VimActor is booting and reloading the last round's work.
        for _ in 0..rng.random_range(1..=3) {
            let (body, _) = world.next_work(&mut rng);
            match submit(&http, &rovim, &body).await {
                Some(answer) => world.acked(&body, &answer),
                None => world.refused += 1,
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        let v = check_counters(&db.store);
        assert!(
            v.is_empty(),
            "{backend}, seed {seed}, round {round}: {v:#?}"
        );
        drop(rovim); // SIGKILL
    }
    let chaos_secs = started.elapsed().as_secs_f64();

    // The last incarnation finishes everything acknowledged.
    let rovim = serve(&db.url);
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for id in &world.actions {
        let a = settle(&http, &rovim, id).await;
        for t in a["tasks"].as_array().unwrap() {
            *statuses
                .entry(t["status"].as_str().unwrap().to_owned())
                .or_default() += 1;
            if t["status"] == "FAILED" {
                let why = failure_kind(t["error"].as_str().unwrap_or_default());
                *failures.entry(why).or_default() += 1;
            }
        }
    }
    let v = check_counters(&db.store);
    assert!(v.is_empty(), "{backend}, seed {seed}: {v:#?}");

    // Then tears down whatever is left, VMs first only by list order, and checks the VIM empty.
    let (nets, vms) = remaining(&db.store);
    let mut tasks: Vec<Value> = vms.iter().map(|v| task("DELETE", "vm", v)).collect();
    tasks.extend(nets.iter().map(|n| task("DELETE", "net", n)));
    if !tasks.is_empty() {
        let body = json!({"description": "final teardown", "tasks": tasks});
        let answer = submit(&http, &rovim, &body)
            .await
            .expect("final teardown accepted");
        let done = settle(&http, &rovim, answer["action_id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "DONE", "{backend}, seed {seed}: {done}");
    }
    let v = check_all(&http, &db.store, &vim_id, &sim).await;
    assert!(v.is_empty(), "{backend}, seed {seed}: {v:#?}");
    let state = get(&http, format!("{}/v1/state", sim.url)).await;
    assert_eq!(
        (
            state["nets"].clone(),
            state["vms"].clone(),
            state["ports"].clone()
        ),
        (json!(0), json!(0), json!(0)),
        "{backend}, seed {seed}: the VIM is empty after the final teardown: {state}"
    );
    let mut c = db.store.conn().unwrap();
    for id in &world.actions {
        let (a, _) = reads::get_action(&mut c, id.parse().unwrap()).unwrap();
        assert_ne!(a.overall_status(), "BUILD", "{backend}: action {id} lost");
    }
    eprintln!(
        "chaos {backend}: {kills} kills in {chaos_secs:.0} s (seed {seed}), {} actions acknowledged, \
         {} refused while dying; tasks {statuses:?}, failed because {failures:?}; VIM calls {}; \
         0 lost, 0 twins, 0 leaks, counters exact",
        world.actions.len(),
        world.refused,
        state["calls"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_nothing_and_repeats_nothing() {
    let kills: usize = std::env::var("ROVIM_CHAOS_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("ROVIM_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    for db in backends() {
        run(db, kills, seed).await;
    }
}
