//! The engine's events, as they happen: a task settled (published once its commit is done), an
//! item's status changed (by a refresh or a create), a VIM account went up, down or restarted.
//! Each gets a number: the microseconds of its time since the Unix epoch, or one more than the
//! number before when that is not larger. The last few minutes are kept, so a subscriber that
//! lost its connection resumes after the last number it saw (SSE's `Last-Event-ID`); and
//! because numbers follow the clock, a resume after a restart, or on another instance (behind
//! a load balancer), gets what that engine showed since that time, or is told of a gap when it
//! holds nothing that old.
//!
//! With several instances, each relays its own events to the others (through the keeper, see
//! `cluster`), so a subscriber of any instance sees the events of every account, whichever
//! instance runs it, numbered by the clock of the instance that shows it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rovim_core::{AccountStatus, ActionId, ItemId, ItemKind, ItemStatus, TaskStatus, VimAccountId};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    TaskSettled {
        action: ActionId,
        task: u32,
        item: ItemKind,
        item_id: ItemId,
        vim_account: VimAccountId,
        status: TaskStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    ItemStatus {
        item: ItemKind,
        item_id: ItemId,
        vim_account: VimAccountId,
        status: ItemStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    Account {
        vim_account: VimAccountId,
        status: AccountStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Restarts since this instance started running it.
        restarts: u32,
    },
}

impl Event {
    pub fn vim_account(&self) -> VimAccountId {
        match self {
            Event::TaskSettled { vim_account, .. }
            | Event::ItemStatus { vim_account, .. }
            | Event::Account { vim_account, .. } => *vim_account,
        }
    }

    pub fn action(&self) -> Option<ActionId> {
        match self {
            Event::TaskSettled { action, .. } => Some(*action),
            _ => None,
        }
    }

    /// Its `type` on the wire (SSE's `event:` field).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::TaskSettled { .. } => "task_settled",
            Event::ItemStatus { .. } => "item_status",
            Event::Account { .. } => "account",
        }
    }
}

/// The item status changes a write makes (published once it is committed).
pub fn item_changes(vim_account: VimAccountId, batch: &rovim_store::WriteBatch) -> Vec<Event> {
    let of = |item: ItemKind, (id, u): &(ItemId, rovim_store::ItemUpdate)| {
        u.status.map(|status| Event::ItemStatus {
            item,
            item_id: *id,
            vim_account,
            status,
            error: u.error_msg.clone().flatten(),
        })
    };
    let nets = batch.nets.iter().filter_map(|n| of(ItemKind::Net, n));
    let vms = batch.vms.iter().filter_map(|v| of(ItemKind::Vm, v));
    nets.chain(vms).collect()
}

/// An event with its number and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stamped {
    pub id: u64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: Event,
}

/// How long and how many events are kept for resuming subscribers.
const KEEP_FOR: Duration = Duration::from_secs(300);
const KEEP_AT_MOST: usize = 20_000;

pub struct EventBus {
    recent: Mutex<Recent>,
    live: broadcast::Sender<Arc<Stamped>>,
    /// Where this instance's own events go to reach the other instances (the keeper thread),
    /// when there can be others (PostgreSQL).
    relay: std::sync::OnceLock<std::sync::mpsc::Sender<Event>>,
}

struct Recent {
    /// The number of the last event (or the bus's start, before the first).
    last: u64,
    /// Events up to this number may have happened and are not kept: the bus's start, then the
    /// last one dropped.
    floor: u64,
    kept: VecDeque<Arc<Stamped>>,
}

/// What a subscriber gets: the kept events after the one it names, then the live ones.
pub struct Subscription {
    pub missed: Vec<Arc<Stamped>>,
    /// Whether events after the one it asked to resume after may be missing (dropped, or from
    /// before this engine started).
    pub gap: bool,
    pub live: broadcast::Receiver<Arc<Stamped>>,
}

impl Default for EventBus {
    fn default() -> Self {
        let start = micros(Utc::now());
        EventBus {
            recent: Mutex::new(Recent {
                last: start,
                floor: start,
                kept: VecDeque::new(),
            }),
            live: broadcast::channel(4096).0,
            relay: std::sync::OnceLock::new(),
        }
    }
}

impl EventBus {
    /// From now on, this instance's own events are also sent to `relay` (set once).
    pub fn relay_to(&self, relay: std::sync::mpsc::Sender<Event>) {
        let _ = self.relay.set(relay);
    }

    /// An event of this instance.
    pub fn publish(&self, event: Event) {
        if let Some(relay) = self.relay.get() {
            // Its receiver gone (the keeper stopped) is fine: no other instance hears it.
            let _ = relay.send(event.clone());
        }
        self.show(event);
    }

    /// An event another instance relayed.
    pub fn publish_remote(&self, event: Event) {
        self.show(event);
    }

    fn show(&self, event: Event) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let at = Utc::now();
        let id = micros(at).max(recent.last + 1);
        recent.last = id;
        let stamped = Arc::new(Stamped { id, at, event });
        let horizon = at - KEEP_FOR;
        while let Some(oldest) = recent.kept.front() {
            if oldest.at >= horizon && recent.kept.len() < KEEP_AT_MOST {
                break;
            }
            recent.floor = oldest.id;
            recent.kept.pop_front();
        }
        recent.kept.push_back(stamped.clone());
        // Sent under the lock, so a subscriber's replay and live stream neither overlap nor
        // leave a hole. No receiver is fine.
        let _ = self.live.send(stamped);
    }

    /// Events from now on, after those kept since `after` (a `Last-Event-ID`), if given.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let live = self.live.subscribe();
        let Some(after) = after else {
            return Subscription {
                missed: Vec::new(),
                gap: false,
                live,
            };
        };
        let missed: Vec<_> = recent
            .kept
            .iter()
            .filter(|e| e.id > after)
            .cloned()
            .collect();
        Subscription {
            gap: after < recent.floor,
            missed,
            live,
        }
    }
}

/// An event number for time `at`.
fn micros(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_micros()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(restarts: u32) -> Event {
        Event::Account {
            vim_account: VimAccountId::generate(),
            status: AccountStatus::Error,
            reason: Some("unreachable".into()),
            restarts,
        }
    }

    /// The numbers of every event kept.
    fn numbers(bus: &EventBus) -> Vec<u64> {
        bus.subscribe(Some(0)).missed.iter().map(|e| e.id).collect()
    }

    #[tokio::test]
    async fn a_subscriber_resumes_after_the_last_event_it_saw_then_follows_live() {
        let bus = EventBus::default();
        for n in 0..5 {
            bus.publish(account(n));
        }
        let all = numbers(&bus);
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
        let mut s = bus.subscribe(Some(all[2]));
        assert_eq!(s.missed.iter().map(|e| e.id).collect::<Vec<_>>(), all[3..]);
        assert!(!s.gap);
        bus.publish(account(9));
        assert!(s.live.recv().await.unwrap().id > all[4]);
        let fresh = bus.subscribe(None);
        assert!(fresh.missed.is_empty(), "no replay without a Last-Event-ID");
    }

    #[test]
    fn numbers_follow_the_clock_so_a_resume_from_before_a_restart_is_told_of_a_gap() {
        let before_restart = micros(Utc::now());
        std::thread::sleep(Duration::from_millis(2));
        let bus = EventBus::default();
        for n in 0..3 {
            std::thread::sleep(Duration::from_millis(2));
            bus.publish(account(n));
        }
        let kept = bus.subscribe(Some(0)).missed;
        for e in &kept {
            assert!(e.id >= micros(e.at), "{} at {}", e.id, e.at);
        }
        let s = bus.subscribe(Some(before_restart));
        assert!(
            s.gap,
            "what happened before this engine started is not here"
        );
        assert_eq!(s.missed.len(), 3, "what is here comes all the same");
        assert!(!bus.subscribe(Some(kept[0].id)).gap);
        // A resume with a number from another instance's stream (its clock): what this one
        // showed after that time.
        let after_first = micros(kept[0].at);
        assert_eq!(bus.subscribe(Some(after_first)).missed.len(), 2);
    }

    #[test]
    fn own_events_are_relayed_and_relayed_ones_are_not_relayed_again() {
        let bus = EventBus::default();
        let (tx, rx) = std::sync::mpsc::channel();
        bus.relay_to(tx);
        let own = account(1);
        bus.publish(own.clone());
        bus.publish_remote(account(2));
        let relayed: Vec<Event> = rx.try_iter().collect();
        assert_eq!(relayed, vec![own.clone()]);
        assert_eq!(
            bus.subscribe(Some(0)).missed.len(),
            2,
            "both are shown here"
        );
        let back: Event = serde_json::from_str(&serde_json::to_string(&own).unwrap()).unwrap();
        assert_eq!(back, own, "what is relayed reads back the same");
    }

    #[test]
    fn events_serialize_with_their_type_and_number() {
        let bus = EventBus::default();
        bus.publish(account(2));
        let e = bus.subscribe(Some(0)).missed.remove(0);
        let v = serde_json::to_value(&*e).unwrap();
        assert_eq!(v["type"], "account");
        assert_eq!(v["id"], e.id);
        assert_eq!(v["status"], "ERROR");
        assert_eq!(v["restarts"], 2);
        assert_eq!(e.event.kind(), "account");
    }

    #[test]
    fn only_a_bounded_number_is_kept_and_a_resume_past_them_says_so() {
        let bus = EventBus::default();
        bus.publish(account(0));
        let first = numbers(&bus)[0];
        for n in 1..(KEEP_AT_MOST as u32 + 10) {
            bus.publish(account(n));
        }
        let kept = numbers(&bus);
        assert_eq!(kept.len(), KEEP_AT_MOST);
        let s = bus.subscribe(Some(first));
        assert_eq!(s.missed.len(), KEEP_AT_MOST);
        assert!(s.gap, "the nine after the first are gone");
        assert!(!bus.subscribe(Some(kept[0])).gap);
        assert!(!bus.subscribe(Some(*kept.last().unwrap())).gap);
    }
}
