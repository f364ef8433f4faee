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
        if s.refresh_batch_size == 0 {
            return Err("config.refresh_batch_size: must be at least 1".into());
        }
        Ok(s)
    }
}
