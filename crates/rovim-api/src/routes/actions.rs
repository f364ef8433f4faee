//! `/v1/actions`: submit an action (JSON or YAML), follow it (`?wait=SECONDS` long-polls until
//! something changes, woken by the engine's commits; `?tasks=false` or `?offset=&limit=` for big
//! actions), list recent ones.

use std::time::Duration;

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

/// The most tasks one page of `GET /v1/actions/{id}` holds.
pub const MAX_TASK_PAGE: i64 = 10_000;

/// How often a long-poll reads the action again when no commit woke it (a safety net: the
/// engine's commits wake it at once).
const WAIT_RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShowQuery {
    /// Hold the request until the action changes, at most this many seconds.
    #[serde(default)]
    wait: Option<u64>,
    /// `false` leaves the tasks out (the counters say how far the action is).
    #[serde(default)]
    tasks: Option<bool>,
    /// The first task index of the page.
    #[serde(default)]
    offset: Option<i64>,
    /// At most this many tasks (1..=10000); all of them when absent.
    #[serde(default)]
    limit: Option<i64>,
}

impl ShowQuery {
    /// Which tasks to show: none, or `(offset, limit)`.
    fn page(&self) -> Result<Option<(i64, i64)>, ApiError> {
        if self.tasks == Some(false) {
            if self.offset.is_some() || self.limit.is_some() {
                return Err(ApiError::bad_request(
                    "tasks",
                    "false leaves no tasks to page: drop offset and limit",
                ));
            }
            return Ok(None);
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::bad_request("offset", "must be 0 or more"));
        }
        let limit = match self.limit {
            None => i64::MAX,
            Some(l) if (1..=MAX_TASK_PAGE).contains(&l) => l,
            Some(_) => return Err(ApiError::bad_request("limit", "must be within 1..=10000")),
        };
        Ok(Some((offset, limit)))
    }
}

#[utoipa::path(get, path = "/v1/actions/{id}", operation_id = "show_action", tag = "actions",
    params(("id" = String, Path), ("wait" = Option<u64>, Query, description = "hold up to this many seconds (max 60) until something changes"),
        ("tasks" = Option<bool>, Query, description = "false leaves the tasks out"),
        ("offset" = Option<i64>, Query, description = "first task index shown (default 0)"),
        ("limit" = Option<i64>, Query, description = "at most this many tasks, 1..=10000 (default all)")),
    responses((status = 200, body = ActionView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    q: web::Query<ShowQuery>,
) -> Result<HttpResponse, ApiError> {
    let action: ActionId = id("action", &path)?;
    let page = q.page()?;
    // Subscribed before the first read: a commit after it wakes the wait below.
    let mut changes = state.engine.watch_action(action);
    let mut a = read(&state, move |c| reads::get_action_row(c, action)).await?;
    if let Some(wait) = q.wait {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.min(MAX_WAIT_SECS));
        let seen = (a.number_done, a.number_failed);
        while a.overall_status() == "BUILD"
            && (a.number_done, a.number_failed) == seen
            && tokio::time::Instant::now() < deadline
        {
            let until = deadline.min(tokio::time::Instant::now() + WAIT_RECHECK);
            if let Ok(Err(_)) = tokio::time::timeout_at(until, changes.changed()).await {
                // The engine is stopping: no more wake-ups, read at the slow pace.
                tokio::time::sleep_until(until).await;
            }
            a = read(&state, move |c| reads::get_action_row(c, action)).await?;
        }
    }
    let tasks = match page {
        None => None,
        Some((offset, limit)) => Some(
            read(&state, move |c| {
                reads::action_tasks(c, action, offset, limit)
            })
            .await?,
        ),
    };
    Ok(HttpResponse::Ok().json(ActionView::of(&a, tasks.as_deref())))
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
