//! The engine's knobs (the `engine:` section of the service's config file).

use std::time::Duration;

use rovim_core::{Backoff, RefreshPolicy};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// VIM calls in flight at once per VIM account (one per element at most).
    pub max_in_flight: usize,
    /// Calls per second to one VIM account (none: unlimited).
    pub rate_limit_qps: Option<f64>,
    /// A VIM call that has not answered after this long fails with a (retryable) timeout.
    pub call_timeout_secs: f64,
    /// Tries of one VIM call before a retryable error fails the task. Throttled tries (the VIM
    /// asked to slow down) do not count: the account's rate adapts instead.
    pub max_attempts: u32,
    /// How long a call may keep being throttled before its task fails.
    pub throttle_deadline_secs: f64,
    /// How long a DELETE is retried while the VIM says its element is still in use (a net
    /// whose ports are being released) before its task fails.
    pub in_use_retry_secs: f64,
    /// Backoff between retries of one call (exponential, with jitter).
    pub retry_min_secs: f64,
    pub retry_max_secs: f64,
    /// Backoff between restarts of a failed VimActor.
    pub restart_min_secs: f64,
    pub restart_max_secs: f64,
    /// Backoff between starts of an account whose credentials the VIM refused (each try is a
    /// failed login that lockout policies count); an edit of the account retries at once.
    pub auth_retry_min_secs: f64,
    pub auth_retry_max_secs: f64,
    /// Whether a VIM URL may name a link-local address (169.254.0.0/16, fe80::/10: where cloud
    /// metadata services answer). Off: such URLs are refused.
    pub allow_link_local_urls: bool,
    /// Writes queued or being committed at once by the DbActor.
    pub db_max_in_flight: usize,
    /// Threads the VimActors run on (0: one per core).
    pub arbiters: usize,
    pub refresh: RefreshConfig,
    pub cluster: ClusterConfig,
    pub sweep: SweepConfig,
}

/// What a sweep does with the orphans it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepPolicy {
    /// List them (API, metric, log) and leave them.
    Report,
    /// Delete them on the VIM.
    Delete,
}

/// The orphan sweeper: elements tagged by this installation that no live item owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    /// How often each account this instance runs is swept (0: only on demand).
    pub interval_secs: f64,
    /// How old an unowned element must be to be an orphan, so that a create in flight (made,
    /// its answer not yet written) never is one.
    pub grace_secs: f64,
    pub policy: SweepPolicy,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3600.0,
            grace_secs: 3600.0,
            policy: SweepPolicy::Report,
        }
    }
}

impl SweepConfig {
    pub fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace_secs)
    }
}

/// Several instances on one PostgreSQL database (SQLite serves one instance: there the
/// instance simply holds every account).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// How often an instance renews its leases (and heartbeats, and rebalances).
    pub renew_secs: f64,
    /// How long a lease lasts unrenewed: a paused or cut-off instance's accounts are taken
    /// over this long after its last renewal (a dead one's at once).
    pub lease_secs: f64,
    /// How often each VimActor looks for new tasks stored by other instances, in case a
    /// notification was missed (they normally arrive within milliseconds).
    pub poll_secs: f64,
    /// The address other instances and operators see for this one's API (default: the
    /// address it listens on).
    pub advertise: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            renew_secs: 3.0,
            lease_secs: 10.0,
            poll_secs: 10.0,
            advertise: None,
        }
    }
}

/// How live elements are polled (DESIGN §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshConfig {
    /// While BUILD (`-1` disables).
    pub build_secs: f64,
    /// While ACTIVE or otherwise up.
    pub active_secs: f64,
    /// While in error.
    pub error_secs: f64,
    /// Fraction (0.0..=0.5) by which each due time moves, so elements spread out.
    pub jitter: f64,
    /// How soon an element just created is polled first: its first state read (status, IPs,
    /// MACs) joins the batch of the elements created meanwhile rather than a call of its own.
    pub first_secs: f64,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self {
            build_secs: 5.0,
            active_secs: 60.0,
            error_secs: 600.0,
            jitter: 0.1,
            first_secs: 0.5,
        }
    }
}

impl RefreshConfig {
    pub fn policy(&self) -> Result<RefreshPolicy, ConfigError> {
        RefreshPolicy::from_secs_f64(
            self.build_secs,
            self.active_secs,
            self.error_secs,
            self.jitter,
        )
        .map_err(|e| ConfigError {
            key: "refresh",
            reason: e.to_string(),
        })
    }

    /// `first_secs` as a duration; it must lie within 0..=3600.
    pub fn first_poll(&self) -> Result<Duration, ConfigError> {
        if !(0.0..=3600.0).contains(&self.first_secs) {
            return Err(ConfigError {
                key: "refresh.first_secs",
                reason: "must be within 0..=3600 seconds".into(),
            });
        }
        Ok(Duration::from_secs_f64(self.first_secs))
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 8,
            rate_limit_qps: None,
            call_timeout_secs: 60.0,
            max_attempts: 5,
            throttle_deadline_secs: 1800.0,
            in_use_retry_secs: 120.0,
            retry_min_secs: 1.0,
            retry_max_secs: 30.0,
            restart_min_secs: 1.0,
            auth_retry_min_secs: 300.0,
            auth_retry_max_secs: 3600.0,
            restart_max_secs: 300.0,
            allow_link_local_urls: false,
            db_max_in_flight: 4096,
            arbiters: 0,
            refresh: RefreshConfig::default(),
            cluster: ClusterConfig::default(),
            sweep: SweepConfig::default(),
        }
    }
}

/// A config value that does not make sense, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("engine.{key}: {reason}")]
pub struct ConfigError {
    pub key: &'static str,
    pub reason: String,
}

impl EngineConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key, reason: &str| {
            Err(ConfigError {
                key,
                reason: reason.into(),
            })
        };
        if self.max_in_flight == 0 {
            return bad("max_in_flight", "must be at least 1");
        }
        self.refresh.first_poll()?;
        if self.db_max_in_flight == 0 {
            return bad("db_max_in_flight", "must be at least 1");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts", "must be at least 1");
        }
        if self
            .rate_limit_qps
            .is_some_and(|q| !(q > 0.0 && q.is_finite()))
        {
            return bad("rate_limit_qps", "must be a positive number");
        }
        if !(self.throttle_deadline_secs > 0.0 && self.throttle_deadline_secs.is_finite()) {
            return bad("throttle_deadline_secs", "must be a positive number");
        }
        if !(self.in_use_retry_secs >= 0.0 && self.in_use_retry_secs.is_finite()) {
            return bad("in_use_retry_secs", "must be zero or more");
        }
        if !(self.call_timeout_secs > 0.0 && self.call_timeout_secs.is_finite()) {
            return bad("call_timeout_secs", "must be a positive number");
        }
        self.refresh.policy()?;
        let sweep = |s: f64| (0.0..=31_536_000.0).contains(&s);
        if !sweep(self.sweep.interval_secs) {
            return bad("sweep.interval_secs", "must be within 0..=31536000 seconds");
        }
        if !sweep(self.sweep.grace_secs) {
            return bad("sweep.grace_secs", "must be within 0..=31536000 seconds");
        }
        let c = &self.cluster;
        let positive = |s: f64| s > 0.0 && s.is_finite();
        if !positive(c.renew_secs) {
            return bad("cluster.renew_secs", "must be a positive number");
        }
        if !(positive(c.lease_secs) && c.lease_secs >= 2.0 * c.renew_secs) {
            return bad(
                "cluster.lease_secs",
                "must be at least twice cluster.renew_secs (a lease must survive a late renewal)",
            );
        }
        if !positive(c.poll_secs) {
            return bad("cluster.poll_secs", "must be a positive number");
        }
        self.retry_backoff()?;
        self.restart_backoff()?;
        self.auth_retry_backoff()?;
        Ok(())
    }

    pub fn call_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.call_timeout_secs)
    }

    pub fn in_use_deadline(&self) -> Duration {
        Duration::from_secs_f64(self.in_use_retry_secs)
    }

    pub fn throttle_deadline(&self) -> Duration {
        Duration::from_secs_f64(self.throttle_deadline_secs)
    }

    pub fn retry_backoff(&self) -> Result<Backoff, ConfigError> {
        backoff("retry_min_secs", self.retry_min_secs, self.retry_max_secs)
    }

    pub fn restart_backoff(&self) -> Result<Backoff, ConfigError> {
        backoff(
            "restart_min_secs",
            self.restart_min_secs,
            self.restart_max_secs,
        )
    }

    pub fn auth_retry_backoff(&self) -> Result<Backoff, ConfigError> {
        let (min, max) = (self.auth_retry_min_secs, self.auth_retry_max_secs);
        backoff("auth_retry_min_secs", min, max)
    }
}

/// The backoff from `key` (its `_min_secs`) to its `_max_secs`.
fn backoff(key: &'static str, min: f64, max: f64) -> Result<Backoff, ConfigError> {
    let bad = |reason: String| ConfigError { key, reason };
    let secs = |s: f64| Duration::try_from_secs_f64(s).map_err(|e| bad(format!("{s}: {e}")));
    Backoff::try_new(secs(min)?, secs(max)?, 0.5).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        EngineConfig::default().validate().unwrap();
        let e = EngineConfig {
            max_in_flight: 0,
            ..EngineConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.key, "max_in_flight");
        let e = EngineConfig {
            retry_min_secs: 10.0,
            retry_max_secs: 1.0,
            ..EngineConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.key, "retry_min_secs");
        let e = EngineConfig {
            rate_limit_qps: Some(0.0),
            ..EngineConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.key, "rate_limit_qps");
        let e = EngineConfig {
            cluster: ClusterConfig {
                renew_secs: 3.0,
                lease_secs: 5.0,
                ..ClusterConfig::default()
            },
            ..EngineConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.key, "cluster.lease_secs");
        assert!(e.to_string().contains("twice"), "{e}");
    }
}
