//! `VimError`: the reference's exception classes (spec §2.1) plus rate limiting and timeouts,
//! with the classification the engine retries on.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VimError {
    /// The VIM could not be reached.
    #[error("cannot connect to the VIM: {0}")]
    Connection(String),
    /// The VIM answered something rovim could not use (often a 5xx).
    #[error("unexpected response from the VIM: {0}")]
    UnexpectedResponse(String),
    #[error("authentication with the VIM failed: {0}")]
    Auth(String),
    #[error("not found on the VIM: {0}")]
    NotFound(String),
    /// E.g. more than one element matched.
    #[error("conflict on the VIM: {0}")]
    Conflict(String),
    /// The element is still used by others (a net with ports, a subnet with interfaces): a
    /// delete may succeed once they are gone (Neutron releases ports a few seconds after a
    /// server's deletion), so the engine retries it for a bounded time.
    #[error("still in use on the VIM: {0}")]
    InUse(String),
    /// The element is in a state that refuses the call for now (Nova: "Cannot 'update tags'
    /// instance … while it is in vm_state building"): worth retrying once it settles.
    #[error("the element is busy on the VIM: {0}")]
    Busy(String),
    #[error("not supported by this VIM: {0}")]
    NotSupported(String),
    #[error("not implemented by this connector: {0}")]
    NotImplemented(String),
    /// The VIM refused the request as such (bad parameters, quota): retrying will not help.
    #[error("the VIM refused the request: {0}")]
    BadRequest(String),
    /// HTTP 429 / 413: slow down, and try again after the given time.
    #[error("rate limited by the VIM{}", retry_hint(*retry_after))]
    RateLimited { retry_after: Option<Duration> },
    #[error("the VIM call timed out after {}", human_duration(*.0))]
    Timeout(Duration),
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |d| {
        format!(" (asked to retry after {})", human_duration(d))
    })
}

/// A duration as people write it: `197 ms`, `5 s`, `1.5 s`, `30 min`, `2 h`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        let s = format!("{secs:.1}");
        return format!("{} s", s.trim_end_matches(".0"));
    }
    if secs < 3600.0 && d.as_secs().is_multiple_of(60) {
        return format!("{} min", d.as_secs() / 60);
    }
    if d.as_secs().is_multiple_of(3600) {
        return format!("{} h", d.as_secs() / 3600);
    }
    format!("{} s", d.as_secs())
}

impl VimError {
    /// Transient failures worth retrying with backoff; everything else fails the task at once.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            VimError::Connection(_)
                | VimError::UnexpectedResponse(_)
                | VimError::Busy(_)
                | VimError::RateLimited { .. }
                | VimError::Timeout(_)
        )
    }

    /// The wait the VIM asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            VimError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP code of the reference's exception class (spec §2.1).
    pub fn http_code(&self) -> u16 {
        match self {
            VimError::Connection(_)
            | VimError::UnexpectedResponse(_)
            | VimError::NotSupported(_) => 503,
            VimError::Auth(_) => 401,
            VimError::NotFound(_) => 404,
            VimError::Conflict(_) | VimError::InUse(_) | VimError::Busy(_) => 409,
            VimError::NotImplemented(_) => 501,
            VimError::BadRequest(_) => 400,
            VimError::RateLimited { .. } => 429,
            VimError::Timeout(_) => 408,
        }
    }

    /// A short class name for metrics labels.
    pub fn class(&self) -> &'static str {
        match self {
            VimError::Connection(_) => "connection",
            VimError::UnexpectedResponse(_) => "unexpected_response",
            VimError::Auth(_) => "auth",
            VimError::NotFound(_) => "not_found",
            VimError::Conflict(_) => "conflict",
            VimError::Busy(_) => "busy",
            VimError::InUse(_) => "in_use",
            VimError::NotSupported(_) => "not_supported",
            VimError::NotImplemented(_) => "not_implemented",
            VimError::BadRequest(_) => "bad_request",
            VimError::RateLimited { .. } => "rate_limited",
            VimError::Timeout(_) => "timeout",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_are_retryable_and_permanent_ones_are_not() {
        assert!(VimError::Connection("refused".into()).is_retryable());
        assert!(VimError::Timeout(Duration::from_secs(30)).is_retryable());
        assert!(VimError::RateLimited { retry_after: None }.is_retryable());
        assert!(!VimError::Auth("bad password".into()).is_retryable());
        assert!(!VimError::BadRequest("quota exceeded".into()).is_retryable());
        assert!(!VimError::Conflict("two nets".into()).is_retryable());
        assert!(VimError::Busy("vm_state building".into()).is_retryable());
        assert!(
            !VimError::InUse("1 port".into()).is_retryable(),
            "retried by the engine's own in-use rule, not as a transient error"
        );
        assert!(!VimError::NotFound("x".into()).is_retryable());
    }

    #[test]
    fn messages_show_durations_as_people_write_them() {
        let e = VimError::RateLimited {
            retry_after: Some(Duration::from_millis(197)),
        };
        assert_eq!(
            e.to_string(),
            "rate limited by the VIM (asked to retry after 197 ms)"
        );
        assert_eq!(
            VimError::RateLimited { retry_after: None }.to_string(),
            "rate limited by the VIM"
        );
        assert_eq!(
            VimError::Timeout(Duration::from_secs(60)).to_string(),
            "the VIM call timed out after 1 min"
        );
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human_duration(Duration::from_secs(5)), "5 s");
        assert_eq!(human_duration(Duration::from_secs(1800)), "30 min");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2 h");
        assert_eq!(human_duration(Duration::from_secs(95)), "95 s");
    }

    #[test]
    fn retry_after_comes_from_rate_limits_only() {
        let d = Some(Duration::from_millis(250));
        assert_eq!(VimError::RateLimited { retry_after: d }.retry_after(), d);
        assert_eq!(VimError::Connection("x".into()).retry_after(), None);
        assert_eq!(VimError::RateLimited { retry_after: d }.http_code(), 429);
        assert_eq!(VimError::NotImplemented("sfc".into()).http_code(), 501);
    }
}
