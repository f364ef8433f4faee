//! `/v1/actions`: submit an action (JSON or YAML), follow it (`?wait=SECONDS` long-polls until
//! something changes), list recent ones.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use rovim_core::ActionId;
use rovim_engine::ActionRequest;
use rovim_store::reads;
use serde::Deserialize;

use super::accounts::method_not_allowed;
use super::{id, read};
use crate::error::{ApiError, ErrorBody};
use crate::views::{ActionView, SubmittedView};
use crate::{ApiState, body};

/// The longest a `?wait=` long-poll holds a request.
pub const MAX_WAIT_SECS: u64 = 60;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/actions")
            .route(web::post().to(submit))
            .route(web::get().to(list))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/actions/{id}")
            .route(web::get().to(show))
            .default_service(web::to(method_not_allowed)),
    );
}

#[utoipa::path(post, path = "/v1/actions", operation_id = "submit_action", tag = "actions",
    request_body(content = ActionRequest, description = "JSON, or YAML with Content-Type: application/yaml"),
    responses((status = 201, description = "the action id and each task's item id", body = SubmittedView), (status = 422, description = "refused input", body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn submit(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let request: ActionRequest = body::parse(&req, payload, true).await?;
    let submitted = state.engine.submit(request).await?;
    Ok(HttpResponse::Created().json(SubmittedView::from(&submitted)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShowQuery {
    /// Hold the request until the action changes, at most this many seconds.
    #[serde(default)]
    wait: Option<u64>,
}

#[utoipa::path(get, path = "/v1/actions/{id}", operation_id = "show_action", tag = "actions",
    params(("id" = String, Path), ("wait" = Option<u64>, Query, description = "hold up to this many seconds (max 60) until something changes")),
    responses((status = 200, body = ActionView), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    q: web::Query<ShowQuery>,
) -> Result<HttpResponse, ApiError> {
    let action: ActionId = id("action", &path)?;
    let load = |state: &web::Data<ApiState>| {
        let state = state.clone();
        async move { read(&state, move |c| reads::get_action(c, action)).await }
    };
    let (mut a, mut tasks) = load(&state).await?;
    if let Some(wait) = q.wait {
        let deadline = Instant::now() + Duration::from_secs(wait.min(MAX_WAIT_SECS));
        let seen = (a.number_done, a.number_failed);
        while a.overall_status() == "BUILD"
            && (a.number_done, a.number_failed) == seen
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            (a, tasks) = load(&state).await?;
        }
    }
    Ok(HttpResponse::Ok().json(ActionView::of(&a, Some(&tasks))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(default)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/actions", operation_id = "list_actions", tag = "actions", params(("limit" = Option<i64>, Query, description = "1..=1000, default 50")),
    responses((status = 200, body = Vec<ActionView>)))]
pub(crate) async fn list(
    state: web::Data<ApiState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit", "must be within 1..=1000"));
    }
    let all = read(&state, move |c| reads::list_actions(c, limit)).await?;
    Ok(HttpResponse::Ok().json(
        all.iter()
            .map(|a| ActionView::of(a, None))
            .collect::<Vec<_>>(),
    ))
}
