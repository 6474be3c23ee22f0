//! A store wrapper for tests and benchmarks: it forwards every call to the store it
//! wraps (to that store's own implementation of each method, so what it sees are the
//! requests the real backend would get), logs each operation with its key or prefix and
//! the entries it returned, and may inject a fault into `create` or `delete`: how the cost of a
//! greasesnatch or ledger round is measured, and how a race too narrow to hit by chance
//! is forced.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::store::{Created, Entry, Store, StoreError, Version};

/// A hook that may answer a `create` in the wrapped store's place (`Some`), by key.
type CreateFault = Box<dyn Fn(&str) -> Option<Created> + Send + Sync>;
/// A hook that may answer a `delete` after the wrapped store did it (`Some`), by key.
type DeleteFault = Box<dyn Fn(&str) -> Option<bool> + Send + Sync>;

/// A [`Store`] that forwards every call to `inner` and logs it.
pub struct Spy<'a> {
    inner: &'a dyn Store,
    log: Mutex<Vec<(&'static str, String)>>,
    entries: Mutex<u64>,
    create_fault: Option<CreateFault>,
    delete_fault: Option<DeleteFault>,
}

impl<'a> Spy<'a> {
    /// Wraps `inner` with an empty log.
    pub fn new(inner: &'a dyn Store) -> Spy<'a> {
        Spy {
            inner,
            log: Mutex::default(),
            entries: Mutex::default(),
            create_fault: None,
            delete_fault: None,
        }
    }

    /// Lets `fault` answer any `create` in the wrapped store's place: when it returns
    /// `Some`, that is the answer and the wrapped store is not asked.
    pub fn with_create_fault(
        mut self,
        fault: impl Fn(&str) -> Option<Created> + Send + Sync + 'static,
    ) -> Self {
        self.create_fault = Some(Box::new(fault));
        self
    }

    /// Lets `fault` change the answer of any `delete` the wrapped store has done: when
    /// it returns `Some`, that is the answer (a delete applied twice across an etcd
    /// failover answers `false` the second time).
    pub fn with_delete_fault(
        mut self,
        fault: impl Fn(&str) -> Option<bool> + Send + Sync + 'static,
    ) -> Self {
        self.delete_fault = Some(Box::new(fault));
        self
    }

    fn note(&self, op: &'static str, key: &str, entries: usize) {
        self.log.lock().expect("log").push((op, key.to_string()));
        *self.entries.lock().expect("log") += entries as u64;
    }

    /// The operations so far, by kind (`get`, `list_range`, ...).
    pub fn ops(&self) -> BTreeMap<&'static str, u64> {
        let mut ops = BTreeMap::new();
        for (op, _) in self.log.lock().expect("log").iter() {
            *ops.entry(*op).or_default() += 1;
        }
        ops
    }

    /// All operations so far.
    pub fn total(&self) -> u64 {
        self.log.lock().expect("log").len() as u64
    }

    /// The entries (keys or key-value pairs) the operations returned so far.
    pub fn entries(&self) -> u64 {
        *self.entries.lock().expect("log")
    }

    /// The operations since the last call (or the start), in order, each as
    /// `"<op> <key or prefix>"`; the log starts again empty.
    pub fn take_log(&self) -> Vec<String> {
        let log = std::mem::take(&mut *self.log.lock().expect("log"));
        log.into_iter().map(|(op, k)| format!("{op} {k}")).collect()
    }

    /// Empties the log and sets the entries count back to zero.
    pub fn reset(&self) {
        self.log.lock().expect("log").clear();
        *self.entries.lock().expect("log") = 0;
    }
}

impl Store for Spy<'_> {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn init(&self) -> Result<(), StoreError> {
        self.inner.init()
    }
    fn check(&self) -> Result<(), StoreError> {
        self.note("check", "", 0);
        self.inner.check()
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.inner.get(key)?;
        self.note("get", key, usize::from(v.is_some()));
        Ok(v)
    }
    fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        self.note("put", key, 0);
        self.inner.put(key, value, ttl)
    }
    fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Created, StoreError> {
        self.note("create", key, 0);
        if let Some(answer) = self.create_fault.as_ref().and_then(|f| f(key)) {
            return Ok(answer);
        }
        self.inner.create(key, value, ttl)
    }
    fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.note("delete", key, 0);
        let done = self.inner.delete(key)?;
        Ok(self
            .delete_fault
            .as_ref()
            .and_then(|f| f(key))
            .unwrap_or(done))
    }
    fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let v = self.inner.list(prefix)?;
        self.note("list", prefix, v.len());
        Ok(v)
    }
    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let v = self.inner.keys(prefix)?;
        self.note("keys", prefix, v.len());
        Ok(v)
    }
    fn list_range(&self, prefix: &str, depth: usize, from: &str) -> Result<Vec<Entry>, StoreError> {
        let v = self.inner.list_range(prefix, depth, from)?;
        self.note("list_range", prefix, v.len());
        Ok(v)
    }
    fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let v = self.inner.children(prefix)?;
        self.note("children", prefix, v.len());
        Ok(v)
    }
    fn last_child(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        let v = self.inner.last_child(prefix)?;
        self.note("last_child", prefix, usize::from(v.is_some()));
        Ok(v)
    }
    fn prune(&self, prefix: &str, older_than: Duration) -> Result<usize, StoreError> {
        self.note("prune", prefix, 0);
        self.inner.prune(prefix, older_than)
    }
    fn beat(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.note("beat", key, 0);
        self.inner.beat(key, value, ttl)
    }
    fn list_versioned(&self, prefix: &str) -> Result<(Vec<Entry>, Version), StoreError> {
        let v = self.inner.list_versioned(prefix)?;
        self.note("list_versioned", prefix, v.0.len());
        Ok(v)
    }
    fn wait_changed(
        &self,
        prefix: &str,
        since: Version,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        self.note("wait_changed", prefix, 0);
        self.inner.wait_changed(prefix, since, timeout)
    }
    fn keys_versioned(&self, prefix: &str) -> Result<(Vec<String>, Version), StoreError> {
        let v = self.inner.keys_versioned(prefix)?;
        self.note("keys_versioned", prefix, v.0.len());
        Ok(v)
    }
    fn wait_keys_changed(
        &self,
        prefix: &str,
        since: Version,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        self.note("wait_keys_changed", prefix, 0);
        self.inner.wait_keys_changed(prefix, since, timeout)
    }
    fn stamp(&self, prefix: &str) -> Result<Option<Version>, StoreError> {
        self.note("stamp", prefix, 0);
        self.inner.stamp(prefix)
    }
    fn pushes_changes(&self) -> bool {
        self.inner.pushes_changes()
    }
}
