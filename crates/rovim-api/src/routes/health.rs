//! Liveness, readiness and the fallback for unknown routes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};

#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "health", responses((status = 200, description = "alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers, its migrations are applied, the DbActor is alive and the
/// instance's leases are current (it is a member of the instances sharing the database).
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "health", responses((status = 200, description = "ready"), (status = 503, body = ErrorBody)))]
pub async fn readyz(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let store = state.engine.store().clone();
    let migrated = web::block(move || store.is_migrated())
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?
        .map_err(|e| ApiError::unavailable(format!("database: {e}")))?;
    if !migrated {
        return Err(ApiError::unavailable("database migrations are not applied"));
    }
    state
        .engine
        .writer()
        .ping()
        .await
        .map_err(|e| ApiError::unavailable(format!("database writer: {e}")))?;
    if !state.engine.is_member() {
        return Err(ApiError::unavailable(
            "this instance's leases were not renewed in time: it runs no VIM account until it \
             renews them",
        ));
    }
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "instance": state.engine.instance_id()})))
}

pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::not_found(
        "path",
        format!("no route for {} {}", req.method(), req.path()),
    )
    .error_response()
}

/// Prometheus metrics (text exposition). Carries VIM account ids and counts, never secrets.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "health", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.engine.render_metrics())
}
