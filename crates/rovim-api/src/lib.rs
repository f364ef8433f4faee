//! rovim-api: the northbound HTTP API. JSON in and out (action bodies also as YAML); every
//! refusal is a 4xx with a JSON body naming the field and the reason, and changes nothing.
//!
//! Modules: [`error`] (the error body), [`body`] (bounded body reading, JSON or YAML),
//! [`auth`] (bearer tokens), [`access_log`] (a line per request), [`audit`] (a record per
//! account or controller change), [`views`] (what the API shows), [`routes`] (one file per
//! resource), [`sse`] (the event stream's frames, written and read), [`openapi`] (the
//! document).
#![forbid(unsafe_code)]

pub mod access_log;
pub mod audit;
pub mod auth;
pub mod body;
pub mod error;
pub mod openapi;
pub mod routes;
pub mod sse;
pub mod ui;
pub mod views;

use actix_web::web;
use rovim_engine::Engine;

pub use auth::{MIN_TOKEN_LEN, TokenError, Tokens};
pub use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    pub engine: Engine,
    pub tokens: Tokens,
}

/// Mounts the whole API on an actix-web app.
pub fn configure(state: ApiState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let tokens = state.tokens.clone();
        let log = state.engine.log().new(slog::o!("component" => "api"));
        cfg.app_data(web::Data::new(state))
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::bad_request("path", e.to_string()).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::bad_request("query", e.to_string()).into()),
            )
            .service(
                // One scope for everything, so the access log sees every request, 401s too.
                web::scope("")
                    .wrap(actix_web::middleware::from_fn(move |req, next| {
                        access_log::log_request(log.clone(), req, next)
                    }))
                    .route("/healthz", web::get().to(routes::health::healthz))
                    .route("/readyz", web::get().to(routes::health::readyz))
                    .route("/metrics", web::get().to(routes::health::metrics))
                    .route("/ui", web::get().to(ui::page))
                    .route("/ui/", web::get().to(ui::page))
                    .service(
                        web::scope("/v1")
                            .wrap(actix_web::middleware::from_fn(move |req, next| {
                                auth::check(tokens.clone(), req, next)
                            }))
                            .route("/openapi.json", web::get().to(openapi::document))
                            .configure(routes::accounts::routes)
                            .configure(routes::sdn::routes)
                            .configure(routes::actions::routes)
                            .configure(routes::events::routes)
                            .configure(routes::items::routes)
                            .configure(routes::instances::routes)
                            .configure(routes::orphans::routes)
                            .default_service(web::to(routes::health::not_found)),
                    )
                    .default_service(web::to(routes::health::not_found)),
            );
    }
}
