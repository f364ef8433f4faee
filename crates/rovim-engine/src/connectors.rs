//! Builds the connector of a VIM account. Simulated clouds live here, keyed by the account's URL,
//! so a restarted VimActor (or a restarted engine in the same process) meets the same cloud.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rovim_core::VimType;
use rovim_store::VimAccount;
use rovim_vim::{SimCloud, SimConnector, SimSettings, VimConnector, VimError};

#[derive(Default)]
pub struct Connectors {
    sims: Mutex<HashMap<String, Arc<SimCloud>>>,
}

impl Connectors {
    pub fn new() -> Connectors {
        Connectors::default()
    }

    /// The connector for `account`; a config error or an unsupported type is a permanent error.
    pub fn connect(&self, account: &VimAccount) -> Result<Arc<dyn VimConnector>, VimError> {
        match account.vim_type {
            VimType::Sim => {
                let settings =
                    SimSettings::from_config(&account.config).map_err(VimError::BadRequest)?;
                let cloud = self.sim_cloud_or_create(&account.url, settings);
                Ok(Arc::new(SimConnector::new(cloud)))
            }
            other => Err(VimError::NotImplemented(format!(
                "the {other} connector is not available yet"
            ))),
        }
    }

    /// Applies an edited account's settings to its simulated cloud, keeping the cloud's contents.
    pub fn reconfigure(&self, account: &VimAccount) -> Result<(), VimError> {
        if account.vim_type == VimType::Sim {
            let settings =
                SimSettings::from_config(&account.config).map_err(VimError::BadRequest)?;
            let cloud = self.sim_cloud_or_create(&account.url, settings.clone());
            cloud.update_settings(|s| *s = settings);
        }
        Ok(())
    }

    /// The simulated cloud behind a `sim` account's URL, if one was made.
    pub fn sim_cloud(&self, url: &str) -> Option<Arc<SimCloud>> {
        self.sims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(url)
            .cloned()
    }

    fn sim_cloud_or_create(&self, url: &str, settings: SimSettings) -> Arc<SimCloud> {
        let mut sims = self.sims.lock().unwrap_or_else(|p| p.into_inner());
        sims.entry(url.to_owned())
            .or_insert_with(|| Arc::new(SimCloud::new(settings)))
            .clone()
    }
}
