//! The sim VIM's knobs, read from a VIM account's `config`.

use serde::{Deserialize, Serialize};

/// Settings of a simulated VIM. Unknown keys are refused, naming the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    /// Added to every call.
    pub latency_ms: u64,
    /// Share of calls (0.0..=1.0) that fail with a retryable error.
    pub fail_rate: f64,
    /// Calls per second before the VIM answers "rate limited" (none when absent).
    pub rate_limit_qps: Option<f64>,
    /// Every call fails with a connection error.
    pub unreachable: bool,
    /// Time a VM spends in BUILD.
    pub build_seconds: f64,
    /// VMs with these names end in ERROR instead of ACTIVE.
    pub error_vm_names: Vec<String>,
    /// Creating a VM with one of these names makes the in-process connector panic: a connector
    /// bug, for the engine's tests of what a panicking call does (one task fails, nothing else).
    pub panic_vm_names: Vec<String>,
    /// Encapsulation of data/ptp nets (`vlan` normally; anything else breaks SDN wiring).
    pub dataplane_encapsulation: String,
    /// Seed of the simulator's random choices (MACs, failures).
    pub seed: u64,
    /// Elements per refresh call.
    pub refresh_batch_size: usize,
    /// How long a create takes to answer after it took effect: a slow or lost response, the
    /// window in which crash tests stop rovim.
    pub stall_after_create_ms: u64,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            fail_rate: 0.0,
            rate_limit_qps: None,
            unreachable: false,
            build_seconds: 2.0,
            error_vm_names: Vec::new(),
            panic_vm_names: Vec::new(),
            dataplane_encapsulation: "vlan".into(),
            seed: 1,
            refresh_batch_size: 100,
            stall_after_create_ms: 0,
        }
    }
}

impl SimSettings {
    /// Reads the knobs from an account's config object; errors name the field.
    pub fn from_config(config: &serde_json::Value) -> Result<Self, String> {
        let s: SimSettings = if config.is_null() {
            SimSettings::default()
        } else {
            serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))?
        };
        if !(0.0..=1.0).contains(&s.fail_rate) {
            return Err("config.fail_rate: must be within 0.0..=1.0".into());
        }
        if s.rate_limit_qps.is_some_and(|q| q <= 0.0 || !q.is_finite()) {
            return Err("config.rate_limit_qps: must be a positive number".into());
        }
        if !(s.build_seconds >= 0.0 && s.build_seconds.is_finite()) {
            return Err("config.build_seconds: must be zero or more".into());
        }
        if s.refresh_batch_size == 0 {
            return Err("config.refresh_batch_size: must be at least 1".into());
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_are_read_and_checked() {
        let s = SimSettings::from_config(
            &serde_json::json!({"latency_ms": 50, "fail_rate": 0.3, "seed": 7}),
        )
        .unwrap();
        assert_eq!((s.latency_ms, s.fail_rate, s.seed), (50, 0.3, 7));
        assert_eq!(s.build_seconds, 2.0);
        let e = SimSettings::from_config(&serde_json::json!({"latnecy_ms": 5})).unwrap_err();
        assert!(e.contains("latnecy_ms"), "{e}");
        assert!(
            SimSettings::from_config(&serde_json::json!({"fail_rate": 2}))
                .unwrap_err()
                .contains("fail_rate")
        );
        assert!(SimSettings::from_config(&serde_json::Value::Null).is_ok());
    }
}
