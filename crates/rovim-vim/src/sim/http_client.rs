//! A connector to a simulated VIM running as its own process (`rovim sim-vim`), over HTTP.

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::{Client, Response};
use rovim_core::{FindFilter, ItemKind, NetParams, Owned};
use serde::de::DeserializeOwned;

use super::wire::{Adopt, CreateNet, CreateVm, ErrorBody, Ids};
use crate::connector::{
    CreateFailure, Created, NetReport, TaggedElement, TokenMatch, VimConnector, VimNet, VmCreated,
    VmReport, VmRequest,
};
use crate::error::VimError;

pub struct SimHttpConnector {
    base: String,
    client: Client,
    batch: usize,
    installation: String,
}

impl SimHttpConnector {
    /// `base` is the sim VIM's URL, e.g. `http://127.0.0.1:9191`.
    pub fn new(base: &str, batch: usize) -> Result<SimHttpConnector, VimError> {
        let client = crate::tls::client()?;
        Ok(SimHttpConnector {
            base: base.trim_end_matches('/').to_owned(),
            client,
            batch,
            installation: String::new(),
        })
    }

    /// Marks what this connector creates or adopts with the rovim installation's id.
    pub fn with_installation(mut self, installation: &str) -> SimHttpConnector {
        self.installation = installation.to_owned();
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn transport(e: reqwest::Error) -> VimError {
    if e.is_timeout() {
        VimError::Timeout(std::time::Duration::ZERO)
    } else if e.is_connect() || e.is_request() {
        VimError::Connection(e.to_string())
    } else {
        VimError::UnexpectedResponse(e.to_string())
    }
}

async fn error_body(r: Response) -> ErrorBody {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_else(|_| ErrorBody {
        class: "unexpected_response".into(),
        message: format!("HTTP {status}: {}", rovim_core::quote_body(&text)),
        retry_after_ms: None,
        leftover: None,
    })
}

async fn json<T: DeserializeOwned>(r: Result<Response, reqwest::Error>) -> Result<T, VimError> {
    let r = r.map_err(transport)?;
    if !r.status().is_success() {
        return Err(error_body(r).await.into_error());
    }
    r.json::<T>()
        .await
        .map_err(|e| VimError::UnexpectedResponse(e.to_string()))
}

async fn empty(r: Result<Response, reqwest::Error>) -> Result<(), VimError> {
    let r = r.map_err(transport)?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(error_body(r).await.into_error())
    }
}

async fn create<T: DeserializeOwned>(
    r: Result<Response, reqwest::Error>,
) -> Result<T, CreateFailure> {
    let r = r.map_err(transport)?;
    if !r.status().is_success() {
        return Err(error_body(r).await.into_failure());
    }
    r.json::<T>()
        .await
        .map_err(|e| VimError::UnexpectedResponse(e.to_string()).into())
}

#[async_trait]
impl VimConnector for SimHttpConnector {
    fn refresh_batch_size(&self) -> usize {
        self.batch
    }

    async fn check_connectivity(&self) -> Result<(), VimError> {
        empty(self.client.post(self.url("/v1/check")).send().await).await
    }

    async fn create_net(&self, params: &NetParams, token: &str) -> Result<Created, CreateFailure> {
        let body = CreateNet {
            params: params.clone(),
            token: token.into(),
            installation: self.installation.clone(),
        };
        create(
            self.client
                .post(self.url("/v1/nets"))
                .json(&body)
                .send()
                .await,
        )
        .await
    }

    async fn list_nets(&self, filter: &FindFilter) -> Result<Vec<VimNet>, VimError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(n) = &filter.name {
            query.push(("name", n.clone()));
        }
        if let Some(i) = &filter.id {
            query.push(("id", i.clone()));
        }
        if let Some(s) = filter.shared {
            query.push(("shared", s.to_string()));
        }
        let mut url = reqwest::Url::parse(&self.url("/v1/nets"))
            .map_err(|e| VimError::BadRequest(e.to_string()))?;
        url.query_pairs_mut().extend_pairs(query);
        json(self.client.get(url).send().await).await
    }

    async fn get_net(&self, vim_id: &str) -> Result<VimNet, VimError> {
        json(
            self.client
                .get(self.url(&format!("/v1/nets/{vim_id}")))
                .send()
                .await,
        )
        .await
    }

    async fn delete_net(&self, owned: &Owned) -> Result<(), VimError> {
        empty(
            self.client
                .post(self.url("/v1/nets/delete"))
                .json(owned)
                .send()
                .await,
        )
        .await
    }

    async fn refresh_nets(&self, ids: &[String]) -> Result<HashMap<String, NetReport>, VimError> {
        let body = Ids { ids: ids.to_vec() };
        json(
            self.client
                .post(self.url("/v1/nets/refresh"))
                .json(&body)
                .send()
                .await,
        )
        .await
    }

    async fn create_vm(
        &self,
        request: &VmRequest,
        token: &str,
    ) -> Result<VmCreated, CreateFailure> {
        let body = CreateVm {
            request: request.clone(),
            token: token.into(),
            installation: self.installation.clone(),
        };
        create(
            self.client
                .post(self.url("/v1/vms"))
                .json(&body)
                .send()
                .await,
        )
        .await
    }

    async fn delete_vm(&self, owned: &Owned) -> Result<(), VimError> {
        empty(
            self.client
                .post(self.url("/v1/vms/delete"))
                .json(owned)
                .send()
                .await,
        )
        .await
    }

    async fn refresh_vms(&self, ids: &[String]) -> Result<HashMap<String, VmReport>, VimError> {
        let body = Ids { ids: ids.to_vec() };
        json(
            self.client
                .post(self.url("/v1/vms/refresh"))
                .json(&body)
                .send()
                .await,
        )
        .await
    }

    async fn list_tagged(&self) -> Result<Vec<TaggedElement>, VimError> {
        let path = format!("/v1/installations/{}", self.installation);
        json(self.client.get(self.url(&path)).send().await).await
    }

    async fn adopt(
        &self,
        kind: ItemKind,
        filter: &FindFilter,
        token: &str,
    ) -> Result<TokenMatch, VimError> {
        let body = Adopt {
            kind,
            filter: filter.clone(),
            token: token.into(),
            installation: self.installation.clone(),
        };
        json(
            self.client
                .post(self.url("/v1/adopt"))
                .json(&body)
                .send()
                .await,
        )
        .await
    }

    async fn find_by_token(
        &self,
        kind: ItemKind,
        token: &str,
    ) -> Result<Option<TokenMatch>, VimError> {
        json(
            self.client
                .get(self.url(&format!("/v1/tokens/{kind}/{token}")))
                .send()
                .await,
        )
        .await
    }
}
