//! An OpenStack account's settings: `url` is the Keystone v3 URL, `tenant` the project, `user`
//! and the password the credentials; `config` holds the rest.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenStackSettings {
    pub user_domain: String,
    pub project_domain: String,
    /// Catalog region; the first endpoint of each service when absent.
    pub region: Option<String>,
    /// Catalog interface: public, internal or admin.
    pub interface: String,
    /// Physical network of data/ptp (VLAN) nets.
    pub physical_network: Option<String>,
    /// Elements per refresh call.
    pub refresh_batch_size: usize,
    /// Service type → URL used instead of the catalog's (as OpenStack clients'
    /// `endpoint_override`): a catalog that lists addresses rovim cannot reach, or a proxy.
    pub endpoint_override: std::collections::BTreeMap<String, String>,
    /// A token is renewed this long before Keystone says it expires.
    pub token_renew_before_secs: f64,
    /// Resources per page when listing what this installation tagged (Neutron `limit`).
    pub list_page_size: usize,
}

impl Default for OpenStackSettings {
    fn default() -> Self {
        Self {
            user_domain: "Default".into(),
            project_domain: "Default".into(),
            region: None,
            interface: "public".into(),
            physical_network: None,
            refresh_batch_size: 100,
            endpoint_override: std::collections::BTreeMap::new(),
            token_renew_before_secs: 300.0,
            list_page_size: 500,
        }
    }
}

impl OpenStackSettings {
    pub fn from_config(config: &serde_json::Value) -> Result<Self, String> {
        let s: OpenStackSettings = if config.is_null() {
            Self::default()
        } else {
            serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))?
        };
        if !["public", "internal", "admin"].contains(&s.interface.as_str()) {
            return Err(format!(
                "config.interface: '{}' is not public, internal or admin",
                s.interface
            ));
        }
        if s.list_page_size == 0 {
            return Err("config.list_page_size: must be at least 1".into());
        }
        if s.refresh_batch_size == 0 {
            return Err("config.refresh_batch_size: must be at least 1".into());
        }
        if !(s.token_renew_before_secs >= 0.0 && s.token_renew_before_secs.is_finite()) {
            return Err("config.token_renew_before_secs: must be zero or more".into());
        }
        for (service, url) in &s.endpoint_override {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "config.endpoint_override.{service}: '{url}' is not an http(s) URL"
                ));
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_overrides_are_read_and_bad_ones_named() {
        let s = OpenStackSettings::from_config(
            &serde_json::json!({"endpoint_override": {"network": "http://10.0.0.5:9696"}}),
        )
        .unwrap();
        assert_eq!(s.endpoint_override["network"], "http://10.0.0.5:9696");
        let e = OpenStackSettings::from_config(
            &serde_json::json!({"endpoint_override": {"compute": "10.0.0.5:8774"}}),
        )
        .unwrap_err();
        assert!(e.starts_with("config.endpoint_override.compute:"), "{e}");
    }
}
