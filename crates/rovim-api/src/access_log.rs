//! One log line per request: method, path, status, duration, request id and peer. Never the
//! body, the query or any header but the request id, so neither a password nor a token can
//! reach the log. The request id is the caller's `X-Request-Id` when it is a short plain token,
//! else a new UUID; it is sent back in the response's `X-Request-Id` and carried by the audit
//! records the request causes.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of a request, kept in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id of `req`, or `-` outside the middleware (a test calling a handler directly).
    pub fn of(req: &HttpRequest) -> String {
        req.extensions()
            .get::<RequestId>()
            .map_or_else(|| "-".to_owned(), |id| id.0.clone())
    }
}

/// A caller's id is kept when it cannot forge anything in a log: up to 64 of `[A-Za-z0-9._-]`.
fn offered_id(req: &ServiceRequest) -> Option<String> {
    let id = req.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let plain = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    plain.then(|| id.to_owned())
}

/// Probes and scrapes are logged at debug level: a kubelet asks every few seconds.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

pub async fn log_request<B: MessageBody + 'static>(
    log: slog::Logger,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let started = Instant::now();
    let id = offered_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let peer = req
        .peer_addr()
        .map_or_else(|| "-".to_owned(), |a| a.to_string());
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let kv = slog::o!(
        "method" => method, "path" => path.clone(), "status" => status,
        "duration_ms" => format!("{duration_ms:.1}"), "request_id" => id.clone(), "peer" => peer,
    );
    if is_probe(&path) && status < 400 {
        slog::debug!(log.new(kv), "request");
    } else {
        slog::info!(log.new(kv), "request");
    }
    let mut res = result?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}
