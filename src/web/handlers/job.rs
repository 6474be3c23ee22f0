//! `/job/<job>`, `/api/job/<job>` and `/api/ledger/<job>`: one job and its ledger over
//! `?days=N` (7 by default).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::web::error::WebError;
use crate::web::page::{JobPage, Page};
use crate::web::state::AppState;
use crate::web::view::job::{JobView, job};

/// The query string of a job page.
#[derive(Debug, Deserialize)]
pub struct JobQuery {
    /// Days of ledger (1 to 90; 7 by default).
    pub days: Option<u32>,
    /// A request just queued (shown after Run now).
    pub queued: Option<String>,
}

async fn view(st: &AppState, name: String, days: Option<u32>) -> Result<JobView, WebError> {
    st.read_published(move |s, c, p| job(s, c, p, &name, days.unwrap_or(7), chrono::Utc::now()))
        .await
}

/// The job page.
pub async fn page(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<JobQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let v = view(&st, name, q.days).await?;
    let session = st.sessions.of(&headers).map(|(_, s)| s);
    Ok(Page(JobPage::new(v, session, q.queued)).into_response())
}

/// The job view as JSON.
pub async fn api(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<JobQuery>,
) -> Result<Response, WebError> {
    Ok(Json(view(&st, name, q.days).await?).into_response())
}

/// Only the ledger, as JSON: a list of slots, oldest first.
pub async fn ledger(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<JobQuery>,
) -> Result<Response, WebError> {
    Ok(Json(view(&st, name, q.days).await?.ledger).into_response())
}
