//! The engine's side of the simulated VIM: a client of a shared [`SimCloud`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use rovim_core::{FindFilter, ItemKind, NetParams, Owned};

use super::cloud::SimCloud;
use crate::connector::{
    CreateFailure, Created, NetReport, TaggedElement, TokenMatch, VimConnector, VimNet, VmCreated,
    VmReport, VmRequest,
};
use crate::error::VimError;

/// A connector to one simulated cloud. Cheap to clone; every clone talks to the same cloud, so
/// a restarted VimActor finds what its predecessor made.
#[derive(Clone)]
pub struct SimConnector {
    cloud: Arc<SimCloud>,
    batch: usize,
    installation: String,
}

impl SimConnector {
    pub fn new(cloud: Arc<SimCloud>) -> SimConnector {
        let batch = cloud.settings().refresh_batch_size;
        SimConnector {
            cloud,
            batch,
            installation: String::new(),
        }
    }

    /// Marks what this connector creates or adopts with the rovim installation's id.
    pub fn with_installation(mut self, installation: &str) -> SimConnector {
        self.installation = installation.to_owned();
        self
    }

    pub fn cloud(&self) -> &Arc<SimCloud> {
        &self.cloud
    }
}

#[async_trait]
impl VimConnector for SimConnector {
    fn refresh_batch_size(&self) -> usize {
        self.batch
    }

    async fn check_connectivity(&self) -> Result<(), VimError> {
        self.cloud.check_connectivity().await
    }

    async fn create_net(&self, params: &NetParams, token: &str) -> Result<Created, CreateFailure> {
        self.cloud
            .create_net(params, token, &self.installation)
            .await
    }

    async fn list_nets(&self, filter: &FindFilter) -> Result<Vec<VimNet>, VimError> {
        self.cloud.list_nets(filter).await
    }

    async fn get_net(&self, vim_id: &str) -> Result<VimNet, VimError> {
        self.cloud.get_net(vim_id).await
    }

    async fn delete_net(&self, owned: &Owned) -> Result<(), VimError> {
        self.cloud.delete_net(owned).await
    }

    async fn refresh_nets(&self, ids: &[String]) -> Result<HashMap<String, NetReport>, VimError> {
        self.cloud.refresh_nets(ids).await
    }

    async fn create_vm(
        &self,
        request: &VmRequest,
        token: &str,
    ) -> Result<VmCreated, CreateFailure> {
        if self
            .cloud
            .settings()
            .panic_vm_names
            .contains(&request.params.name)
        {
            panic!("sim VIM: panic_vm_names has '{}'", request.params.name);
        }
        self.cloud
            .create_vm(request, token, &self.installation)
            .await
    }

    async fn delete_vm(&self, owned: &Owned) -> Result<(), VimError> {
        self.cloud.delete_vm(owned).await
    }

    async fn refresh_vms(&self, ids: &[String]) -> Result<HashMap<String, VmReport>, VimError> {
        self.cloud.refresh_vms(ids).await
    }

    async fn list_tagged(&self) -> Result<Vec<TaggedElement>, VimError> {
        self.cloud.list_tagged(&self.installation).await
    }

    async fn adopt(
        &self,
        kind: ItemKind,
        filter: &FindFilter,
        token: &str,
    ) -> Result<TokenMatch, VimError> {
        self.cloud
            .adopt(kind, filter, token, &self.installation)
            .await
    }

    async fn find_by_token(
        &self,
        kind: ItemKind,
        token: &str,
    ) -> Result<Option<TokenMatch>, VimError> {
        self.cloud.find_by_token(kind, token).await
    }
}
