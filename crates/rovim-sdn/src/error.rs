//! `SdnError`: what an SDN controller call can end with.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdnError {
    #[error("cannot connect to the SDN controller: {0}")]
    Connection(String),
    #[error("unexpected response from the SDN controller: {0}")]
    UnexpectedResponse(String),
    #[error("not found on the SDN controller: {0}")]
    NotFound(String),
    #[error("conflict on the SDN controller: {0}")]
    Conflict(String),
    #[error("the SDN controller refused the request: {0}")]
    BadRequest(String),
    #[error("not supported by this SDN controller: {0}")]
    NotSupported(String),
}

impl SdnError {
    /// Transient failures worth retrying; the rest are final.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SdnError::Connection(_) | SdnError::UnexpectedResponse(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retryable() {
        assert!(SdnError::Connection("x".into()).is_retryable());
        assert!(SdnError::UnexpectedResponse("x".into()).is_retryable());
        assert!(!SdnError::NotFound("x".into()).is_retryable());
        assert!(!SdnError::BadRequest("x".into()).is_retryable());
        assert!(!SdnError::Conflict("x".into()).is_retryable());
    }
}
