//! Keystone v3: password authentication scoped to a project, the token cached and renewed
//! `token_renew_before_secs` (5 min) before it expires (and once on a 401), endpoints read from
//! the service catalog (or `endpoint_override`).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::settings::OpenStackSettings;
use crate::error::VimError;

/// A token and what came with it.
#[derive(Clone)]
pub struct Session {
    token: String,
    pub project_id: String,
    expires_at: SystemTime,
    /// Service type (`network`, `compute`…) → endpoint URL.
    pub endpoints: HashMap<String, String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("project_id", &self.project_id)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

pub struct Keystone {
    http: Client,
    auth_url: String,
    user: String,
    password: String,
    project: String,
    settings: OpenStackSettings,
    session: Mutex<Option<Session>>,
}

impl Keystone {
    pub fn new(
        auth_url: &str,
        user: &str,
        password: &str,
        project: &str,
        settings: OpenStackSettings,
    ) -> Result<Keystone, VimError> {
        Ok(Keystone {
            http: crate::tls::client()?,
            auth_url: auth_url.trim_end_matches('/').to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            project: project.to_owned(),
            settings,
            session: Mutex::new(None),
        })
    }

    /// The token itself, for tests that revoke it (never logged or shown otherwise).
    #[cfg(feature = "test-support")]
    pub async fn current_token(&self) -> Option<String> {
        self.session.lock().await.as_ref().map(|s| s.token.clone())
    }

    /// A valid session, authenticating when there is none or it is about to expire.
    pub async fn session(&self) -> Result<Session, VimError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref()
            && s.expires_at
                > SystemTime::now() + Duration::from_secs_f64(self.settings.token_renew_before_secs)
        {
            return Ok(s.clone());
        }
        let s = self.authenticate().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Drops the cached token (after a 401).
    pub async fn invalidate(&self) {
        *self.session.lock().await = None;
    }

    async fn authenticate(&self) -> Result<Session, VimError> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.user, "domain": {"name": self.settings.user_domain}, "password": self.password}}},
            "scope": {"project": {"name": self.project, "domain": {"name": self.settings.project_domain}}}}});
        let resp = self
            .http
            .post(format!("{}/auth/tokens", self.auth_url))
            .json(&body)
            .send()
            .await
            .map_err(|e| VimError::Connection(format!("Keystone at {}: {e}", self.auth_url)))?;
        let status = resp.status();
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await.map_err(|e| {
            VimError::UnexpectedResponse(format!("Keystone: the answer was cut: {e}"))
        })?;
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(VimError::Auth(format!(
                "Keystone refused user '{}' on project '{}'",
                self.user, self.project
            )));
        }
        if !status.is_success() {
            // Bounded and without the password, whatever the body echoes.
            let quoted = rovim_core::quote_body(&rovim_core::scrub_secret(&body, &self.password));
            return Err(VimError::UnexpectedResponse(format!(
                "Keystone answered {status}: {quoted}"
            )));
        }
        let token = token
            .ok_or_else(|| VimError::UnexpectedResponse("Keystone: no X-Subject-Token".into()))?;
        if answer["token"].is_null() {
            return Err(VimError::UnexpectedResponse(
                "Keystone: the token's answer is not JSON".into(),
            ));
        }
        let t = &answer["token"];
        let project_id = t["project"]["id"].as_str().unwrap_or_default().to_owned();
        let expires_at = t["expires_at"]
            .as_str()
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .map(|d| SystemTime::UNIX_EPOCH + Duration::from_secs(d.timestamp().max(0) as u64))
            .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(3600));
        let mut endpoints = HashMap::new();
        for service in t["catalog"].as_array().into_iter().flatten() {
            let Some(kind) = service["type"].as_str() else {
                continue;
            };
            let url = service["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| {
                    e["interface"].as_str() == Some(self.settings.interface.as_str())
                        && self.settings.region.as_deref().is_none_or(|r| {
                            e["region_id"].as_str() == Some(r) || e["region"].as_str() == Some(r)
                        })
                });
            if let Some(url) = url.and_then(|e| e["url"].as_str()) {
                endpoints.insert(kind.to_owned(), url.trim_end_matches('/').to_owned());
            }
        }
        for (kind, url) in &self.settings.endpoint_override {
            endpoints.insert(kind.clone(), url.trim_end_matches('/').to_owned());
        }
        Ok(Session {
            token,
            project_id,
            expires_at,
            endpoints,
        })
    }

    /// Calls a service of the catalog; re-authenticates once on a 401. `Ok` holds the status and
    /// the JSON body (null when empty) of any 2xx answer.
    pub async fn call(
        &self,
        service: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), VimError> {
        self.call_with(service, method, path, body, &[]).await
    }

    /// [`Keystone::call`] with extra request headers (e.g. Nova's microversion).
    pub async fn call_with(
        &self,
        service: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Value), VimError> {
        for attempt in 0..2 {
            let s = self.session().await?;
            let base = s.endpoints.get(service).ok_or_else(|| {
                VimError::NotSupported(format!("no '{service}' endpoint in the Keystone catalog"))
            })?;
            let mut req = self
                .http
                .request(method.clone(), format!("{base}{path}"))
                .header("x-auth-token", &s.token);
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| {
                if e.is_timeout() {
                    VimError::Timeout(Duration::ZERO)
                } else {
                    VimError::Connection(format!("{service}: {e}"))
                }
            })?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            // A body cut on the way is a transient failure, never an empty success.
            let text = resp.text().await.map_err(|e| {
                VimError::UnexpectedResponse(format!("{service}: the answer was cut: {e}"))
            })?;
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                self.invalidate().await;
                continue;
            }
            let value: Value = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
            };
            if status.is_success() {
                if value.is_string() {
                    return Err(VimError::UnexpectedResponse(format!(
                        "{service}: the answer to {method} {path} is not JSON"
                    )));
                }
                return Ok((status.as_u16(), value));
            }
            let message = value["NeutronError"]["message"]
                .as_str()
                .or_else(|| {
                    value
                        .as_object()
                        .and_then(|o| o.values().next())
                        .and_then(|v| v["message"].as_str())
                })
                .map(str::to_owned)
                .unwrap_or_else(|| text.chars().take(300).collect());
            // Whatever the service echoes, neither the password nor the token goes on.
            let message = rovim_core::scrub_secret(
                &rovim_core::scrub_secret(&message, &self.password),
                &s.token,
            );
            let what = format!("{method} {path}: {message}");
            return Err(match status.as_u16() {
                // Nova refuses an over-quota request with 403 (older releases with 413): the
                // credentials are fine, the request will not pass until the quota changes.
                403 | 413 if is_quota(&message) => VimError::BadRequest(what),
                401 | 403 => VimError::Auth(what),
                404 => VimError::NotFound(what),
                // NetworkInUse, SubnetInUse, PortInUse…: gone once its users are.
                409 if value["NeutronError"]["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("InUse")) =>
                {
                    VimError::InUse(what)
                }
                409 if is_busy(&message) => VimError::Busy(what),
                409 => VimError::Conflict(what),
                413 | 429 => VimError::RateLimited {
                    retry_after: retry_after.map(Duration::from_secs),
                },
                501 => VimError::NotImplemented(what),
                s if s >= 500 => VimError::UnexpectedResponse(what),
                _ => VimError::BadRequest(what),
            });
        }
        Err(VimError::Auth("Keystone token refused twice".into()))
    }
}

/// Nova's refusal of a call on a server in a passing state ("… while it is in vm_state
/// building", "… task_state deleting").
fn is_busy(message: &str) -> bool {
    message.contains("while it is in vm_state") || message.contains("while it is in task_state")
}

/// A refusal for quota: Nova's "Quota exceeded for instances: ...", "Maximum number of ... exceeded".
fn is_quota(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("quota exceeded") || (m.starts_with("maximum number of") && m.contains("exceeded"))
}

#[cfg(test)]
mod tests {
    use super::{is_busy, is_quota};

    #[test]
    fn quota_refusals_are_told_from_authorization_ones() {
        assert!(is_quota(
            "Quota exceeded for instances: Requested 1, but already used 0 of 0 instances"
        ));
        assert!(is_quota("Maximum number of key pairs exceeded"));
        assert!(!is_quota(
            "Policy doesn't allow os_compute_api:servers:create to be performed."
        ));
    }

    #[test]
    fn a_server_in_a_passing_state_is_busy() {
        assert!(is_busy(
            "Cannot 'update tags' instance a98a while it is in vm_state building"
        ));
        assert!(!is_busy("Multiple possible networks found"));
    }
}
