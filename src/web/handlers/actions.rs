//! The write requests: `POST /job/<job>/run` (Run now: the current minute's slot) and
//! `POST /job/<job>/rerun` (a new attempt of `slot`), queued through the farm queue
//! exactly as greasedispatch queues them ([`crate::farm::submit`]). Only for a
//! signed-in user whose form carries the session's CSRF token; 403 otherwise.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::farm::published;
use crate::farm::submit::{SubmitOptions, submit};
use crate::model::slot::Slot;
use crate::web::auth::{same, same_origin};
use crate::web::error::WebError;
use crate::web::state::AppState;
use crate::web::view::{job_href, seg};

/// The form of Run now and Rerun slot.
#[derive(Debug, Deserialize)]
pub struct Action {
    /// Missing counts as wrong (403), not as a malformed form.
    #[serde(default)]
    pub csrf: String,
    /// Rerun slot: the slot's key.
    pub slot: Option<String>,
}

/// Run now.
pub async fn run_now(
    State(st): State<AppState>,
    Path(job): Path<String>,
    headers: HeaderMap,
    Form(a): Form<Action>,
) -> Result<Response, WebError> {
    queue(st, job, headers, a, false).await
}

/// Rerun slot.
pub async fn rerun(
    State(st): State<AppState>,
    Path(job): Path<String>,
    headers: HeaderMap,
    Form(a): Form<Action>,
) -> Result<Response, WebError> {
    queue(st, job, headers, a, true).await
}

async fn queue(
    st: AppState,
    job: String,
    headers: HeaderMap,
    a: Action,
    rerun: bool,
) -> Result<Response, WebError> {
    same_origin(&headers)?;
    let Some((_, session)) = st.sessions.of(&headers) else {
        return Err(WebError::Forbidden("sign in to queue runs".into()));
    };
    if !same(&session.csrf, &a.csrf) {
        return Err(WebError::Forbidden(
            "the form's token does not match your session".into(),
        ));
    }
    let slot = match (rerun, a.slot.as_deref()) {
        (false, _) => None,
        (true, Some(s)) => Some(
            Slot::from_key(s)
                .ok_or_else(|| WebError::BadRequest(format!("{s:?} is not a slot")))?,
        ),
        (true, None) => return Err(WebError::BadRequest("Rerun slot needs a slot".into())),
    };
    let user = session.user.clone();
    let name = job.clone();
    let done = st
        .read(move |s, c| {
            let p = published::find(s, &name)?;
            if p.entry.job != name {
                return Err(WebError::NotFound(format!(
                    "no published entry has the job {name:?}"
                )));
            }
            let opts = SubmitOptions {
                slot,
                backfill: None,
                every: None,
                rerun,
                limit: 1,
                requested_by: format!("web:{user}@{}", c.hostname()),
                now: chrono::Utc::now(),
            };
            Ok(submit(s, c, &name, &opts)?)
        })
        .await?;
    st.invalidate();
    let id = done
        .requests
        .first()
        .map(|r| r.id.clone())
        .unwrap_or_default();
    tracing::info!("{} queued {id} for {job}", session.user);
    Ok((
        StatusCode::SEE_OTHER,
        [(LOCATION, format!("{}?queued={}", job_href(&job), seg(&id)))],
    )
        .into_response())
}
