//! The web layer's one error: what went wrong serving a page or starting the server, its
//! exit code (for `greasestatus serve` and `passwd`) and the HTTP status a page answers
//! with (a job the store does not know is 404, a refused write 403, a store fault 503).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::debugging::runs::ViewError;
use crate::exit;
use crate::farm::error::FarmError;
use crate::store::StoreError;

/// Why a page or the server failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    View(#[from] ViewError),
    #[error(transparent)]
    Farm(#[from] FarmError),
    #[error("cannot listen on {addr}: {source} (is another server on that port? use --listen)")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("users file {path}: {why}")]
    Users { path: String, why: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("cannot render the page: {0}")]
    Render(#[from] askama::Error),
    #[error("{0}")]
    Internal(String),
}

impl WebError {
    /// The documented exit code: the store's or farm's own, 78 (config) for a users file
    /// that cannot be used, 71 (OS error) for a port that cannot be bound.
    pub fn exit_code(&self) -> i32 {
        match self {
            WebError::Store(e) => e.exit_code(),
            WebError::View(e) => e.exit_code(),
            WebError::Farm(e) => e.exit_code(),
            WebError::Bind { .. } => exit::OS_ERR,
            WebError::Users { .. } => exit::CONFIG,
            WebError::NotFound(_) => exit::FAILURE,
            WebError::Forbidden(_) => exit::REFUSED,
            WebError::BadRequest(_) => exit::USAGE,
            WebError::Render(_) | WebError::Internal(_) => exit::SOFTWARE,
        }
    }

    /// The HTTP status a page answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::View(
                ViewError::NoRun { .. }
                | ViewError::UnknownJob { .. }
                | ViewError::Ambiguous { .. },
            )
            | WebError::Farm(FarmError::UnknownJob { .. })
            | WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Farm(FarmError::Duplicate { .. }) => StatusCode::CONFLICT,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::BadRequest(_) | WebError::View(ViewError::Since(_)) => {
                StatusCode::BAD_REQUEST
            }
            WebError::Store(_) | WebError::View(ViewError::Store(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    /// A plain-text page with the message (text, so nothing in it is markup).
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!("{self}");
        }
        (status, format!("{}: {self}\n", status.as_u16())).into_response()
    }
}
