//! The API's one error type and its JSON body: `{"error": {"status", "field", "reason"}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use rovim_engine::{EngineError, PlanError};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {field}: {reason}")]
pub struct ApiError {
    pub status: StatusCode,
    /// The input field at fault (`body`, `path`, `tasks[2].params.name`…).
    pub field: String,
    pub reason: String,
}

/// What every refusal carries.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    status: u16,
    /// The input field at fault, e.g. `tasks[2].params.name` (empty when none).
    field: String,
    reason: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn bad_request(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, field, reason)
    }

    pub fn unprocessable(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, field, reason)
    }

    pub fn not_found(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, field, reason)
    }

    pub fn unavailable(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "", reason)
    }
}

/// What a 503 asks clients to wait before trying again.
const RETRY_AFTER_SECS: u64 = 2;

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // The database or a dependency is down for now: clients should come back, not
            // give up (and an orchestrator's retry loop needs to know when).
            response.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECS));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                status: self.status.as_u16(),
                field: self.field.clone(),
                reason: self.reason.clone(),
            },
        })
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Rejected(PlanError::Field(f)) => {
                ApiError::unprocessable(f.field, f.reason)
            }
            EngineError::Rejected(PlanError::Lookup(e)) => ApiError::unavailable(e.to_string()),
            EngineError::Conflict(r) => ApiError::new(StatusCode::CONFLICT, "", r),
            EngineError::NotFound { what, id } => {
                ApiError::not_found("", format!("{what} {id} not found"))
            }
            EngineError::Config(c) => ApiError::unprocessable(c.key, c.reason),
            EngineError::Vim(e) => ApiError::new(StatusCode::BAD_GATEWAY, "", e.to_string()),
            EngineError::Store(rovim_store::StoreError::NotFound { what, id }) => {
                ApiError::not_found("", format!("{what} {id} not found"))
            }
            other => ApiError::unavailable(other.to_string()),
        }
    }
}

impl From<rovim_store::StoreError> for ApiError {
    fn from(e: rovim_store::StoreError) -> ApiError {
        EngineError::Store(e).into()
    }
}
