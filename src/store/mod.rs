//! The central store: where greaselaunch publishes bundles, where greasesnatch reads them,
//! where greaserun claims slots and writes run records. One small key-value trait, so the
//! scopes above it never know which backend they talk to; a user changes `store` in
//! config and nothing else.
//!
//! Keys are `/`-separated paths of segments made with [`segment`] (e.g.
//! `bundles/com.example__jobs`, `claims/<job>/<slot>`). Values are opaque bytes (JSON in
//! practice). Backends:
//! - [`dir::DirStore`]: a directory on local disk or NFS (the default).
//! - `etcd::EtcdStore` (cargo feature `etcd`): a raft-replicated etcd cluster.
//!
//! [`open`] turns a store setting into one of them; [`Backend::of`] is the one place a
//! store URL's scheme is read.

use std::time::Duration;

use crate::exit;

/// The marker file (directory store) or key (etcd) `--init-store` writes at a store's
/// root: without it every tool refuses the store, since an unmounted or wrong one looks
/// empty.
pub const MARKER: &str = ".scalegrease-store";

pub mod dir;
#[cfg(feature = "etcd")]
pub mod etcd;
mod open;
pub mod spy;

pub use open::{Backend, open};

/// One stored key and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
}

/// The outcome of [`Store::create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The key did not exist; it now holds our value.
    Created,
    /// The key already existed; this is its value (the other claimer's).
    Exists(Vec<u8>),
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached, read or written as a whole (not one key's fault);
    /// `hint` says what to do, in the backend's own words.
    #[error("store {location} is unavailable: {reason} ({hint})")]
    Unavailable {
        location: String,
        reason: String,
        hint: String,
    },
    #[error(
        "store {location} has no marker file {marker}: refusing to act, since an unmounted or wrong store looks empty (create it with `greaselaunch --init-store`)"
    )]
    Unmarked { location: String, marker: String },
    /// One key's operation failed (the OS error is shown once: it is part of the message,
    /// not a separate cause).
    #[error("store {location}: cannot {op} {key}: {error}")]
    Io {
        location: String,
        op: &'static str,
        key: String,
        error: std::io::Error,
    },
    #[error("invalid store key {key:?}: {why}")]
    BadKey { key: String, why: String },
    #[error("invalid store setting {value:?}: {why}")]
    BadSetting { value: String, why: String },
}

impl StoreError {
    /// The documented exit code for a store failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            StoreError::Unavailable { .. } | StoreError::Unmarked { .. } => exit::UNAVAILABLE,
            StoreError::Io { .. } => exit::IO_ERR,
            StoreError::BadKey { .. } => exit::SOFTWARE,
            StoreError::BadSetting { .. } => exit::CONFIG,
        }
    }
}

/// A store backend. Implementations are safe to share between threads.
///
/// Contract, for every backend:
/// - `put` and `create` are atomic: a reader sees the old value, the new one, or none,
///   never a partial one.
/// - `create` succeeds for exactly one of any number of concurrent callers, across hosts.
/// - `ttl` is a hint: backends with leases expire the key; others keep it until
///   [`Store::prune`] removes it.
/// - Every operation but `init` fails with [`StoreError::Unmarked`] on a store that was
///   never initialised, and with [`StoreError::Unavailable`] when unreachable.
pub trait Store: Send + Sync {
    /// Where the store is, for messages (never credentials).
    fn location(&self) -> String;
    /// Creates the store (writes its marker) if it does not exist yet. Idempotent.
    fn init(&self) -> Result<(), StoreError>;
    /// Checks the store is reachable and marked.
    fn check(&self) -> Result<(), StoreError>;
    /// Reads one key.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes one key, replacing any value.
    fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError>;
    /// Writes one key only if it does not exist.
    fn create(&self, key: &str, value: &[u8], ttl: Option<Duration>)
    -> Result<Created, StoreError>;
    /// Deletes one key; `Ok(false)` if it did not exist.
    fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// All entries whose key starts with `prefix` + `/` (or equals `prefix`), sorted by key.
    /// Backends that can do so read them in one consistent snapshot.
    fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError>;
    /// Only the keys under `prefix`, sorted (cheaper than [`Store::list`] where it matters).
    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// The entries under `prefix` whose segment number `depth` below it (0: the first
    /// segment after `prefix`) sorts at or after `from`, sorted by key: the time-ordered
    /// tail of a history without reading what is older (`runs/<job>` from a slot is depth
    /// 0; `runs` from a slot, every job, is depth 1). Entries not that deep are left out.
    /// The default filters [`Store::list`]; backends override it to read only the range.
    fn list_range(&self, prefix: &str, depth: usize, from: &str) -> Result<Vec<Entry>, StoreError> {
        let mut all = self.list(prefix)?;
        all.retain(|e| in_range(&e.key, prefix, depth, from));
        Ok(all)
    }
    /// The distinct segments directly under `prefix` (jobs under `runs`, slots under
    /// `runs/<job>`), sorted. The default reads [`Store::keys`]; backends override it to
    /// read one level only.
    fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = self
            .keys(prefix)?
            .iter()
            .filter_map(|k| child_of(k, prefix))
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
    /// The last (greatest) of [`Store::children`]: a job's newest slot. etcd answers
    /// with the child of the greatest key, the same for children of equal length (slots).
    fn last_child(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        Ok(self.children(prefix)?.pop())
    }
    /// Removes entries under `prefix` last written more than `older_than` ago. Backends
    /// whose keys expire by lease may do nothing. Returns how many were removed.
    fn prune(&self, prefix: &str, older_than: Duration) -> Result<usize, StoreError>;

    /// Writes a liveness key (a running job's heartbeat): call it every interval shorter
    /// than `ttl` while alive, with the current value. Lease backends keep one lease per
    /// key alive and rewrite the value on it, so the key vanishes within `ttl` of the last
    /// beat when its writer dies; the default (for backends without leases) is a plain
    /// [`Store::put`], whose value and modification time stop advancing instead.
    fn beat(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.put(key, value, Some(ttl))
    }

    /// [`Store::list`] plus a [`Version`] of that snapshot, for [`Store::wait_changed`].
    /// The default versions a snapshot by a digest of its keys and values.
    fn list_versioned(&self, prefix: &str) -> Result<(Vec<Entry>, Version), StoreError> {
        let entries = self.list(prefix)?;
        let version = Version::digest(&entries);
        Ok((entries, version))
    }

    /// Blocks until something under `prefix` may have changed since the snapshot `since`
    /// (from [`Store::list_versioned`] on the same store), or `timeout` passes; returns
    /// whether a change may have happened (a caller re-lists then; a spurious `true` is
    /// allowed, a missed change is not). Backends with a watch (etcd) return within
    /// milliseconds of a change; the default polls [`Store::list`] every
    /// [`POLL_INTERVAL`].
    fn wait_changed(
        &self,
        prefix: &str,
        since: Version,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        poll_changed(since, timeout, || Ok(Version::digest(&self.list(prefix)?)))
    }

    /// [`Store::keys`] plus a [`Version`] of that snapshot, for
    /// [`Store::wait_keys_changed`]: for prefixes whose keys are written once and never
    /// rewritten with another value (the queue's pending markers), so that only keys
    /// coming and going matter. The default digests the keys.
    fn keys_versioned(&self, prefix: &str) -> Result<(Vec<String>, Version), StoreError> {
        let keys = self.keys(prefix)?;
        let version = Version::digest_keys(&keys);
        Ok((keys, version))
    }

    /// [`Store::wait_changed`] for a [`Store::keys_versioned`] snapshot. The default polls
    /// [`Store::keys`] every [`POLL_INTERVAL`]; backends with a watch use it.
    fn wait_keys_changed(
        &self,
        prefix: &str,
        since: Version,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        poll_changed(since, timeout, || {
            Ok(Version::digest_keys(&self.keys(prefix)?))
        })
    }

    /// A cheap stamp of the keys directly under `prefix` (one request, whatever their
    /// number): it differs whenever one was added, removed or rewritten since another
    /// stamp was taken. `None`: no stamp can be trusted now (the caller lists instead).
    /// etcd: the count and greatest mod revision under the prefix; the directory store:
    /// one stat of the prefix's directory, `None` while it changed within the last
    /// [`STAMP_SETTLE`] (its time stamps are coarser than two quick writes). The default
    /// has none.
    fn stamp(&self, prefix: &str) -> Result<Option<Version>, StoreError> {
        let _ = prefix;
        Ok(None)
    }

    /// Whether [`Store::wait_changed`] is pushed by the backend (etcd's watch) rather
    /// than polled: a waiter on a store that polls does better polling [`Store::stamp`].
    fn pushes_changes(&self) -> bool {
        false
    }
}

/// Polls `version` every [`POLL_INTERVAL`] until it differs from `since` (`true`) or
/// `timeout` passes (`false`).
fn poll_changed(
    since: Version,
    timeout: Duration,
    mut version: impl FnMut() -> Result<Version, StoreError>,
) -> Result<bool, StoreError> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if version()? != since {
            return Ok(true);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        std::thread::sleep(left.min(POLL_INTERVAL));
    }
}

/// How long a directory store's [`Store::stamp`] must stay unchanged before it is
/// trusted.
pub const STAMP_SETTLE: Duration = Duration::from_secs(2);

/// How often the default [`Store::wait_changed`] re-reads the store.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// An opaque version of a listing: etcd's revision, or a digest of the entries. Only
/// comparable between listings of the same prefix on the same store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(pub u64);

impl Version {
    /// A digest of entries (keys and values), for backends without revisions.
    pub fn digest(entries: &[Entry]) -> Version {
        Version::digest_of(entries.iter().flat_map(|e| [e.key.as_bytes(), &e.value]))
    }

    /// A digest of keys alone ([`Store::keys_versioned`]).
    pub fn digest_keys(keys: &[String]) -> Version {
        Version::digest_of(keys.iter().map(String::as_bytes))
    }

    fn digest_of<'a>(parts: impl Iterator<Item = &'a [u8]>) -> Version {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        let d = h.finalize();
        Version(u64::from_le_bytes(d[..8].try_into().expect("8 bytes")))
    }
}

pub use crate::model::keys::{segment, unsegment};

/// The segment directly under `prefix` of `key` (`None`: not under it).
pub fn child_of<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = if prefix.is_empty() {
        key
    } else {
        key.strip_prefix(prefix)?.strip_prefix('/')?
    };
    rest.split('/').next().filter(|s| !s.is_empty())
}

/// Whether `key` is in [`Store::list_range`]`(prefix, depth, from)`.
pub fn in_range(key: &str, prefix: &str, depth: usize, from: &str) -> bool {
    let rest = if prefix.is_empty() {
        Some(key)
    } else {
        key.strip_prefix(prefix).and_then(|r| r.strip_prefix('/'))
    };
    rest.and_then(|r| r.split('/').nth(depth))
        .is_some_and(|seg| seg >= from)
}

/// Checks a key is made of non-empty segments that [`segment`] could have produced.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let bad = |why: &str| StoreError::BadKey {
        key: key.to_string(),
        why: why.to_string(),
    };
    if key.is_empty() {
        return Err(bad("empty key"));
    }
    for seg in key.split('/') {
        if seg.is_empty() || seg.starts_with('.') {
            return Err(bad("segments must be non-empty and not start with a dot"));
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_:@+=,.%-".contains(&b))
        {
            return Err(bad("segments may hold only A-Z a-z 0-9 _ : @ + = , . % -"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_and_ranges_by_segment() {
        assert_eq!(child_of("runs/j/s/r", "runs"), Some("j"));
        assert_eq!(child_of("runs/j/s/r", "runs/j"), Some("s"));
        assert_eq!(child_of("runs-x/j", "runs"), None);
        assert_eq!(child_of("runs/j", ""), Some("runs"));
        assert!(in_range(
            "runs/j/2026-11-02T00:00Z/r",
            "runs/j",
            0,
            "2026-11-02T00:00Z"
        ));
        assert!(!in_range(
            "runs/j/2026-11-01T00:00Z/r",
            "runs/j",
            0,
            "2026-11-02"
        ));
        assert!(in_range(
            "runs/j/2026-11-03T00:00Z/r",
            "runs",
            1,
            "2026-11-02"
        ));
        assert!(!in_range("runs/j", "runs", 1, ""));
        assert!(!in_range("claims/j/2026-11-03T00:00Z", "runs", 1, ""));
    }

    #[test]
    fn segments_are_valid_keys() {
        for t in ["com.example:jobs", ".hidden", "a/b", "space here", "", "ü"] {
            let s = segment(t);
            check_key(&s).unwrap_or_else(|e| panic!("{t:?} -> {s:?}: {e}"));
        }
        assert_eq!(segment("com.example:jobs"), "com.example:jobs");
        assert_eq!(segment("a/b"), "a%2Fb");
        for t in [
            "java:com.example:hello-job:date-1d~47fa4f31",
            ".x",
            "a/b c%",
            "ü",
        ] {
            assert_eq!(unsegment(&segment(t)), t);
        }
    }
}
