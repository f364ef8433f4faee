//! Exponential backoff with jitter, as a validated value type: used for VIM call retries and for
//! restarting a failed VimActor (1 s up to 5 min).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackoffError {
    #[error("min must be greater than zero")]
    ZeroMin,
    #[error("max ({max:?}) must not be below min ({min:?})")]
    MaxBelowMin { min: Duration, max: Duration },
    #[error("jitter must be within 0.0..=1.0, got {0}")]
    Jitter(f64),
}

/// `min * 2^attempt`, capped at `max`, then reduced by up to `jitter` of itself so that many
/// retries started together spread out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    pub fn try_new(min: Duration, max: Duration, jitter: f64) -> Result<Self, BackoffError> {
        if min.is_zero() {
            return Err(BackoffError::ZeroMin);
        }
        if max < min {
            return Err(BackoffError::MaxBelowMin { min, max });
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(BackoffError::Jitter(jitter));
        }
        Ok(Self { min, max, jitter })
    }

    /// The Supervisor's restart policy: 1 s up to 5 min, half jitter.
    pub fn actor_restart() -> Self {
        Self {
            min: Duration::from_secs(1),
            max: Duration::from_secs(300),
            jitter: 0.5,
        }
    }

    pub fn min(&self) -> Duration {
        self.min
    }

    pub fn max(&self) -> Duration {
        self.max
    }

    /// The un-jittered delay before retry number `attempt` (0-based).
    pub fn base(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(31));
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay before retry `attempt`; `sample` is a uniform draw in `[0, 1)` (the caller's
    /// random source, so this stays a pure function).
    pub fn delay(&self, attempt: u32, sample: f64) -> Duration {
        let sample = if sample.is_finite() {
            sample.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.base(attempt).mul_f64(1.0 - self.jitter * sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn invalid_settings_are_refused() {
        let s = Duration::from_secs(1);
        assert_eq!(
            Backoff::try_new(Duration::ZERO, s, 0.1),
            Err(BackoffError::ZeroMin)
        );
        assert!(matches!(
            Backoff::try_new(s * 2, s, 0.1),
            Err(BackoffError::MaxBelowMin { .. })
        ));
        assert_eq!(Backoff::try_new(s, s, 1.5), Err(BackoffError::Jitter(1.5)));
    }

    #[test]
    fn doubles_up_to_the_cap() {
        let b = Backoff::actor_restart();
        assert_eq!(b.base(0), Duration::from_secs(1));
        assert_eq!(b.base(3), Duration::from_secs(8));
        assert_eq!(b.base(9), Duration::from_secs(300));
        assert_eq!(b.base(u32::MAX), Duration::from_secs(300));
    }

    proptest! {
        #[test]
        fn delay_stays_within_bounds_and_base_never_shrinks(
            min_ms in 1u64..10_000, extra_ms in 0u64..1_000_000, jitter in 0.0f64..=1.0,
            attempt in 0u32..100, sample in 0.0f64..1.0,
        ) {
            let b = Backoff::try_new(Duration::from_millis(min_ms), Duration::from_millis(min_ms + extra_ms), jitter).unwrap();
            let d = b.delay(attempt, sample);
            prop_assert!(d <= b.max());
            prop_assert!(d >= b.base(attempt).mul_f64(1.0 - jitter) - Duration::from_nanos(1));
            prop_assert!(b.base(attempt + 1) >= b.base(attempt));
        }
    }
}
