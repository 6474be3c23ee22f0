//! `/metrics`: the Prometheus text format ([`crate::web::metrics`]).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::web::error::WebError;
use crate::web::state::AppState;

/// The metrics, as Prometheus's text format 0.0.4.
pub async fn get(State(st): State<AppState>) -> Result<Response, WebError> {
    // The queue's size from the farm page's snapshot when it is fresh, else read.
    let queue = st
        .farm_if_fresh()
        .map(|f| (f.queue_pending, f.queue_in_flight));
    let text = st
        .read_published(move |s, c, p| {
            crate::web::metrics::render(s, c, p, queue, chrono::Utc::now())
        })
        .await?;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response())
}
