//! The OpenAPI document of the whole API, generated from the handlers' and types' annotations,
//! then completed by [`Complete`] with what every route shares: the error statuses the
//! middleware, body reader and engine answer with, and the bearer requirement on `/v1` only.

use actix_web::HttpResponse;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder, header::Header};

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{accounts, actions, events, health, instances, items, orphans, sdn};
use crate::views::*;

#[derive(OpenApi)]
#[openapi(
    info(title = "rovim", description = "The resource orchestrator's VIM task engine: VIM accounts, SDN controllers, actions of CREATE/FIND/DELETE tasks on nets and VMs, and what those elements are on their VIMs.\n\nEvery refusal is a JSON `ErrorBody` naming the field and the reason, and changes nothing. A method a path does not list answers 405 with the same body."),
    paths(
        accounts::create, accounts::list, accounts::show, accounts::edit, accounts::remove,
        sdn::create, sdn::list, sdn::remove,
        actions::submit, actions::show, actions::list, events::events,
        items::net, items::vm,
        instances::list,
        orphans::list, orphans::sweep,
        health::healthz, health::readyz, health::metrics, document,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, VimAccountView, SdnControllerView, ActionView, TaskView, NetView, VmView, InterfaceView,
        SubmittedView, SubmittedTask, InstanceView, OrphanView, SweepView, FailedDeleteView,
        rovim_engine::ActionRequest, rovim_engine::TaskRequest, rovim_engine::DepRef,
        rovim_core::NetParams, rovim_core::VmParams, rovim_core::FindFilter,
    )),
    modifiers(&Complete)
)]
pub struct ApiDoc;

/// The bearer scheme, and on each operation the responses it shares with the others.
struct Complete;

/// Responses of every `/v1` operation (status, description).
const V1_ERRORS: [(&str, &str); 4] = [
    ("400", "a malformed path or query parameter"),
    (
        "401",
        "tokens are configured and the request has no valid bearer token",
    ),
    (
        "403",
        "no tokens are configured and the request names a non-loopback host or origin",
    ),
    (
        "503",
        "the database or the engine is unavailable; retry later",
    ),
];

/// Responses of every operation that reads a body.
const BODY_ERRORS: [(&str, &str); 4] = [
    ("400", "a body that is not valid JSON (or YAML where taken)"),
    ("413", "a body larger than the limit"),
    (
        "415",
        "a body without Content-Type: application/json (or application/yaml where taken)",
    ),
    (
        "422",
        "a body the API refuses: the error names the field and the reason",
    ),
];

fn error_response(description: &str, status: &str) -> RefOr<Response> {
    let mut b = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    );
    if status == "401" {
        let mut challenge = Header::default();
        challenge.description = Some(r#"Bearer realm="rovim""#.to_owned());
        b = b.header("WWW-Authenticate", challenge);
    }
    b.build().into()
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

impl utoipa::Modify for Complete {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let guarded = path.starts_with("/v1/");
            for op in operations(item) {
                let responses = &mut op.responses.responses;
                if op.request_body.is_some() {
                    for (status, description) in BODY_ERRORS {
                        responses
                            .entry(status.into())
                            .or_insert_with(|| error_response(description, status));
                    }
                }
                if guarded {
                    for (status, description) in V1_ERRORS {
                        responses
                            .entry(status.into())
                            .or_insert_with(|| error_response(description, status));
                    }
                    op.security = Some(vec![SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )]);
                }
                for (status, response) in responses.iter_mut() {
                    if let RefOr::T(r) = response
                        && r.description.is_empty()
                    {
                        r.description = default_description(status).into();
                    }
                }
            }
        }
    }
}

fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "created",
        "204" => "done; no body",
        "404" => "no such resource (the error names it)",
        "409" => "it clashes with what exists (the error says with what)",
        _ => "see the error body",
    }
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "health", operation_id = "openapi_document",
    responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn doc() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    fn each_operation(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
        out
    }

    /// Issue 11 (9): 27 validator errors came from these.
    #[test]
    fn every_operation_has_its_own_id_and_described_responses() {
        let doc = doc();
        let mut ids = HashSet::new();
        for (path, method, op) in each_operation(&doc) {
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(
                ids.insert(id.clone()),
                "{method} {path}: duplicate operationId {id}"
            );
            for (status, r) in op["responses"].as_object().unwrap() {
                let d = r["description"].as_str().unwrap_or("");
                assert!(!d.is_empty(), "{method} {path} {status}: no description");
            }
        }
    }

    #[test]
    fn security_is_claimed_only_where_a_token_is_checked() {
        let doc = doc();
        assert!(doc.get("security").is_none(), "no global requirement");
        for (path, method, op) in each_operation(&doc) {
            let guarded = path.starts_with("/v1/");
            assert_eq!(op.get("security").is_some(), guarded, "{method} {path}");
            assert_eq!(
                op["responses"].get("401").is_some(),
                guarded,
                "{method} {path}"
            );
            if guarded {
                assert!(
                    op["responses"]["401"]["headers"]
                        .get("WWW-Authenticate")
                        .is_some()
                );
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_submission_answer_has_a_schema() {
        let doc = doc();
        let created = &doc["paths"]["/v1/actions"]["post"]["responses"]["201"];
        assert_eq!(
            created["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/SubmittedView"
        );
    }
}
