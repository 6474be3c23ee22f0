//! `greasestatus serve`: the status web page over the store, from any host that can reach
//! it. [`router`] holds every route; pages are askama templates ([`page`]) over the same
//! serde views the JSON API returns ([`view`]); the ledger grid and duration chart are
//! SVG drawn here ([`svg`]); `/metrics` is Prometheus text ([`metrics`]). Read-only
//! pages need no JavaScript and no sign-in; Run now and Rerun slot need a user from the
//! users file ([`auth`]) and the session's CSRF token. [`serve`] binds and runs until
//! SIGINT or SIGTERM.

pub mod auth;
pub mod catalog;
pub mod error;
mod handlers;
pub mod metrics;
pub mod page;
pub mod state;
pub mod svg;
pub mod view;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::config::Config;
use crate::store::Store;
use crate::web::auth::Users;
pub use crate::web::error::WebError;
pub use crate::web::state::AppState;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(handlers::farm::page))
        .route("/job/{job}", get(handlers::job::page))
        .route("/job/{job}/run", post(handlers::actions::run_now))
        .route("/job/{job}/rerun", post(handlers::actions::rerun))
        .route("/run/{job}/{slot}/{run}", get(handlers::run::page))
        .route(
            "/login",
            get(handlers::login::form).post(handlers::login::submit),
        )
        .route("/logout", post(handlers::login::logout))
        .route("/api/farm", get(handlers::farm::api))
        .route("/api/job/{job}", get(handlers::job::api))
        .route("/api/ledger/{job}", get(handlers::job::ledger))
        .route("/api/run/{job}/{slot}/{run}", get(handlers::run::api))
        .route("/metrics", get(handlers::metrics::get))
        .route("/assets/{name}", get(handlers::assets::get))
        .with_state(state)
}

/// What `greasestatus serve` was asked, validated.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `--listen`, else `web.listen`, else 127.0.0.1:8080.
    pub listen: SocketAddr,
    /// `web.users`: the users file; none means nobody can sign in (read-only).
    pub users: Option<PathBuf>,
}

/// Serves the pages over `store` until SIGINT or SIGTERM; `ready` is called with the
/// bound address once the server accepts connections.
pub fn serve(
    store: Box<dyn Store>,
    config: Config,
    opts: &ServeOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), WebError> {
    let users = match &opts.users {
        Some(p) => Users::load(p)?,
        None => Users::default(),
    };
    let state = AppState::new(Arc::from(store), config, users);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| WebError::Internal(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| WebError::Bind {
                addr: opts.listen.to_string(),
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| WebError::Internal(e.to_string()))?;
        ready(addr);
        axum::serve(listener, router(state))
            .with_graceful_shutdown(stopped())
            .await
            .map_err(|e| WebError::Internal(format!("the server stopped: {e}")))
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
