//! The store's key operations on etcd: each one transaction that checks the marker in the
//! same step as its own work.

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, GetOptions, KvClient, PutOptions, Txn, TxnOp,
    TxnOpResponse, TxnResponse,
};

use super::errors::lease_not_found;
use super::lease::OnLease;
use super::{EtcdStore, MARKER};
use crate::store::{Created, Entry, Store, StoreError, Version};

/// The largest response accepted (a listing of every bundle of a big farm).
const MAX_MESSAGE: usize = 512 << 20;

/// A KV client that takes responses as large as a farm's bundles.
fn kv_of(c: &Client) -> KvClient {
    c.kv_client()
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

impl EtcdStore {
    pub(super) fn txn(
        &self,
        what: &'static str,
        key: &str,
        txn: Txn,
    ) -> Result<TxnResponse, StoreError> {
        self.call(what, key, |c, _| {
            let mut kv = kv_of(&c);
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
    }

    /// A put under the marker check, attached to lease `lease` (0: none).
    pub(super) fn put_txn(
        &self,
        full: &str,
        key: &str,
        value: &[u8],
        lease: i64,
    ) -> Result<OnLease<()>, StoreError> {
        let opts = (lease != 0).then(|| PutOptions::new().with_lease(lease));
        let txn = Txn::new()
            .when([self.marked()])
            .and_then([TxnOp::put(full, value, opts)]);
        let resp = self.call("write", key, |c, _| {
            let mut kv = kv_of(&c);
            let txn = txn.clone();
            async move {
                match kv.txn(txn).await {
                    Err(e) if lease_not_found(&e) => Ok(OnLease::Gone(e)),
                    r => r.map(OnLease::Done),
                }
            }
        })?;
        match resp {
            OnLease::Done(r) if r.succeeded() => Ok(OnLease::Done(())),
            OnLease::Done(_) => Err(self.unmarked()),
            OnLease::Gone(e) => Ok(OnLease::Gone(e)),
        }
    }

    /// One attempt at [`Store::create`] with lease `lease` (0: none).
    fn create_on(
        &self,
        full: &str,
        key: &str,
        value: &[u8],
        lease: i64,
    ) -> Result<OnLease<Created>, StoreError> {
        let opts = (lease != 0).then(|| PutOptions::new().with_lease(lease));
        let txn = Txn::new()
            .when([
                self.marked(),
                Compare::create_revision(full, CompareOp::Equal, 0),
            ])
            .and_then([TxnOp::put(full, value, opts)])
            .or_else([
                TxnOp::get(self.marker(), Some(GetOptions::new().with_keys_only())),
                TxnOp::get(full, None),
            ]);
        let mut retried = false;
        let resp = match self.call("create", key, |c, n| {
            retried |= n > 0;
            let mut kv = kv_of(&c);
            let txn = txn.clone();
            async move {
                match kv.txn(txn).await {
                    Err(e) if lease_not_found(&e) => Ok(OnLease::Gone(e)),
                    r => r.map(OnLease::Done),
                }
            }
        })? {
            OnLease::Done(resp) => resp,
            OnLease::Gone(e) => return Ok(OnLease::Gone(e)),
        };
        if resp.succeeded() {
            return Ok(OnLease::Done(Created::Created));
        }
        let mut rs = resp.op_responses().into_iter();
        let (Some(TxnOpResponse::Get(m)), Some(TxnOpResponse::Get(mut k))) = (rs.next(), rs.next())
        else {
            return Err(self.unavailable("create", key, Some("malformed reply".into())));
        };
        if m.kvs().is_empty() {
            return Err(self.unmarked());
        }
        match k.take_kvs().pop() {
            // An earlier attempt whose reply was lost may have been ours: same value on the
            // same lease.
            Some(kv) if retried && kv.lease() == lease && kv.value() == value => {
                Ok(OnLease::Done(Created::Created))
            }
            Some(kv) => Ok(OnLease::Done(Created::Exists(kv.into_key_value().1))),
            None => Err(self.unavailable(
                "create",
                key,
                Some("the key vanished during the transaction".into()),
            )),
        }
    }

    /// Reads `key` exactly and everything under `key/` (or the whole store for `""`) in one
    /// transaction; returns the entries and the revision read.
    fn range(&self, prefix: &str, keys_only: bool) -> Result<(Vec<Entry>, i64), StoreError> {
        let base = format!("{}/", self.url.prefix);
        let opts = || {
            let o = GetOptions::new();
            if keys_only { o.with_keys_only() } else { o }
        };
        let mut ops = Vec::new();
        if !prefix.is_empty() {
            let exact = self.full(prefix)?;
            ops.push(TxnOp::get(exact.clone(), Some(opts())));
            ops.push(TxnOp::get(format!("{exact}/"), Some(opts().with_prefix())));
        } else {
            ops.push(TxnOp::get(base, Some(opts().with_prefix())));
        }
        self.read_ops(prefix, ops)
    }
}

impl Store for EtcdStore {
    fn location(&self) -> String {
        self.url.location()
    }

    fn init(&self) -> Result<(), StoreError> {
        let body = serde_json::json!({
            "scalegrease_store": 1,
            "created": chrono::Utc::now().to_rfc3339(),
        })
        .to_string();
        let marker = self.marker();
        let txn = Txn::new()
            .when([Compare::create_revision(
                marker.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then([TxnOp::put(marker, body, None)]);
        self.txn("write marker", MARKER, txn).map(|_| ())
    }

    fn check(&self) -> Result<(), StoreError> {
        let marker = self.marker();
        let resp = self.call("read marker", MARKER, |c, _| {
            let mut kv = kv_of(&c);
            let marker = marker.clone();
            async move {
                kv.get(marker, Some(GetOptions::new().with_count_only()))
                    .await
            }
        })?;
        if resp.count() > 0 {
            Ok(())
        } else {
            Err(self.unmarked())
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let full = self.full(key)?;
        let txn = Txn::new()
            .when([self.marked()])
            .and_then([TxnOp::get(full, None)]);
        let resp = self.txn("read", key, txn)?;
        if !resp.succeeded() {
            return Err(self.unmarked());
        }
        for r in resp.op_responses() {
            if let TxnOpResponse::Get(mut g) = r {
                return Ok(g.take_kvs().pop().map(|kv| kv.into_key_value().1));
            }
        }
        Ok(None)
    }

    fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        let full = self.full(key)?;
        match ttl {
            None => self.put_txn(&full, key, value, 0)?.done(self, "write", key),
            Some(ttl) => self.with_lease(ttl, "write", key, |lease| {
                self.put_txn(&full, key, value, lease)
            }),
        }
    }

    fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Created, StoreError> {
        let full = self.full(key)?;
        match ttl {
            None => self
                .create_on(&full, key, value, 0)?
                .done(self, "create", key),
            Some(ttl) => self.with_lease(ttl, "create", key, |lease| {
                self.create_on(&full, key, value, lease)
            }),
        }
    }

    fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let full = self.full(key)?;
        let txn = Txn::new()
            .when([self.marked()])
            .and_then([TxnOp::delete(full, None::<DeleteOptions>)]);
        let resp = self.txn("delete", key, txn)?;
        if !resp.succeeded() {
            return Err(self.unmarked());
        }
        Ok(resp
            .op_responses()
            .iter()
            .any(|r| matches!(r, TxnOpResponse::Delete(d) if d.deleted() > 0)))
    }

    fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        Ok(self.range(prefix, false)?.0)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .range(prefix, true)?
            .0
            .into_iter()
            .map(|e| e.key)
            .collect())
    }

    fn list_range(&self, prefix: &str, depth: usize, from: &str) -> Result<Vec<Entry>, StoreError> {
        self.range_from(prefix, depth, from)
    }

    fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.children_of(prefix)
    }

    fn last_child(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        self.last_child_of(prefix)
    }

    fn stamp(&self, prefix: &str) -> Result<Option<Version>, StoreError> {
        self.stamp_of(prefix).map(Some)
    }

    fn pushes_changes(&self) -> bool {
        true
    }

    fn prune(&self, _prefix: &str, _older_than: Duration) -> Result<usize, StoreError> {
        // Keys written with a TTL expire with their lease; the others are kept on purpose.
        self.check().map(|_| 0)
    }

    fn beat(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.beat_on_lease(key, value, ttl)
    }

    fn list_versioned(&self, prefix: &str) -> Result<(Vec<Entry>, Version), StoreError> {
        let (entries, revision) = self.range(prefix, false)?;
        Ok((entries, Version(revision as u64)))
    }

    fn wait_changed(
        &self,
        prefix: &str,
        since: Version,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        self.watch(prefix, since, timeout)
    }

    fn keys_versioned(&self, prefix: &str) -> Result<(Vec<String>, Version), StoreError> {
        let (entries, revision) = self.range(prefix, true)?;
        let keys = entries.into_iter().map(|e| e.key).collect();
        Ok((keys, Version(revision as u64)))
    }

    fn wait_keys_changed(
        &self,
        prefix: &str,
        since: Version,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        self.watch(prefix, since, timeout)
    }
}
