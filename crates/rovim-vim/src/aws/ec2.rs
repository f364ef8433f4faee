//! A minimal EC2 Query API client: form-encoded POSTs signed with SigV4, XML answers, EC2 error
//! codes mapped to [`VimError`] classes.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use reqwest::Client;

use crate::error::VimError;

const API_VERSION: &str = "2016-11-15";

/// An EC2 error answer, kept whole for tests and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Error {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Ec2Error {
    /// The engine's class for this EC2 error.
    pub fn into_vim(self) -> VimError {
        let text = format!("{}: {}", self.code, self.message);
        let code = self.code.as_str();
        if code == "RequestLimitExceeded" || code == "Throttling" || self.status == 429 {
            return VimError::RateLimited { retry_after: None };
        }
        if self.status >= 500 || code == "InternalError" || code == "Unavailable" {
            return VimError::UnexpectedResponse(text);
        }
        if code.starts_with("AuthFailure")
            || code == "UnauthorizedOperation"
            || code == "InvalidClientTokenId"
            || code == "SignatureDoesNotMatch"
        {
            return VimError::Auth(text);
        }
        if code.ends_with(".NotFound") || code.ends_with(".Malformed") && code.contains("ID") {
            return VimError::NotFound(text);
        }
        if code == "DependencyViolation" {
            return VimError::InUse(text);
        }
        if code.ends_with(".Conflict") || code == "IncorrectState" {
            return VimError::Conflict(text);
        }
        if code == "UnsupportedOperation" || code == "Unsupported" {
            return VimError::NotSupported(text);
        }
        VimError::BadRequest(text)
    }
}

pub struct Ec2 {
    /// Calls made, by action (tests and benchmarks count them).
    calls: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    http: Client,
    endpoint: String,
    host: String,
    region: String,
    access_key: String,
    secret_key: String,
}

impl std::fmt::Debug for Ec2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Ec2 {
    pub fn new(
        endpoint: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Result<Ec2, VimError> {
        let http = crate::tls::client()?;
        let endpoint = endpoint.trim_end_matches('/').to_owned() + "/";
        // The signed `host` header, worked out once rather than on every call.
        let host = reqwest::Url::parse(&endpoint)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                })
            })
            .ok_or_else(|| {
                VimError::BadRequest(format!("url: '{endpoint}' is not an EC2 endpoint URL"))
            })?;
        Ok(Ec2 {
            calls: Default::default(),
            http,
            host,
            endpoint,
            region: region.to_owned(),
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
        })
    }

    /// How many `action` calls this client made.
    pub fn calls(&self, action: &str) -> u64 {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(action)
            .copied()
            .unwrap_or(0)
    }

    /// Calls `action` with `params`; the XML answer on success.
    pub async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, VimError> {
        *self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(action.to_owned())
            .or_default() += 1;
        let mut form: Vec<(&str, &str)> = vec![("Action", action), ("Version", API_VERSION)];
        form.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = serde_urlencoded(&form);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let identity =
            Credentials::new(&self.access_key, &self.secret_key, None, None, "rovim").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| VimError::BadRequest(format!("cannot sign the request: {e}")))?
            .into();
        let headers = [("content-type", content_type), ("host", self.host.as_str())];
        let signable = SignableRequest::new(
            "POST",
            &self.endpoint,
            headers.into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| VimError::BadRequest(format!("cannot sign the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| VimError::BadRequest(format!("cannot sign the request: {e}")))?
            .into_parts();
        let mut req = self
            .http
            .post(&self.endpoint)
            .header("content-type", content_type)
            .body(body);
        for (name, value) in instructions.headers() {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                VimError::Timeout(std::time::Duration::ZERO)
            } else {
                VimError::Connection(e.to_string())
            }
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| VimError::UnexpectedResponse(e.to_string()))?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        Err(parse_error(status, &text).into_vim())
    }
}

fn serde_urlencoded(pairs: &[(&str, &str)]) -> String {
    let mut out = reqwest::Url::parse("http://x/").expect("static URL");
    out.query_pairs_mut().extend_pairs(pairs.iter().copied());
    out.query().unwrap_or("").to_owned()
}

/// `<Response><Errors><Error><Code>…</Code><Message>…</Message>` (or anything else, kept whole).
pub fn parse_error(status: u16, text: &str) -> Ec2Error {
    let doc = roxmltree::Document::parse(text).ok();
    let find = |tag: &str| {
        doc.as_ref()
            .and_then(|d| d.descendants().find(|n| n.has_tag_name(tag)))
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    Ec2Error {
        status,
        code: find("Code").unwrap_or_else(|| format!("HTTP{status}")),
        message: find("Message").unwrap_or_else(|| text.chars().take(300).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_checked_once_when_the_client_is_made() {
        let e = Ec2::new("not an url", "us-east-1", "k", "s").unwrap_err();
        assert!(
            matches!(e, VimError::BadRequest(_)) && e.to_string().contains("not an url"),
            "{e}"
        );
        let ok = Ec2::new("http://127.0.0.1:5000", "us-east-1", "k", "s").unwrap();
        assert_eq!(ok.host, "127.0.0.1:5000");
    }

    #[test]
    fn ec2_errors_map_to_classes() {
        let xml = |code: &str| {
            format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>m</Message></Error></Errors></Response>"
            )
        };
        let class = |status: u16, code: &str| parse_error(status, &xml(code)).into_vim().class();
        assert_eq!(class(503, "RequestLimitExceeded"), "rate_limited");
        assert_eq!(class(500, "InternalError"), "unexpected_response");
        assert_eq!(class(401, "AuthFailure"), "auth");
        assert_eq!(class(400, "InvalidInstanceID.NotFound"), "not_found");
        assert_eq!(class(400, "InvalidSubnetID.Malformed"), "not_found");
        assert_eq!(class(400, "DependencyViolation"), "in_use");
        assert_eq!(class(400, "InvalidParameterValue"), "bad_request");
        let e = parse_error(502, "<html>bad gateway</html>");
        assert_eq!(e.code, "HTTP502");
        assert_eq!(e.into_vim().class(), "unexpected_response");
    }
}
