//! What `rovim bench` prints: one line per round, then the totals per task.

use std::time::Duration;

use serde::Serialize;

use super::scrape::Sample;
use crate::client::Output;

#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub tasks: usize,
    pub seconds: f64,
    #[serde(serialize_with = "millis")]
    pub first_done: Duration,
    #[serde(serialize_with = "millis")]
    pub accept_median: Duration,
    #[serde(serialize_with = "millis")]
    pub accept_max: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

impl Round {
    pub fn rate(&self) -> f64 {
        self.tasks as f64 / self.seconds
    }
}

/// A restart of the service on the database the rounds filled.
#[derive(Debug, Clone, Serialize)]
pub struct Restart {
    #[serde(serialize_with = "millis")]
    pub up: Duration,
    pub live_elements: usize,
    pub resident_bytes: f64,
    /// Without mapped files (the database read through mmap).
    pub anonymous_bytes: f64,
    /// The second reading, this long after the first.
    #[serde(serialize_with = "millis")]
    pub settle: Duration,
    pub settled_anonymous_bytes: f64,
}

impl Restart {
    fn per_element(&self, bytes: f64) -> f64 {
        bytes / self.live_elements.max(1) as f64
    }
}

pub struct Report {
    pub vims: usize,
    pub tasks: usize,
    pub latency_ms: u64,
    pub max_in_flight: Option<usize>,
    pub database: String,
    /// The VIMs are a `rovim sim-vim` child, over HTTP, rather than in the service.
    pub external_sim: bool,
    pub rounds: Vec<Round>,
    pub before: Sample,
    pub after: Sample,
    pub restart: Option<Restart>,
}

/// The run's totals, per task.
#[derive(Debug, Serialize)]
struct Totals {
    tasks: usize,
    seconds: f64,
    tasks_per_second: f64,
    vim_calls_per_task: f64,
    rows_written_per_task: f64,
    cpu_seconds_per_1000_tasks: f64,
    peak_rss_mb: f64,
}

impl Report {
    /// Every task of the bench creates one element that stays.
    pub fn live_elements(&self) -> usize {
        self.rounds.iter().map(|r| r.tasks).sum()
    }

    fn totals(&self) -> Totals {
        let tasks: usize = self.rounds.iter().map(|r| r.tasks).sum();
        let seconds: f64 = self.rounds.iter().map(|r| r.seconds).sum();
        let per_task = |d: f64| d / tasks.max(1) as f64;
        Totals {
            tasks,
            seconds,
            tasks_per_second: tasks as f64 / seconds,
            vim_calls_per_task: per_task(self.after.vim_calls - self.before.vim_calls),
            rows_written_per_task: per_task(self.after.db_rows - self.before.db_rows),
            cpu_seconds_per_1000_tasks: 1000.0
                * per_task(self.after.cpu_seconds - self.before.cpu_seconds),
            peak_rss_mb: self.after.peak_rss_bytes / 1e6,
        }
    }

    pub fn print(&self, out: Output) -> anyhow::Result<()> {
        let totals = self.totals();
        if out != Output::Table {
            let v = serde_json::json!({
                "vims": self.vims, "tasks_per_round": self.tasks, "latency_ms": self.latency_ms,
                "max_in_flight": self.max_in_flight, "database": self.database,
                "external_sim": self.external_sim,
                "rounds": self.rounds, "totals": totals, "restart": self.restart,
            });
            match out {
                Output::Yaml => print!("{}", rovim_core::yaml::to_string(&v)?),
                _ => println!("{}", serde_json::to_string_pretty(&v)?),
            }
            return Ok(());
        }
        let mif = self
            .max_in_flight
            .map_or_else(|| "the service's".into(), |n| n.to_string());
        let sims = if self.external_sim {
            "accounts on one `rovim sim-vim` (HTTP)"
        } else {
            "sim VIMs"
        };
        println!(
            "rovim bench: {} {sims}, {} tasks per round, {} ms per VIM call, max_in_flight {mif}, database {}",
            self.vims, self.tasks, self.latency_ms, self.database
        );
        println!("round   tasks  seconds    tasks/s  first done  accept p50  accept max");
        for (i, r) in self.rounds.iter().enumerate() {
            println!(
                "{:>5} {:>7} {:>8.2} {:>10.0} {:>8.1} ms {:>7.1} ms {:>7.1} ms",
                i + 1,
                r.tasks,
                r.seconds,
                r.rate(),
                ms(r.first_done),
                ms(r.accept_median),
                ms(r.accept_max)
            );
        }
        if let (Some(first), Some(last)) = (self.rounds.first(), self.rounds.last())
            && self.rounds.len() > 1
        {
            println!(
                "last round / first round: {:.0} %",
                100.0 * last.rate() / first.rate()
            );
        }
        println!(
            "total: {} tasks in {:.2} s = {:.0} tasks/s; per task {:.2} VIM calls, {:.2} rows written; \
             {:.3} CPU s per 1,000 tasks; peak RSS {:.0} MB",
            totals.tasks,
            totals.seconds,
            totals.tasks_per_second,
            totals.vim_calls_per_task,
            totals.rows_written_per_task,
            totals.cpu_seconds_per_1000_tasks,
            totals.peak_rss_mb
        );
        if let Some(r) = &self.restart {
            println!(
                "restart: every actor up with its {} live elements {:.0} ms after the start; \
                 resident then {:.0} MB, {:.0} MB of it the process's own (no mapped files) = \
                 {:.2} KB per live element; {:.0} s later {:.0} MB = {:.2} KB per live element",
                r.live_elements,
                ms(r.up),
                r.resident_bytes / 1e6,
                r.anonymous_bytes / 1e6,
                r.per_element(r.anonymous_bytes) / 1e3,
                r.settle.as_secs_f64(),
                r.settled_anonymous_bytes / 1e6,
                r.per_element(r.settled_anonymous_bytes) / 1e3
            );
        }
        Ok(())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
