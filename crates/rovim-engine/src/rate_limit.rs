//! The call rate of one VIM account, adapted to what the VIM accepts. Operators rarely know a
//! VIM's limit in advance; being throttled (429, 413, EC2's `RequestLimitExceeded`) is the VIM
//! asking the whole account to slow down, so:
//! - a throttle pauses every call of the account for the Retry-After the VIM asked (1 s if it
//!   named none), and cuts the account's rate (to what the VIM accepted over the last second,
//!   at most 70 % of the current rate); calls already in flight when it came do not cut again;
//! - each success raises the rate slowly (by about max(0.2, 4 %) calls/s per second);
//! - the rate never exceeds `engine.rate_limit_qps` when that is set (and starts there); with
//!   no ceiling and no throttle seen, calls are not limited at all.
//!
//! Written here rather than taken from a crate because it must follow tokio's clock, so tests
//! with paused time can check it exactly.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The lowest rate a throttle can cut to.
const FLOOR_QPS: f64 = 0.2;
/// The longest pause a VIM's Retry-After is obeyed for in one go.
const MAX_PAUSE: Duration = Duration::from_secs(60);
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);
const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct RateLimiter {
    ceiling: Option<f64>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Calls per second allowed now; `None`: unlimited.
    rate: Option<f64>,
    next_slot: Option<Instant>,
    paused_until: Option<Instant>,
    /// Throttles before this instant answer calls sent before the last cut: no new cut.
    no_cut_before: Option<Instant>,
    /// Successful calls within the last [`WINDOW`].
    recent_ok: VecDeque<Instant>,
    throttles: u64,
}

/// What the limiter has seen (its tests read it).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSnapshot {
    pub rate: Option<f64>,
    pub throttles: u64,
}

impl RateLimiter {
    /// `ceiling`: `engine.rate_limit_qps` (`None` or a non-positive rate: no ceiling).
    pub fn new(ceiling: Option<f64>) -> RateLimiter {
        let ceiling = ceiling.filter(|q| *q > 0.0 && q.is_finite());
        RateLimiter {
            ceiling,
            state: Mutex::new(State {
                rate: ceiling,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for this call's slot (and out any pause the VIM asked for).
    pub async fn acquire(&self) {
        loop {
            let at = {
                let mut st = self.lock();
                let now = Instant::now();
                let mut at = now;
                if let Some(p) = st.paused_until {
                    at = at.max(p);
                }
                if let Some(rate) = st.rate {
                    if let Some(n) = st.next_slot {
                        at = at.max(n);
                    }
                    st.next_slot = Some(at + Duration::from_secs_f64(1.0 / rate));
                }
                at
            };
            tokio::time::sleep_until(at).await;
            // A throttle that came while this call waited for its slot holds it too.
            let paused = self.lock().paused_until.is_some_and(|p| p > Instant::now());
            if !paused {
                return;
            }
        }
    }

    /// The VIM accepted a call: raise the rate a little.
    pub fn on_success(&self) {
        let mut st = self.lock();
        let now = Instant::now();
        st.recent_ok.push_back(now);
        while st
            .recent_ok
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            st.recent_ok.pop_front();
        }
        if let Some(rate) = st.rate {
            let per_second = (0.04 * rate).max(0.2);
            let raised = rate + per_second / rate;
            st.rate = Some(self.ceiling.map_or(raised, |c| raised.min(c)));
        }
    }

    /// The VIM asked to slow down: pause the account, and cut its rate once per throttle.
    pub fn on_throttled(&self, retry_after: Option<Duration>) {
        let mut st = self.lock();
        let now = Instant::now();
        st.throttles += 1;
        let pause = retry_after.unwrap_or(DEFAULT_PAUSE).min(MAX_PAUSE);
        let until = now + pause;
        st.paused_until = Some(st.paused_until.map_or(until, |p| p.max(until)));
        if st.no_cut_before.is_some_and(|t| now < t) {
            return;
        }
        let accepted = st
            .recent_ok
            .iter()
            .filter(|t| now.duration_since(**t) <= WINDOW)
            .count() as f64;
        let current = st.rate.unwrap_or(f64::INFINITY);
        let mut cut = (current * 0.7).min(if accepted > 0.0 {
            accepted
        } else {
            current * 0.5
        });
        if !cut.is_finite() {
            cut = 1.0;
        }
        st.rate = Some(cut.max(FLOOR_QPS));
        st.next_slot = None;
        // Answers to calls sent before this cut may still be throttles: they say nothing new.
        st.no_cut_before = Some(until + Duration::from_secs_f64(1.0 / cut.max(FLOOR_QPS)));
    }

    #[cfg(test)]
    pub fn snapshot(&self) -> RateSnapshot {
        let st = self.lock();
        RateSnapshot {
            rate: st.rate,
            throttles: st.throttles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_by_the_ceiling_and_unlimited_without_one() {
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

    #[tokio::test(start_paused = true)]
    async fn a_throttle_pauses_every_call_for_the_retry_after_and_cuts_the_rate() {
        let l = RateLimiter::new(None);
        for _ in 0..10 {
            l.acquire().await;
            l.on_success();
        }
        l.on_throttled(Some(Duration::from_millis(500)));
        let rate = l.snapshot().rate.expect("limited after a throttle");
        assert!((rate - 10.0).abs() < 1e-9, "min(10 accepted, ∞): {rate}");
        let t0 = Instant::now();
        l.acquire().await;
        assert_eq!(
            t0.elapsed(),
            Duration::from_millis(500),
            "waits out the pause"
        );
        // Throttles answering calls sent before the cut do not cut again.
        l.on_throttled(None);
        assert!((l.snapshot().rate.unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(l.snapshot().throttles, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_climbs_back_slowly_and_never_above_the_ceiling() {
        let l = RateLimiter::new(Some(5.0));
        l.on_throttled(Some(Duration::ZERO));
        let cut = l.snapshot().rate.unwrap();
        assert!(
            (cut - 2.5).abs() < 1e-9,
            "nothing accepted yet: half of 5: {cut}"
        );
        for _ in 0..1000 {
            l.acquire().await;
            l.on_success();
        }
        assert_eq!(
            l.snapshot().rate,
            Some(5.0),
            "capped by engine.rate_limit_qps"
        );
    }

    /// Against a token-bucket VIM of 5 calls/s (burst 5), 200 calls issued as fast as the
    /// limiter lets them: the refusals stay few and the rate settles near the VIM's limit.
    #[tokio::test(start_paused = true)]
    async fn against_a_5_qps_vim_the_rate_settles_near_its_limit_with_few_refusals() {
        let l = RateLimiter::new(None);
        let (qps, burst) = (5.0_f64, 5.0_f64);
        let mut bucket = (burst, Instant::now());
        let (mut ok, mut refused) = (0, 0);
        let t0 = Instant::now();
        while ok < 200 {
            l.acquire().await;
            let now = Instant::now();
            bucket.0 = (bucket.0 + now.duration_since(bucket.1).as_secs_f64() * qps).min(burst);
            bucket.1 = now;
            if bucket.0 >= 1.0 {
                bucket.0 -= 1.0;
                ok += 1;
                l.on_success();
            } else {
                refused += 1;
                let wait = Duration::from_secs_f64((1.0 - bucket.0) / qps);
                l.on_throttled(Some(wait));
            }
        }
        let rate = ok as f64 / t0.elapsed().as_secs_f64();
        assert!(refused < 40, "{refused} refused for 200 accepted");
        assert!(rate > 3.5 && rate <= 5.2, "settled at {rate:.2} calls/s");
    }
}
