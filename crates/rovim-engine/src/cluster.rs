//! This instance's part in sharing the VIM accounts of one database (issue 14): it registers,
//! keeps its liveness lock, runs a lease round every `cluster.renew_secs` (and at once when
//! another instance hands accounts back, or when an account is added here), and passes on what
//! other instances announce (new work, settled tasks, events) and relays this instance's
//! events to them. All of it on one dedicated connection
//! and one plain thread (the `Keeper`), outside the actors: the rules are in
//! `rovim_store::leases` and `rovim_core::lease_plan`; the Supervisor acts on each [`Round`].
//!
//! The leases' local validity ([`LeaseClock`]) lets a VimActor refuse to call its VIM once its
//! instance has not renewed for nearly a lease (a paused or cut-off instance): by then another
//! instance may run the account. Its writes are refused by the fence in any case.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use actix::{Message, Recipient};
use rovim_core::{ActionId, TaskKey, VimAccountId};
use rovim_store::leases::{self, Fence, Member, Round};
use rovim_store::{AnyConnection, Backend, Store, StoreError, notify};
use slog::{info, warn};

use crate::config::ClusterConfig;
use crate::events::{Event, EventBus};
use crate::metrics::Metrics;

/// A lease round's result, for the Supervisor.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct LeaseRound(pub Round);

/// Another instance stored tasks of `vim` in `action`.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RemoteWork {
    pub vim: VimAccountId,
    pub action: ActionId,
}

/// Tasks settled by another instance (watchers here may wait on them).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RemoteSettled(pub Vec<TaskKey>);

/// Another instance edited a VIM account (this one may run it).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RemoteAccountChanged(pub VimAccountId);

/// The connection to the database was made again: notifications may have been missed.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Relistened;

/// Where the keeper reports (the Supervisor; events to the event stream).
pub struct KeeperReports {
    pub events: Arc<EventBus>,
    pub round: Recipient<LeaseRound>,
    pub work: Recipient<RemoteWork>,
    pub settled: Recipient<RemoteSettled>,
    pub account: Recipient<RemoteAccountChanged>,
    pub relistened: Recipient<Relistened>,
}

/// Until when this instance's leases are surely its own, by the local monotonic clock.
#[derive(Clone, Debug)]
pub struct LeaseClock {
    base: Instant,
    /// Milliseconds after `base`; `u64::MAX` when not enforced (SQLite: one instance).
    until_ms: Arc<AtomicU64>,
}

impl LeaseClock {
    fn new(enforced: bool) -> LeaseClock {
        LeaseClock {
            base: Instant::now(),
            until_ms: Arc::new(AtomicU64::new(if enforced { 0 } else { u64::MAX })),
        }
    }

    /// Whether the leases may still be relied on.
    pub fn valid(&self) -> bool {
        let until = self.until_ms.load(Ordering::Relaxed);
        until == u64::MAX || (self.base.elapsed().as_millis() as u64) < until
    }

    /// A round that started at `at` renewed the leases for `lease`; a margin of a tenth is
    /// kept for the database's and this clock's differences.
    fn renewed(&self, at: Instant, lease: Duration) {
        if self.until_ms.load(Ordering::Relaxed) == u64::MAX {
            return;
        }
        let until = at.duration_since(self.base) + lease.mul_f64(0.9);
        self.until_ms
            .store(until.as_millis() as u64, Ordering::Relaxed);
    }
}

enum Command {
    RoundNow,
    /// Hand every lease back, leave the member list, and stop.
    Leave(tokio::sync::oneshot::Sender<()>),
}

/// The handle to the keeper thread.
#[derive(Clone)]
pub struct Keeper {
    tx: Sender<Command>,
    pub id: Arc<str>,
    pub clock: LeaseClock,
    /// Live instances at the last round (this one included).
    pub live: Arc<AtomicUsize>,
}

impl Keeper {
    /// The fence of this instance's lease on `vim` at `epoch`.
    pub fn fence(&self, vim: VimAccountId, epoch: i64) -> Fence {
        Fence {
            vim,
            owner: self.id.clone(),
            epoch,
        }
    }

    /// Asks for a lease round now (an account was added here, or an actor lost its lease).
    pub fn round_now(&self) {
        let _ = self.tx.send(Command::RoundNow);
    }

    /// Hands every lease back and stops the keeper (a planned stop); waits until done.
    pub async fn leave(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Command::Leave(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// A joined instance whose keeper thread is not started yet (it needs the Supervisor).
pub struct Joined {
    pub keeper: Keeper,
    pub first: Round,
    rx: Receiver<Command>,
    conn: AnyConnection,
    member: Member,
    store: Store,
    config: ClusterConfig,
    log: slog::Logger,
    metrics: Arc<Metrics>,
}

/// This instance's id: the host's name (a pod's name in Kubernetes) and a random part, new at
/// every start.
pub fn instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rovim".into());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}", &suffix[..8])
}

fn connect(store: &Store, member: &Member) -> Result<AnyConnection, StoreError> {
    let mut conn = store.dedicated_conn()?;
    leases::hold_liveness(&mut conn, member)?;
    notify::listen(&mut conn)?;
    Ok(conn)
}

/// Registers this instance as `id` and runs its first lease round (blocking: call it off the
/// runtime).
pub fn join(
    store: &Store,
    id: String,
    config: &ClusterConfig,
    metrics: Arc<Metrics>,
    log: &slog::Logger,
) -> Result<Joined, StoreError> {
    let member = Member {
        id: id.clone(),
        address: config.advertise.clone().unwrap_or_default(),
        version: env!("CARGO_PKG_VERSION").into(),
        lock_key: i64::from(rand::random::<u32>() >> 1),
    };
    let clock = LeaseClock::new(store.backend() == Backend::Postgres);
    let mut conn = connect(store, &member)?;
    let started = Instant::now();
    let first = leases::lease_round(&mut conn, &member, config.lease_secs)?;
    clock.renewed(started, Duration::from_secs_f64(config.lease_secs));
    if first.live_instances > 1 {
        leases::announce(&mut conn, &member.id)?;
    }
    let (tx, rx) = channel();
    let log = log.new(slog::o!("instance" => id.clone()));
    info!(log, "joined"; "accounts" => first.held.len(), "of" => first.accounts,
        "live_instances" => first.live_instances);
    Ok(Joined {
        keeper: Keeper {
            tx,
            id: id.into(),
            clock,
            live: Arc::new(AtomicUsize::new(first.live_instances)),
        },
        first,
        rx,
        conn,
        member,
        store: store.clone(),
        config: config.clone(),
        log,
        metrics,
    })
}

impl Joined {
    /// Starts the keeper thread, reporting to `reports`. It ends after a planned stop
    /// ([`Keeper::leave`]), and once the last [`Keeper`] handle is dropped (the engine gone
    /// without one: as after a crash, its leases are free once its connection closes).
    pub fn run(self, reports: KeeperReports) -> std::thread::JoinHandle<()> {
        std::thread::Builder::new()
            .name("rovim-keeper".into())
            .spawn(move || self.keep(reports))
            .expect("spawn the keeper thread")
    }

    fn keep(self, reports: KeeperReports) {
        let Joined {
            keeper: Keeper {
                clock, live, tx, ..
            },
            first,
            rx,
            conn,
            member,
            store,
            config,
            log,
            metrics,
        } = self;
        // Not this handle's sender: it would keep the channel open after the engine's last.
        drop(tx);
        let renew = Duration::from_secs_f64(config.renew_secs);
        let lease = Duration::from_secs_f64(config.lease_secs);
        // PostgreSQL's notifications are read by polling the connection (libpq's way). SQLite
        // has one instance, whose leases nobody can take: a round only when asked (an account
        // added), not a write every few seconds in the way of the DbActor's.
        let (tick, renew) = match store.backend() {
            Backend::Postgres => (Duration::from_millis(20), renew),
            Backend::Sqlite => (Duration::from_secs(3600), Duration::from_secs(3600)),
        };
        // This instance's own events, for the others (only PostgreSQL can have others).
        let relay = (store.backend() == Backend::Postgres).then(|| {
            let (tx, rx) = channel();
            reports.events.relay_to(tx);
            rx
        });
        let mut conn = Some(conn);
        let mut next_round = Instant::now() + renew;
        let mut held: Vec<VimAccountId> = first.held.iter().map(|l| l.vim).collect();
        loop {
            match rx.recv_timeout(tick) {
                Ok(Command::RoundNow) => next_round = Instant::now(),
                Ok(Command::Leave(done)) => {
                    if let Some(c) = conn.as_mut() {
                        match leases::leave(c, &member.id) {
                            Ok(n) => info!(log, "left: leases handed back"; "accounts" => n),
                            Err(e) => {
                                warn!(log, "cannot hand the leases back; they expire instead"; "error" => %e)
                            }
                        }
                    }
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The engine is gone without a planned stop: as after a crash, the leases
                // are free once this connection closes.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if conn.is_none() {
                match connect(&store, &member) {
                    Ok(c) => {
                        info!(log, "reconnected to the database");
                        conn = Some(c);
                        next_round = Instant::now();
                        reports.relistened.do_send(Relistened);
                    }
                    Err(e) => {
                        warn!(log, "cannot reach the database; retrying"; "error" => %e);
                        // What happens meanwhile is not relayed (the stream is not a log).
                        relay.iter().for_each(|r| r.try_iter().for_each(drop));
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            if let AnyConnection::Postgresql(pg) = c {
                let mut broken = false;
                let mut notes = Vec::new();
                for n in pg.notifications_iter() {
                    match n {
                        Ok(n) => notes.push(n),
                        Err(e) => {
                            warn!(log, "lost the database connection"; "error" => %e);
                            broken = true;
                            break;
                        }
                    }
                }
                for n in notes {
                    if deliver(&n.channel, &n.payload, &member.id, &reports) {
                        next_round = Instant::now();
                    }
                }
                if broken {
                    conn = None;
                    continue;
                }
            }
            if let Some(relay) = &relay {
                let live = live.load(Ordering::Relaxed);
                if let Err(e) = relay_events(c, relay, &member.id, live, &log) {
                    warn!(log, "lost the database connection"; "error" => %e);
                    conn = None;
                    continue;
                }
            }
            if Instant::now() < next_round {
                continue;
            }
            let started = Instant::now();
            match leases::lease_round(c, &member, config.lease_secs) {
                Ok(round) => {
                    clock.renewed(started, lease);
                    live.store(round.live_instances, Ordering::Relaxed);
                    metrics
                        .lease_renewal
                        .observe(started.elapsed().as_secs_f64());
                    metrics.leases_held.set(round.held.len() as i64);
                    metrics.takeovers.inc_by(round.claimed.len() as u64);
                    let lost: Vec<VimAccountId> = held
                        .iter()
                        .filter(|v| {
                            !round.held.iter().any(|l| l.vim == **v) && !round.released.contains(v)
                        })
                        .copied()
                        .collect();
                    if !lost.is_empty() {
                        warn!(log, "leases lost: another instance runs these accounts now";
                            "accounts" => lost.len());
                        metrics.leases_lost.inc_by(lost.len() as u64);
                    }
                    held = round.held.iter().map(|l| l.vim).collect();
                    if !round.claimed.is_empty() || !round.released.is_empty() {
                        info!(log, "leases changed"; "claimed" => round.claimed.len(),
                            "released" => round.released.len(), "held" => round.held.len(),
                            "live_instances" => round.live_instances);
                    }
                    // `do_send`: a busy Supervisor's mailbox is past its capacity at times,
                    // and a round must never be dropped.
                    if !reports.round.connected() {
                        return; // the Supervisor is gone
                    }
                    reports.round.do_send(LeaseRound(round));
                }
                Err(e) => {
                    warn!(log, "lease round failed"; "error" => %e);
                    conn = None;
                }
            }
            next_round = started + renew;
        }
    }
}

/// Sends this instance's events published since the last call to the other instances, when
/// there are others.
fn relay_events(
    conn: &mut AnyConnection,
    relay: &Receiver<Event>,
    me: &str,
    live_instances: usize,
    log: &slog::Logger,
) -> Result<(), StoreError> {
    let pending = relay.try_iter();
    if live_instances < 2 {
        pending.for_each(drop);
        return Ok(());
    }
    let events: Vec<String> = pending
        .filter_map(|e| serde_json::to_string(&e).ok())
        .collect();
    if events.is_empty() {
        return Ok(());
    }
    let too_large = notify::relay_events(conn, me, &events)?;
    if too_large > 0 {
        warn!(log, "events too large to relay to the other instances"; "events" => too_large);
    }
    Ok(())
}

/// Passes one notification on; true when it asks for a lease round now.
fn deliver(channel: &str, payload: &str, me: &str, reports: &KeeperReports) -> bool {
    let (from, rest) = payload.split_once(' ').unwrap_or((payload, ""));
    if from == me {
        return false;
    }
    match channel {
        notify::LEASES => true,
        notify::WORK => {
            let mut parts = rest.split(' ');
            if let (Some(Ok(vim)), Some(Ok(action))) =
                (parts.next().map(str::parse), parts.next().map(str::parse))
            {
                reports.work.do_send(RemoteWork { vim, action });
            }
            false
        }
        notify::ACCOUNTS => {
            if let Ok(vim) = rest.parse() {
                reports.account.do_send(RemoteAccountChanged(vim));
            }
            false
        }
        notify::EVENTS => {
            // Events another version cannot read are not shown (a rolling upgrade's moment).
            if let Ok(events) = serde_json::from_str::<Vec<Event>>(rest) {
                events
                    .into_iter()
                    .for_each(|e| reports.events.publish_remote(e));
            }
            false
        }
        notify::SETTLED => {
            let keys: Vec<TaskKey> = rest.split(',').filter_map(|k| k.parse().ok()).collect();
            if !keys.is_empty() {
                reports.settled.do_send(RemoteSettled(keys));
            }
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix::{Actor, Context, Handler};

    /// Takes every report and does nothing with it.
    struct Sink;
    impl Actor for Sink {
        type Context = Context<Self>;
    }
    macro_rules! ignores {
        ($($m:ty),*) => {$(
            impl Handler<$m> for Sink {
                type Result = ();
                fn handle(&mut self, _: $m, _: &mut Context<Self>) {}
            }
        )*};
    }
    ignores!(
        LeaseRound,
        RemoteWork,
        RemoteSettled,
        RemoteAccountChanged,
        Relistened
    );

    fn started(db: &rovim_store::test_support::TestDb) -> (Keeper, std::thread::JoinHandle<()>) {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let joined = join(
            &db.store,
            instance_id(),
            &ClusterConfig::default(),
            Arc::new(Metrics::new()),
            &log,
        )
        .unwrap();
        let keeper = joined.keeper.clone();
        let sink = Sink.start();
        let thread = joined.run(KeeperReports {
            events: Arc::default(),
            round: sink.clone().recipient(),
            work: sink.clone().recipient(),
            settled: sink.clone().recipient(),
            account: sink.clone().recipient(),
            relistened: sink.recipient(),
        });
        (keeper, thread)
    }

    /// Whether the thread ends within `tries` × 20 ms.
    async fn ends(thread: &std::thread::JoinHandle<()>, tries: usize) -> bool {
        for _ in 0..tries {
            if thread.is_finished() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[actix_rt::test]
    async fn the_keeper_thread_ends_after_a_planned_stop_or_with_its_last_handle() {
        let db = rovim_store::test_support::sqlite();
        let (keeper, thread) = started(&db);
        keeper.leave().await;
        assert!(ends(&thread, 100).await, "after leave");

        // Dropped without a planned stop (an engine dropped, its actors gone): the thread, on
        // SQLite waiting up to an hour for its next round, ends at once all the same.
        let (keeper, thread) = started(&db);
        let other = keeper.clone();
        drop(keeper);
        assert!(!ends(&thread, 10).await, "a handle is left");
        drop(other);
        assert!(ends(&thread, 100).await, "with its last handle");
    }
}
