//! Crash points for tests (feature `failpoints`): armed, the next VIM create that succeeds makes
//! its VimActor stop before the outcome is stored, exactly as a crash of rovim at that moment;
//! or a VimActor panics in its own code.
//! Global state: use it from a test binary of its own.

use std::sync::atomic::{AtomicU32, Ordering};

static AFTER_CREATE: AtomicU32 = AtomicU32::new(0);

/// The next `n` successful VIM creates "crash" right after the VIM answered.
pub fn arm_after_create(n: u32) {
    AFTER_CREATE.store(n, Ordering::SeqCst);
}

/// Consumes one armed crash, if any.
pub(crate) fn take_after_create() -> bool {
    AFTER_CREATE
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

static PANIC_IN_PUMP: AtomicU32 = AtomicU32::new(0);

/// The next `n` times a VimActor carries out its working set's decisions, it panics instead: a
/// bug in the actor itself (its StopNotice must still tell the Supervisor, which restarts it).
pub fn arm_panic_in_pump(n: u32) {
    PANIC_IN_PUMP.store(n, Ordering::SeqCst);
}

pub(crate) fn take_panic_in_pump() -> bool {
    PANIC_IN_PUMP
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}
