//! Several `rovim serve` processes on one PostgreSQL database (issue 14), each VIM account an
//! out-of-process `rovim sim-vim` with latency, driven only over HTTP: submissions go to any
//! instance, round robin. In turn, on one cluster:
//! - kill -9 of an instance mid-run: its accounts are taken over (timed), every task ends
//!   (`ROVIM_CLUSTER_KILLS=20` repeats it for the median and max in docs/benchmarks.md);
//! - SIGSTOP of an owner past its lease, then SIGCONT: it stands down (its actors end with
//!   `lease_lost`), the work is finished by the others, and it rejoins;
//! - a 4th instance joins: ⌈12/4⌉ accounts each; SIGTERM: its accounts handed back within 1 s;
//! - a rolling restart of all three while actions run;
//! - PostgreSQL restarted under the cluster (when `ROVIM_TEST_PG_CTL` allows it).
//!
//! After each phase: every action settled with every task DONE, the counters exact, and, per
//! account against its sim, no twin, no leak, nothing lost (the chaos work's invariant checker).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use rovim_store::Store;
use rovim_store::test_support::postgres_empty;
use serde_json::{Value, json};
use support::sse::Events;
use support::*;

const ACCOUNTS: usize = 12;

/// Lease settings short enough for a test, in the proportions of the defaults (3 s / 10 s).
const FAST: [(&str, &str); 4] = [
    ("ROVIM_ENGINE__CLUSTER__RENEW_SECS", "0.3"),
    ("ROVIM_ENGINE__CLUSTER__LEASE_SECS", "2"),
    // Long: work stored by another instance must arrive by notification, not by the poll.
    ("ROVIM_ENGINE__CLUSTER__POLL_SECS", "30"),
    ("ROVIM_ENGINE__MAX_IN_FLIGHT", "4"),
];

fn member(url: &str) -> Proc {
    serve_with(url, &FAST)
}

fn signal(p: &Proc, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &p.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

struct Cluster {
    url: String,
    store: Store,
    members: Vec<Proc>,
    sims: Vec<Proc>,
    /// (account name, account id)
    accounts: Vec<(String, String)>,
    http: reqwest::Client,
    actions: Vec<String>,
    next: usize,
}

impl Cluster {
    fn any(&self) -> &Proc {
        &self.members[0]
    }

    async fn instances(&self, via: &Proc) -> Vec<Value> {
        let v = get(&self.http, format!("{}/v1/instances", via.url)).await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Account id -> owner, as any instance shows it.
    async fn owners(&self) -> BTreeMap<String, Option<String>> {
        let v = get(&self.http, format!("{}/v1/vim-accounts", self.any().url)).await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["id"].as_str().unwrap().to_owned(),
                    a["owner"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }

    /// Waits until `n` instances are live and share the accounts at most ⌈12/n⌉ each; returns
    /// how long it took.
    async fn balanced(&self, n: usize, within: Duration) -> Duration {
        let start = Instant::now();
        let share = ACCOUNTS.div_ceil(n);
        loop {
            let all = self.instances(self.any()).await;
            let counts: Vec<usize> = all
                .iter()
                .map(|i| i["vim_accounts"].as_array().unwrap().len())
                .collect();
            if all.len() == n
                && counts.iter().sum::<usize>() == ACCOUNTS
                && counts.iter().all(|&c| c <= share)
            {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "not balanced over {n} within {within:?}: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One action per account (a net and `vms` VMs on it), each sent to the next instance.
    async fn submit_round(&mut self, vms: usize) {
        for (a, (name, _)) in self.accounts.clone().iter().enumerate() {
            let n = self.next;
            self.next += 1;
            let mut tasks = vec![
                json!({"vim_account": name, "action": "CREATE", "item": "net",
                "params": {"name": format!("n{n}")}}),
            ];
            for v in 0..vms {
                tasks.push(
                    json!({"vim_account": name, "action": "CREATE", "item": "vm",
                    "params": {"name": format!("n{n}-vm{v}"), "image_id": "i", "flavor_id": "f",
                               "networks": [{"net": "TASK-0"}]}}),
                );
            }
            let body = json!({"description": format!("cluster {n}"), "tasks": tasks});
            let to = &self.members[(n + a) % self.members.len()];
            let answer = submit(&self.http, to, &body)
                .await
                .unwrap_or_else(|| panic!("instance {} refused the action", to.url));
            self.actions
                .push(answer["action_id"].as_str().unwrap().to_owned());
        }
    }

    /// Every action settles with every task DONE; then the invariants, per account.
    async fn check(&self, phase: &str) {
        let via = self.any();
        for id in &self.actions {
            let a = settle(&self.http, via, id).await;
            assert_eq!(a["status"], "DONE", "{phase}: {a}");
        }
        let v = check_counters(&self.store);
        assert!(v.is_empty(), "{phase}: {v:#?}");
        for ((_, id), sim) in self.accounts.iter().zip(&self.sims) {
            let v = check_all(&self.http, &self.store, id, sim).await;
            assert!(v.is_empty(), "{phase}: account {id}: {v:#?}");
        }
    }

    async fn metric(&self, p: &Proc, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", p.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    rovim_no_pg,
    ignore = "needs PostgreSQL: set ROVIM_TEST_DATABASE_URL (bash .ci/run does)"
)]
async fn three_instances_share_the_accounts_and_survive_kills_pauses_joins_and_restarts() {
    let db = postgres_empty().expect("ROVIM_TEST_DATABASE_URL");
    let http = http();
    // Three started together on the fresh database: all migrate it (one at a time) and join.
    let members: Vec<Proc> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3).map(|_| s.spawn(|| member(&db.url))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let store = Store::open(&db.url).unwrap();
    let sims: Vec<Proc> = (0..ACCOUNTS)
        .map(|_| sim_vim(r#"{"build_seconds": 0, "latency_ms": 30}"#))
        .collect();
    let mut accounts = Vec::new();
    for (i, sim) in sims.iter().enumerate() {
        let name = format!("vim{i:02}");
        let id = register_sim(&http, &members[i % 3], &name, sim).await;
        accounts.push((name, id));
    }
    let mut c = Cluster {
        url: db.url.clone(),
        store,
        members,
        sims,
        accounts,
        http,
        actions: Vec::new(),
        next: 0,
    };
    c.balanced(3, Duration::from_secs(15)).await;

    // Work sent to an instance that does not run its account, and a dependency between two
    // accounts run by different instances, finish at once: by notification (the poll is 30 s).
    let owners = c.owners().await;
    let instance_ids: Vec<String> = {
        let mut ids = Vec::new();
        for m in &c.members {
            let all = c.instances(m).await;
            let me = all.iter().find(|i| i["this"] == true).unwrap();
            ids.push(me["id"].as_str().unwrap().to_owned());
        }
        ids
    };
    let owner_of = |account: &str| owners[account].clone().unwrap();
    let (a_name, a_id) = c.accounts[0].clone();
    let (b_name, b_id) = c
        .accounts
        .iter()
        .find(|(_, id)| owner_of(id) != owner_of(&a_id))
        .cloned()
        .expect("two accounts on different instances");
    let stranger = instance_ids
        .iter()
        .position(|i| *i != owner_of(&a_id) && *i != owner_of(&b_id))
        .expect("a third instance");
    let body = json!({"description": "across", "tasks": [
        {"vim_account": a_name, "action": "CREATE", "item": "net", "params": {"name": "across-a"}},
        {"vim_account": b_name, "action": "CREATE", "item": "net", "params": {"name": "across-b"}},
        {"vim_account": b_name, "action": "CREATE", "item": "vm", "depends_on": [0],
         "params": {"name": "across-vm", "image_id": "i", "flavor_id": "f",
                    "networks": [{"net": "TASK-1"}]}}]});
    // The third instance's event stream shows what the owners did (relayed to it).
    let mut events = Events::open(
        &c.http,
        &c.members[stranger],
        &format!("?vim_account={a_id}"),
        None,
    )
    .await;
    let sent = Instant::now();
    let answer = submit(&c.http, &c.members[stranger], &body).await.unwrap();
    let id = answer["action_id"].as_str().unwrap().to_owned();
    let done = settle(&c.http, &c.members[stranger], &id).await;
    let took = sent.elapsed();
    assert_eq!(done["status"], "DONE", "{done}");
    assert!(
        took < Duration::from_secs(2),
        "work stored by a third instance took {took:?} (the poll is 30 s, a long-poll 2 s)"
    );
    let seen = events
        .until(|kind, e| kind == "task_settled" && e["action"] == id.as_str())
        .await;
    let settled = &seen.last().unwrap().2;
    assert_eq!(settled["status"], "DONE", "{settled}");
    assert_eq!(settled["vim_account"], a_id.as_str(), "{settled}");
    eprintln!(
        "cluster: a third instance's event stream showed the net created by another instance \
         ({} events)",
        seen.len()
    );
    c.actions.push(id);
    c.next += 1;
    eprintln!(
        "cluster: an action sent to a third instance, a VM on one instance's account depending on \
         a net on another's: DONE in {} ms",
        took.as_millis()
    );

    // An account edited through an instance that does not run it: its owner restarts it with
    // the new settings (here: from an unreachable URL to a live sim), at once.
    let late_sim = sim_vim(r#"{"build_seconds": 0}"#);
    let late = c
        .http
        .post(format!("{}/v1/vim-accounts", c.any().url))
        .json(&json!({"name": "late", "type": "sim", "url": "http://127.0.0.1:9"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let late_id = late["id"].as_str().unwrap().to_owned();
    let show = |p: &Proc| format!("{}/v1/vim-accounts/{late_id}", p.url);
    let owner = loop {
        let v = get(&c.http, show(c.any())).await;
        if v["status"] == "ERROR"
            && let Some(o) = v["owner"].as_str()
        {
            break o.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let editor = instance_ids.iter().position(|i| *i != owner).unwrap();
    let edited = Instant::now();
    let r = c
        .http
        .patch(show(&c.members[editor]))
        .json(&json!({"url": late_sim.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    loop {
        let v = get(&c.http, show(c.any())).await;
        if v["status"] == "ENABLED" {
            break;
        }
        assert!(
            edited.elapsed() < Duration::from_secs(5),
            "the owner did not take the edit made on another instance: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "cluster: an account edited through another instance than its owner: running with the \
         new settings in {} ms",
        edited.elapsed().as_millis()
    );
    let r = c
        .http
        .delete(show(&c.members[editor]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    drop(late_sim);
    c.balanced(3, Duration::from_secs(15)).await;

    // kill -9 of an instance mid-run: 12 × 10 actions of 25 tasks = 3,000 tasks; then again,
    // `ROVIM_CLUSTER_KILLS` times in all (1 by default; docs/benchmarks.md quotes 20).
    let kills: usize = std::env::var("ROVIM_CLUSTER_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(1);
    let mut takeovers = Vec::new();
    for kill in 0..kills {
        for _ in 0..if kill == 0 { 10 } else { 1 } {
            c.submit_round(24).await;
        }
        let victim = c.members.remove(1);
        let victim_id = c
            .instances(&victim)
            .await
            .into_iter()
            .find(|i| i["this"] == true)
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let killed = Instant::now();
        drop(victim); // SIGKILL
        loop {
            let owners = c.owners().await;
            if owners
                .values()
                .all(|o| o.as_deref().is_some_and(|o| o != victim_id))
            {
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(15),
                "accounts of the killed instance not taken over within 15 s: {owners:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        takeovers.push(killed.elapsed());
        c.members.push(member(&c.url));
        c.balanced(3, Duration::from_secs(15)).await;
    }
    c.check("kill -9").await;
    takeovers.sort();
    eprintln!(
        "cluster: kill -9 of one of three mid-run, {kills} time(s): its accounts taken over in \
         {} ms (median), {} ms (max); {} tasks DONE, counters exact, no twin, no leak",
        takeovers[takeovers.len() / 2].as_millis(),
        takeovers.last().unwrap().as_millis(),
        c.actions.len() * 25
    );

    // SIGSTOP of an owner for longer than its lease, while its accounts have work.
    for _ in 0..4 {
        c.submit_round(24).await;
    }
    let paused = c.members.remove(2);
    signal(&paused, "-STOP");
    tokio::time::sleep(Duration::from_secs(5)).await;
    // The two others finish everything meanwhile.
    c.check("SIGSTOP (while paused)").await;
    signal(&paused, "-CONT");
    c.members.push(paused);
    // It stands down (its actors end on their lost leases) and rejoins with a share.
    c.balanced(3, Duration::from_secs(15)).await;
    let paused = c.members.last().unwrap();
    let lost = c.metric(paused, "rovim_leases_lost_total").await;
    assert!(lost > 0.0, "the paused instance lost no lease");
    let fenced = c.metric(paused, "rovim_db_fenced_writes_total").await;
    c.submit_round(24).await;
    c.check("SIGSTOP (after)").await;
    eprintln!(
        "cluster: SIGSTOP of an owner for 5 s (lease 2 s): its {lost} leases taken over, {fenced} \
         of its writes refused after it woke up, it stood down and rejoined; no twin"
    );

    // A fourth joins: 3 accounts each. It leaves with SIGTERM: handed back within a second.
    c.members.push(member(&c.url));
    let joined_in = c.balanced(4, Duration::from_secs(15)).await;
    let fourth = c.members.pop().unwrap();
    let its: BTreeSet<String> = {
        let all = c.instances(&fourth).await;
        let me = all.iter().find(|i| i["this"] == true).unwrap();
        me["vim_accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(its.len(), 3);
    let mut fourth = fourth;
    signal(&fourth, "-TERM");
    let left = Instant::now();
    let handed = loop {
        let owners = c.owners().await;
        let all = c.instances(c.any()).await;
        let live: BTreeSet<String> = all
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        if its
            .iter()
            .all(|a| owners[a].as_ref().is_some_and(|o| live.contains(o)))
            && all.len() == 3
        {
            break left.elapsed();
        }
        assert!(left.elapsed() < Duration::from_secs(5), "{owners:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let st = fourth.child.wait().unwrap();
    assert!(
        st.success(),
        "exit {st} after SIGTERM:\n{}",
        fourth.log_tail(30)
    );
    assert!(handed < Duration::from_secs(1), "handed back in {handed:?}");
    eprintln!(
        "cluster: a 4th instance balanced in {} ms; after its SIGTERM its 3 accounts run elsewhere in {} ms",
        joined_in.as_millis(),
        handed.as_millis()
    );

    // Rolling restart of all three while actions run.
    for _ in 0..4 {
        c.submit_round(24).await;
    }
    for i in 0..3 {
        let mut old = c.members.remove(0);
        signal(&old, "-TERM");
        let st = old.child.wait().unwrap();
        assert!(
            st.success(),
            "exit {st} after SIGTERM:\n{}",
            old.log_tail(30)
        );
        c.members.push(member(&c.url));
        let _ = i;
    }
    c.check("rolling restart").await;
    c.balanced(3, Duration::from_secs(15)).await;
    eprintln!("cluster: rolling restart of all three under load: nothing lost, nothing repeated");

    // PostgreSQL restarted under the cluster.
    if let Ok(cluster) = std::env::var("ROVIM_TEST_PG_CTL") {
        c.submit_round(24).await;
        pg_ctl(&cluster, "restart");
        c.balanced(3, Duration::from_secs(30)).await;
        c.submit_round(24).await;
        c.check("PostgreSQL restart").await;
        eprintln!(
            "cluster: PostgreSQL restarted under three instances: leases kept or regained, one owner each, no twin"
        );
    } else {
        rovim_core::test_peers::absent(
            "the PostgreSQL restart: ROVIM_TEST_PG_CTL is not set (the cluster to restart)",
        );
    }
}

fn pg_ctl(cluster: &str, verb: &str) {
    let mut args: Vec<&str> = vec!["--skip-systemctl-redirect"];
    args.extend(cluster.split_whitespace());
    args.push(verb);
    let ok = Command::new("pg_ctlcluster")
        .args(&args)
        .status()
        .unwrap()
        .success();
    assert!(ok, "pg_ctlcluster {args:?}");
}
