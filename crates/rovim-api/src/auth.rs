//! Bearer tokens from the config, compared in constant time. No tokens configured means no
//! authentication, which the binary allows only on a loopback listen address.

use std::sync::Arc;

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;

use crate::error::ApiError;

#[derive(Clone, Default)]
pub struct Tokens(Arc<Vec<String>>);

impl Tokens {
    pub fn new(tokens: Vec<String>) -> Tokens {
        Tokens(Arc::new(
            tokens.into_iter().filter(|t| !t.is_empty()).collect(),
        ))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `offered` is one of the tokens (every token is compared, each in constant time).
    pub fn accepts(&self, offered: &str) -> bool {
        self.0.iter().fold(false, |ok, t| {
            ok | constant_time_eq::constant_time_eq(t.as_bytes(), offered.as_bytes())
        })
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.0.len())
    }
}

/// Refuses a request without an accepted bearer token with a 401 (as a response, so it is
/// shaped like every other API error).
pub async fn check<B: MessageBody + 'static>(
    tokens: Tokens,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if !tokens.is_empty() {
        let offered = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !tokens.accepts(offered) {
            let refusal = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authorization",
                "a valid bearer token is required",
            );
            return Ok(req
                .into_response(refusal.error_response())
                .map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_exactly() {
        let t = Tokens::new(vec!["s3cret".into(), "".into()]);
        assert!(t.accepts("s3cret"));
        assert!(!t.accepts("s3cre") && !t.accepts("s3cret!") && !t.accepts(""));
        assert!(Tokens::new(vec![]).is_empty());
        assert_eq!(format!("{t:?}"), "Tokens(1 configured)", "never printed");
    }
}
