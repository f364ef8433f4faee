//! Builds the connector of a VIM account. In-process simulated clouds (`sim://name` URLs) live
//! here, keyed by URL, so a restarted VimActor (or a restarted engine in the same process) meets
//! the same cloud; a `sim` account with an `http://` URL talks to a `rovim sim-vim` process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rovim_core::VimType;
use rovim_sdn::{SdnConnector, SdnError, SimSdn, SimSdnSettings};
use rovim_store::{SdnController, VimAccount};
use rovim_vim::aws::{AwsConnector, AwsSettings};
use rovim_vim::libvirt::{LibvirtConnector, LibvirtSettings};
use rovim_vim::openstack::{OpenStackConnector, OpenStackSettings};
use rovim_vim::{SimCloud, SimConnector, SimHttpConnector, SimSettings, VimConnector, VimError};

/// Checks an account's `config` for its type (the error names the field and the reason).
pub fn check_settings(vim_type: VimType, config: &serde_json::Value) -> Result<(), String> {
    match vim_type {
        VimType::Sim => SimSettings::from_config(config).map(|_| ()),
        VimType::Aws => AwsSettings::from_config(config).map(|_| ()),
        VimType::OpenStack => OpenStackSettings::from_config(config).map(|_| ()),
        VimType::Libvirt => LibvirtSettings::from_config(config).map(|_| ()),
    }
}

#[derive(Default)]
pub struct Connectors {
    sims: Mutex<HashMap<String, Arc<SimCloud>>>,
    sdn_sims: Mutex<HashMap<String, Arc<SimSdn>>>,
    /// The installation id every connector marks what it creates with (set by the engine from
    /// its database; connectors outlive an engine in tests, so it is set, not built in).
    installation: Mutex<String>,
}

impl Connectors {
    pub fn new() -> Connectors {
        Connectors::default()
    }

    pub fn set_installation(&self, id: &str) {
        *self.installation.lock().unwrap_or_else(|p| p.into_inner()) = id.to_owned();
    }

    pub fn installation(&self) -> String {
        self.installation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The connector for `account`; a config error or an unsupported type is a permanent error.
    pub fn connect(&self, account: &VimAccount) -> Result<Arc<dyn VimConnector>, VimError> {
        let installation = self.installation();
        let installation = installation.as_str();
        match account.vim_type {
            VimType::Sim => {
                let settings =
                    SimSettings::from_config(&account.config).map_err(VimError::BadRequest)?;
                if is_http(&account.url) {
                    // A sim VIM in its own process (`rovim sim-vim`): its knobs live there.
                    let c = SimHttpConnector::new(&account.url, settings.refresh_batch_size)?;
                    return Ok(Arc::new(c.with_installation(installation)));
                }
                let cloud = self.sim_cloud_or_create(&account.url, settings);
                Ok(Arc::new(
                    SimConnector::new(cloud).with_installation(installation),
                ))
            }
            VimType::Aws => {
                let settings =
                    AwsSettings::from_config(&account.config).map_err(VimError::BadRequest)?;
                let key = account
                    .username
                    .as_deref()
                    .ok_or_else(|| VimError::Auth("user: the access key id is required".into()))?;
                let secret = account
                    .secret
                    .as_ref()
                    .ok_or_else(|| VimError::Auth("password: the secret key is required".into()))?;
                Ok(Arc::new(
                    AwsConnector::new(
                        &account.url,
                        key,
                        secret
                            .expose()
                            .map_err(|e| VimError::Auth(format!("password: {e}")))?,
                        settings,
                    )?
                    .with_installation(installation),
                ))
            }
            VimType::OpenStack => {
                let settings = OpenStackSettings::from_config(&account.config)
                    .map_err(VimError::BadRequest)?;
                let user = account
                    .username
                    .as_deref()
                    .ok_or_else(|| VimError::Auth("user: required".into()))?;
                let password = account
                    .secret
                    .as_ref()
                    .ok_or_else(|| VimError::Auth("password: required".into()))?;
                let project = account
                    .tenant
                    .as_deref()
                    .ok_or_else(|| VimError::Auth("tenant: the project name is required".into()))?;
                Ok(Arc::new(
                    OpenStackConnector::new(
                        &account.url,
                        user,
                        password
                            .expose()
                            .map_err(|e| VimError::Auth(format!("password: {e}")))?,
                        project,
                        settings,
                    )?
                    .with_installation(installation),
                ))
            }
            VimType::Libvirt => {
                let settings =
                    LibvirtSettings::from_config(&account.config).map_err(VimError::BadRequest)?;
                Ok(Arc::new(
                    LibvirtConnector::new(&account.url, settings).with_installation(installation),
                ))
            }
        }
    }

    /// Applies an edited account's settings to its simulated cloud, keeping the cloud's contents.
    pub fn reconfigure(&self, account: &VimAccount) -> Result<(), VimError> {
        if account.vim_type == VimType::Sim && !is_http(&account.url) {
            let settings =
                SimSettings::from_config(&account.config).map_err(VimError::BadRequest)?;
            let cloud = self.sim_cloud_or_create(&account.url, settings.clone());
            cloud.update_settings(|s| *s = settings);
        }
        Ok(())
    }

    /// The connector of an SDN controller (`sim` controllers live here, keyed by URL).
    pub fn connect_sdn(
        &self,
        controller: &SdnController,
    ) -> Result<Arc<dyn SdnConnector>, SdnError> {
        match controller.sdn_type.as_str() {
            "sim" => {
                let settings = SimSdnSettings::from_config(&controller.config)
                    .map_err(SdnError::BadRequest)?;
                let mut sims = self.sdn_sims.lock().unwrap_or_else(|p| p.into_inner());
                let sdn = sims
                    .entry(controller.url.clone())
                    .or_insert_with(|| Arc::new(SimSdn::new(settings)))
                    .clone();
                Ok(sdn)
            }
            "ryu" => {
                let settings = rovim_sdn::RyuSettings::from_config(&controller.config)
                    .map_err(SdnError::BadRequest)?;
                Ok(Arc::new(rovim_sdn::RyuSdn::new(&controller.url, settings)?))
            }
            other => Err(SdnError::NotSupported(format!(
                "SDN controller type '{other}' is not available yet"
            ))),
        }
    }

    /// The simulated SDN controller behind a `sim` controller's URL, if one was made.
    pub fn sim_sdn(&self, url: &str) -> Option<Arc<SimSdn>> {
        self.sdn_sims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(url)
            .cloned()
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

fn is_http(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}
