//! Reading parts of a prefix on etcd: a key range from a point ([`Store::list_range`]
//! at depth 0 is one range `[<prefix>/<from>, <prefix>0)`; at a deeper level, one range
//! per child, batched into transactions), the children of a prefix, and its last child
//! (one descending range of one key). Every read checks the marker in its transaction.

use etcd_client::{GetOptions, SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse};

use super::EtcdStore;
use crate::store::{Entry, StoreError, Version, child_of};

/// Range reads per transaction (etcd refuses more than `--max-txn-ops`, 128 by default).
const OPS_PER_TXN: usize = 100;

/// The first key after every key starting with `prefix` (etcd's range end of a prefix).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl EtcdStore {
    /// Runs `ops` (gets) in one transaction under the marker check; returns their
    /// entries (store keys; dot-named ones left out) and the revision read.
    pub(super) fn read_ops(
        &self,
        prefix: &str,
        ops: Vec<TxnOp>,
    ) -> Result<(Vec<Entry>, i64), StoreError> {
        let base = format!("{}/", self.url.prefix);
        let resp = self.txn(
            "list",
            prefix,
            Txn::new().when([self.marked()]).and_then(ops),
        )?;
        if !resp.succeeded() {
            return Err(self.unmarked());
        }
        let revision = resp.header().map(|h| h.revision()).unwrap_or_default();
        let mut out = Vec::new();
        for r in resp.op_responses() {
            let TxnOpResponse::Get(mut g) = r else {
                continue;
            };
            for kv in g.take_kvs() {
                let (k, v) = kv.into_key_value();
                let Some(rel) = k.strip_prefix(base.as_bytes()) else {
                    continue;
                };
                let rel = String::from_utf8_lossy(rel).into_owned();
                // The marker (and anything else dot-named) is not a store key.
                if rel.split('/').any(|s| s.starts_with('.')) {
                    continue;
                }
                out.push(Entry { key: rel, value: v });
            }
        }
        Ok((out, revision))
    }

    /// The etcd directory of `prefix` (`<prefix>/`, or the store's root for `""`).
    fn dir_of(&self, prefix: &str) -> Result<String, StoreError> {
        Ok(if prefix.is_empty() {
            format!("{}/", self.url.prefix)
        } else {
            format!("{}/", self.full(prefix)?)
        })
    }

    /// [`Store::list_range`](crate::store::Store::list_range): at depth 0 one range read;
    /// deeper, the children first, then one range per child, [`OPS_PER_TXN`] to a
    /// transaction (each transaction one snapshot, not the whole answer).
    pub(super) fn range_from(
        &self,
        prefix: &str,
        depth: usize,
        from: &str,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut starts = vec![(String::new(), self.dir_of(prefix)?)];
        for _ in 0..depth {
            let mut next = Vec::new();
            for (rel, dir) in starts {
                let sub = format!("{prefix}{rel}");
                let sub = sub.trim_start_matches('/');
                for child in self.children_of(sub)? {
                    next.push((format!("{rel}/{child}"), format!("{dir}{child}/")));
                }
            }
            starts = next;
        }
        let mut out = Vec::new();
        for chunk in starts.chunks(OPS_PER_TXN) {
            let ops = chunk
                .iter()
                .map(|(_, dir)| {
                    let opts = GetOptions::new().with_range(prefix_end(dir));
                    TxnOp::get(format!("{dir}{from}"), Some(opts))
                })
                .collect();
            out.extend(self.read_ops(prefix, ops)?.0);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The distinct segments under `prefix`, from one keys-only read.
    pub(super) fn children_of(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.dir_of(prefix)?;
        let opts = GetOptions::new().with_prefix().with_keys_only();
        let (keys, _) = self.read_ops(prefix, vec![TxnOp::get(dir, Some(opts))])?;
        let mut out: Vec<String> = keys
            .iter()
            .filter_map(|e| child_of(&e.key, prefix))
            .map(str::to_string)
            .collect();
        // Keys sort `j-x/..` before `j/..`; names sort `j` first.
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// [`crate::store::Store::stamp`]: the count and greatest mod revision of the keys
    /// under `prefix`, one descending range of one key (without its value).
    pub(super) fn stamp_of(&self, prefix: &str) -> Result<Version, StoreError> {
        let dir = self.dir_of(prefix)?;
        let opts = GetOptions::new()
            .with_prefix()
            .with_keys_only()
            .with_sort(SortTarget::Mod, SortOrder::Descend)
            .with_limit(1);
        let resp = self.txn(
            "stamp",
            prefix,
            Txn::new()
                .when([self.marked()])
                .and_then([TxnOp::get(dir, Some(opts))]),
        )?;
        if !resp.succeeded() {
            return Err(self.unmarked());
        }
        let (count, newest) = match resp.op_responses().first() {
            Some(TxnOpResponse::Get(g)) => (
                g.count(),
                g.kvs().first().map(|kv| kv.mod_revision()).unwrap_or(0),
            ),
            _ => (0, 0),
        };
        Ok(Version(((count as u64) << 44) ^ newest as u64))
    }

    /// The last child of `prefix`: the child of the greatest key under it, one key read
    /// (the greatest name too, unless one child's name continues another's with a byte
    /// before `/`; never so for slots, which are all as long).
    pub(super) fn last_child_of(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        let dir = self.dir_of(prefix)?;
        let opts = GetOptions::new()
            .with_prefix()
            .with_keys_only()
            .with_sort(SortTarget::Key, SortOrder::Descend)
            .with_limit(1);
        let (keys, _) = self.read_ops(prefix, vec![TxnOp::get(dir, Some(opts))])?;
        Ok(keys
            .first()
            .and_then(|e| child_of(&e.key, prefix))
            .map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefix_ends() {
        assert_eq!(super::prefix_end("a/b/"), b"a/b0");
        assert_eq!(super::prefix_end("az"), b"a{");
    }
}
