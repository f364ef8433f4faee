//! `/v1/nets/{id}` and `/v1/vms/{id}`: what an element is on its VIM.

use actix_web::{HttpResponse, web};
use rovim_core::ItemId;
use rovim_store::reads;

use super::accounts::method_not_allowed;
use super::{id, read};
use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::views::{NetView, VmView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/nets/{id}")
            .route(web::get().to(net))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/vms/{id}")
            .route(web::get().to(vm))
            .default_service(web::to(method_not_allowed)),
    );
}

#[utoipa::path(get, path = "/v1/nets/{id}", operation_id = "show_net", tag = "items", params(("id" = String, Path)), responses((status = 200, body = NetView), (status = 404, body = ErrorBody)))]
pub(crate) async fn net(
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let item: ItemId = id("net", &path)?;
    match read(&state, move |c| reads::get_net(c, item)).await? {
        Some(n) => Ok(HttpResponse::Ok().json(NetView::from(&n))),
        None => Err(ApiError::not_found("path", format!("no net {item}"))),
    }
}

#[utoipa::path(get, path = "/v1/vms/{id}", operation_id = "show_vm", tag = "items", params(("id" = String, Path)), responses((status = 200, body = VmView), (status = 404, body = ErrorBody)))]
pub(crate) async fn vm(
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let item: ItemId = id("VM", &path)?;
    match read(&state, move |c| reads::get_vm(c, item)).await? {
        Some(v) => Ok(HttpResponse::Ok().json(VmView::from(&v))),
        None => Err(ApiError::not_found("path", format!("no VM {item}"))),
    }
}
