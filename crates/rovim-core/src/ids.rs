//! Identifiers. Every id is a UUID newtype so that an action id can never be passed where an item
//! id is expected; a task is keyed by `(action_id, task_index)` as in the reference.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An id that did not parse, with the text that was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} '{value}': {reason}")]
pub struct ParseIdError {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh id, time-ordered (UUIDv7: milliseconds since the epoch, then random
            /// bits): rows keyed by it append to the tables' B-trees in creation order instead
            /// of landing on random pages, so inserts do not slow down as the tables grow.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|e| ParseIdError {
                    what: $what,
                    value: s.to_owned(),
                    reason: e.to_string(),
                })
            }
        }
    };
}

uuid_id!(
    /// An action: the set of tasks an orchestrator submitted at once.
    ActionId,
    "action id"
);
uuid_id!(
    /// A net or VM row (the element a task acts on).
    ItemId,
    "item id"
);
uuid_id!(
    /// A VIM account (the reference's datacenter_tenant): one VimActor each.
    VimAccountId,
    "VIM account id"
);
uuid_id!(
    /// An SDN controller.
    SdnControllerId,
    "SDN controller id"
);

/// The key of a task: its action and its 0-based index within that action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskKey {
    pub action: ActionId,
    pub index: u32,
}

impl TaskKey {
    pub fn new(action: ActionId, index: u32) -> Self {
        Self { action, index }
    }
}

/// `<action_id>.<index>`, the reference's cross-action form (fc5f80b).
impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.action, self.index)
    }
}

impl FromStr for TaskKey {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ParseIdError {
            what: "task key",
            value: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (action, index) = s
            .rsplit_once('.')
            .ok_or_else(|| err("expected <action_id>.<index>"))?;
        let action = action.parse().map_err(|e: ParseIdError| err(&e.reason))?;
        let index = index
            .parse()
            .map_err(|_| err("index is not a non-negative integer"))?;
        Ok(TaskKey { action, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_key_round_trips_through_its_text_form() {
        let key = TaskKey::new(ActionId::generate(), 17);
        assert_eq!(key.to_string().parse::<TaskKey>().unwrap(), key);
    }

    #[test]
    fn task_key_rejects_missing_or_bad_index() {
        let action = ActionId::generate();
        assert!(action.to_string().parse::<TaskKey>().is_err());
        assert!(format!("{action}.x").parse::<TaskKey>().is_err());
        assert!(format!("{action}.-1").parse::<TaskKey>().is_err());
        let e = "nope.3".parse::<TaskKey>().unwrap_err();
        assert_eq!(e.what, "task key");
    }

    #[test]
    fn ids_made_later_sort_after_as_text_so_rows_append() {
        let first = ItemId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later: Vec<String> = (0..100).map(|_| ItemId::generate().to_string()).collect();
        assert!(
            later.iter().all(|id| *id > first.to_string()),
            "{first} {later:?}"
        );
        assert_ne!(later[0], later[1], "still unique within a millisecond");
    }

    #[test]
    fn ids_of_different_kinds_name_themselves_in_errors() {
        let e = "zzz".parse::<VimAccountId>().unwrap_err();
        assert!(e.to_string().starts_with("invalid VIM account id 'zzz'"));
    }
}
