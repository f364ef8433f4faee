//! `rovim bench`: OSM RO's baseline workload ([`workload`]) through the HTTP API, against a
//! `rovim serve` it starts (a child process, so only the service's CPU and memory are counted)
//! or a running one (`--api-url`). The clock runs from the first `POST /v1/actions` until every
//! action reads DONE; the service's `/metrics` before and after give VIM calls, rows written, CPU
//! seconds and peak RSS.

mod report;
mod scrape;
mod service;
mod workload;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures_util::future::try_join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Api, Client};
use report::{Report, Round};
use scrape::Sample;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Sim VIM accounts (in the service's process), one action each per round.
    #[arg(long, default_value_t = 10)]
    pub vims: usize,
    /// Tasks per round, split over the accounts.
    #[arg(long, default_value_t = 10_000)]
    pub tasks: usize,
    /// Latency of every sim VIM call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// `engine.max_in_flight` of the service the bench starts (a running service keeps its own).
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Rounds of the workload, one after the other on the same service: the later rounds run on
    /// a database holding the earlier ones.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Then restart the service it started and time until every account's actor is up with
    /// its live elements loaded; report the memory per live element after that reload and
    /// again `--settle-secs` later. The VIMs then run in a `rovim sim-vim` child, so that they
    /// outlive the service with their elements (an in-process sim starts empty, and the
    /// service would find every element gone).
    #[arg(long)]
    pub restart: bool,
    /// With `--restart`: when the second memory reading is taken, after every live element
    /// had its first poll (they are spread over the 60 s ACTIVE interval).
    #[arg(long, default_value_t = 65)]
    pub settle_secs: u64,
}

pub fn run(api: &Api, database_url: Option<String>, args: BenchArgs) -> anyhow::Result<()> {
    if args.vims == 0 || args.tasks < args.vims {
        bail!("--vims must be at least 1 and --tasks at least --vims");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut sim = None;
        let (api, mut service) = match &api.api_url {
            Some(_) => {
                if args.max_in_flight.is_some() || database_url.is_some() {
                    bail!(
                        "--max-in-flight and --database-url configure the service the bench starts; \
                         with --api-url the running service keeps its own config"
                    );
                }
                if args.restart {
                    bail!("--restart restarts the service the bench starts: not with --api-url");
                }
                (api.clone(), None)
            }
            None => {
                if args.restart {
                    sim = Some(service::SimVim::start(args.latency_ms)?);
                }
                let s = service::Service::start(database_url.as_deref(), args.max_in_flight)?;
                let api = Api {
                    api_url: Some(s.base.clone()),
                    ..api.clone()
                };
                (api, Some(s))
            }
        };
        let client = Client::new(&api)?;
        let sim_url = sim.as_ref().map(|s: &service::SimVim| s.base.clone());
        let (mut report, vims) =
            bench(&client, &args, service.as_ref(), sim_url.as_deref()).await?;
        if let (Some(s), true) = (service.as_mut(), args.restart) {
            let settle = Duration::from_secs(args.settle_secs);
            report.restart = Some(restart(s, &api, &vims, report.live_elements(), settle).await?);
        }
        report.print(api.output)?;
        drop(service);
        drop(sim);
        Ok(())
    })
}

async fn bench(
    c: &Client,
    args: &BenchArgs,
    service: Option<&service::Service>,
    sim_url: Option<&str>,
) -> anyhow::Result<(Report, Vec<String>)> {
    let run_tag = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut vims = Vec::new();
    for v in 0..args.vims {
        let name = format!("{run_tag}-{v}");
        // An external sim has its knobs from its command line; every account shares it.
        let body = match sim_url {
            Some(url) => json!({"name": name, "type": "sim", "url": url}),
            None => json!({"name": name, "type": "sim", "url": format!("sim://{name}"),
                           "config": {"latency_ms": args.latency_ms, "build_seconds": 0}}),
        };
        let made = c
            .send(c.req(Method::POST, "/v1/vim-accounts").json(&body))
            .await?;
        vims.push(made["id"].as_str().context("account id")?.to_owned());
    }
    for id in &vims {
        wait_enabled(c, id).await?;
    }
    let before = Sample::of(&metrics(c).await?);
    let mut rounds = Vec::new();
    for r in 0..args.rounds {
        rounds.push(round(c, args, &vims, &format!("{run_tag}-r{r}")).await?);
    }
    let after = Sample::of(&metrics(c).await?);
    let report = Report {
        vims: args.vims,
        tasks: args.tasks,
        latency_ms: args.latency_ms,
        max_in_flight: args.max_in_flight,
        database: service.map_or_else(|| "the running service's".into(), |s| s.database.clone()),
        external_sim: sim_url.is_some(),
        rounds,
        before,
        after,
        restart: None,
    };
    Ok((report, vims))
}

/// Restarts the service and times until every account is ENABLED again (its actor up with its
/// tasks and live elements loaded); then reads its memory, and again `settle` later.
async fn restart(
    s: &mut service::Service,
    api: &Api,
    vims: &[String],
    live: usize,
    settle: Duration,
) -> anyhow::Result<report::Restart> {
    let started = Instant::now();
    s.restart()?;
    let api = Api {
        api_url: Some(s.base.clone()),
        ..api.clone()
    };
    let c = Client::new(&api)?;
    for id in vims {
        wait_enabled(&c, id).await?;
    }
    let up = started.elapsed();
    let text = metrics(&c).await?;
    tokio::time::sleep(settle).await;
    let later = metrics(&c).await?;
    Ok(report::Restart {
        up,
        live_elements: live,
        resident_bytes: scrape::sum(&text, "process_resident_memory_bytes"),
        anonymous_bytes: scrape::sum(&text, "rovim_resident_anonymous_memory_bytes"),
        settle,
        settled_anonymous_bytes: scrape::sum(&later, "rovim_resident_anonymous_memory_bytes"),
    })
}

async fn wait_enabled(c: &Client, id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v = c
            .send(c.req(Method::GET, &format!("/v1/vim-accounts/{id}")))
            .await?;
        if v["status"] == "ENABLED" {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "VIM account {id} is not ENABLED after 30 s: {}",
                v["status"]
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn metrics(c: &Client) -> anyhow::Result<String> {
    let resp = c.req(Method::GET, "/metrics").send().await?;
    if !resp.status().is_success() {
        bail!("GET /metrics: {}", resp.status());
    }
    Ok(resp.text().await?)
}

/// One round: every account's action submitted at once, then followed until all are done.
async fn round(c: &Client, args: &BenchArgs, vims: &[String], tag: &str) -> anyhow::Result<Round> {
    let shares = workload::shares(args.tasks, vims.len());
    let bodies: Vec<Value> = vims
        .iter()
        .zip(&shares)
        .enumerate()
        .map(|(v, (vim, &n))| workload::action(vim, n, &format!("{tag}-{v}")))
        .collect();
    let started = Instant::now();
    let submits = bodies.iter().map(|body| async move {
        let sent = Instant::now();
        let v = c
            .send(c.req(Method::POST, "/v1/actions").json(body))
            .await?;
        let id = v["action_id"].as_str().context("action_id")?.to_owned();
        anyhow::Ok((id, sent.elapsed(), Instant::now()))
    });
    let submitted = try_join_all(submits).await?;
    // The first action to be accepted: how soon after its 201 does a task of it finish?
    let (first_id, _, first_back) = submitted
        .iter()
        .min_by_key(|(_, _, back)| *back)
        .cloned()
        .context("no action")?;
    let first_done = first_done(c, &first_id).await? - first_back;
    let follows = submitted.iter().map(|(id, _, _)| follow(c, id));
    let outcomes = try_join_all(follows).await?;
    let seconds = started.elapsed().as_secs_f64();
    let failed: u64 = outcomes.iter().sum();
    if failed > 0 {
        bail!("{failed} tasks failed in round {tag}: the bench measures successful work only");
    }
    let mut accept: Vec<Duration> = submitted.iter().map(|(_, took, _)| *took).collect();
    accept.sort();
    Ok(Round {
        tasks: args.tasks,
        seconds,
        first_done,
        accept_median: accept[accept.len() / 2],
        accept_max: *accept.last().context("no action")?,
    })
}

/// When the action first shows a settled task (polled, so at most ~1 ms late).
async fn first_done(c: &Client, id: &str) -> anyhow::Result<Instant> {
    let path = format!("/v1/actions/{id}?tasks=false");
    loop {
        let v = c.send(c.req(Method::GET, &path)).await?;
        let settled =
            v["number_done"].as_u64().unwrap_or(0) + v["number_failed"].as_u64().unwrap_or(0);
        if settled > 0 {
            return Ok(Instant::now());
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

/// Long-polls the action until it is no longer in BUILD; returns its failed tasks.
async fn follow(c: &Client, id: &str) -> anyhow::Result<u64> {
    let path = format!("/v1/actions/{id}?tasks=false&wait=30");
    loop {
        let v = c.send(c.req(Method::GET, &path)).await?;
        if v["status"] != "BUILD" {
            return Ok(v["number_failed"].as_u64().unwrap_or(0));
        }
    }
}
