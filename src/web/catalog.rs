//! The published bundles and their greaserun entries, as the pages see them: read and
//! parsed (each entry with greaserun's own argument parser) once, then kept while the
//! store's stamp of `bundles/` ([`Store::stamp`]) stays the same, so a page costs no
//! bundle reads at all until a project publishes again. A store that gives no stamp (the
//! directory store while `bundles/` changed within the last moments) is read anew for
//! each request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::debugging::status::bundle_map;
use crate::dispatch::bundle::Bundle;
use crate::dispatch::project::Project;
use crate::farm::published::{self, Published};
use crate::model::keys;
use crate::store::{Store, Version};
use crate::web::error::WebError;

/// Every valid bundle of the store and its greaserun entries.
#[derive(Debug, Default)]
pub struct Catalog {
    pub bundles: BTreeMap<Project, Bundle>,
    /// In bundle (project) order, then file and line order.
    pub entries: Vec<Published>,
}

impl Catalog {
    /// Reads and parses every bundle once.
    pub fn read(store: &dyn Store) -> Result<Catalog, WebError> {
        let bundles = bundle_map(store)?;
        let (entries, _) = published::of_bundles(&bundles);
        Ok(Catalog { bundles, entries })
    }

    /// The entry whose job is `job` exactly (the first, if two bundles share it).
    pub fn entry(&self, job: &str) -> Option<&Published> {
        self.entries.iter().find(|p| p.entry.job == job)
    }

    /// The bundle `entry` came from.
    pub fn bundle(&self, entry: &Published) -> Option<&Bundle> {
        self.bundles.get(&entry.project)
    }
}

/// The last catalog read and the stamp it was read at; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct CatalogCache(Arc<Mutex<Option<Kept>>>);

/// A catalog and the stamp of `bundles/` it was read at.
type Kept = (Version, Arc<Catalog>);

impl CatalogCache {
    /// The catalog as of now: the kept one when the bundles' stamp is unchanged, else
    /// read anew (and kept when the store gave a stamp). The stamp is taken before the
    /// read, so a bundle published during it makes the next request read again.
    pub fn get(&self, store: &dyn Store) -> Result<Arc<Catalog>, WebError> {
        let stamp = store.stamp(keys::BUNDLES)?;
        if let Some(s) = stamp
            && let Some((at, c)) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && *at == s
        {
            return Ok(c.clone());
        }
        let c = Arc::new(Catalog::read(store)?);
        if let Some(s) = stamp {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((s, c.clone()));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dir::DirStore;
    use crate::store::{Entry, StoreError};
    use std::time::Duration;

    /// A store whose stamp is set by the test, counting bundle listings.
    struct Stamped {
        inner: DirStore,
        stamp: Mutex<Option<Version>>,
        lists: Mutex<usize>,
    }

    impl Store for Stamped {
        fn location(&self) -> String {
            self.inner.location()
        }
        fn stamp(&self, _: &str) -> Result<Option<Version>, StoreError> {
            Ok(*self.stamp.lock().unwrap())
        }
        fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
            *self.lists.lock().unwrap() += 1;
            self.inner.list(prefix)
        }
        fn init(&self) -> Result<(), StoreError> {
            self.inner.init()
        }
        fn check(&self) -> Result<(), StoreError> {
            self.inner.check()
        }
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(key)
        }
        fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
            self.inner.put(key, value, ttl)
        }
        fn create(
            &self,
            key: &str,
            value: &[u8],
            ttl: Option<Duration>,
        ) -> Result<crate::store::Created, StoreError> {
            self.inner.create(key, value, ttl)
        }
        fn delete(&self, key: &str) -> Result<bool, StoreError> {
            self.inner.delete(key)
        }
        fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            self.inner.keys(prefix)
        }
        fn prune(&self, prefix: &str, older_than: Duration) -> Result<usize, StoreError> {
            self.inner.prune(prefix, older_than)
        }
    }

    #[test]
    fn bundles_are_read_again_only_when_the_stamp_changes_or_is_missing() {
        let d = tempfile::tempdir().unwrap();
        let inner = DirStore::new(d.path());
        inner.init().unwrap();
        let s = Stamped {
            inner,
            stamp: Mutex::new(Some(Version(1))),
            lists: Mutex::new(0),
        };
        let cache = CatalogCache::default();
        let reads = || *s.lists.lock().unwrap();
        cache.get(&s).unwrap();
        cache.get(&s).unwrap();
        assert_eq!(reads(), 1);
        *s.stamp.lock().unwrap() = Some(Version(2));
        cache.get(&s).unwrap();
        assert_eq!(reads(), 2);
        *s.stamp.lock().unwrap() = None;
        cache.get(&s).unwrap();
        cache.get(&s).unwrap();
        assert_eq!(reads(), 4);
    }
}
