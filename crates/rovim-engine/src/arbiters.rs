//! The threads VimActors run on: one actix arbiter per core (`engine.arbiters`), each with its
//! own event loop, so accounts' work (their actors, VIM calls and the futures they spawn) runs
//! on every core instead of on the one thread of the HTTP server and the Supervisor. With one
//! arbiter asked for, actors run on the caller's own (no extra thread; tests that pause tokio's
//! clock need that, since a pause holds only on the runtime that paused it).

use std::sync::atomic::{AtomicUsize, Ordering};

use actix::{Arbiter, ArbiterHandle};

pub struct ArbiterPool {
    /// Empty: the caller's arbiter.
    arbiters: Vec<Arbiter>,
    current: ArbiterHandle,
    next: AtomicUsize,
}

impl ArbiterPool {
    /// `n` arbiter threads; 0 means one per available core, 1 the caller's arbiter. Call from
    /// inside an actix `System`.
    pub fn new(n: usize) -> ArbiterPool {
        let n = match n {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let arbiters = if n == 1 {
            Vec::new()
        } else {
            (0..n).map(|_| Arbiter::new()).collect()
        };
        ArbiterPool {
            arbiters,
            current: Arbiter::current(),
            next: AtomicUsize::new(0),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.arbiters.len().max(1)
    }

    #[cfg(test)]
    pub(crate) fn handles(&self) -> Vec<ArbiterHandle> {
        self.arbiters.iter().map(Arbiter::handle).collect()
    }

    /// The arbiter the next actor starts on: in turn, so accounts spread evenly.
    pub fn pick(&self) -> ArbiterHandle {
        if self.arbiters.is_empty() {
            return self.current.clone();
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        self.arbiters[i].handle()
    }

    /// Stops the arbiter threads: the actors on them are dropped with their event loops.
    pub fn stop(&self) {
        for a in &self.arbiters {
            a.stop();
        }
    }
}

impl Drop for ArbiterPool {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn actors_are_spread_over_distinct_threads_in_turn() {
        let pool = ArbiterPool::new(2);
        assert_eq!(pool.len(), 2);
        let mut threads = Vec::new();
        for _ in 0..4 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            assert!(pool.pick().spawn(async move {
                let _ = tx.send(std::thread::current().id());
            }));
            threads.push(rx.await.unwrap());
        }
        assert_ne!(threads[0], threads[1]);
        assert_eq!(threads[0], threads[2]);
        assert_eq!(threads[1], threads[3]);
        assert_ne!(threads[0], std::thread::current().id());
    }

    #[actix_rt::test]
    async fn zero_means_one_per_core_and_one_the_callers_thread() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(ArbiterPool::new(0).len(), cores);
        let one = ArbiterPool::new(1);
        let (tx, rx) = tokio::sync::oneshot::channel();
        assert!(one.pick().spawn(async move {
            let _ = tx.send(std::thread::current().id());
        }));
        assert_eq!(rx.await.unwrap(), std::thread::current().id());
    }
}
