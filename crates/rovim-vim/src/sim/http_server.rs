//! `rovim sim-vim`: a [`SimCloud`] behind HTTP, so a simulated VIM can outlive the rovim that
//! uses it. One route per connector call; errors carry their class (see [`super::wire`]).
//! `GET /v1/state` and `PATCH /v1/settings` are for tests and operators.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use rovim_core::{FindFilter, ItemKind, Owned};

use super::cloud::SimCloud;
use super::settings::SimSettings;
use super::wire::{Adopt, CreateNet, CreateVm, ErrorBody, Ids};
use crate::connector::CreateFailure;
use crate::error::VimError;

type Cloud = web::Data<Arc<SimCloud>>;

/// Mounts the routes on an actix-web app.
pub fn routes(cloud: Arc<SimCloud>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(cloud))
            .route("/v1/check", web::post().to(check))
            .route("/v1/nets", web::post().to(create_net))
            .route("/v1/nets", web::get().to(list_nets))
            .route("/v1/nets/delete", web::post().to(delete_net))
            .route("/v1/nets/refresh", web::post().to(refresh_nets))
            .route("/v1/nets/{id}", web::get().to(get_net))
            .route("/v1/vms", web::post().to(create_vm))
            .route("/v1/vms/delete", web::post().to(delete_vm))
            .route("/v1/vms/refresh", web::post().to(refresh_vms))
            .route("/v1/tokens/{kind}/{token}", web::get().to(find_by_token))
            .route("/v1/installations/{id}", web::get().to(list_tagged))
            .route("/v1/adopt", web::post().to(adopt))
            .route("/v1/drift/{id}", web::post().to(change_behind_back))
            .route("/v1/state", web::get().to(state))
            .route("/v1/settings", web::patch().to(patch_settings));
    }
}

fn error(e: &VimError, leftover: Option<Owned>) -> HttpResponse {
    let status = StatusCode::from_u16(e.http_code()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status).json(ErrorBody::of(e, leftover))
}

fn answer<T: serde::Serialize>(r: Result<T, VimError>) -> HttpResponse {
    match r {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(e) => error(&e, None),
    }
}

fn created<T: serde::Serialize>(r: Result<T, CreateFailure>) -> HttpResponse {
    match r {
        Ok(v) => HttpResponse::Created().json(v),
        Err(f) => error(&f.error, f.leftover),
    }
}

async fn check(cloud: Cloud) -> HttpResponse {
    match cloud.check_connectivity().await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => error(&e, None),
    }
}

async fn create_net(cloud: Cloud, body: web::Json<CreateNet>) -> HttpResponse {
    created(
        cloud
            .create_net(&body.params, &body.token, &body.installation)
            .await,
    )
}

async fn list_nets(cloud: Cloud, filter: web::Query<FindFilter>) -> HttpResponse {
    answer(cloud.list_nets(&filter).await)
}

async fn get_net(cloud: Cloud, id: web::Path<String>) -> HttpResponse {
    answer(cloud.get_net(&id).await)
}

async fn delete_net(cloud: Cloud, owned: web::Json<Owned>) -> HttpResponse {
    answer(cloud.delete_net(&owned).await)
}

async fn refresh_nets(cloud: Cloud, body: web::Json<Ids>) -> HttpResponse {
    answer(cloud.refresh_nets(&body.ids).await)
}

async fn create_vm(cloud: Cloud, body: web::Json<CreateVm>) -> HttpResponse {
    created(
        cloud
            .create_vm(&body.request, &body.token, &body.installation)
            .await,
    )
}

async fn delete_vm(cloud: Cloud, owned: web::Json<Owned>) -> HttpResponse {
    answer(cloud.delete_vm(&owned).await)
}

async fn refresh_vms(cloud: Cloud, body: web::Json<Ids>) -> HttpResponse {
    answer(cloud.refresh_vms(&body.ids).await)
}

async fn find_by_token(cloud: Cloud, path: web::Path<(String, String)>) -> HttpResponse {
    let (kind, token) = path.into_inner();
    match kind.parse::<ItemKind>() {
        Ok(kind) => answer(cloud.find_by_token(kind, &token).await),
        Err(e) => error(&VimError::BadRequest(e.to_string()), None),
    }
}

async fn list_tagged(cloud: Cloud, installation: web::Path<String>) -> HttpResponse {
    answer(cloud.list_tagged(&installation).await)
}

async fn adopt(cloud: Cloud, body: web::Json<Adopt>) -> HttpResponse {
    let b = body.into_inner();
    answer(
        cloud
            .adopt(b.kind, &b.filter, &b.token, &b.installation)
            .await,
    )
}

#[derive(serde::Deserialize)]
struct Change {
    flavor: Option<String>,
    vlan: Option<u16>,
}

/// Changes an element behind rovim's back (for drift tests and demos).
async fn change_behind_back(
    cloud: Cloud,
    id: web::Path<String>,
    change: web::Json<Change>,
) -> HttpResponse {
    if cloud.change_behind_back(&id, change.flavor.as_deref(), change.vlan) {
        HttpResponse::NoContent().finish()
    } else {
        error(&VimError::NotFound(format!("element {id}")), None)
    }
}

#[derive(serde::Serialize)]
struct State {
    nets: usize,
    vms: usize,
    ports: usize,
    calls: super::cloud::SimCalls,
    settings: SimSettings,
    /// Every element with its token, for the invariant checker.
    elements: Vec<super::cloud::SimElement>,
}

async fn state(cloud: Cloud) -> HttpResponse {
    HttpResponse::Ok().json(State {
        nets: cloud.net_count(),
        vms: cloud.vm_count(),
        ports: cloud.port_count(),
        calls: cloud.calls(),
        settings: cloud.settings(),
        elements: cloud.inventory(),
    })
}

/// Merges the given knobs into the current settings (unknown keys and bad values refused).
async fn patch_settings(cloud: Cloud, patch: web::Json<serde_json::Value>) -> HttpResponse {
    let mut current = serde_json::to_value(cloud.settings()).unwrap_or_default();
    if let (Some(cur), Some(new)) = (current.as_object_mut(), patch.as_object()) {
        for (k, v) in new {
            cur.insert(k.clone(), v.clone());
        }
    }
    match SimSettings::from_config(&current) {
        Ok(s) => {
            cloud.update_settings(|c| *c = s.clone());
            HttpResponse::Ok().json(s)
        }
        Err(reason) => error(&VimError::BadRequest(reason), None),
    }
}
