//! `GET /ui`: the operator's dashboard, one page embedded in the binary (no CDN, no build step).
//! It holds nothing of the service: everything it shows comes from the API and its event stream
//! (`/v1/events`), with the bearer token the person gives it when the API asks for one (kept for
//! the browser tab only).

use actix_web::HttpResponse;

const PAGE: &str = include_str!("ui/index.html");

pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(PAGE)
}
