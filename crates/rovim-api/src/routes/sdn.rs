//! `/v1/sdn-controllers`: register and list SDN controllers.

use actix_web::{HttpRequest, HttpResponse, web};
use rovim_core::SdnControllerId;
use rovim_store::{NewSdnController, Secret, accounts};
use serde::Deserialize;

use super::accounts::method_not_allowed;
use super::read;
use crate::audit::{self, Change};
use crate::error::{ApiError, ErrorBody};
use crate::views::SdnControllerView;
use crate::{ApiState, body};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sdn-controllers")
            .route(web::post().to(create))
            .route(web::get().to(list))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/sdn-controllers/{id}")
            .route(web::delete().to(remove))
            .default_service(web::to(method_not_allowed)),
    );
}

#[utoipa::path(delete, path = "/v1/sdn-controllers/{id}", operation_id = "delete_sdn_controller", tag = "sdn-controllers", params(("id" = String, Path)),
    responses((status = 204), (status = 409, description = "a VIM account names it", body = ErrorBody)))]
pub(crate) async fn remove(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let sdn: SdnControllerId = super::id("SDN controller", &path)?;
    state.engine.delete_sdn_controller(sdn).await?;
    audit::record(
        state.engine.log(),
        &req,
        Change::SdnControllerDeleted,
        &sdn.to_string(),
        &[],
    );
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewController {
    name: String,
    #[serde(rename = "type")]
    sdn_type: String,
    url: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

#[utoipa::path(post, path = "/v1/sdn-controllers", operation_id = "create_sdn_controller", tag = "sdn-controllers", request_body = NewController,
    responses((status = 201, body = SdnControllerView), (status = 422, description = "refused input", body = ErrorBody)))]
pub(crate) async fn create(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let new: NewController = body::parse(&req, payload, false).await?;
    if !["sim", "ryu"].contains(&new.sdn_type.as_str()) {
        return Err(ApiError::unprocessable(
            "type",
            format!(
                "'{}' is not a known SDN controller type (sim, ryu)",
                new.sdn_type
            ),
        ));
    }
    let controller = state
        .engine
        .add_sdn_controller(NewSdnController {
            id: SdnControllerId::generate(),
            name: new.name,
            sdn_type: new.sdn_type,
            url: new.url,
            username: new.user,
            secret: new.password.map(Secret::new),
            config: new.config.unwrap_or_else(|| serde_json::json!({})),
        })
        .await?;
    let id = controller.id.to_string();
    audit::record(
        state.engine.log(),
        &req,
        Change::SdnControllerCreated,
        &id,
        &[],
    );
    Ok(HttpResponse::Created().json(SdnControllerView::from(&controller)))
}

#[utoipa::path(get, path = "/v1/sdn-controllers", operation_id = "list_sdn_controllers", tag = "sdn-controllers", responses((status = 200, body = Vec<SdnControllerView>)))]
pub(crate) async fn list(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let all = read(&state, accounts::list_sdn_controllers).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(SdnControllerView::from).collect::<Vec<_>>()))
}
