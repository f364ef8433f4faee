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

/// The shortest token accepted: a guessable one is no protection.
pub const MIN_TOKEN_LEN: usize = 16;

/// A configured token that cannot be used; names its position, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("API token #{position}: {reason}")]
pub struct TokenError {
    /// 1-based, in the order the tokens were given.
    pub position: usize,
    pub reason: String,
}

impl Tokens {
    /// Checks every configured token: an empty, short or blank-containing one is refused (it
    /// used to be dropped silently, and an empty list meant no authentication at all).
    pub fn new(tokens: Vec<String>) -> Result<Tokens, TokenError> {
        for (i, t) in tokens.iter().enumerate() {
            let bad = |reason: String| TokenError {
                position: i + 1,
                reason,
            };
            if t.is_empty() {
                return Err(bad("empty".into()));
            }
            if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad("contains blanks or control characters".into()));
            }
            if t.chars().count() < MIN_TOKEN_LEN {
                return Err(bad(format!(
                    "shorter than {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
                )));
            }
        }
        Ok(Tokens(Arc::new(tokens)))
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
    if tokens.is_empty() {
        // No tokens: the API listens on loopback only, and only the machine's own clients may
        // use it, not a web page the operator has open (DNS rebinding, cross-site requests).
        if let Err(refusal) = local_only(&req) {
            return Ok(req
                .into_response(refusal.error_response())
                .map_into_right_body());
        }
    } else {
        // The scheme is case-insensitive (RFC 9110 §11.1).
        let offered = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, token)| token.trim());
        if !tokens.accepts(offered) {
            let refusal = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authorization",
                "a valid bearer token is required",
            );
            let mut response = refusal.error_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"rovim\""),
            );
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Whether a host (`name` or `name:port`, IPv6 in brackets) is this machine's loopback.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses requests that name another host (a rebound DNS name) or come from another origin.
fn local_only(req: &ServiceRequest) -> Result<(), ApiError> {
    let header_text = |name| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("<not text>").to_owned())
    };
    if let Some(host) = header_text(header::HOST)
        && !is_loopback_host(&host)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "host",
            format!(
                "'{host}' is not this machine: without API tokens only loopback names are served"
            ),
        ));
    }
    if let Some(origin) = header_text(header::ORIGIN) {
        let host = origin.split_once("://").map_or("", |(_, h)| h);
        if !is_loopback_host(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "origin",
                format!(
                    "requests from '{origin}' are refused: without API tokens only local clients are served"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef-s3cret";

    #[test]
    fn only_loopback_names_count_as_this_machine() {
        for h in [
            "127.0.0.1:9090",
            "localhost:9090",
            "[::1]:9090",
            "LOCALHOST",
            "127.0.0.2",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "evil.example:9090",
            "10.0.0.1:9090",
            "localhost.evil.example",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn tokens_match_exactly() {
        let t = Tokens::new(vec![GOOD.into()]).unwrap();
        assert!(t.accepts(GOOD));
        assert!(!t.accepts(&GOOD[1..]) && !t.accepts(&format!("{GOOD}!")) && !t.accepts(""));
        assert!(Tokens::new(vec![]).unwrap().is_empty());
        assert_eq!(format!("{t:?}"), "Tokens(1 configured)", "never printed");
    }

    /// Issue 11's "auth fails open": an empty token used to be dropped, leaving no token and
    /// so no authentication while the public-listen check saw one configured.
    #[test]
    fn empty_short_or_blank_tokens_are_refused_by_position_never_by_value() {
        for (tokens, position, reason) in [
            (vec![""], 1, "empty"),
            (vec![GOOD, ""], 2, "empty"),
            (vec!["change-me"], 1, "shorter than 16"),
            (vec!["0123456789abcdef 0123"], 1, "blanks"),
        ] {
            let e = Tokens::new(tokens.iter().map(|t| t.to_string()).collect()).unwrap_err();
            assert_eq!(e.position, position);
            assert!(e.to_string().contains(reason), "{e}");
            assert!(!e.to_string().contains("change-me"), "never the value: {e}");
        }
    }
}
