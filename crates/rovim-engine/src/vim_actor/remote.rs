//! Tasks that another instance stored for this actor's account: loaded when that instance's
//! notification arrives (`LoadNew(Some(action))`), and, while other instances are live, every
//! `cluster.poll_secs` in case one was missed (`LoadNew(None)`).
//!
//! A load races the actor's own work: a task read as SCHEDULED may settle here (and leave
//! memory) before the read's answer arrives, and must not be admitted again. So while loads
//! are under way the actor notes what it settles, and a load's answer skips those.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use actix::fut::{ActorFutureExt, wrap_future};
use actix::prelude::*;
use rovim_core::TaskKey;
use rovim_store::reads;

use super::VimActor;
use crate::messages::LoadNew;
use crate::shared::read;
use crate::task_entry::TaskEntry;

/// What the actor settled while loads were under way.
#[derive(Default)]
pub(super) struct LoadLog {
    active: usize,
    settled: HashSet<TaskKey>,
}

impl LoadLog {
    fn start(&mut self) {
        if self.active == 0 {
            self.settled.clear();
        }
        self.active += 1;
    }

    pub(super) fn note_settled(&mut self, keys: impl IntoIterator<Item = TaskKey>) {
        if self.active > 0 {
            self.settled.extend(keys);
        }
    }

    /// Ends a load; keeps the entries not settled meanwhile.
    fn finish(&mut self, entries: Vec<TaskEntry>) -> Vec<TaskEntry> {
        self.active = self.active.saturating_sub(1);
        entries
            .into_iter()
            .filter(|e| !self.settled.contains(&e.key))
            .collect()
    }
}

impl VimActor {
    /// Polls for new tasks while other instances are live (they store work for this account).
    /// Not on SQLite: it has one instance.
    pub(super) fn poll_new(&mut self, ctx: &mut Context<Self>) {
        if self.shared.store.backend() == rovim_store::Backend::Sqlite {
            return;
        }
        let every = std::time::Duration::from_secs_f64(self.shared.config.cluster.poll_secs);
        ctx.run_interval(every, |act, ctx| {
            if act.shared.keeper.live.load(Ordering::Relaxed) > 1 {
                act.load_new(None, ctx);
            }
        });
    }

    fn load_new(&mut self, action: Option<rovim_core::ActionId>, ctx: &mut Context<Self>) {
        self.loads.start();
        let vim = self.account.id;
        let fetch = read(&self.shared.store, move |c| {
            reads::new_tasks(c, vim, action)
        });
        ctx.spawn(
            wrap_future::<_, Self>(fetch).map(|res, act, ctx| match res {
                Ok(records) => {
                    let entries = records.into_iter().map(TaskEntry::from_record).collect();
                    let entries = act.loads.finish(entries);
                    if !entries.is_empty() {
                        act.pending.extend(entries);
                        act.admit_pending(ctx);
                    }
                }
                Err(e) => {
                    act.loads.finish(Vec::new());
                    act.read_failed(ctx, e);
                }
            }),
        );
    }
}

impl Handler<LoadNew> for VimActor {
    type Result = ();

    fn handle(&mut self, msg: LoadNew, ctx: &mut Context<Self>) {
        self.load_new(msg.0, ctx);
    }
}
