//! When an element is polled next (DESIGN §5): every 5 s while BUILD, 60 s when up, 600 s in
//! error, each configurable and disabled by -1, with jitter so thousands of elements created
//! together do not all fall due in the same second.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::item_status::ItemStatus;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RefreshPolicyError {
    #[error("{field}: must be a positive number of seconds or -1 (disabled), got {value}")]
    Interval { field: &'static str, value: i64 },
    #[error("jitter: must be within 0.0..=0.5, got {0}")]
    Jitter(f64),
}

/// Polling intervals by element status; `None` means "do not poll".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshPolicy {
    build: Option<Duration>,
    active: Option<Duration>,
    error: Option<Duration>,
    jitter: f64,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            build: Some(Duration::from_secs(5)),
            active: Some(Duration::from_secs(60)),
            error: Some(Duration::from_secs(600)),
            jitter: 0.1,
        }
    }
}

fn interval(field: &'static str, value: i64) -> Result<Option<Duration>, RefreshPolicyError> {
    match value {
        -1 => Ok(None),
        v if v > 0 => Ok(Some(Duration::from_secs(v as u64))),
        v => Err(RefreshPolicyError::Interval { field, value: v }),
    }
}

impl RefreshPolicy {
    /// Seconds as configured (`-1` disables); `jitter` is the fraction by which a due time may
    /// move either way.
    pub fn try_new(
        build: i64,
        active: i64,
        error: i64,
        jitter: f64,
    ) -> Result<Self, RefreshPolicyError> {
        if !(0.0..=0.5).contains(&jitter) {
            return Err(RefreshPolicyError::Jitter(jitter));
        }
        Ok(Self {
            build: interval("refresh.build", build)?,
            active: interval("refresh.active", active)?,
            error: interval("refresh.error", error)?,
            jitter,
        })
    }

    /// Like [`try_new`](Self::try_new) with fractions of a second (`-1` disables), as read from a
    /// config file.
    pub fn from_secs_f64(
        build: f64,
        active: f64,
        error: f64,
        jitter: f64,
    ) -> Result<Self, RefreshPolicyError> {
        fn secs(field: &'static str, v: f64) -> Result<Option<Duration>, RefreshPolicyError> {
            if v == -1.0 {
                return Ok(None);
            }
            match Duration::try_from_secs_f64(v) {
                Ok(d) if !d.is_zero() => Ok(Some(d)),
                _ => Err(RefreshPolicyError::Interval {
                    field,
                    value: v as i64,
                }),
            }
        }
        if !(0.0..=0.5).contains(&jitter) {
            return Err(RefreshPolicyError::Jitter(jitter));
        }
        Ok(Self {
            build: secs("refresh.build_secs", build)?,
            active: secs("refresh.active_secs", active)?,
            error: secs("refresh.error_secs", error)?,
            jitter,
        })
    }

    /// The interval for `status` moved by the jitter; `sample` is a uniform draw in `[0, 1)`.
    pub fn jittered(&self, status: ItemStatus, sample: f64) -> Option<Duration> {
        let base = self.interval(status)?;
        let sample = if sample.is_finite() {
            sample.clamp(0.0, 1.0)
        } else {
            0.5
        };
        Some(base.mul_f64(1.0 + self.jitter * (2.0 * sample - 1.0)))
    }

    /// The interval for an element in `status`. A DELETED element is not polled: it is gone.
    pub fn interval(&self, status: ItemStatus) -> Option<Duration> {
        match status {
            ItemStatus::Build | ItemStatus::ScheduledCreation => self.build,
            ItemStatus::Deleted => None,
            s if s.is_error() => self.error,
            _ => self.active,
        }
    }

    /// The next due time after `now`; `sample` is a uniform draw in `[0, 1)`.
    pub fn next_due(
        &self,
        status: ItemStatus,
        now: DateTime<Utc>,
        sample: f64,
    ) -> Option<DateTime<Utc>> {
        let base = self.interval(status)?;
        let sample = if sample.is_finite() {
            sample.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let jittered = base.mul_f64(1.0 + self.jitter * (2.0 * sample - 1.0));
        let delta = chrono::Duration::from_std(jittered).ok()?;
        Some(now + delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fractional_intervals_and_jitter_bounds() {
        let p = RefreshPolicy::from_secs_f64(0.5, 2.0, -1.0, 0.2).unwrap();
        assert_eq!(
            p.interval(ItemStatus::Build),
            Some(Duration::from_millis(500))
        );
        assert_eq!(p.interval(ItemStatus::Error), None, "-1 disables");
        assert_eq!(
            p.jittered(ItemStatus::Active, 0.0),
            Some(Duration::from_millis(1600))
        );
        assert_eq!(
            p.jittered(ItemStatus::Active, 1.0),
            Some(Duration::from_millis(2400))
        );
        assert!(RefreshPolicy::from_secs_f64(0.0, 1.0, 1.0, 0.1).is_err());
        assert!(RefreshPolicy::from_secs_f64(1.0, -2.0, 1.0, 0.1).is_err());
    }

    #[test]
    fn defaults_follow_the_design() {
        let p = RefreshPolicy::default();
        assert_eq!(p.interval(ItemStatus::Build), Some(Duration::from_secs(5)));
        assert_eq!(
            p.interval(ItemStatus::Active),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            p.interval(ItemStatus::ActiveNoMgmtIp),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            p.interval(ItemStatus::Inactive),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            p.interval(ItemStatus::VimError),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            p.interval(ItemStatus::SdnError),
            Some(Duration::from_secs(600))
        );
        assert_eq!(p.interval(ItemStatus::Deleted), None);
    }

    #[test]
    fn minus_one_disables_and_other_non_positive_values_are_refused() {
        let p = RefreshPolicy::try_new(5, -1, 600, 0.0).unwrap();
        assert_eq!(p.next_due(ItemStatus::Active, Utc::now(), 0.3), None);
        assert!(p.next_due(ItemStatus::Build, Utc::now(), 0.3).is_some());
        let e = RefreshPolicy::try_new(0, 60, 600, 0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "refresh.build: must be a positive number of seconds or -1 (disabled), got 0"
        );
        assert!(RefreshPolicy::try_new(5, -2, 600, 0.0).is_err());
        assert!(RefreshPolicy::try_new(5, 60, 600, 0.9).is_err());
    }

    #[test]
    fn without_jitter_the_due_time_is_exact() {
        let p = RefreshPolicy::try_new(5, 60, 600, 0.0).unwrap();
        let now = Utc::now();
        assert_eq!(
            p.next_due(ItemStatus::Build, now, 0.9),
            Some(now + chrono::Duration::seconds(5))
        );
    }

    proptest! {
        #[test]
        fn jitter_keeps_the_due_time_within_its_band(sample in 0.0f64..1.0, jitter in 0.0f64..=0.5) {
            let p = RefreshPolicy::try_new(5, 60, 600, jitter).unwrap();
            let now = Utc::now();
            let due = p.next_due(ItemStatus::Active, now, sample).unwrap();
            let secs = (due - now).as_seconds_f64();
            prop_assert!(secs >= 60.0 * (1.0 - jitter) - 1e-6);
            prop_assert!(secs <= 60.0 * (1.0 + jitter) + 1e-6);
        }
    }
}
