//! Which elements tagged by this installation are orphans: made by rovim, owned by no live item
//! of its database, and older than the grace period (so a create in flight never is one).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What the database says of the token an element carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// A task carries it and its item is live: the element is owned.
    Live,
    /// A task carries it, but its item is DELETED.
    ItemDeleted,
    /// A task carries it, but its item row is gone.
    ItemGone,
    /// No task of this database carries it.
    Unknown,
    /// Its item is live but is another element: this one is a twin, a create made twice (a VIM
    /// without idempotency keys that finished a create rovim had given up on).
    Twin,
}

/// The state of a net or VM element whose token a live item carries: [`TokenState::Twin`] when
/// that item records another element, else [`TokenState::Live`] (also while the item records
/// none yet: a create in flight). Subnets and ports share their net's or VM's token and are
/// never twins by themselves.
pub fn live_state(is_main_element: bool, element: &str, item_vim_id: Option<&str>) -> TokenState {
    match item_vim_id {
        Some(recorded) if is_main_element && recorded != element => TokenState::Twin,
        _ => TokenState::Live,
    }
}

/// When a token was made: rovim's tokens are `rovim-` and a UUIDv7, whose first 48 bits are
/// the milliseconds since the epoch. `None` for any other text.
pub fn token_time(token: &str) -> Option<DateTime<Utc>> {
    let uuid = uuid::Uuid::try_parse(token.strip_prefix("rovim-")?).ok()?;
    let (secs, nanos) = uuid.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
}

/// The element's age: from the VIM's creation time when it gives one, else from its token's.
pub fn element_age(
    created_at: Option<DateTime<Utc>>,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let born = created_at.or_else(|| token.and_then(token_time))?;
    Some((now - born).to_std().unwrap_or_default())
}

/// Why the element is an orphan, or `None` when it is owned, too young, or of unknown age.
pub fn orphan_reason(
    token: Option<TokenState>,
    age: Option<Duration>,
    grace: Duration,
) -> Option<&'static str> {
    if age.is_none_or(|a| a < grace) {
        return None;
    }
    match token {
        Some(TokenState::Live) => None,
        Some(TokenState::ItemDeleted) => Some("its item is DELETED in the database"),
        Some(TokenState::ItemGone) => Some("its item's row is gone from the database"),
        Some(TokenState::Unknown) => Some(
            "no task in the database carries its token (made by a removed account, or after \
             the backup the database was restored from)",
        ),
        Some(TokenState::Twin) => Some(
            "a twin: its token's item is another element of the VIM (the create was made twice)",
        ),
        None => Some("it carries this installation's tag but no token"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_token_tells_when_it_was_made() {
        let before = Utc::now() - chrono::Duration::milliseconds(1);
        let token = format!("rovim-{}", uuid::Uuid::now_v7().simple());
        let t = token_time(&token).unwrap();
        assert!(t >= before && t <= Utc::now(), "{t}");
        assert_eq!(token_time("rovim-nothex"), None);
        assert_eq!(token_time(&uuid::Uuid::now_v7().simple().to_string()), None);
        // A version 4 UUID has no time.
        assert_eq!(
            token_time(&format!("rovim-{}", uuid::Uuid::new_v4().simple())),
            None
        );
    }

    #[test]
    fn age_prefers_the_vims_creation_time() {
        let now = Utc::now();
        let token = format!("rovim-{}", uuid::Uuid::now_v7().simple());
        let made = now - chrono::Duration::hours(2);
        assert_eq!(element_age(Some(made), Some(&token), now), Some(2 * HOUR));
        assert!(element_age(None, Some(&token), now).unwrap() < Duration::from_secs(1));
        assert_eq!(element_age(None, Some("hand-made"), now), None);
        assert_eq!(element_age(None, None, now), None);
    }

    #[test]
    fn only_old_elements_that_no_live_item_owns_are_orphans() {
        let old = Some(2 * HOUR);
        let young = Some(Duration::from_secs(10));
        assert_eq!(orphan_reason(Some(TokenState::Live), old, HOUR), None);
        assert_eq!(orphan_reason(Some(TokenState::Unknown), young, HOUR), None);
        assert_eq!(orphan_reason(Some(TokenState::Unknown), None, HOUR), None);
        for state in [
            Some(TokenState::ItemDeleted),
            Some(TokenState::ItemGone),
            Some(TokenState::Unknown),
            Some(TokenState::Twin),
            None,
        ] {
            assert!(orphan_reason(state, old, HOUR).is_some(), "{state:?}");
        }
        assert!(orphan_reason(Some(TokenState::Unknown), Some(HOUR), HOUR).is_some());
        assert!(
            orphan_reason(Some(TokenState::ItemGone), young, Duration::ZERO).is_some(),
            "grace 0: any age"
        );
    }

    #[test]
    fn a_net_or_vm_that_its_live_item_does_not_record_is_a_twin() {
        assert_eq!(live_state(true, "srv-2", Some("srv-1")), TokenState::Twin);
        assert_eq!(live_state(true, "srv-1", Some("srv-1")), TokenState::Live);
        assert_eq!(
            live_state(true, "srv-2", None),
            TokenState::Live,
            "a create in flight has no element recorded yet"
        );
        assert_eq!(
            live_state(false, "port-9", Some("srv-1")),
            TokenState::Live,
            "a VM's port carries the VM's token"
        );
    }
}
