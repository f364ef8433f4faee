//! Tells the Supervisor that a VimActor incarnation is gone, however it ends: a stop, or a
//! panic that drops the actor while unwinding (actix does not restart a panicked actor by
//! itself). Held by the actor; its `Drop` sends the notice.

use actix::Recipient;
use rovim_core::VimAccountId;

use crate::messages::{ActorDown, ActorExit};
use crate::refresh_scheduler::Unregister;

pub struct StopNotice {
    pub vim: VimAccountId,
    pub generation: u64,
    pub down: Recipient<ActorDown>,
    pub unregister: Recipient<Unregister>,
    /// How and why it ended, once known (the first reason wins).
    pub exit: Option<(ActorExit, String)>,
}

impl StopNotice {
    /// Records how the actor ends, unless an earlier reason was recorded.
    pub fn record(&mut self, exit: ActorExit, reason: impl Into<String>) {
        self.exit.get_or_insert_with(|| (exit, reason.into()));
    }
}

impl Drop for StopNotice {
    fn drop(&mut self) {
        let (exit, reason) = self.exit.take().unwrap_or_else(|| {
            if std::thread::panicking() {
                (ActorExit::Panicked, "the VimActor panicked".into())
            } else {
                (ActorExit::Stopped, "the VimActor stopped".into())
            }
        });
        self.unregister.do_send(Unregister {
            vim: self.vim,
            generation: self.generation,
        });
        self.down.do_send(ActorDown {
            vim: self.vim,
            generation: self.generation,
            exit,
            reason,
        });
    }
}
