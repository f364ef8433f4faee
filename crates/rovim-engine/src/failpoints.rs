//! Crash points for tests (feature `failpoints`): armed, the next VIM create that succeeds makes
//! its VimActor stop before the outcome is stored, exactly as a crash of rovim at that moment;
//! or a VimActor panics in its own code; or an account's status write fails. Global state: use it from a test binary of its own.

use std::sync::atomic::{AtomicU32, Ordering};

/// A point armed for the next `n` passes.
struct Failpoint(AtomicU32);

impl Failpoint {
    const fn new() -> Failpoint {
        Failpoint(AtomicU32::new(0))
    }

    fn arm(&self, n: u32) {
        self.0.store(n, Ordering::SeqCst);
    }

    /// Consumes one armed pass, if any.
    fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

static AFTER_CREATE: Failpoint = Failpoint::new();
static PANIC_IN_PUMP: Failpoint = Failpoint::new();
static FAIL_STATUS_WRITE: Failpoint = Failpoint::new();

/// The next `n` successful VIM creates "crash" right after the VIM answered.
pub fn arm_after_create(n: u32) {
    AFTER_CREATE.arm(n);
}

pub(crate) fn take_after_create() -> bool {
    AFTER_CREATE.take()
}

/// The next `n` times a VimActor carries out its working set's decisions, it panics instead: a
/// bug in the actor itself (its StopNotice must still tell the Supervisor, which restarts it).
pub fn arm_panic_in_pump(n: u32) {
    PANIC_IN_PUMP.arm(n);
}

pub(crate) fn take_panic_in_pump() -> bool {
    PANIC_IN_PUMP.take()
}

/// The next `n` writes of a VIM account's status fail before reaching the database (as when it
/// is unreachable for a moment).
pub fn arm_fail_status_write(n: u32) {
    FAIL_STATUS_WRITE.arm(n);
}

pub(crate) fn take_fail_status_write() -> bool {
    FAIL_STATUS_WRITE.take()
}
