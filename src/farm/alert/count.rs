//! A store wrapper that counts the operations made through it, by kind, and the entries
//! they returned: how the ledger check's cost per round is measured (the unit test that
//! it does not grow with history, and `bench/ledger_check.rs`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::store::{Created, Entry, Store, StoreError, Version};

/// A [`Store`] that forwards every call to `inner` and counts it.
pub struct Counting<'a> {
    inner: &'a dyn Store,
    ops: Mutex<BTreeMap<&'static str, u64>>,
    entries: Mutex<u64>,
}

impl<'a> Counting<'a> {
    /// Wraps `inner` with every count at zero.
    pub fn new(inner: &'a dyn Store) -> Counting<'a> {
        Counting {
            inner,
            ops: Mutex::default(),
            entries: Mutex::default(),
        }
    }

    fn count(&self, op: &'static str, entries: usize) {
        *self.ops.lock().expect("counts").entry(op).or_default() += 1;
        *self.entries.lock().expect("counts") += entries as u64;
    }

    /// The operations so far, by kind (`get`, `list_range`, ...).
    pub fn ops(&self) -> BTreeMap<&'static str, u64> {
        self.ops.lock().expect("counts").clone()
    }

    /// All operations so far.
    pub fn total(&self) -> u64 {
        self.ops().values().sum()
    }

    /// The entries (keys or key-value pairs) the operations returned so far.
    pub fn entries(&self) -> u64 {
        *self.entries.lock().expect("counts")
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.ops.lock().expect("counts").clear();
        *self.entries.lock().expect("counts") = 0;
    }
}

impl Store for Counting<'_> {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn init(&self) -> Result<(), StoreError> {
        self.inner.init()
    }
    fn check(&self) -> Result<(), StoreError> {
        self.count("check", 0);
        self.inner.check()
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.inner.get(key)?;
        self.count("get", usize::from(v.is_some()));
        Ok(v)
    }
    fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        self.count("put", 0);
        self.inner.put(key, value, ttl)
    }
    fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Created, StoreError> {
        self.count("create", 0);
        self.inner.create(key, value, ttl)
    }
    fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.count("delete", 0);
        self.inner.delete(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let v = self.inner.list(prefix)?;
        self.count("list", v.len());
        Ok(v)
    }
    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let v = self.inner.keys(prefix)?;
        self.count("keys", v.len());
        Ok(v)
    }
    fn list_range(&self, prefix: &str, depth: usize, from: &str) -> Result<Vec<Entry>, StoreError> {
        let v = self.inner.list_range(prefix, depth, from)?;
        self.count("list_range", v.len());
        Ok(v)
    }
    fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let v = self.inner.children(prefix)?;
        self.count("children", v.len());
        Ok(v)
    }
    fn last_child(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        let v = self.inner.last_child(prefix)?;
        self.count("last_child", usize::from(v.is_some()));
        Ok(v)
    }
    fn prune(&self, prefix: &str, older_than: Duration) -> Result<usize, StoreError> {
        self.count("prune", 0);
        self.inner.prune(prefix, older_than)
    }
    fn beat(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.count("beat", 0);
        self.inner.beat(key, value, ttl)
    }
    fn list_versioned(&self, prefix: &str) -> Result<(Vec<Entry>, Version), StoreError> {
        let v = self.inner.list_versioned(prefix)?;
        self.count("list_versioned", v.0.len());
        Ok(v)
    }
    fn stamp(&self, prefix: &str) -> Result<Option<Version>, StoreError> {
        self.count("stamp", 0);
        self.inner.stamp(prefix)
    }
    fn wait_changed(
        &self,
        prefix: &str,
        since: Version,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        self.count("wait_changed", 0);
        self.inner.wait_changed(prefix, since, timeout)
    }
}
