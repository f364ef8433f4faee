//! Who waits on which action: a long-poll (`GET /v1/actions/{id}?wait=`) subscribes, and every
//! commit that settles tasks of the action wakes it, so a waiter reads the database once per
//! change instead of polling it.

use std::collections::HashMap;
use std::sync::Mutex;

use rovim_core::ActionId;
use tokio::sync::watch;

#[derive(Default)]
pub struct ActionWatch {
    senders: Mutex<HashMap<ActionId, watch::Sender<()>>>,
}

impl ActionWatch {
    /// A receiver that changes at every commit settling a task of `action` from now on.
    pub fn subscribe(&self, action: ActionId) -> watch::Receiver<()> {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        senders
            .entry(action)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe()
    }

    /// Tasks of these actions settled (and are committed).
    pub fn settled(&self, actions: impl IntoIterator<Item = ActionId>) {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        if senders.is_empty() {
            return;
        }
        for action in actions {
            if let Some(tx) = senders.get(&action) {
                if tx.receiver_count() == 0 {
                    senders.remove(&action);
                } else {
                    tx.send_replace(());
                }
            }
        }
        // Waiters that gave up on actions that never settle again.
        if senders.len() > 1024 {
            senders.retain(|_, tx| tx.receiver_count() > 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_settlement_wakes_the_waiters_of_its_action_only() {
        let w = ActionWatch::default();
        let (a, b) = (ActionId::generate(), ActionId::generate());
        let mut on_a = w.subscribe(a);
        let on_b = w.subscribe(b);
        w.settled([a]);
        assert!(on_a.has_changed().unwrap());
        assert!(!on_b.has_changed().unwrap());
        on_a.changed().await.unwrap();
        w.settled([a, a]);
        assert!(on_a.has_changed().unwrap());
        assert!(!on_b.has_changed().unwrap());
    }

    #[test]
    fn a_watch_nobody_holds_is_forgotten() {
        let w = ActionWatch::default();
        let a = ActionId::generate();
        drop(w.subscribe(a));
        w.settled([a]);
        assert!(w.senders.lock().unwrap().is_empty());
    }
}
