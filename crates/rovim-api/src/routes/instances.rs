//! `/v1/instances`: the rovim instances sharing the database, and the VIM accounts each runs.

use actix_web::{HttpResponse, web};
use rovim_store::leases;

use super::read;
use crate::ApiState;
use crate::error::ApiError;
use crate::views::InstanceView;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/instances")
            .route(web::get().to(list))
            .default_service(web::to(super::accounts::method_not_allowed)),
    );
}

#[utoipa::path(get, path = "/v1/instances", operation_id = "list_instances", tag = "instances",
    responses((status = 200, body = Vec<InstanceView>)))]
pub(crate) async fn list(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let all = read(&state, leases::list_instances).await?;
    let this = state.engine.instance_id().to_owned();
    let views: Vec<InstanceView> = all.iter().map(|i| InstanceView::of(i, &this)).collect();
    Ok(HttpResponse::Ok().json(views))
}
