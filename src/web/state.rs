//! The server's one shared state: the store, the config, the users and their sessions,
//! the published entries (kept while the bundles are unchanged: [`crate::web::catalog`])
//! and a short-lived snapshot of the farm view. Store reads run on a thread of their own,
//! outside the async runtime: the `Store` trait blocks, and the etcd backend drives its
//! own current-thread runtime, which must not start inside another.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::store::Store;
use crate::web::auth::{Sessions, Users};
use crate::web::catalog::{Catalog, CatalogCache};
use crate::web::error::WebError;
use crate::web::view::farm::FarmView;

/// How long a farm view is served again before the store is read anew.
pub const SNAPSHOT_TTL: Duration = Duration::from_secs(2);

/// A farm view and when it was read.
type Snapshot = (Instant, Arc<FarmView>);

/// What every handler gets (cheap to clone: all behind `Arc`s).
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub users: Arc<Users>,
    pub sessions: Arc<Sessions>,
    catalog: CatalogCache,
    farm: Arc<Mutex<Option<Snapshot>>>,
}

impl AppState {
    /// The state over `store`, with `users` allowed to sign in.
    pub fn new(store: Arc<dyn Store>, config: Config, users: Users) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            users: Arc::new(users),
            sessions: Arc::new(Sessions::default()),
            catalog: CatalogCache::default(),
            farm: Arc::default(),
        }
    }

    /// Runs `f` with the store and config on a thread outside the runtime and returns
    /// its result.
    pub async fn read<T, F>(&self, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store, &Config) -> Result<T, WebError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let store = self.store.clone();
        let config = self.config.clone();
        std::thread::Builder::new()
            .name("store-read".into())
            .spawn(move || {
                let _ = tx.send(f(store.as_ref(), &config));
            })
            .map_err(|e| WebError::Internal(format!("cannot start a store reader: {e}")))?;
        rx.await
            .map_err(|_| WebError::Internal("the store reader stopped".into()))?
    }

    /// [`AppState::read`] with the published entries too (parsed once per change of the
    /// bundles).
    pub async fn read_published<T, F>(&self, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store, &Config, &Catalog) -> Result<T, WebError> + Send + 'static,
    {
        let cache = self.catalog.clone();
        self.read(move |s, c| {
            let published = cache.get(s)?;
            f(s, c, &published)
        })
        .await
    }

    /// The farm snapshot, if one was read within the last [`SNAPSHOT_TTL`] (no read).
    pub fn farm_if_fresh(&self) -> Option<Arc<FarmView>> {
        let kept = self.farm.lock().unwrap_or_else(|p| p.into_inner());
        kept.as_ref()
            .filter(|(at, _)| at.elapsed() < SNAPSHOT_TTL)
            .map(|(_, v)| v.clone())
    }

    /// The farm view, read at most every [`SNAPSHOT_TTL`].
    pub async fn farm(&self) -> Result<Arc<FarmView>, WebError> {
        if let Some(v) = self.farm_if_fresh() {
            return Ok(v);
        }
        let v = Arc::new(
            self.read_published(|s, c, p| {
                crate::web::view::farm::farm(s, c, p, chrono::Utc::now())
            })
            .await?,
        );
        *self.farm.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), v.clone()));
        Ok(v)
    }

    /// Forgets the farm snapshot (after a write, so the next page shows it).
    pub fn invalidate(&self) {
        *self.farm.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
