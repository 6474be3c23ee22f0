//! `/` and `/api/farm`: the farm view.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::web::error::WebError;
use crate::web::page::{FarmPage, Page};
use crate::web::state::AppState;

/// The farm page.
pub async fn page(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    let view = st.farm().await?;
    let session = st.sessions.of(&headers).map(|(_, s)| s);
    Ok(Page(FarmPage { view, session }).into_response())
}

/// The farm view as JSON.
pub async fn api(State(st): State<AppState>) -> Result<Response, WebError> {
    Ok(Json(st.farm().await?.as_ref().clone()).into_response())
}
