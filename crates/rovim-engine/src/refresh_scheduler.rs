//! The RefreshScheduler: one timer for every live element of every VIM account. VimActors
//! register, then track their elements with a due time; when elements fall due the scheduler
//! sends each owning VimActor one [`RefreshDue`] per batch. A VimActor that restarts registers
//! and tracks its elements again (rebuilt from the database), so the scheduler never needs its
//! own persistence.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use rovim_core::VimAccountId;
use tokio::time::Instant;

use std::sync::Arc;

use crate::metrics::Metrics;
use crate::refresh_queue::RefreshQueue;
use crate::task_entry::ElementKey;

/// Elements of one VIM account to refresh now.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RefreshDue(pub Vec<ElementKey>);

/// A VimActor (re)starts: its elements will be tracked anew.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Register {
    pub vim: VimAccountId,
    pub generation: u64,
    pub recipient: Recipient<RefreshDue>,
    pub batch_size: usize,
}

/// A VimActor incarnation is gone: drop its elements (its successor tracks them again).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unregister {
    pub vim: VimAccountId,
    pub generation: u64,
}

/// Next polls: `(element, due in, interval)`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Track {
    pub vim: VimAccountId,
    pub elements: Vec<(ElementKey, Duration, Duration)>,
}

/// Elements that are no longer polled (deleted, or their DELETE started).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Untrack(pub Vec<ElementKey>);

/// How many elements are tracked (tests, metrics).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct TrackedCount;

struct Subscriber {
    generation: u64,
    recipient: Recipient<RefreshDue>,
    batch_size: usize,
}

pub struct RefreshScheduler {
    metrics: Arc<Metrics>,
    queue: RefreshQueue,
    subscribers: HashMap<VimAccountId, Subscriber>,
    timer: Option<(Instant, SpawnHandle)>,
}

impl RefreshScheduler {
    pub fn new(metrics: Arc<Metrics>) -> RefreshScheduler {
        RefreshScheduler {
            metrics,
            queue: RefreshQueue::new(),
            subscribers: HashMap::new(),
            timer: None,
        }
    }

    /// Arms the one timer for the earliest due time.
    fn rearm(&mut self, ctx: &mut Context<Self>) {
        let next = self.queue.next_due();
        if let Some((at, handle)) = self.timer {
            if Some(at) == next {
                return;
            }
            ctx.cancel_future(handle);
            self.timer = None;
        }
        if let Some(at) = next {
            let wait = at.saturating_duration_since(Instant::now());
            let handle = ctx.run_later(wait, |act, ctx| {
                act.timer = None;
                act.fire(ctx);
            });
            self.timer = Some((at, handle));
        }
    }

    fn fire(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if let Some(due) = self.queue.next_due().filter(|d| *d <= now) {
            self.metrics
                .refresh_lag
                .observe(now.duration_since(due).as_secs_f64());
        }
        let subscribers = &self.subscribers;
        let due = self.queue.take_due(Instant::now(), |vim| {
            subscribers.get(&vim).map_or(1, |s| s.batch_size)
        });
        for (vim, batch) in due {
            // No subscriber: that actor is down; its successor tracks its elements again.
            if let Some(s) = self.subscribers.get(&vim) {
                s.recipient.do_send(RefreshDue(batch));
            }
        }
        self.rearm(ctx);
    }
}

impl Actor for RefreshScheduler {
    type Context = Context<Self>;
}

impl Handler<Register> for RefreshScheduler {
    type Result = ();

    fn handle(&mut self, msg: Register, ctx: &mut Context<Self>) {
        self.queue.drop_vim(msg.vim);
        let s = Subscriber {
            generation: msg.generation,
            recipient: msg.recipient,
            batch_size: msg.batch_size.max(1),
        };
        self.subscribers.insert(msg.vim, s);
        self.rearm(ctx);
    }
}

impl Handler<Unregister> for RefreshScheduler {
    type Result = ();

    fn handle(&mut self, msg: Unregister, ctx: &mut Context<Self>) {
        if self
            .subscribers
            .get(&msg.vim)
            .is_some_and(|s| s.generation == msg.generation)
        {
            self.subscribers.remove(&msg.vim);
            self.queue.drop_vim(msg.vim);
            self.rearm(ctx);
        }
    }
}

impl Handler<Track> for RefreshScheduler {
    type Result = ();

    fn handle(&mut self, msg: Track, ctx: &mut Context<Self>) {
        let now = Instant::now();
        for (element, due_in, interval) in msg.elements {
            self.queue.track(msg.vim, element, now + due_in, interval);
        }
        self.rearm(ctx);
    }
}

impl Handler<Untrack> for RefreshScheduler {
    type Result = ();

    fn handle(&mut self, msg: Untrack, ctx: &mut Context<Self>) {
        for element in msg.0 {
            self.queue.untrack(element);
        }
        self.rearm(ctx);
    }
}

impl Handler<TrackedCount> for RefreshScheduler {
    type Result = usize;

    fn handle(&mut self, _: TrackedCount, _ctx: &mut Context<Self>) -> usize {
        self.queue.len()
    }
}
