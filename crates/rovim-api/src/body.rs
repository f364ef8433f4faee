//! Request bodies: read up to a limit (413 beyond), UTF-8 only, JSON or YAML by Content-Type
//! (415 for anything else), unknown fields refused by the target types (422 naming them).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body accepted (an action of 10,000 tasks fits).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
}

fn format(req: &HttpRequest, yaml_allowed: bool) -> Result<Format, ApiError> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        // No Content-Type is not JSON: a web page can send a "simple" cross-site POST without
        // one (or as text/plain), never as application/json without the API's consent.
        "application/json" => Ok(Format::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" if yaml_allowed => Ok(Format::Yaml),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
            match (ct.is_empty(), yaml_allowed) {
                (true, true) => "required: application/json or application/yaml".to_owned(),
                (true, false) => "required: application/json".to_owned(),
                (false, true) => format!("'{ct}' is not application/json or application/yaml"),
                (false, false) => format!("'{ct}' is not application/json"),
            },
        )),
    }
}

/// Reads and parses a body into `T`.
pub async fn parse<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
    yaml_allowed: bool,
) -> Result<T, ApiError> {
    let format = format(req, yaml_allowed)?;
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("body", e.to_string()))?;
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                format!("larger than {MAX_BODY} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ApiError::bad_request("body", format!("not UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("body", "is empty"));
    }
    let value: serde_json::Value = match format {
        Format::Json => serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request("body", format!("not JSON: {e}")))?,
        Format::Yaml => rovim_core::yaml::to_json_value(text)
            .map_err(|e| ApiError::bad_request("body", format!("not YAML: {e}")))?,
    };
    serde_json::from_value(value)
        .map_err(|e| ApiError::unprocessable(field_of(&e.to_string()), e.to_string()))
}

/// The field a serde message names (`unknown field `x``, `missing field `y``), else `body`.
fn field_of(message: &str) -> String {
    message
        .split('`')
        .nth(1)
        .filter(|_| message.contains("field"))
        .map_or_else(|| "body".to_owned(), str::to_owned)
}
