//! The etcd store: a raft-replicated etcd cluster (v3 API), the farm-scale backend with no
//! single point of failure.
//!
//! `etcd://host1:2379,host2:2379,host3:2379/<prefix>` (`etcds://`, or a configured CA file,
//! for TLS). A key `a/b` is the etcd key `<prefix>/a/b`; the marker `<prefix>/.scalegrease-store`
//! is written by `init` and every other operation checks it in the same transaction as its
//! own work, so a wrong cluster or prefix (which looks empty) is refused, never wiped.
//!
//! - `create` is one transaction: marker present and `create_revision(key) == 0` → put.
//! - A `ttl` attaches the key to a lease shared by every writer (all processes and hosts)
//!   with that TTL in the same time bucket (5% of the TTL, 1 s to 1 h), found by a
//!   well-known lease ID and granted two buckets longer: a key never expires before its
//!   TTL, a farm holds a few hundred leases rather than one per process, and a claim
//!   costs one round trip once the process knows its lease.
//! - `list` is one range read (one revision); `prune` removes nothing: leases expire keys.
//! - Every request runs under the configured request timeout. Each member has its own
//!   client; on an error that means "this member cannot answer now" (connection refused,
//!   no leader, leader changed) the next member is tried at once, so a dead member costs
//!   one failed attempt. When time runs out the error names every endpoint tried.
//!
//! A process has one small current-thread tokio runtime, made on first use and shared by
//! every store it opens; calls block on it, so the rest of scalegrease stays synchronous.
//!
//! Files: `url` parses the store URL, `settings` turns the store settings into a client
//! (TLS, user), `failover` is the one loop that tries members in turn, `errors` classifies
//! etcd's errors and words ours, `kv` implements the store's key operations, `lease` the
//! shared leases and heartbeats, `watch` waiting for a change.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use etcd_client::{Compare, CompareOp, ConnectOptions};

use super::{StoreError, check_key};

mod errors;
mod failover;
mod kv;
mod lease;
mod range;
mod settings;
mod url;
mod watch;

pub use url::{DEFAULT_PREFIX, EtcdUrl};

pub use super::MARKER;
/// Time allowed to open a connection to one member, unless configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for one operation, retries across members included, unless configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A store in an etcd cluster.
pub struct EtcdStore {
    url: EtcdUrl,
    /// One client per member, connected on first use.
    members: Vec<failover::Member>,
    /// The member that answered last: tried first next time.
    preferred: AtomicUsize,
    options: ConnectOptions,
    /// The user and password variable, for messages (never the password).
    user: Option<(String, String)>,
    request_timeout: Duration,
    /// Shared leases by TTL in seconds: (time bucket, lease id).
    leases: Mutex<HashMap<i64, (i64, i64)>>,
    /// Heartbeat keys and the lease each keeps alive.
    beats: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("url", &self.url.location())
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// The parsed URL.
    pub fn url(&self) -> &EtcdUrl {
        &self.url
    }

    /// The etcd key of store key `key`.
    fn full(&self, key: &str) -> Result<String, StoreError> {
        check_key(key)?;
        Ok(format!("{}/{key}", self.url.prefix))
    }

    fn marker(&self) -> String {
        format!("{}/{MARKER}", self.url.prefix)
    }

    /// The comparison every operation but `init` makes in its transaction.
    fn marked(&self) -> Compare {
        Compare::create_revision(self.marker(), CompareOp::Greater, 0)
    }

    fn unmarked(&self) -> StoreError {
        StoreError::Unmarked {
            location: self.url.location(),
            marker: self.marker(),
        }
    }
}
