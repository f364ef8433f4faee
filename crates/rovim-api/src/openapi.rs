//! The OpenAPI document of the whole API, generated from the handlers' and types' annotations.

use actix_web::HttpResponse;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{accounts, actions, health, items, sdn};
use crate::views::*;

#[derive(OpenApi)]
#[openapi(
    info(title = "rovim", description = "The resource orchestrator's VIM task engine: VIM accounts, SDN controllers, actions of CREATE/FIND/DELETE tasks on nets and VMs, and what those elements are on their VIMs."),
    paths(
        accounts::create, accounts::list, accounts::show, accounts::edit, accounts::remove,
        sdn::create, sdn::list, sdn::remove,
        actions::submit, actions::show, actions::list,
        items::net, items::vm,
        health::healthz, health::readyz, health::metrics, document,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, VimAccountView, SdnControllerView, ActionView, TaskView, NetView, VmView, InterfaceView,
        rovim_engine::ActionRequest, rovim_engine::TaskRequest, rovim_engine::DepRef,
        rovim_core::NetParams, rovim_core::VmParams, rovim_core::FindFilter,
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "health", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
