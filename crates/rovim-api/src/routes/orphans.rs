//! `/v1/vim-accounts/{id}/orphans`: what rovim made on the account's VIM and no live item owns,
//! and the sweep that deletes it.

use actix_web::{HttpRequest, HttpResponse, web};
use rovim_core::VimAccountId;
use serde::Deserialize;

use super::id;
use crate::ApiState;
use crate::audit::{self, Change};
use crate::error::{ApiError, ErrorBody};
use crate::views::{OrphanView, SweepView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/vim-accounts/{id}/orphans")
            .route(web::get().to(list))
            .default_service(web::to(super::accounts::method_not_allowed)),
    )
    .service(
        web::resource("/vim-accounts/{id}/orphans/sweep")
            .route(web::post().to(sweep))
            .default_service(web::to(super::accounts::method_not_allowed)),
    );
}

#[utoipa::path(get, path = "/v1/vim-accounts/{id}/orphans", operation_id = "list_orphans", tag = "vim-accounts",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<OrphanView>), (status = 404, body = ErrorBody),
        (status = 502, description = "the VIM failed to list its elements", body = ErrorBody)))]
pub(crate) async fn list(
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let vim: VimAccountId = id("VIM account", &path)?;
    let orphans = state.engine.orphans(vim).await?;
    let views: Vec<OrphanView> = orphans.iter().map(OrphanView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SweepQuery {
    #[serde(default)]
    dry_run: bool,
}

#[utoipa::path(post, path = "/v1/vim-accounts/{id}/orphans/sweep", operation_id = "sweep_orphans", tag = "vim-accounts",
    params(("id" = String, Path), ("dry_run" = Option<bool>, Query, description = "only show what would be deleted")),
    responses((status = 200, body = SweepView), (status = 404, body = ErrorBody),
        (status = 502, description = "the VIM failed to list its elements", body = ErrorBody)))]
pub(crate) async fn sweep(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    q: web::Query<SweepQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let vim: VimAccountId = id("VIM account", &path)?;
    let report = state.engine.sweep_orphans(vim, q.dry_run).await?;
    if !q.dry_run {
        let deleted: Vec<&str> = report.deleted.iter().map(|o| o.vim_id.as_str()).collect();
        audit::record(
            state.engine.log(),
            &req,
            Change::OrphansSwept,
            &vim.to_string(),
            &deleted,
        );
    }
    Ok(HttpResponse::Ok().json(SweepView::from(&report)))
}
