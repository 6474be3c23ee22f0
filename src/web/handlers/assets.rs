//! `/assets/<name>`: the files compiled into the binary, each with its content type, so
//! the server needs nothing beside it (no internet, no install directory).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

/// The compiled-in assets: name, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[(
    "style.css",
    "text/css; charset=utf-8",
    include_str!("../assets/style.css"),
)];

/// One asset, or 404.
pub async fn get(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => (
            [(CONTENT_TYPE, *kind), (CACHE_CONTROL, "max-age=3600")],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "404: no such asset\n").into_response(),
    }
}
