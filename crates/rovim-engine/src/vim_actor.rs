//! The VimActor: one per VIM account, a thin actix shell over a [`WorkingSet`]. On every start
//! it connects, checks the VIM and rebuilds its working set from the database; if any of that
//! fails it stops and the Supervisor tries again later (its tasks wait in the database).
//!
//! VIM calls run as separate tokio tasks (so a panicking connector fails one task, not the
//! actor); their results come back to the actor, which alone changes the working set. Any
//! database failure stops the actor: the next incarnation reloads what was committed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::fut::{ActorFutureExt, wrap_future};
use actix::prelude::*;
use rand::Rng;
use rovim_core::{ItemKind, ItemStatus, Outcome, TaskKey, VimAccountId};
use rovim_store::{DbWrite, VimAccount, reads};
use slog::{debug, info, o, warn};
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;

use crate::calls::CallResult;
use crate::live_set::{LiveSet, RefreshCall};
use crate::messages::{
    ActorDown, ActorUp, DownKind, Enqueue, ForeignSettled, Settled, StopActor, Watch,
};
use crate::rate_limit::RateLimiter;
use crate::refresh_scheduler::{RefreshDue, Register, Track, Unregister, Untrack};
use crate::sdn_actor::{SdnLink, SdnOp, SdnReply};
use crate::sdn_ports;
use crate::shared::{Shared, item_states, read};
use crate::task_entry::{ElementKey, TaskEntry, TaskSnapshot};
use crate::vim_call::{self, CallAbort, CallEnv, RefreshAnswer};
use crate::working_set::{NetUsersQuery, Outbox, TaskEntryWithStatus, WorkingSet};
use rovim_sdn::SdnNetState;

/// How often a net DELETE waiting for VM DELETEs looks again, besides being woken by them.
const NET_USERS_RECHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// Where a VimActor reports to (the Supervisor, as recipients so the two stay decoupled).
#[derive(Clone)]
pub struct Reports {
    pub up: Recipient<ActorUp>,
    pub down: Recipient<ActorDown>,
    pub watch: Recipient<Watch>,
    pub settled: Recipient<Settled>,
}

pub struct VimActor {
    account: VimAccount,
    generation: u64,
    shared: Shared,
    reports: Reports,
    log: slog::Logger,
    env: Option<Arc<CallEnv>>,
    ws: WorkingSet,
    /// Tasks that arrived while loading or while earlier arrivals were being admitted: kept in
    /// order, admitted in order.
    pending: Vec<TaskEntry>,
    admitting: bool,
    in_flight: HashMap<TaskKey, (ElementKey, AbortHandle)>,
    live: LiveSet,
    notice: StopNotice,
}

impl VimActor {
    pub fn new(account: VimAccount, generation: u64, shared: Shared, reports: Reports) -> VimActor {
        let log = shared
            .log
            .new(o!("vim" => account.id.to_string(), "vim_name" => account.name.clone()));
        let notice = StopNotice {
            vim: account.id,
            generation,
            down: reports.down.clone(),
            unregister: shared.refresh.clone().recipient(),
            reason: None,
            kind: DownKind::Failed,
        };
        let policy = shared.config.refresh.policy().unwrap_or_default();
        VimActor {
            account,
            generation,
            shared,
            reports,
            log,
            env: None,
            ws: WorkingSet::new(),
            pending: Vec::new(),
            admitting: true,
            in_flight: HashMap::new(),
            live: LiveSet::new(policy),
            notice,
        }
    }

    /// The text without the account's secret: a VIM's error may echo the request it refused,
    /// and this text is stored, shown and logged.
    fn scrub(&self, text: &str) -> String {
        match self.account.secret.as_ref().map(|s| s.expose()) {
            Some(Ok(secret)) => rovim_core::scrub_secret(text, secret),
            _ => text.to_owned(),
        }
    }

    fn fail(&mut self, ctx: &mut Context<Self>, reason: String) {
        let reason = self.scrub(&reason);
        warn!(self.log, "VimActor stops"; "reason" => &reason);
        self.notice.reason.get_or_insert(reason);
        ctx.stop();
    }

    fn boot(&mut self, ctx: &mut Context<Self>) {
        let vim = self.account.id;
        let account = self.account.clone();
        let shared = self.shared.clone();
        let boot = tokio::spawn(async move {
            let connector = shared
                .connectors
                .connect(&account)
                .map_err(|e| BootFailure::from(e.to_string()))?;
            let timeout = shared.config.call_timeout();
            match tokio::time::timeout(timeout, connector.check_connectivity()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if matches!(e, rovim_vim::VimError::Auth(_)) {
                        return Err(BootFailure {
                            reason: e.to_string(),
                            kind: DownKind::AuthRefused,
                        });
                    }
                    return Err(e.to_string().into());
                }
                Err(_) => {
                    return Err(format!(
                        "the VIM did not answer within {}",
                        rovim_vim::human_duration(timeout)
                    )
                    .into());
                }
            }
            let loaded = read(&shared.store, move |conn| {
                let records = reads::load_unfinished_tasks(conn, vim)?;
                let mut elements: Vec<ElementKey> =
                    records.iter().map(|r| (r.item_kind, r.item_id)).collect();
                elements.sort();
                elements.dedup();
                let items = item_states(conn, &elements)?;
                let tasks = records
                    .iter()
                    .map(|r| TaskEntryWithStatus {
                        entry: TaskEntry::from_record(r),
                        status: r.status,
                    })
                    .collect::<Vec<_>>();
                Ok((tasks, items))
            })
            .await
            .map_err(|e| BootFailure::from(e.to_string()))?;
            Ok((connector, loaded))
        });
        ctx.spawn(wrap_future::<_, Self>(boot).map(|res, act, ctx| {
            let res = res
                .map_err(|e| BootFailure::from(format!("the VimActor's start failed: {e}")))
                .and_then(|r| r);
            match res {
                Err(failure) => {
                    act.notice.kind = failure.kind;
                    act.fail(ctx, failure.reason)
                }
                Ok((connector, (tasks, items))) => {
                    let c = &act.shared.config;
                    let retry = c.retry_backoff().unwrap_or_else(|_| rovim_core::Backoff::actor_restart());
                    act.env = Some(Arc::new(CallEnv {
                        connector,
                        limiter: RateLimiter::new(c.rate_limit_qps),
                        permits: Semaphore::new(c.max_in_flight),
                        writer: act.shared.writer.clone(),
                        store: act.shared.store.clone(),
                        timeout: c.call_timeout(),
                        max_attempts: c.max_attempts,
                        throttle_deadline: c.throttle_deadline(),
                        in_use_deadline: c.in_use_deadline(),
                        retry,
                        sdn: act.account.sdn_controller.map(|controller| SdnLink {
                            actor: act.shared.sdn.clone(),
                            controller,
                            region: act.account.name.clone(),
                        }),
                        metrics: act.shared.metrics.clone(),
                        vim_label: act.account.id.to_string(),
                    }));
                    info!(act.log, "VimActor up"; "tasks" => tasks.len(), "generation" => act.generation);
                    act.ws.restore(tasks, &items);
                    act.start_refresh(ctx, &items);
                    act.reports.up.do_send(ActorUp { vim: act.account.id, generation: act.generation });
                    act.admitting = false;
                    act.pump(ctx);
                    act.admit_pending(ctx);
                }
            }
        }));
    }

    /// Admits queued tasks, reading the state of elements not in memory first.
    fn admit_pending(&mut self, ctx: &mut Context<Self>) {
        if self.admitting || self.pending.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.pending);
        let unknown = self.ws.unknown_elements(&entries);
        if unknown.is_empty() {
            self.ws.admit(entries, &HashMap::new());
            self.pump(ctx);
            return;
        }
        self.admitting = true;
        let fetch = read(&self.shared.store, move |conn| item_states(conn, &unknown));
        ctx.spawn(wrap_future::<_, Self>(fetch).map(move |res, act, ctx| {
            act.admitting = false;
            match res {
                Ok(items) => {
                    act.ws.admit(entries, &items);
                    act.pump(ctx);
                    act.admit_pending(ctx);
                }
                Err(e) => act.fail(ctx, format!("cannot read the database: {e}")),
            }
        }));
    }

    /// Carries out the working set's decisions.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let Outbox {
            batch,
            settled,
            calls,
            resolve,
            untrack,
            net_users,
            recheck,
        } = self.ws.schedule();
        for query in net_users {
            self.ask_net_users(query, ctx);
        }
        for element in recheck {
            ctx.run_later(NET_USERS_RECHECK, move |act, ctx| {
                act.ws.recheck(element);
                act.pump(ctx);
            });
        }
        if !untrack.is_empty() {
            self.live.forget(&untrack);
            self.shared.refresh.do_send(Untrack(untrack));
        }
        if !batch.is_empty() {
            let writer = self.shared.writer.clone();
            let report = self.reports.settled.clone();
            let metrics = self.shared.metrics.clone();
            let log = self.log.clone();
            let write = async move {
                let applied = writer.write(DbWrite::Batch(batch)).await?;
                // Only settlements this write committed are counted and told: one the database
                // already held (a duplicate in memory) changed nothing there.
                let committed: HashSet<TaskKey> = applied.settled.iter().map(|(k, _)| *k).collect();
                let settled: Vec<_> = settled
                    .into_iter()
                    .filter(|s| committed.contains(&s.key))
                    .collect();
                for snap in &settled {
                    debug!(log, "task settled"; "action" => snap.key.action.to_string(),
                        "task" => snap.key.to_string(), "status" => snap.status.as_str());
                    metrics
                        .tasks
                        .with_label_values(&[snap.action.as_str(), snap.status.as_str()])
                        .inc();
                }
                // Only once committed: a watcher that reads the database after registering
                // either sees the new state or gets this message.
                if !settled.is_empty() {
                    report.do_send(Settled(settled));
                }
                Ok::<(), rovim_store::StoreError>(())
            };
            ctx.spawn(wrap_future::<_, Self>(write).map(|res, act, ctx| {
                if let Err(e) = res {
                    act.fail(ctx, format!("cannot write to the database: {e}"));
                }
            }));
        }
        if let Some(env) = self.env.clone() {
            for order in calls {
                let (key, element) = (order.key, order.element);
                debug!(self.log, "VIM call"; "task" => key.to_string(), "call" => format!("{:?}", order.call));
                let handle = tokio::spawn(vim_call::run(env.clone(), order));
                self.in_flight.insert(key, (element, handle.abort_handle()));
                ctx.spawn(
                    wrap_future::<_, Self>(handle)
                        .map(move |res, act, ctx| act.on_call(key, res, ctx)),
                );
            }
        }
        if !resolve.is_empty() {
            self.resolve(resolve, ctx);
        }
    }

    fn on_call(
        &mut self,
        key: TaskKey,
        res: Result<Result<CallResult, CallAbort>, tokio::task::JoinError>,
        ctx: &mut Context<Self>,
    ) {
        let Some((element, _)) = self.in_flight.remove(&key) else {
            return;
        };
        let mut result = match res {
            Ok(Ok(r)) => r,
            Ok(Err(abort)) => return self.fail(ctx, abort.to_string()),
            Err(e) if e.is_cancelled() => return,
            Err(e) => {
                // A connector bug: fail this task with what is known, keep the actor.
                let msg = format!("internal error: the VIM call panicked: {e}");
                warn!(self.log, "VIM call panicked"; "task" => key.to_string(), "error" => &msg);
                CallResult {
                    key,
                    element,
                    outcome: Outcome::Failed {
                        error: msg,
                        leftover: None,
                    },
                    attempts: 1,
                    report: None,
                    interfaces: Vec::new(),
                    iface_nets: Vec::new(),
                }
            }
        };
        if let Outcome::Failed { error, .. } = &mut result.outcome {
            *error = self.scrub(error);
            info!(self.log, "task failed"; "task" => key.to_string(), "action" => key.action.to_string(), "error" => &*error);
        }
        if let Some(live) = self.live.on_outcome(&result) {
            self.track(vec![live], false);
        }
        self.ws.complete(result);
        self.pump(ctx);
    }

    /// Registers with the RefreshScheduler and tracks every live element, their first polls
    /// spread over one interval so a restart does not poll everything at once.
    fn start_refresh(
        &mut self,
        ctx: &mut Context<Self>,
        items: &HashMap<ElementKey, crate::working_set::ItemState>,
    ) {
        let batch_size = self
            .env
            .as_ref()
            .map_or(1, |e| e.connector.refresh_batch_size());
        self.shared.refresh.do_send(Register {
            vim: self.account.id,
            generation: self.generation,
            recipient: ctx.address().recipient(),
            batch_size,
        });
        let live = self.ws.live_elements().into_iter().map(|(element, _)| {
            let observed = items.get(&element).and_then(|i| i.observed.clone());
            (element, observed)
        });
        let live = self.live.restore(live);
        self.track(live, true);
    }

    /// Asks the RefreshScheduler to poll elements again after the interval of their status.
    fn track(&mut self, elements: Vec<(ElementKey, ItemStatus)>, spread: bool) {
        let mut rng = rand::rng();
        let elements = self.live.polls(elements, spread, || rng.random());
        if !elements.is_empty() {
            self.shared.refresh.do_send(Track {
                vim: self.account.id,
                elements,
            });
        }
    }

    /// Writes a batch; a failure stops the actor (its successor reloads what was committed).
    fn write(&mut self, batch: rovim_store::WriteBatch, ctx: &mut Context<Self>) {
        if batch.is_empty() {
            return;
        }
        let writer = self.shared.writer.clone();
        ctx.spawn(
            wrap_future::<_, Self>(async move { writer.write(DbWrite::Batch(batch)).await }).map(
                |res, act, ctx| {
                    if let Err(e) = res {
                        act.fail(ctx, format!("cannot write to the database: {e}"));
                    }
                },
            ),
        );
    }

    /// Applies a refresh answer: writes what changed and schedules the next polls.
    fn on_refresh(
        &mut self,
        call: RefreshCall,
        answer: Result<RefreshAnswer, String>,
        sdn: HashMap<ElementKey, SdnNetState>,
        ctx: &mut Context<Self>,
    ) {
        let applied = self.live.apply_refresh(&call, &answer, &sdn);
        for (element, vim_id) in &applied.gone {
            warn!(self.log, "element deleted outside rovim"; "item" => element.1.to_string(), "vim_id" => vim_id);
        }
        if answer.is_ok() && call.kind == ItemKind::Vm {
            self.sync_sdn_ports(&applied.again, ctx);
        }
        self.write(applied.batch, ctx);
        self.track(applied.again, false);
    }

    /// Makes each passthrough interface's SDN port match what the VIM reports.
    fn sync_sdn_ports(&mut self, vms: &[(ElementKey, ItemStatus)], ctx: &mut Context<Self>) {
        let Some(link) = self.env.as_ref().and_then(|e| e.sdn.clone()) else {
            return;
        };
        let vms: Vec<(ElementKey, String)> = vms
            .iter()
            .filter_map(|(e, _)| Some((*e, self.ws.live_vim_id(*e)?)))
            .collect();
        let work = self.live.port_work(&vms);
        if work.is_empty() {
            return;
        }
        ctx.spawn(
            wrap_future::<_, Self>(sdn_ports::carry_out(link, work)).map(|done, act, ctx| {
                let (batch, failures) = act.live.ports_done(done, || rand::rng().random());
                for (row, error) in failures {
                    warn!(act.log, "SDN port not made"; "interface" => row.to_string(), "error" => error);
                }
                act.write(batch, ctx);
            }),
        );
    }

    /// Reads which VMs are still on the net of a DELETE about to run.
    fn ask_net_users(&mut self, query: NetUsersQuery, ctx: &mut Context<Self>) {
        let vim = self.account.id;
        let (net, vim_id) = (query.element.1, query.vim_id.clone());
        let fetch = read(&self.shared.store, move |conn| {
            reads::net_users(conn, vim, net, vim_id.as_deref())
        });
        ctx.spawn(
            wrap_future::<_, Self>(fetch).map(move |res, act, ctx| match res {
                Ok(users) => {
                    act.ws.net_users(&query, &users);
                    act.pump(ctx);
                }
                Err(e) => act.fail(ctx, format!("cannot read the database: {e}")),
            }),
        );
    }

    /// Registers interest in tasks outside this actor, then reads their stored state.
    fn resolve(&mut self, keys: Vec<TaskKey>, ctx: &mut Context<Self>) {
        let watch = self.reports.watch.clone();
        let store = self.shared.store.clone();
        let vim = self.account.id;
        let lookup = async move {
            watch
                .send(Watch {
                    vim,
                    keys: keys.clone(),
                })
                .await
                .map_err(|e| e.to_string())?;
            read(&store, move |conn| {
                keys.into_iter()
                    .map(|k| {
                        Ok((
                            k,
                            reads::get_task(conn, k)?
                                .as_ref()
                                .map(TaskSnapshot::of_record),
                        ))
                    })
                    .collect::<Result<Vec<_>, rovim_store::StoreError>>()
            })
            .await
            .map_err(|e| e.to_string())
        };
        ctx.spawn(
            wrap_future::<_, Self>(lookup).map(|res, act, ctx| match res {
                Ok(answers) => {
                    act.ws.resolved(answers);
                    act.pump(ctx);
                }
                Err(e) => act.fail(ctx, format!("cannot look dependencies up: {e}")),
            }),
        );
    }
}

impl Actor for VimActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.boot(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        for (_, (_, handle)) in self.in_flight.drain() {
            handle.abort();
        }
    }
}

impl Handler<RefreshDue> for VimActor {
    type Result = ();

    /// One refresh call per kind for the batch (the scheduler keeps batches within the
    /// connector's size).
    fn handle(&mut self, msg: RefreshDue, ctx: &mut Context<Self>) {
        let Some(env) = self.env.clone() else { return };
        let due: Vec<(ElementKey, String)> = msg
            .0
            .into_iter()
            .filter_map(|e| Some((e, self.ws.live_vim_id(e)?)))
            .collect();
        for call in self.live.refresh_calls(due, env.sdn.is_some()) {
            let link = env.sdn.clone();
            let request = tokio::spawn(vim_call::refresh(env.clone(), call.kind, call.ids.clone()));
            let sdn_nets = call.sdn_nets.clone();
            let work = async move {
                let answer = match request.await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(e) => Err(format!("internal error: the refresh call failed: {e}")),
                };
                let mut sdn = HashMap::new();
                if let Some(link) = link {
                    for (element, id) in sdn_nets {
                        if let Ok(SdnReply::Net(state)) = link.call(SdnOp::ShowNet(id)).await {
                            sdn.insert(element, state);
                        }
                    }
                }
                (answer, sdn)
            };
            ctx.spawn(
                wrap_future::<_, Self>(work)
                    .map(move |(answer, sdn), act, ctx| act.on_refresh(call, answer, sdn, ctx)),
            );
        }
    }
}

impl Handler<Enqueue> for VimActor {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Context<Self>) {
        self.pending.extend(msg.0);
        self.admit_pending(ctx);
    }
}

impl Handler<ForeignSettled> for VimActor {
    type Result = ();

    fn handle(&mut self, msg: ForeignSettled, ctx: &mut Context<Self>) {
        for snap in msg.0 {
            self.ws.foreign_settled(snap);
        }
        self.pump(ctx);
    }
}

impl Handler<StopActor> for VimActor {
    type Result = ();

    fn handle(&mut self, _: StopActor, ctx: &mut Context<Self>) {
        self.notice
            .reason
            .get_or_insert_with(|| "stopped by the supervisor".into());
        ctx.stop();
    }
}

/// Why a start failed.
struct BootFailure {
    reason: String,
    kind: DownKind,
}

impl From<String> for BootFailure {
    fn from(reason: String) -> Self {
        BootFailure {
            reason,
            kind: DownKind::Failed,
        }
    }
}

/// Tells the Supervisor that this incarnation is gone, however it ends: a stop, or a panic that
/// drops the actor while unwinding (actix does not restart a panicked actor by itself).
struct StopNotice {
    vim: VimAccountId,
    generation: u64,
    down: Recipient<ActorDown>,
    unregister: Recipient<Unregister>,
    reason: Option<String>,
    kind: DownKind,
}

impl Drop for StopNotice {
    fn drop(&mut self) {
        let reason = self.reason.take().unwrap_or_else(|| {
            if std::thread::panicking() {
                "the VimActor panicked".into()
            } else {
                "the VimActor stopped".into()
            }
        });
        self.unregister.do_send(Unregister {
            vim: self.vim,
            generation: self.generation,
        });
        self.down.do_send(ActorDown {
            vim: self.vim,
            generation: self.generation,
            reason,
            kind: self.kind,
        });
    }
}
