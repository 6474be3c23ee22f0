//! `/run/<job>/<slot>/<run id>` and `/api/run/...`: one run and its output.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::web::error::WebError;
use crate::web::page::{Page, RunPage};
use crate::web::state::AppState;
use crate::web::view::run::{RunView, run};

async fn view(
    st: &AppState,
    (job, slot, id): (String, String, String),
) -> Result<RunView, WebError> {
    st.read(move |s, c| run(s, c, &job, &slot, &id, chrono::Utc::now()))
        .await
}

/// The run page.
pub async fn page(
    State(st): State<AppState>,
    Path(p): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let v = view(&st, p).await?;
    let session = st.sessions.of(&headers).map(|(_, s)| s);
    Ok(Page(RunPage::new(v, session)).into_response())
}

/// The run view as JSON.
pub async fn api(
    State(st): State<AppState>,
    Path(p): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    Ok(Json(view(&st, p).await?).into_response())
}
