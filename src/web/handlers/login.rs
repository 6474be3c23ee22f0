//! `/login` and `/logout`: signing in with a name and password from the users file
//! (verified off the async threads: argon2 takes tens of milliseconds), and out.

use axum::Form;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::web::auth::{same, same_origin, set_cookie};
use crate::web::error::WebError;
use crate::web::page::{LoginPage, Page};
use crate::web::state::AppState;

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct Credentials {
    pub name: String,
    pub password: String,
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct Token {
    #[serde(default)]
    pub csrf: String,
}

/// The sign-in page.
pub async fn form(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let session = st.sessions.of(&headers).map(|(_, s)| s);
    Page(LoginPage {
        session,
        message: None,
        enabled: !st.users.is_empty(),
    })
    .into_response()
}

/// Checks the name and password; on success starts a session and goes to the farm page,
/// else shows the form again with 403.
pub async fn submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(c): Form<Credentials>,
) -> Result<Response, WebError> {
    same_origin(&headers)?;
    let users = st.users.clone();
    let name = c.name.clone();
    let ok = tokio::task::spawn_blocking(move || users.verify(&name, &c.password))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    if !ok {
        tracing::info!("sign-in refused for {:?}", c.name);
        let page = Page(LoginPage {
            session: None,
            message: Some("Wrong name or password.".into()),
            enabled: !st.users.is_empty(),
        });
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    let id = st.sessions.start(&c.name)?;
    tracing::info!("{:?} signed in", c.name);
    Ok((
        StatusCode::SEE_OTHER,
        [
            (LOCATION, "/".to_string()),
            (SET_COOKIE, set_cookie(Some(&id))),
        ],
    )
        .into_response())
}

/// Ends the session (the form's token must match it).
pub async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(t): Form<Token>,
) -> Result<Response, WebError> {
    same_origin(&headers)?;
    if let Some((id, s)) = st.sessions.of(&headers) {
        if !same(&s.csrf, &t.csrf) {
            return Err(WebError::Forbidden(
                "the form's token does not match your session".into(),
            ));
        }
        st.sessions.end(&id);
    }
    Ok((
        StatusCode::SEE_OTHER,
        [(LOCATION, "/".to_string()), (SET_COOKIE, set_cookie(None))],
    )
        .into_response())
}
