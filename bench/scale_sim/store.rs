//! The simulation's stores: [`Fake`], an in-memory store on simulated time (named a fake:
//! it stands in for a real store only to count and to model two things, how long a new
//! claim takes to become visible to other workers, and etcd's leases and revisions on
//! simulated time), and [`Counting`], a wrapper around any store (the fake or a real
//! etcd cluster) that counts each request by kind and by the key's first segment
//! (`members`, `bundles`, `claims`, `heartbeats`, ...; a stamp as `bundles:stamp`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scalegrease::store::{Created, Entry, Store, StoreError, Version};

/// Simulated time in milliseconds since the start of the simulated day, shared by the
/// simulation (which advances it) and the fake (which reads it).
#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<AtomicI64>);

impl Clock {
    pub fn now(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::Relaxed);
    }
}

/// An in-memory store whose creates become visible to `get` only `lag_ms` of simulated
/// time after they were made (the window in which two workers both see no claim and both
/// try to create it); `create` itself is atomic, as every real backend's is. A key
/// written with a TTL (a membership beat, as on an etcd lease) is gone once the TTL has
/// passed in simulated time since its last write; [`Store::stamp`] is etcd's (the count
/// and newest modification revision under the prefix).
pub struct Fake {
    clock: Clock,
    lag_ms: i64,
    keys: Mutex<BTreeMap<String, Value>>,
    revision: AtomicI64,
}

/// A key's value, when it becomes visible, when it expires, its modification revision.
struct Value {
    bytes: Vec<u8>,
    visible: i64,
    expires: i64,
    revision: i64,
}

impl Fake {
    pub fn new(clock: Clock, lag_ms: i64) -> Fake {
        Fake {
            clock,
            lag_ms,
            keys: Mutex::new(BTreeMap::new()),
            revision: AtomicI64::new(0),
        }
    }

    /// The map; a key whose TTL has passed is still in it, and read as absent.
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn value(&self, bytes: &[u8], visible: i64, ttl: Option<Duration>) -> Value {
        let expires = ttl.map_or(i64::MAX, |t| self.clock.now() + t.as_millis() as i64);
        Value {
            bytes: bytes.to_vec(),
            visible,
            expires,
            revision: self.revision.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }

    /// The unexpired keys under `prefix`.
    fn under<'a>(
        &self,
        map: &'a BTreeMap<String, Value>,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        let now = self.clock.now();
        map.range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .filter(move |(k, _)| k.len() == prefix.len() || k[prefix.len()..].starts_with('/'))
            .filter(move |(_, v)| v.expires > now)
    }
}

impl Store for Fake {
    fn location(&self) -> String {
        "fake:memory".into()
    }
    fn init(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .map()
            .get(key)
            .filter(|v| v.visible + self.lag_ms <= now && v.expires > now)
            .map(|v| v.bytes.clone()))
    }
    fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        let v = self.value(value, i64::MIN / 2, ttl);
        self.map().insert(key.to_string(), v);
        Ok(())
    }
    fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Created, StoreError> {
        let now = self.clock.now();
        let mut map = self.map();
        if let Some(v) = map.get(key).filter(|v| v.expires > now) {
            return Ok(Created::Exists(v.bytes.clone()));
        }
        let v = self.value(value, now, ttl);
        map.insert(key.to_string(), v);
        Ok(Created::Created)
    }
    fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        Ok(self.map().remove(key).is_some_and(|v| v.expires > now))
    }
    fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let map = self.map();
        Ok(self
            .under(&map, prefix)
            .map(|(k, v)| Entry {
                key: k.clone(),
                value: v.bytes.clone(),
            })
            .collect())
    }
    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let map = self.map();
        Ok(self.under(&map, prefix).map(|(k, _)| k.clone()).collect())
    }
    fn prune(&self, _prefix: &str, _older_than: Duration) -> Result<usize, StoreError> {
        Ok(0)
    }
    fn stamp(&self, prefix: &str) -> Result<Option<Version>, StoreError> {
        let map = self.map();
        let (count, newest) = self
            .under(&map, prefix)
            .fold((0u64, 0i64), |(n, r), (_, v)| (n + 1, r.max(v.revision)));
        Ok(Some(Version((count << 44) ^ newest as u64)))
    }
}

/// Request counts: (read or write, the key's first segment) → requests.
pub type Counts = BTreeMap<(&'static str, String), u64>;

/// Any store, counting every request it passes on. A range read (`list`, `keys`) counts
/// as one request, as it is one on etcd.
pub struct Counting {
    inner: Arc<dyn Store>,
    counts: Mutex<Counts>,
}

impl Counting {
    pub fn new(inner: Arc<dyn Store>) -> Counting {
        Counting {
            inner,
            counts: Mutex::new(Counts::new()),
        }
    }

    fn count(&self, kind: &'static str, key: &str) {
        let area = key.split('/').next().unwrap_or("").to_string();
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((kind, area))
            .or_default() += 1;
    }

    /// The counts so far, and resets them.
    pub fn take(&self) -> Counts {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Store for Counting {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn init(&self) -> Result<(), StoreError> {
        self.inner.init()
    }
    fn check(&self) -> Result<(), StoreError> {
        self.inner.check()
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.count("read", key);
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        self.count("write", key);
        self.inner.put(key, value, ttl)
    }
    fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Created, StoreError> {
        self.count("write", key);
        self.inner.create(key, value, ttl)
    }
    fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.count("write", key);
        self.inner.delete(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        self.count("read", prefix);
        self.inner.list(prefix)
    }
    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.count("read", prefix);
        self.inner.keys(prefix)
    }
    fn prune(&self, prefix: &str, older_than: Duration) -> Result<usize, StoreError> {
        self.count("write", prefix);
        self.inner.prune(prefix, older_than)
    }
    fn beat(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.count("write", key);
        self.inner.beat(key, value, ttl)
    }
    fn stamp(&self, prefix: &str) -> Result<Option<Version>, StoreError> {
        self.count("read", &format!("{prefix}:stamp"));
        self.inner.stamp(prefix)
    }
}
