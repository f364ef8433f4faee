//! The Supervisor: one VimActor per VIM account, started at boot and when accounts are added,
//! restarted with exponential backoff and jitter when one fails, with the account's status
//! (STARTING, ENABLED, or ERROR with the reason, and the restart count) written to the database. It also
//! routes submitted actions to their actors and settled tasks to the actors that wait on them.

use std::collections::{HashMap, HashSet};

use actix::fut::{ActorFutureExt, wrap_future};
use actix::prelude::*;
use rand::Rng;
use rovim_core::{AccountStatus, Backoff, ItemKind, TaskKey, VimAccountId};
use rovim_store::{AccountStatusUpdate, DbWrite, NewAction, VimAccount, WriteBatch};
use slog::{info, warn};

use crate::error::EngineError;
use crate::messages::*;
use crate::refresh::Observed;
use crate::shared::Shared;
use crate::task_entry::{ElementKey, TaskEntry};
use crate::vim_actor::VimActor;
use crate::working_set::ItemState;

struct Slot {
    account: VimAccount,
    addr: Option<Addr<VimActor>>,
    generation: u64,
    /// Failures since the last successful start: drives the backoff.
    failures: u32,
    restarts: u32,
    status: AccountStatus,
    error: Option<String>,
    running: bool,
    last_exit: Option<ActorExit>,
}

impl Slot {
    /// An account not started yet, with the status the database holds.
    fn new(account: VimAccount) -> Slot {
        Slot {
            status: account.status,
            error: account.error_msg.clone(),
            account,
            addr: None,
            generation: 0,
            failures: 0,
            restarts: 0,
            running: false,
            last_exit: None,
        }
    }
}

pub struct Supervisor {
    shared: Shared,
    backoff: Backoff,
    /// For accounts whose credentials the VIM refused.
    auth_backoff: Backoff,
    slots: HashMap<VimAccountId, Slot>,
    watchers: HashMap<TaskKey, HashSet<VimAccountId>>,
    next_generation: u64,
    shutting_down: bool,
}

impl Supervisor {
    pub fn new(shared: Shared, accounts: Vec<VimAccount>) -> Supervisor {
        let backoff = shared
            .config
            .restart_backoff()
            .unwrap_or_else(|_| Backoff::actor_restart());
        let auth_backoff = shared
            .config
            .auth_retry_backoff()
            .unwrap_or_else(|_| Backoff::actor_restart());
        let slots = accounts.into_iter().map(|a| (a.id, Slot::new(a))).collect();
        Supervisor {
            shared,
            backoff,
            auth_backoff,
            slots,
            watchers: HashMap::new(),
            next_generation: 1,
            shutting_down: false,
        }
    }

    fn spawn_actor(&mut self, vim: VimAccountId, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let reports = Reports {
            up: ctx.address().recipient(),
            down: ctx.address().recipient(),
            watch: ctx.address().recipient(),
            settled: ctx.address().recipient(),
        };
        let Some(slot) = self.slots.get_mut(&vim) else {
            return;
        };
        let (account, shared) = (slot.account.clone(), self.shared.clone());
        let arbiter = self.shared.arbiters.pick();
        slot.addr = Some(VimActor::start_in_arbiter(&arbiter, move |_| {
            VimActor::new(account, generation, shared, reports)
        }));
        slot.generation = generation;
        slot.running = false;
        // An account in ERROR keeps its reason while it is retried; any other is STARTING
        // until its actor reports up.
        if slot.status != AccountStatus::Error {
            let changed = slot.status != AccountStatus::Starting;
            slot.status = AccountStatus::Starting;
            slot.error = None;
            if changed {
                let update = AccountStatusUpdate {
                    status: AccountStatus::Starting,
                    error_msg: None,
                    restarts: 0,
                };
                self.write_status(vim, update, ctx);
            }
        }
    }

    fn write_status(
        &self,
        vim: VimAccountId,
        update: AccountStatusUpdate,
        ctx: &mut Context<Self>,
    ) {
        let writer = self.shared.writer.clone();
        let log = self.shared.log.clone();
        let batch = WriteBatch {
            accounts: vec![(vim, update)],
            ..WriteBatch::default()
        };
        ctx.spawn(wrap_future::<_, Self>(async move {
            if let Err(e) = writer.write(DbWrite::Batch(batch)).await {
                warn!(log, "cannot record the VIM account's status"; "vim" => vim.to_string(), "error" => e.to_string());
            }
        }));
    }

    fn route(&self, entries: Vec<TaskEntry>, mut fresh: HashMap<ElementKey, ItemState>) {
        let mut by_vim: HashMap<VimAccountId, Enqueue> = HashMap::new();
        for e in entries {
            let to = by_vim.entry(e.vim).or_insert_with(|| Enqueue {
                tasks: Vec::new(),
                fresh: HashMap::new(),
            });
            if let Some(state) = fresh.remove(&e.element) {
                to.fresh.insert(e.element, state);
            }
            to.tasks.push(e);
        }
        for (vim, enqueue) in by_vim {
            // An actor that is down (or not started) loads these from the database when it starts.
            if let Some(addr) = self.slots.get(&vim).and_then(|s| s.addr.as_ref()) {
                addr.do_send(enqueue);
            }
        }
    }

    fn stop_actor(&mut self, vim: VimAccountId) {
        if let Some(slot) = self.slots.get_mut(&vim)
            && let Some(addr) = slot.addr.take()
        {
            slot.running = false;
            addr.do_send(StopActor);
        }
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let ids: Vec<VimAccountId> = self.slots.keys().copied().collect();
        for vim in ids {
            self.spawn_actor(vim, ctx);
        }
    }
}

impl Handler<Submit> for Supervisor {
    type Result = ResponseActFuture<Self, Result<(), EngineError>>;

    fn handle(&mut self, msg: Submit, _ctx: &mut Context<Self>) -> Self::Result {
        let action = msg.0;
        let entries: Vec<TaskEntry> = action
            .tasks
            .iter()
            .map(|t| TaskEntry::from_new(action.id, t))
            .collect();
        let fresh = fresh_states(&action);
        let writer = self.shared.writer.clone();
        Box::pin(
            wrap_future::<_, Self>(
                async move { writer.write(DbWrite::InsertAction(action)).await },
            )
            .map(move |res, act, _ctx| {
                res?;
                act.route(entries, fresh);
                Ok(())
            }),
        )
    }
}

impl Handler<ActorUp> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ActorUp, ctx: &mut Context<Self>) {
        let Some(slot) = self.slots.get_mut(&msg.vim) else {
            return;
        };
        if slot.generation != msg.generation {
            return;
        }
        slot.failures = 0;
        slot.running = true;
        slot.status = AccountStatus::Enabled;
        slot.error = None;
        info!(self.shared.log, "VIM account enabled"; "vim" => msg.vim.to_string());
        let update = AccountStatusUpdate {
            status: AccountStatus::Enabled,
            error_msg: None,
            restarts: 0,
        };
        self.write_status(msg.vim, update, ctx);
    }
}

impl Handler<ActorDown> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ActorDown, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        let Some(slot) = self.slots.get_mut(&msg.vim) else {
            return;
        };
        if slot.generation != msg.generation || slot.addr.is_none() {
            return; // an incarnation the supervisor itself retired
        }
        slot.addr = None;
        slot.running = false;
        slot.last_exit = Some(msg.exit);
        let vim = msg.vim.to_string();
        let metrics = &self.shared.metrics;
        metrics.restarts.with_label_values(&[&vim]).inc();
        metrics
            .exits
            .with_label_values(&[&vim, msg.exit.as_str()])
            .inc();
        slot.failures += 1;
        slot.restarts += 1;
        slot.status = AccountStatus::Error;
        slot.error = Some(msg.reason.clone());
        let backoff = match msg.exit {
            ActorExit::AuthRefused => &self.auth_backoff,
            _ => &self.backoff,
        };
        let delay = backoff.delay(slot.failures - 1, rand::rng().random());
        warn!(self.shared.log, "VimActor failed, restarting later";
            "vim" => msg.vim.to_string(), "exit" => msg.exit.as_str(), "reason" => &msg.reason, "restart_in_ms" => delay.as_millis() as u64,
            "restarts" => slot.restarts);
        let update = AccountStatusUpdate {
            status: AccountStatus::Error,
            error_msg: Some(msg.reason),
            restarts: 1,
        };
        self.write_status(msg.vim, update, ctx);
        let (vim, generation) = (msg.vim, msg.generation);
        ctx.run_later(delay, move |act, ctx| {
            // Only if nothing (a reload, a removal) replaced that incarnation meanwhile.
            if act
                .slots
                .get(&vim)
                .is_some_and(|s| s.addr.is_none() && s.generation == generation)
            {
                act.spawn_actor(vim, ctx);
            }
        });
    }
}

impl Handler<Watch> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Watch, _ctx: &mut Context<Self>) {
        for key in msg.keys {
            self.watchers.entry(key).or_default().insert(msg.vim);
        }
    }
}

impl Handler<Settled> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Settled, _ctx: &mut Context<Self>) {
        let mut by_vim: HashMap<VimAccountId, Vec<_>> = HashMap::new();
        for snap in msg.0 {
            if let Some(vims) = self.watchers.remove(&snap.key) {
                for vim in vims {
                    by_vim.entry(vim).or_default().push(snap.clone());
                }
            }
        }
        for (vim, snaps) in by_vim {
            if let Some(addr) = self.slots.get(&vim).and_then(|s| s.addr.as_ref()) {
                addr.do_send(ForeignSettled(snaps));
            }
        }
    }
}

impl Handler<AddAccount> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: AddAccount, ctx: &mut Context<Self>) {
        let id = msg.0.id;
        self.stop_actor(id);
        self.slots.insert(id, Slot::new(msg.0));
        self.spawn_actor(id, ctx);
    }
}

impl Handler<RemoveAccount> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveAccount, _ctx: &mut Context<Self>) {
        self.stop_actor(msg.0);
        self.slots.remove(&msg.0);
        for vims in self.watchers.values_mut() {
            vims.remove(&msg.0);
        }
    }
}

impl Handler<ReloadAccount> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ReloadAccount, ctx: &mut Context<Self>) {
        let id = msg.0.id;
        self.stop_actor(id);
        match self.slots.get_mut(&id) {
            Some(slot) => {
                slot.account = msg.0;
                slot.failures = 0;
            }
            None => return self.handle(AddAccount(msg.0), ctx),
        }
        self.spawn_actor(id, ctx);
    }
}

impl Handler<GetAccountStates> for Supervisor {
    type Result = Vec<AccountState>;

    fn handle(&mut self, _: GetAccountStates, _ctx: &mut Context<Self>) -> Vec<AccountState> {
        let mut out: Vec<AccountState> = self
            .slots
            .values()
            .map(|s| AccountState {
                id: s.account.id,
                name: s.account.name.clone(),
                status: s.status,
                error: s.error.clone(),
                restarts: s.restarts,
                running: s.running,
                last_exit: s.last_exit,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, _ctx: &mut Context<Self>) {
        self.shutting_down = true;
        let ids: Vec<VimAccountId> = self.slots.keys().copied().collect();
        for vim in ids {
            self.stop_actor(vim);
        }
    }
}

/// The state of the nets and VMs an action inserts, as reading them back would give it.
fn fresh_states(action: &NewAction) -> HashMap<ElementKey, ItemState> {
    let fresh = |observed| ItemState {
        vim_id: None,
        owned: None,
        observed: Some(observed),
    };
    let nets = action
        .nets
        .iter()
        .map(|n| ((ItemKind::Net, n.id), fresh(Observed::fresh([]))));
    let vms = action.vms.iter().map(|v| {
        let rows = v.interfaces.iter().map(|i| (i.id, i.net));
        ((ItemKind::Vm, v.id), fresh(Observed::fresh(rows)))
    });
    nets.chain(vms).collect()
}
