//! The sim VIM's HTTP wire format: request bodies and the error body that carries a
//! [`VimError`] (and a failed create's leftovers) across the process boundary.

use std::time::Duration;

use rovim_core::{FindFilter, ItemKind, NetParams, Owned};
use serde::{Deserialize, Serialize};

use crate::connector::{CreateFailure, VmRequest};
use crate::error::VimError;

#[derive(Debug, Serialize, Deserialize)]
pub struct CreateNet {
    pub params: NetParams,
    pub token: String,
    #[serde(default)]
    pub installation: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CreateVm {
    pub request: VmRequest,
    pub token: String,
    #[serde(default)]
    pub installation: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Adopt {
    pub kind: ItemKind,
    pub filter: FindFilter,
    pub token: String,
    pub installation: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Ids {
    pub ids: Vec<String>,
}

/// What every non-2xx answer carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// [`VimError::class`].
    pub class: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leftover: Option<Owned>,
}

impl ErrorBody {
    pub fn of(e: &VimError, leftover: Option<Owned>) -> ErrorBody {
        let message = match e {
            VimError::Connection(m)
            | VimError::UnexpectedResponse(m)
            | VimError::Auth(m)
            | VimError::NotFound(m)
            | VimError::Conflict(m)
            | VimError::InUse(m)
            | VimError::Busy(m)
            | VimError::NotSupported(m)
            | VimError::NotImplemented(m)
            | VimError::BadRequest(m) => m.clone(),
            VimError::RateLimited { .. } | VimError::Timeout(_) => String::new(),
        };
        let retry_after_ms = match e {
            VimError::RateLimited { retry_after } => retry_after.map(|d| d.as_millis() as u64),
            VimError::Timeout(d) => Some(d.as_millis() as u64),
            _ => None,
        };
        ErrorBody {
            class: e.class().into(),
            message,
            retry_after_ms,
            leftover,
        }
    }

    pub fn into_error(self) -> VimError {
        let m = self.message;
        let ms = self.retry_after_ms.map(Duration::from_millis);
        match self.class.as_str() {
            "connection" => VimError::Connection(m),
            "auth" => VimError::Auth(m),
            "not_found" => VimError::NotFound(m),
            "conflict" => VimError::Conflict(m),
            "in_use" => VimError::InUse(m),
            "busy" => VimError::Busy(m),
            "not_supported" => VimError::NotSupported(m),
            "not_implemented" => VimError::NotImplemented(m),
            "bad_request" => VimError::BadRequest(m),
            "rate_limited" => VimError::RateLimited { retry_after: ms },
            "timeout" => VimError::Timeout(ms.unwrap_or_default()),
            _ => VimError::UnexpectedResponse(m),
        }
    }

    pub fn into_failure(self) -> CreateFailure {
        let leftover = self.leftover.clone();
        CreateFailure {
            error: self.into_error(),
            leftover,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_class_survives_the_wire() {
        let all = [
            VimError::Connection("c".into()),
            VimError::UnexpectedResponse("u".into()),
            VimError::Auth("a".into()),
            VimError::NotFound("n".into()),
            VimError::Conflict("x".into()),
            VimError::InUse("p".into()),
            VimError::Busy("b".into()),
            VimError::NotSupported("s".into()),
            VimError::NotImplemented("i".into()),
            VimError::BadRequest("b".into()),
            VimError::RateLimited {
                retry_after: Some(Duration::from_millis(250)),
            },
            VimError::Timeout(Duration::from_secs(3)),
        ];
        for e in all {
            let json = serde_json::to_string(&ErrorBody::of(&e, None)).unwrap();
            let back: ErrorBody = serde_json::from_str(&json).unwrap();
            assert_eq!(back.into_error(), e, "{json}");
        }
    }
}
