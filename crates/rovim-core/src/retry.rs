//! What a VIM call does after a failed try: the retry rule, apart from the I/O that carries it
//! out. Throttling is not a failed try (the account's limiter paces it) and is waited out up to
//! a deadline; a DELETE whose element is still in use waits for its users with backoff, up to a
//! deadline; a transient failure is tried again (looking its token up first, so no twin is
//! made) up to the attempt budget; a VIM unreachable through all of that aborts the call, since
//! it says nothing about the task; anything else fails the task, a create that may have
//! happened after one last look by token (so it is adopted, not leaked).

use std::time::Duration;

/// A failed try, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The VIM asked to slow down (429, RequestLimitExceeded).
    Throttled,
    /// The element is still used by others (a net with ports).
    InUse,
    /// The VIM could not be reached.
    Unreachable,
    /// A timeout or an answer rovim could not use: it may pass.
    Transient,
    /// The VIM refused the request as such: trying again will not help.
    Permanent,
}

/// The call being made, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// CREATE or FIND-then-CREATE: it may have happened although the try failed.
    Create,
    Delete,
    /// FIND: reading only.
    Find,
}

/// How far retries go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    /// Tries of a call that failed for other reasons than throttling.
    pub max_attempts: u32,
    pub throttle_deadline: Duration,
    pub in_use_deadline: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Throttled: go again at once (the limiter paces it); the try does not count.
    AgainThrottled,
    /// Wait with the backoff's step `step`, then try again (looking the token up first when
    /// `recover`, since the failed try may have done something).
    Retry { step: u32, recover: bool },
    /// Fail the task; `look_by_token` first for a create that may have happened; `why` adds to
    /// the VIM's error.
    Fail {
        look_by_token: bool,
        why: Option<GaveUp>,
    },
    /// Stop the call without an outcome for its task: the VIM is down.
    VimDown,
}

/// Why retrying stopped before the attempt budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    StillThrottled(Duration),
    StillInUse(Duration),
}

/// The rule; `attempts` counts the tries made so far (throttled ones excluded), `elapsed` the
/// time since the call began.
pub fn retry_decision(
    failure: FailureKind,
    call: CallKind,
    attempts: u32,
    elapsed: Duration,
    budget: &RetryBudget,
) -> RetryDecision {
    match failure {
        FailureKind::Throttled if elapsed < budget.throttle_deadline => {
            RetryDecision::AgainThrottled
        }
        FailureKind::Throttled => RetryDecision::Fail {
            look_by_token: false,
            why: Some(GaveUp::StillThrottled(budget.throttle_deadline)),
        },
        FailureKind::InUse if call == CallKind::Delete && elapsed < budget.in_use_deadline => {
            RetryDecision::Retry {
                step: attempts.saturating_sub(1).min(8),
                recover: false,
            }
        }
        FailureKind::InUse if call == CallKind::Delete => RetryDecision::Fail {
            look_by_token: false,
            why: Some(GaveUp::StillInUse(budget.in_use_deadline)),
        },
        FailureKind::Unreachable | FailureKind::Transient if attempts < budget.max_attempts => {
            RetryDecision::Retry {
                step: attempts.saturating_sub(1),
                recover: true,
            }
        }
        FailureKind::Unreachable => RetryDecision::VimDown,
        FailureKind::Transient => RetryDecision::Fail {
            look_by_token: call == CallKind::Create,
            why: None,
        },
        FailureKind::InUse | FailureKind::Permanent => RetryDecision::Fail {
            look_by_token: false,
            why: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BUDGET: RetryBudget = RetryBudget {
        max_attempts: 3,
        throttle_deadline: Duration::from_secs(60),
        in_use_deadline: Duration::from_secs(30),
    };
    const S: Duration = Duration::from_secs(1);

    #[test]
    fn throttling_is_waited_out_then_given_up() {
        let d = |elapsed| {
            retry_decision(
                FailureKind::Throttled,
                CallKind::Create,
                9,
                elapsed,
                &BUDGET,
            )
        };
        assert_eq!(d(S), RetryDecision::AgainThrottled, "not a failed try");
        assert_eq!(
            d(Duration::from_secs(61)),
            RetryDecision::Fail {
                look_by_token: false,
                why: Some(GaveUp::StillThrottled(BUDGET.throttle_deadline))
            }
        );
    }

    #[test]
    fn only_a_delete_waits_for_the_users_of_its_element() {
        assert_eq!(
            retry_decision(FailureKind::InUse, CallKind::Delete, 20, S, &BUDGET),
            RetryDecision::Retry {
                step: 8,
                recover: false
            },
            "backoff capped, no token lookup for a delete"
        );
        assert!(matches!(
            retry_decision(
                FailureKind::InUse,
                CallKind::Delete,
                1,
                Duration::from_secs(31),
                &BUDGET
            ),
            RetryDecision::Fail {
                why: Some(GaveUp::StillInUse(_)),
                ..
            }
        ));
        assert!(matches!(
            retry_decision(FailureKind::InUse, CallKind::Create, 1, S, &BUDGET),
            RetryDecision::Fail { why: None, .. }
        ));
    }

    #[test]
    fn transient_failures_retry_then_a_create_is_looked_up_before_it_fails() {
        assert_eq!(
            retry_decision(FailureKind::Transient, CallKind::Create, 1, S, &BUDGET),
            RetryDecision::Retry {
                step: 0,
                recover: true
            }
        );
        assert_eq!(
            retry_decision(FailureKind::Transient, CallKind::Create, 3, S, &BUDGET),
            RetryDecision::Fail {
                look_by_token: true,
                why: None
            }
        );
        assert_eq!(
            retry_decision(FailureKind::Transient, CallKind::Find, 3, S, &BUDGET),
            RetryDecision::Fail {
                look_by_token: false,
                why: None
            }
        );
        assert_eq!(
            retry_decision(FailureKind::Unreachable, CallKind::Create, 3, S, &BUDGET),
            RetryDecision::VimDown,
            "an unreachable VIM says nothing about the task"
        );
        assert!(matches!(
            retry_decision(FailureKind::Permanent, CallKind::Create, 1, S, &BUDGET),
            RetryDecision::Fail {
                look_by_token: false,
                ..
            }
        ));
    }

    proptest! {
        /// Whatever happens, a call ends: past the budget nothing but throttling (bounded by its
        /// own deadline) or an in-use delete (bounded too) is tried again.
        #[test]
        fn retries_are_bounded(attempts in 3u32..1000, secs in 61u64..100_000, k in 0usize..5, c in 0usize..3) {
            let kinds = [FailureKind::Throttled, FailureKind::InUse, FailureKind::Unreachable, FailureKind::Transient, FailureKind::Permanent];
            let calls = [CallKind::Create, CallKind::Delete, CallKind::Find];
            let d = retry_decision(kinds[k], calls[c], attempts, Duration::from_secs(secs), &BUDGET);
            prop_assert!(!matches!(d, RetryDecision::Retry { .. } | RetryDecision::AgainThrottled), "{d:?}");
        }
    }
}
