//! What a task does (`Action`), to what (`ItemKind`), where it stands (`TaskStatus`), and how
//! its transitions move the action's counters.

use crate::string_enum::string_enum;

/// A string that is not one of the values of a fixed vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}'")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

string_enum! {
    /// What a task does to its element.
    pub enum Action: "task action" {
        Create => "CREATE",
        Find => "FIND",
        Delete => "DELETE",
        /// Put an existing element under rovim's management: tagged, recorded as created (a
        /// later DELETE removes it), refreshed.
        Adopt => "ADOPT",
    }
}

string_enum! {
    /// The kind of element a task acts on.
    pub enum ItemKind: "item kind" {
        Net => "net",
        Vm => "vm",
    }
}

string_enum! {
    /// Where a task stands. `Done` is the only status whose element is polled.
    pub enum TaskStatus: "task status" {
        /// Stored, not started (waiting for its turn, a dependency, or its VIM).
        Scheduled => "SCHEDULED",
        /// A VIM call is in flight; its intent and idempotency token are persisted.
        Build => "BUILD",
        /// The element exists (created or found) and is polled.
        Done => "DONE",
        /// Ended in error; the message says why.
        Failed => "FAILED",
        /// Made pointless by a later DELETE before it did anything on the VIM.
        Superseded => "SUPERSEDED",
        /// Completed and never polled again: a DELETE that ran, or a CREATE/FIND whose element
        /// was deleted.
        Finished => "FINISHED",
    }
}

impl TaskStatus {
    /// Not yet counted in the action's counters: still to be executed.
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Scheduled | TaskStatus::Build)
    }

    /// Which counter a task in this status belongs to; `None` while it is open.
    /// Superseded counts as done, as in the reference (ODD-4 kept: the orchestrator's progress
    /// bar must reach 100 % when a deployment is deleted before it was built).
    pub fn counted_as(self) -> Option<Counter> {
        match self {
            TaskStatus::Scheduled | TaskStatus::Build => None,
            TaskStatus::Done | TaskStatus::Superseded | TaskStatus::Finished => Some(Counter::Done),
            TaskStatus::Failed => Some(Counter::Failed),
        }
    }

    /// Whether a task may move from `self` to `to`. Failed, Superseded and Finished are final;
    /// Done may only end (Finished, when its element is deleted).
    pub fn can_become(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        match self {
            Scheduled => to != Scheduled,
            Build => matches!(to, Done | Failed | Finished | Superseded),
            Done => to == Finished,
            Failed | Superseded | Finished => false,
        }
    }
}

/// The two counters of an action besides `number_tasks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Done,
    Failed,
}

/// Increments to apply to an action's `number_done` / `number_failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterDelta {
    pub done: i32,
    pub failed: i32,
}

impl CounterDelta {
    pub fn is_zero(self) -> bool {
        self.done == 0 && self.failed == 0
    }
}

impl std::ops::AddAssign for CounterDelta {
    fn add_assign(&mut self, rhs: Self) {
        self.done += rhs.done;
        self.failed += rhs.failed;
    }
}

/// The counter change of one transition: a task is counted when it first leaves the open
/// statuses, and never again (so Done → Finished adds nothing). This is what keeps counters exact
/// where the reference added 5 to `number_failed` for one task (BUG-4).
pub fn counter_delta(from: TaskStatus, to: TaskStatus) -> CounterDelta {
    if from.counted_as().is_some() {
        return CounterDelta::default();
    }
    match to.counted_as() {
        Some(Counter::Done) => CounterDelta { done: 1, failed: 0 },
        Some(Counter::Failed) => CounterDelta { done: 0, failed: 1 },
        None => CounterDelta::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strings_round_trip_and_unknown_values_are_named() {
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>().unwrap(), *s);
        }
        for a in Action::ALL {
            assert_eq!(a.to_string().parse::<Action>().unwrap(), *a);
        }
        let e = "RUN".parse::<Action>().unwrap_err();
        assert_eq!(e.to_string(), "unknown task action 'RUN'");
        let json = serde_json::to_string(&ItemKind::Vm).unwrap();
        assert_eq!(json, "\"vm\"");
        assert!(serde_json::from_str::<ItemKind>("\"image\"").is_err());
    }

    #[test]
    fn counting_happens_on_the_first_exit_from_open_statuses_only() {
        use TaskStatus::*;
        assert_eq!(counter_delta(Scheduled, Build), CounterDelta::default());
        assert_eq!(
            counter_delta(Build, Done),
            CounterDelta { done: 1, failed: 0 }
        );
        assert_eq!(
            counter_delta(Scheduled, Superseded),
            CounterDelta { done: 1, failed: 0 }
        );
        assert_eq!(
            counter_delta(Build, Failed),
            CounterDelta { done: 0, failed: 1 }
        );
        assert_eq!(counter_delta(Done, Finished), CounterDelta::default());
    }

    #[test]
    fn final_statuses_do_not_move() {
        use TaskStatus::*;
        for to in TaskStatus::ALL {
            assert!(!Failed.can_become(*to));
            assert!(!Superseded.can_become(*to));
            assert!(!Finished.can_become(*to));
        }
        assert!(Done.can_become(Finished));
        assert!(!Done.can_become(Failed));
    }

    fn status() -> impl Strategy<Value = TaskStatus> {
        proptest::sample::select(TaskStatus::ALL.to_vec())
    }

    proptest! {
        /// Whatever legal path a task takes, once it is no longer open it has been counted
        /// exactly once, in exactly one of done or failed.
        #[test]
        fn every_task_is_counted_exactly_once(path in proptest::collection::vec(status(), 0..12)) {
            let mut current = TaskStatus::Scheduled;
            let mut total = CounterDelta::default();
            for next in path {
                if current.can_become(next) {
                    total += counter_delta(current, next);
                    current = next;
                }
            }
            let counted = total.done + total.failed;
            if current.is_open() {
                prop_assert_eq!(counted, 0);
            } else {
                prop_assert_eq!(counted, 1);
                match current.counted_as() {
                    Some(Counter::Done) => prop_assert_eq!(total.done, 1),
                    Some(Counter::Failed) => prop_assert_eq!(total.failed, 1),
                    None => unreachable!(),
                }
            }
        }
    }
}
