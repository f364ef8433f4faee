//! The engine's Prometheus metrics: one registry per engine, handles shared by the actors.

use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};
use rovim_store::DbStats;

pub struct Metrics {
    registry: Registry,
    /// The standard `process_*` metrics, without the `rovim_` prefix dashboards do not expect.
    process: Registry,
    /// Highest resident set size so far (VmHWM), for benchmarks and capacity planning.
    peak_resident: prometheus::IntGauge,
    /// CPU seconds to the clock tick (`process_cpu_seconds_total` counts whole seconds).
    cpu_seconds: prometheus::Gauge,
    /// Resident memory that is the process's own (heap, stacks), without mapped files such as
    /// the SQLite database read through mmap.
    anonymous_resident: prometheus::IntGauge,
    /// Tasks that reached a final status (or DONE), by action and status.
    pub tasks: IntCounterVec,
    /// VIM call latency, by VIM account and call.
    pub vim_calls: HistogramVec,
    /// VIM call errors, by VIM account and error class.
    pub vim_errors: IntCounterVec,
    /// How late refresh batches go out after their earliest element fell due.
    pub refresh_lag: Histogram,
    /// VimActor restarts, by VIM account.
    pub restarts: IntCounterVec,
    /// 1 while a VIM account this instance runs is ENABLED, 0 while it is STARTING or ERROR.
    pub account_up: prometheus::IntGaugeVec,
    /// How VimActors ended, by VIM account and exit kind.
    pub exits: IntCounterVec,
    /// VIM accounts whose lease this instance holds.
    pub leases_held: prometheus::IntGauge,
    /// Orphans found by the latest listing or sweep, by VIM account.
    pub orphans: prometheus::IntGaugeVec,
    /// Orphans a sweep deleted, by VIM account.
    pub orphans_deleted: IntCounterVec,
    /// Elements found to differ from what was asked, by VIM account and kind.
    pub drift: IntCounterVec,
    /// Leases this instance took (free, expired or from a dead instance).
    pub takeovers: IntCounter,
    /// Leases this instance lost without handing them back (taken while it was paused or cut
    /// off).
    pub leases_lost: IntCounter,
    /// How long a lease round (heartbeat, renewal, rebalance) takes.
    pub lease_renewal: Histogram,
    db_commits: IntCounter,
    db_writes: IntCounter,
    db_rows: IntCounter,
    db_commit_seconds: prometheus::Counter,
    db_largest_group: prometheus::IntGauge,
    db_fenced: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("rovim".into()), None).expect("a valid prefix");
        let tasks = IntCounterVec::new(
            Opts::new(
                "tasks_settled_total",
                "Tasks that settled, by action and status",
            ),
            &["action", "status"],
        )
        .expect("valid metric");
        let buckets = vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ];
        let vim_calls = HistogramVec::new(
            HistogramOpts::new(
                "vim_call_seconds",
                "VIM call latency, by VIM account and call",
            )
            .buckets(buckets.clone()),
            &["vim", "call"],
        )
        .expect("valid metric");
        let vim_errors = IntCounterVec::new(
            Opts::new(
                "vim_call_errors_total",
                "VIM call errors, by VIM account and class",
            ),
            &["vim", "class"],
        )
        .expect("valid metric");
        let refresh_lag = Histogram::with_opts(
            HistogramOpts::new(
                "refresh_lag_seconds",
                "Delay between an element falling due and its refresh batch going out",
            )
            .buckets(buckets),
        )
        .expect("valid metric");
        let restarts = IntCounterVec::new(
            Opts::new("actor_restarts_total", "VimActor restarts, by VIM account"),
            &["vim"],
        )
        .expect("valid metric");
        let account_up = prometheus::IntGaugeVec::new(
            Opts::new(
                "vim_account_up",
                "1 while a VIM account this instance runs is ENABLED, 0 while STARTING or ERROR",
            ),
            &["vim"],
        )
        .expect("valid metric");
        let exits = IntCounterVec::new(
            Opts::new(
                "actor_exits_total",
                "VimActors that ended, by VIM account and how (vim_down, auth_refused, database, panicked, …)",
            ),
            &["vim", "exit"],
        )
        .expect("valid metric");
        let leases_held = prometheus::IntGauge::new(
            "leases_held",
            "VIM accounts whose lease this instance holds",
        )
        .expect("valid metric");
        let orphans = prometheus::IntGaugeVec::new(
            Opts::new(
                "orphans",
                "Elements tagged by this installation that no live item owns (latest listing), by VIM account",
            ),
            &["vim"],
        )
        .expect("valid metric");
        let orphans_deleted = IntCounterVec::new(
            Opts::new(
                "orphans_deleted_total",
                "Orphans deleted by sweeps, by VIM account",
            ),
            &["vim"],
        )
        .expect("valid metric");
        let drift = IntCounterVec::new(
            Opts::new(
                "drift_detected_total",
                "Elements found to differ from what was asked (flavor, image, interfaces, VLAN, type), by VIM account and kind",
            ),
            &["vim", "kind"],
        )
        .expect("valid metric");
        let takeovers = IntCounter::new(
            "lease_takeovers_total",
            "Leases this instance took: free, expired or from a departed instance",
        )
        .expect("valid metric");
        let leases_lost = IntCounter::new(
            "leases_lost_total",
            "Leases this instance lost without handing them back (taken over while it was paused or cut off)",
        )
        .expect("valid metric");
        let lease_renewal = Histogram::with_opts(
            HistogramOpts::new(
                "lease_renewal_seconds",
                "Duration of a lease round (heartbeat, renewal, rebalance)",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
        )
        .expect("valid metric");
        let db_commits =
            IntCounter::new("db_commits_total", "Transactions committed by the DbActor")
                .expect("valid metric");
        let db_writes = IntCounter::new(
            "db_writes_total",
            "Writes committed by the DbActor (writes / commits = mean batch size)",
        )
        .expect("valid metric");
        let db_rows = IntCounter::new(
            "db_rows_written_total",
            "Rows inserted or changed by the DbActor's committed writes",
        )
        .expect("valid metric");
        let peak_resident = prometheus::IntGauge::new(
            "peak_resident_memory_bytes",
            "Highest resident set size of the process so far",
        )
        .expect("valid metric");
        let anonymous_resident = prometheus::IntGauge::new(
            "resident_anonymous_memory_bytes",
            "Resident memory of the process without mapped files (RssAnon)",
        )
        .expect("valid metric");
        let cpu_seconds = prometheus::Gauge::new(
            "cpu_seconds",
            "User and system CPU time of the process, in seconds, to the clock tick",
        )
        .expect("valid metric");
        let db_commit_seconds =
            prometheus::Counter::new("db_commit_seconds_total", "Time spent committing")
                .expect("valid metric");
        let db_fenced = IntCounter::new(
            "db_fenced_writes_total",
            "Writes refused because their VIM account's lease had moved to another instance",
        )
        .expect("valid metric");
        let db_largest_group = prometheus::IntGauge::new(
            "db_largest_batch",
            "Largest batch committed in one transaction",
        )
        .expect("valid metric");
        for m in [
            Box::new(tasks.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(vim_calls.clone()),
            Box::new(vim_errors.clone()),
            Box::new(refresh_lag.clone()),
            Box::new(restarts.clone()),
            Box::new(account_up.clone()),
            Box::new(exits.clone()),
            Box::new(leases_held.clone()),
            Box::new(orphans.clone()),
            Box::new(orphans_deleted.clone()),
            Box::new(drift.clone()),
            Box::new(takeovers.clone()),
            Box::new(leases_lost.clone()),
            Box::new(lease_renewal.clone()),
            Box::new(db_commits.clone()),
            Box::new(db_writes.clone()),
            Box::new(db_rows.clone()),
            Box::new(peak_resident.clone()),
            Box::new(cpu_seconds.clone()),
            Box::new(anonymous_resident.clone()),
            Box::new(db_commit_seconds.clone()),
            Box::new(db_largest_group.clone()),
            Box::new(db_fenced.clone()),
        ] {
            registry.register(m).expect("unique metric names");
        }
        let process = Registry::new();
        #[cfg(target_os = "linux")]
        process
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique metric names");
        Metrics {
            registry,
            process,
            peak_resident,
            cpu_seconds,
            anonymous_resident,
            db_rows,
            tasks,
            vim_calls,
            vim_errors,
            refresh_lag,
            restarts,
            account_up,
            exits,
            leases_held,
            orphans,
            orphans_deleted,
            drift,
            takeovers,
            leases_lost,
            lease_renewal,
            db_commits,
            db_writes,
            db_commit_seconds,
            db_largest_group,
            db_fenced,
        }
    }

    pub fn observe_call(&self, vim: &str, call: &str, took: Duration, error: Option<&'static str>) {
        self.vim_calls
            .with_label_values(&[vim, call])
            .observe(took.as_secs_f64());
        if let Some(class) = error {
            self.vim_errors.with_label_values(&[vim, class]).inc();
        }
    }

    /// The text exposition of every metric, with the DbActor's counters brought up to date.
    pub fn render(&self, db: &DbStats) -> String {
        let catch_up = |c: &IntCounter, now: u64| {
            let seen = c.get();
            if now > seen {
                c.inc_by(now - seen);
            }
        };
        catch_up(&self.db_commits, db.commits.load(Ordering::Relaxed));
        catch_up(&self.db_writes, db.writes.load(Ordering::Relaxed));
        catch_up(&self.db_rows, db.rows.load(Ordering::Relaxed));
        catch_up(&self.db_fenced, db.fenced_writes.load(Ordering::Relaxed));
        if let Some(usage) = process_usage() {
            self.peak_resident.set(usage.peak_resident_bytes as i64);
            self.cpu_seconds.set(usage.cpu_seconds);
            self.anonymous_resident
                .set(usage.anonymous_resident_bytes as i64);
        }
        let secs = db.commit_micros.load(Ordering::Relaxed) as f64 / 1e6;
        if secs > self.db_commit_seconds.get() {
            self.db_commit_seconds
                .inc_by(secs - self.db_commit_seconds.get());
        }
        self.db_largest_group
            .set(db.largest_group.load(Ordering::Relaxed) as i64);
        let mut out = Vec::new();
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        let _ = TextEncoder::new().encode(&families, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

struct ProcessUsage {
    peak_resident_bytes: u64,
    anonymous_resident_bytes: u64,
    cpu_seconds: f64,
}

#[cfg(target_os = "linux")]
fn process_usage() -> Option<ProcessUsage> {
    let me = procfs::process::Process::myself().ok()?;
    let stat = me.stat().ok()?;
    let ticks = (stat.utime + stat.stime) as f64;
    let status = me.status().ok()?;
    Some(ProcessUsage {
        peak_resident_bytes: status.vmhwm? * 1024,
        anonymous_resident_bytes: status.rssanon? * 1024,
        cpu_seconds: ticks / procfs::ticks_per_second() as f64,
    })
}

#[cfg(not(target_os = "linux"))]
fn process_usage() -> Option<ProcessUsage> {
    None
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
