//! The VimActor: one per VIM account, a thin actix shell over two plain structs that decide,
//! the [`WorkingSet`] (its tasks) and the [`LiveSet`] (its live elements). On every start it
//! connects, checks the VIM and rebuilds its working set from the database ([`boot`]); if any
//! of that fails it stops and the Supervisor tries again later (its tasks wait in the database).
//! This file carries out the tasks' decisions; `live.rs` the live elements' (refresh, SDN
//! ports); `lookups.rs` what it reads outside itself (net users, other accounts' tasks).
//!
//! VIM calls run as separate tokio tasks (so a panicking connector fails one task, not the
//! actor); their results come back to the actor, which alone changes its structs. Any
//! database failure stops the actor: the next incarnation reloads what was committed.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use actix::fut::{ActorFutureExt, wrap_future};
use actix::prelude::*;
use futures_util::FutureExt;
use rovim_core::{Outcome, TaskKey};
use rovim_store::{FencedWriter, VimAccount};
use slog::{debug, info, o, warn};
use tokio::task::AbortHandle;

use crate::boot::{self, BootFailure, Booted};
use crate::calls::{CallOrder, CallResult};
use crate::commit::{self, SettledSink};
use crate::live_set::{FirstPoll, LiveSet};
use crate::messages::{ActorExit, ActorUp, Enqueue, Reports, StopActor};
use crate::refresh_scheduler::Untrack;
use crate::shared::{Shared, item_states, read};
use crate::stop_notice::StopNotice;
use crate::task_entry::{ElementKey, TaskEntry};
use crate::vim_call::{self, CallAbort, CallEnv};
use crate::working_set::{ItemState, Outbox, WorkingSet};

mod live;
mod lookups;
mod remote;

/// How often a net DELETE waiting for VM DELETEs looks again, besides being woken by them.
const NET_USERS_RECHECK: std::time::Duration = std::time::Duration::from_millis(500);

pub struct VimActor {
    account: VimAccount,
    generation: u64,
    /// Its writes, all fenced by the lease it runs under.
    writer: FencedWriter,
    shared: Shared,
    reports: Reports,
    log: slog::Logger,
    env: Option<Arc<CallEnv>>,
    ws: WorkingSet,
    /// Tasks that arrived while loading or while earlier arrivals were being admitted: kept in
    /// order, admitted in order.
    pending: Vec<TaskEntry>,
    /// The state of elements that pending tasks' actions inserted.
    fresh: HashMap<ElementKey, ItemState>,
    admitting: bool,
    in_flight: HashMap<TaskKey, (ElementKey, AbortHandle)>,
    /// Calls decided but not started yet, in order.
    queued: VecDeque<CallOrder>,
    live: LiveSet,
    notice: StopNotice,
    /// What it settled while loads of other instances' tasks were under way.
    loads: remote::LoadLog,
}

impl VimActor {
    pub fn new(
        account: VimAccount,
        generation: u64,
        writer: FencedWriter,
        shared: Shared,
        reports: Reports,
    ) -> VimActor {
        let log = shared
            .log
            .new(o!("vim" => account.id.to_string(), "vim_name" => account.name.clone()));
        let notice = StopNotice {
            vim: account.id,
            generation,
            down: reports.down.clone(),
            unregister: shared.refresh.clone().recipient(),
            exit: None,
        };
        let policy = shared.config.refresh.policy().unwrap_or_default();
        let first_poll = shared.config.refresh.first_poll().unwrap_or_default();
        VimActor {
            account,
            generation,
            writer,
            shared,
            reports,
            log,
            env: None,
            ws: WorkingSet::new(),
            pending: Vec::new(),
            fresh: HashMap::new(),
            admitting: true,
            in_flight: HashMap::new(),
            queued: VecDeque::new(),
            live: LiveSet::new(policy, first_poll),
            notice,
            loads: remote::LoadLog::default(),
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

    fn fail(&mut self, ctx: &mut Context<Self>, exit: ActorExit, reason: String) {
        let reason = self.scrub(&reason);
        warn!(self.log, "VimActor stops"; "exit" => exit.as_str(), "reason" => &reason);
        self.notice.record(exit, reason);
        ctx.stop();
    }

    /// A read failed: the actor stops, its successor reloads.
    fn read_failed(&mut self, ctx: &mut Context<Self>, e: rovim_store::StoreError) {
        let reason = format!("cannot read the database: {e}");
        self.fail(ctx, ActorExit::Database, reason);
    }

    /// A write failed (or was fenced off: the lease moved): the actor stops.
    fn write_failed(&mut self, ctx: &mut Context<Self>, e: rovim_store::StoreError) {
        let reason = format!("cannot write to the database: {e}");
        self.fail(ctx, ActorExit::of_store_error(&e), reason);
    }

    fn boot(&mut self, ctx: &mut Context<Self>) {
        let start = tokio::spawn(boot::boot(
            self.account.clone(),
            self.writer.clone(),
            self.shared.clone(),
        ));
        ctx.spawn(wrap_future::<_, Self>(start).map(|res, act, ctx| {
            let booted = res.unwrap_or_else(|e| {
                Err(BootFailure {
                    exit: ActorExit::Panicked,
                    reason: format!("the VimActor's start failed: {e}"),
                })
            });
            match booted {
                Err(failure) => act.fail(ctx, failure.exit, failure.reason),
                Ok(Booted { env, tasks, mut items }) => {
                    act.env = Some(Arc::new(env));
                    info!(act.log, "VimActor up"; "tasks" => tasks.len(), "generation" => act.generation);
                    act.ws.restore(tasks, &mut items);
                    act.start_refresh(ctx, items);
                    act.reports.up.do_send(ActorUp { vim: act.account.id, generation: act.generation });
                    act.admitting = false;
                    act.pump(ctx);
                    act.admit_pending(ctx);
                    act.poll_new(ctx);
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
        let mut known = std::mem::take(&mut self.fresh);
        let mut unknown = self.ws.unknown_elements(&entries);
        unknown.retain(|e| !known.contains_key(e));
        if unknown.is_empty() {
            self.ws.admit(entries, &known);
            self.pump(ctx);
            return;
        }
        self.admitting = true;
        let fetch = read(&self.shared.store, move |conn| item_states(conn, &unknown));
        ctx.spawn(wrap_future::<_, Self>(fetch).map(move |res, act, ctx| {
            act.admitting = false;
            match res {
                Ok(items) => {
                    known.extend(items);
                    act.ws.admit(entries, &known);
                    act.pump(ctx);
                    act.admit_pending(ctx);
                }
                Err(e) => act.read_failed(ctx, e),
            }
        }));
    }

    /// Carries out the working set's decisions.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        #[cfg(feature = "failpoints")]
        if crate::failpoints::take_panic_in_pump() {
            panic!("failpoint: the VimActor panics");
        }
        let Outbox {
            batch,
            settled,
            calls,
            resolve,
            untrack,
            net_users,
            recheck,
        } = self.ws.schedule();
        self.loads.note_settled(settled.iter().map(|s| s.key));
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
            let sink = SettledSink {
                writer: self.writer.clone(),
                report: self.reports.settled.clone(),
                metrics: self.shared.metrics.clone(),
                log: self.log.clone(),
                watch: self.shared.watch.clone(),
                events: self.shared.events.clone(),
                vim: self.account.id,
            };
            let write = commit::commit(sink, batch, settled);
            ctx.spawn(wrap_future::<_, Self>(write).map(|res, act, ctx| {
                if let Err(e) = res {
                    act.write_failed(ctx, e);
                }
            }));
        }
        self.queued.extend(calls);
        self.start_calls(ctx);
        if !resolve.is_empty() {
            self.resolve(resolve, ctx);
        }
    }

    /// Starts queued calls while fewer than twice `max_in_flight` run: a call waits for its
    /// slot only briefly, at most that many tasks are BUILD because of a call under way (so a
    /// crash leaves few tokens to look up), and a thousand ready tasks are not a thousand idle
    /// futures.
    fn start_calls(&mut self, ctx: &mut Context<Self>) {
        let Some(env) = self.env.clone() else {
            return;
        };
        let limit = 2 * self.shared.config.max_in_flight;
        while self.in_flight.len() < limit {
            let Some(order) = self.queued.pop_front() else {
                return;
            };
            let (key, element) = (order.key, order.element);
            debug!(self.log, "VIM call"; "task" => key.to_string(), "call" => format!("{:?}", order.call));
            // The call reports back as a message: a future per call spawned on the actor's
            // context would be polled at every wake-up of the actor, all of them each time.
            let addr = ctx.address();
            let call = AssertUnwindSafe(vim_call::run(env.clone(), order)).catch_unwind();
            let handle = tokio::spawn(async move {
                let result = call.await.map_err(|p| rovim_core::panic_text(&*p));
                addr.do_send(CallDone { key, result });
            });
            self.in_flight.insert(key, (element, handle.abort_handle()));
        }
    }

    fn on_call(&mut self, done: CallDone, ctx: &mut Context<Self>) {
        let key = done.key;
        let Some((element, _)) = self.in_flight.remove(&key) else {
            return;
        };
        self.start_calls(ctx);
        let mut result = match done.result {
            Ok(Ok(r)) => r,
            Ok(Err(abort)) => return self.fail(ctx, abort.exit(), abort.to_string()),
            Err(e) => {
                // A connector bug: fail this task with what is known, keep the actor.
                let msg = format!("internal error: the VIM call panicked: {e}");
                warn!(self.log, "VIM call panicked"; "task" => key.to_string(), "error" => &msg);
                CallResult::panicked(key, element, msg)
            }
        };
        if let Outcome::Failed { error, .. } = &mut result.outcome {
            *error = self.scrub(error);
            info!(self.log, "task failed"; "task" => key.to_string(), "action" => key.action.to_string(), "error" => &*error);
        }
        if let Some(live) = self.live.on_outcome(&result) {
            // A create reports no state: its first read joins the next batch of polls.
            let first = match result.report {
                Some(_) => FirstPoll::Interval,
                None => FirstPoll::Soon,
            };
            self.track(vec![live], first);
        }
        self.ws.complete(result);
        self.pump(ctx);
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

impl Handler<Enqueue> for VimActor {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Context<Self>) {
        self.pending.extend(msg.tasks);
        self.fresh.extend(msg.fresh);
        self.admit_pending(ctx);
    }
}

/// A VIM call ended: its result, or the text of its panic.
#[derive(Message)]
#[rtype(result = "()")]
struct CallDone {
    key: TaskKey,
    result: Result<Result<CallResult, CallAbort>, String>,
}

impl Handler<CallDone> for VimActor {
    type Result = ();

    fn handle(&mut self, msg: CallDone, ctx: &mut Context<Self>) {
        self.on_call(msg, ctx);
    }
}

impl Handler<StopActor> for VimActor {
    type Result = ();

    fn handle(&mut self, _: StopActor, ctx: &mut Context<Self>) {
        self.notice
            .record(ActorExit::Stopped, "stopped by the supervisor");
        ctx.stop();
    }
}
