//! The Supervisor: one VimActor per VIM account, started at boot and when accounts are added,
//! restarted with exponential backoff and jitter when one fails, with the account's status
//! (STARTING, ENABLED, or ERROR with the reason, and the restart count) written to the database. It also
//! routes submitted actions to their actors and settled tasks to the actors that wait on them.
//!
//! It runs only the accounts whose lease this instance holds (see `cluster.rs`): each
//! [`LeaseRound`] starts the actors of accounts gained (or re-gained at a new epoch) and stops
//! those of accounts lost. Work and settlements announced by other instances come in as
//! [`RemoteWork`] and [`RemoteSettled`].

use std::collections::{HashMap, HashSet};

use actix::fut::{ActorFutureExt, wrap_future};
use actix::prelude::*;
use rand::Rng;
use rovim_core::{AccountStatus, Backoff, ItemKind, TaskKey, VimAccountId};
use rovim_store::leases::Lease;
use rovim_store::{
    AccountStatusUpdate, DbWrite, NewAction, StoreError, VimAccount, WriteBatch, accounts, reads,
};
use slog::{info, warn};

use crate::cluster::{LeaseRound, Relistened, RemoteAccountChanged, RemoteSettled, RemoteWork};
use crate::engine::{opened_account, stored_account};
use crate::error::EngineError;
use crate::messages::*;
use crate::refresh::Observed;
use crate::shared::{Shared, read};
use crate::task_entry::{ElementKey, TaskEntry, TaskSnapshot};
use crate::vim_actor::VimActor;
use crate::working_set::ItemState;

/// How soon a failed write of an account's status is tried again.
const STATUS_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

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
    /// The epoch of this instance's lease on the account, while it holds one.
    lease: Option<i64>,
    /// A restart after a failure is scheduled (a lease round must not start it sooner).
    restart_pending: bool,
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
            lease: None,
            restart_pending: false,
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
    /// `leases`: what this instance's first lease round gave it.
    pub fn new(shared: Shared, accounts: Vec<VimAccount>, leases: &[Lease]) -> Supervisor {
        let backoff = shared
            .config
            .restart_backoff()
            .unwrap_or_else(|_| Backoff::actor_restart());
        let auth_backoff = shared
            .config
            .auth_retry_backoff()
            .unwrap_or_else(|_| Backoff::actor_restart());
        let epochs: HashMap<VimAccountId, i64> = leases.iter().map(|l| (l.vim, l.epoch)).collect();
        let slots = accounts
            .into_iter()
            .map(|a| {
                let mut slot = Slot::new(a);
                slot.lease = epochs.get(&slot.account.id).copied();
                (slot.account.id, slot)
            })
            .collect();
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
        let Some(epoch) = slot.lease else {
            return; // another instance runs it
        };
        slot.restart_pending = false;
        let writer = self
            .shared
            .writer
            .fenced(self.shared.keeper.fence(vim, epoch));
        let (account, shared) = (slot.account.clone(), self.shared.clone());
        let arbiter = self.shared.arbiters.pick();
        slot.addr = Some(VimActor::start_in_arbiter(&arbiter, move |_| {
            VimActor::new(account, generation, writer, shared, reports)
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
        // Only the owner writes an account's status, and only while it is the owner.
        let Some(epoch) = self.slots.get(&vim).and_then(|s| s.lease) else {
            return;
        };
        let writer = self
            .shared
            .writer
            .fenced(self.shared.keeper.fence(vim, epoch));
        let batch = WriteBatch {
            accounts: vec![(vim, update.clone())],
            ..WriteBatch::default()
        };
        let write = async move {
            #[cfg(feature = "failpoints")]
            if crate::failpoints::take_fail_status_write() {
                return Err(StoreError::Writer("failpoint: status write".into()));
            }
            writer.write(batch).await
        };
        self.shared
            .metrics
            .account_up
            .with_label_values(&[&vim.to_string()])
            .set(i64::from(update.status == AccountStatus::Enabled));
        let event = crate::events::Event::Account {
            vim_account: vim,
            status: update.status,
            reason: update.error_msg.clone(),
            restarts: self.slots.get(&vim).map_or(0, |s| s.restarts),
        };
        ctx.spawn(wrap_future::<_, Self>(write).map(move |res, act, ctx| {
            let e = match res {
                Ok(_) => {
                    act.shared.events.publish(event);
                    return;
                }
                Err(StoreError::Fenced { .. }) => return,
                Err(e) => e,
            };
            warn!(act.shared.log, "cannot record the VIM account's status; retrying";
                "vim" => vim.to_string(), "error" => e.to_string(),
                "retry_in_ms" => STATUS_RETRY.as_millis() as u64);
            // Nothing of it was committed. Written again while it is still the status held
            // here under the same lease; a newer status supersedes it.
            ctx.run_later(STATUS_RETRY, move |act, ctx| {
                if act
                    .slots
                    .get(&vim)
                    .is_some_and(|s| s.status == update.status && s.lease == Some(epoch))
                {
                    act.write_status(vim, update, ctx);
                }
            });
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
        if msg.exit == ActorExit::LeaseLost {
            // Not a failure of the account: another instance runs it now (or this one will
            // again at a new epoch, after the next round says so).
            info!(self.shared.log, "VimActor stood down: lease lost"; "vim" => msg.vim.to_string());
            slot.lease = None;
            // Another instance's now: its gauge is that instance's to show.
            let _ = self
                .shared
                .metrics
                .account_up
                .remove_label_values(&[&msg.vim.to_string()]);
            self.shared.keeper.round_now();
            return;
        }
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
        if let Some(slot) = self.slots.get_mut(&msg.vim) {
            slot.restart_pending = true;
        }
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

impl Supervisor {
    /// Hands settlements to the actors that watch them (each watcher once).
    fn forward(&mut self, snaps: Vec<TaskSnapshot>) {
        let mut by_vim: HashMap<VimAccountId, Vec<_>> = HashMap::new();
        for snap in snaps {
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

    /// Reads the watched tasks among `keys` and forwards those that are settled (tasks settled
    /// on another instance: only their keys were announced).
    fn forward_stored(&mut self, keys: Vec<TaskKey>, ctx: &mut Context<Self>) {
        let keys: Vec<TaskKey> = keys
            .into_iter()
            .filter(|k| self.watchers.contains_key(k))
            .collect();
        if keys.is_empty() {
            return;
        }
        let fetch = read(&self.shared.store, move |c| {
            let mut out = Vec::new();
            for key in keys {
                if let Some(r) = reads::get_task(c, key)?
                    && !r.status.is_open()
                {
                    out.push(TaskSnapshot::of_record(&r));
                }
            }
            Ok(out)
        });
        ctx.spawn(wrap_future::<_, Self>(fetch).map(|res, act, _ctx| match res {
            Ok(snaps) => act.forward(snaps),
            Err(e) => {
                warn!(act.shared.log, "cannot read tasks settled by another instance"; "error" => %e)
            }
        }));
    }
}

impl Handler<Settled> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Settled, _ctx: &mut Context<Self>) {
        self.forward(msg.0);
    }
}

impl Handler<RemoteSettled> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoteSettled, ctx: &mut Context<Self>) {
        // Long-polls on this instance wake up too, not only at their timeout.
        self.shared.watch.settled(msg.0.iter().map(|k| k.action));
        self.forward_stored(msg.0, ctx);
    }
}

impl Handler<RemoteWork> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoteWork, _ctx: &mut Context<Self>) {
        if let Some(addr) = self.slots.get(&msg.vim).and_then(|s| s.addr.as_ref()) {
            addr.do_send(LoadNew(Some(msg.action)));
        }
    }
}

impl Handler<RemoteAccountChanged> for Supervisor {
    type Result = ();

    /// Edited through another instance: reload it as if edited here (if this one knows it).
    fn handle(&mut self, msg: RemoteAccountChanged, ctx: &mut Context<Self>) {
        let vim = msg.0;
        if !self.slots.contains_key(&vim) {
            return;
        }
        let store = self.shared.store.clone();
        let fetch = async move { stored_account(&store, vim).await };
        ctx.spawn(wrap_future::<_, Self>(fetch).map(move |res, act, ctx| {
            match res {
                Ok(account) => {
                    if let Err(e) = act.shared.connectors.reconfigure(&account) {
                        warn!(act.shared.log, "an edited VIM account's settings are refused"; "vim" => vim.to_string(), "error" => %e);
                    }
                    act.handle(ReloadAccount(account), ctx);
                }
                Err(e) => {
                    warn!(act.shared.log, "cannot read an edited VIM account"; "vim" => vim.to_string(), "error" => %e)
                }
            }
        }));
    }
}

impl Handler<Relistened> for Supervisor {
    type Result = ();

    /// Notifications sent while the connection was down are lost: look for what they said.
    fn handle(&mut self, _: Relistened, ctx: &mut Context<Self>) {
        for slot in self.slots.values() {
            if let Some(addr) = &slot.addr {
                addr.do_send(LoadNew(None));
            }
        }
        let watched: Vec<TaskKey> = self.watchers.keys().copied().collect();
        self.forward_stored(watched, ctx);
    }
}

impl Handler<LeaseRound> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: LeaseRound, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        let held: HashMap<VimAccountId, i64> =
            msg.0.held.iter().map(|l| (l.vim, l.epoch)).collect();
        let ids: Vec<VimAccountId> = self.slots.keys().copied().collect();
        for vim in ids {
            let Some(slot) = self.slots.get_mut(&vim) else {
                continue;
            };
            match (slot.lease, held.get(&vim).copied()) {
                (Some(_), None) => {
                    info!(self.shared.log, "VIM account handed over: another instance runs it"; "vim" => vim.to_string());
                    slot.lease = None;
                    slot.restart_pending = false;
                    self.stop_actor(vim);
                }
                (old, Some(epoch)) if old != Some(epoch) => {
                    info!(self.shared.log, "VIM account taken over"; "vim" => vim.to_string(), "epoch" => epoch);
                    slot.lease = Some(epoch);
                    self.stop_actor(vim);
                    self.spawn_actor(vim, ctx);
                }
                (Some(_), Some(_)) if slot.addr.is_none() && !slot.restart_pending => {
                    self.spawn_actor(vim, ctx);
                }
                _ => {}
            }
        }
        // Accounts registered through another instance: read them, then run them.
        let unknown: Vec<(VimAccountId, i64)> = held
            .into_iter()
            .filter(|(vim, _)| !self.slots.contains_key(vim))
            .collect();
        if unknown.is_empty() {
            return;
        }
        let store = self.shared.store.clone();
        let fetch = read(&self.shared.store, move |c| {
            let mut out = Vec::new();
            for (id, epoch) in unknown {
                match accounts::get_vim_account(c, id) {
                    Ok(a) => out.push((a, epoch)),
                    Err(StoreError::NotFound { .. }) => {} // removed meanwhile
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        });
        ctx.spawn(wrap_future::<_, Self>(fetch).map(move |res, act, ctx| {
            let found = match res {
                Ok(found) => found,
                Err(e) => {
                    warn!(act.shared.log, "cannot read VIM accounts leased to this instance"; "error" => %e);
                    return;
                }
            };
            for (account, epoch) in found {
                let id = account.id;
                if act.slots.contains_key(&id) {
                    continue;
                }
                match opened_account(&store, account) {
                    Ok(account) => {
                        let mut slot = Slot::new(account);
                        slot.lease = Some(epoch);
                        act.slots.insert(id, slot);
                        act.spawn_actor(id, ctx);
                    }
                    Err(e) => {
                        warn!(act.shared.log, "cannot open a VIM account's secret"; "vim" => id.to_string(), "error" => %e)
                    }
                }
            }
        }));
    }
}

impl Handler<AddAccount> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: AddAccount, ctx: &mut Context<Self>) {
        let id = msg.0.id;
        let lease = self.slots.get(&id).and_then(|s| s.lease);
        self.stop_actor(id);
        let mut slot = Slot::new(msg.0);
        slot.lease = lease;
        self.slots.insert(id, slot);
        self.spawn_actor(id, ctx);
        // A new account is leased by whichever instance's round comes first: this one's, now.
        self.shared.keeper.round_now();
    }
}

impl Handler<RemoveAccount> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveAccount, _ctx: &mut Context<Self>) {
        self.stop_actor(msg.0);
        self.slots.remove(&msg.0);
        let _ = self
            .shared
            .metrics
            .account_up
            .remove_label_values(&[&msg.0.to_string()]);
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
