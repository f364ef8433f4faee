//! A per-VIM call rate limit: calls are spaced `1/qps` apart, in order of arrival. Written here
//! rather than taken from a crate because it must follow tokio's clock, so tests with paused
//! time can check it exactly.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    interval: Option<Duration>,
    next_slot: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `None` (or a non-positive rate) means no limit.
    pub fn new(qps: Option<f64>) -> RateLimiter {
        let interval = qps
            .filter(|q| *q > 0.0 && q.is_finite())
            .map(|q| Duration::from_secs_f64(1.0 / q));
        RateLimiter {
            interval,
            next_slot: Mutex::new(None),
        }
    }

    /// Waits for this call's slot.
    pub async fn acquire(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let mut next = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_by_the_rate() {
        let l = RateLimiter::new(Some(4.0));
        let t0 = Instant::now();
        for _ in 0..5 {
            l.acquire().await;
        }
        assert_eq!(
            t0.elapsed(),
            Duration::from_millis(1000),
            "5 calls at 4/s: the 5th at 1 s"
        );
        let none = RateLimiter::new(None);
        let t1 = Instant::now();
        for _ in 0..100 {
            none.acquire().await;
        }
        assert_eq!(t1.elapsed(), Duration::ZERO);
    }
}
