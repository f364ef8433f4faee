//! The due times of every live element, per VIM account, and how due elements become refresh
//! batches. An element may be polled early, by up to half its interval, to fill a batch: that
//! is what turns 1,000 elements whose due times are spread by jitter into ⌈1000/batch⌉ calls
//! per interval instead of one small call per element. Plain struct; the RefreshScheduler actor
//! wraps it.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use rovim_core::VimAccountId;
use tokio::time::Instant;

use crate::task_entry::ElementKey;

#[derive(Debug, Clone, Copy)]
struct Entry {
    vim: VimAccountId,
    due: Instant,
    /// How much earlier than `due` the element may be taken to fill a batch.
    slack: Duration,
}

#[derive(Debug, Default)]
pub struct RefreshQueue {
    by_vim: HashMap<VimAccountId, BTreeSet<(Instant, ElementKey)>>,
    entries: HashMap<ElementKey, Entry>,
}

impl RefreshQueue {
    pub fn new() -> RefreshQueue {
        RefreshQueue::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets (or moves) an element's next poll; `interval` bounds how early it may be taken.
    pub fn track(
        &mut self,
        vim: VimAccountId,
        element: ElementKey,
        due: Instant,
        interval: Duration,
    ) {
        self.untrack(element);
        self.by_vim.entry(vim).or_default().insert((due, element));
        self.entries.insert(
            element,
            Entry {
                vim,
                due,
                slack: interval / 2,
            },
        );
    }

    pub fn untrack(&mut self, element: ElementKey) {
        if let Some(e) = self.entries.remove(&element)
            && let Some(set) = self.by_vim.get_mut(&e.vim)
        {
            set.remove(&(e.due, element));
            if set.is_empty() {
                self.by_vim.remove(&e.vim);
            }
        }
    }

    /// Forgets every element of an account.
    pub fn drop_vim(&mut self, vim: VimAccountId) {
        if let Some(set) = self.by_vim.remove(&vim) {
            for (_, element) in set {
                self.entries.remove(&element);
            }
        }
    }

    /// The earliest due time of all.
    pub fn next_due(&self) -> Option<Instant> {
        self.by_vim
            .values()
            .filter_map(|s| s.first().map(|(due, _)| *due))
            .min()
    }

    /// Takes the batches due at `now`: for each account with an element due, batches of up to
    /// `batch(vim)` elements, filled with elements due soon (within their slack). Taken elements
    /// leave the queue until tracked again.
    pub fn take_due(
        &mut self,
        now: Instant,
        batch: impl Fn(VimAccountId) -> usize,
    ) -> Vec<(VimAccountId, Vec<ElementKey>)> {
        let mut out = Vec::new();
        let vims: Vec<VimAccountId> = self
            .by_vim
            .iter()
            .filter(|(_, s)| s.first().is_some_and(|(due, _)| *due <= now))
            .map(|(v, _)| *v)
            .collect();
        for vim in vims {
            let size = batch(vim).max(1);
            // Batch after batch while this account's earliest element is due.
            while let Some(set) = self
                .by_vim
                .get(&vim)
                .filter(|set| set.first().is_some_and(|(due, _)| *due <= now))
            {
                let mut taken = Vec::with_capacity(size);
                for (due, element) in set.iter() {
                    if taken.len() == size {
                        break;
                    }
                    let slack = self
                        .entries
                        .get(element)
                        .map_or(Duration::ZERO, |e| e.slack);
                    if *due <= now + slack {
                        taken.push(*element);
                    } else if *due > now + Duration::from_secs(3600) {
                        break; // nothing that far ahead can fill a batch now
                    }
                }
                for element in &taken {
                    self.untrack(*element);
                }
                out.push((vim, taken));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rovim_core::{ItemId, ItemKind};

    fn el() -> ElementKey {
        (ItemKind::Vm, ItemId::generate())
    }

    #[test]
    fn a_thousand_jittered_elements_make_ceil_n_over_batch_calls_per_interval() {
        let vim = VimAccountId::generate();
        let start = Instant::now();
        let interval = Duration::from_secs(60);
        let mut q = RefreshQueue::new();
        // Due times spread over ±10 % of the interval, as the jitter does.
        for i in 0..1000u64 {
            q.track(
                vim,
                el(),
                start + interval + Duration::from_millis(i * 12) - Duration::from_secs(6),
                interval,
            );
        }
        let mut calls = 0;
        let mut polled = 0;
        let mut now = start;
        while let Some(due) = q.next_due() {
            now = now.max(due);
            for (_, batch) in q.take_due(now, |_| 100) {
                calls += 1;
                polled += batch.len();
                assert!(batch.len() <= 100);
            }
        }
        assert_eq!((calls, polled), (10, 1000));
        // Each batch goes out when its earliest element is due, taking later ones along: the
        // tenth starts with element 900.
        assert_eq!(now, start + Duration::from_millis(54_000 + 900 * 12));
    }

    #[test]
    fn nothing_is_taken_before_the_first_element_is_due_and_untracked_elements_never_are() {
        let vim = VimAccountId::generate();
        let now = Instant::now();
        let mut q = RefreshQueue::new();
        let (a, b) = (el(), el());
        q.track(vim, a, now + Duration::from_secs(5), Duration::from_secs(5));
        q.track(vim, b, now + Duration::from_secs(6), Duration::from_secs(5));
        assert!(q.take_due(now, |_| 10).is_empty());
        q.untrack(a);
        assert_eq!(q.next_due(), Some(now + Duration::from_secs(6)));
        let taken = q.take_due(now + Duration::from_secs(6), |_| 10);
        assert_eq!(taken, vec![(vim, vec![b])]);
        assert!(q.is_empty());
    }

    #[test]
    fn accounts_are_batched_apart_and_a_backlog_is_drained_in_several_batches() {
        let (v1, v2) = (VimAccountId::generate(), VimAccountId::generate());
        let now = Instant::now();
        let mut q = RefreshQueue::new();
        for _ in 0..25 {
            q.track(v1, el(), now, Duration::from_secs(5));
        }
        q.track(v2, el(), now, Duration::from_secs(5));
        let mut got = q.take_due(now, |v| if v == v1 { 10 } else { 5 });
        got.sort_by_key(|(v, b)| (*v == v2, b.len()));
        let sizes: Vec<(bool, usize)> = got.iter().map(|(v, b)| (*v == v1, b.len())).collect();
        assert_eq!(sizes, vec![(true, 5), (true, 10), (true, 10), (false, 1)]);
        // Re-tracking moves an element instead of duplicating it.
        let e = el();
        q.track(v1, e, now, Duration::from_secs(5));
        q.track(v1, e, now + Duration::from_secs(1), Duration::from_secs(5));
        assert_eq!(q.len(), 1);
    }
}
