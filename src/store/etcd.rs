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

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, Identity,
    KvClient, LeaseGrantOptions, LeaseTimeToLiveResponse, PutOptions, TlsOptions, Txn, TxnOp,
    TxnOpResponse, TxnResponse, WatchOptions,
};
use tokio::runtime::Runtime;

use super::{Created, Entry, Store, StoreError, Version, check_key};
use crate::config::StoreConfig;

/// The marker key's last segment under the prefix (a dot: no store key can collide).
pub const MARKER: &str = ".scalegrease-store";
/// The key prefix when the URL names none.
pub const DEFAULT_PREFIX: &str = "scalegrease";
/// Time allowed to open a connection to one member, unless configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for one operation, retries across members included, unless configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest response accepted (a listing of every bundle of a big farm).
const MAX_MESSAGE: usize = 512 << 20;

/// The parts of an `etcd://` or `etcds://` store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdUrl {
    /// `etcds://`: TLS.
    pub tls: bool,
    /// `host:port` of each member, as given (port 2379 when omitted).
    pub endpoints: Vec<String>,
    /// The key prefix, without slashes at either end.
    pub prefix: String,
}

impl EtcdUrl {
    /// Parses `etcd[s]://host[:port][,host[:port]...][/prefix]`. Credentials in the URL are
    /// refused (they would end up in messages): use `store.user` and `store.password_env`.
    pub fn parse(url: &str) -> Result<EtcdUrl, StoreError> {
        let bad = |why: &str| StoreError::BadSetting {
            value: redact(url),
            why: why.to_string(),
        };
        let (tls, rest) = if let Some(r) = url.strip_prefix("etcds://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("etcd://") {
            (false, r)
        } else {
            return Err(bad("an etcd store URL starts with etcd:// or etcds://"));
        };
        let (hosts, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if hosts.contains('@') {
            return Err(bad(
                "credentials do not belong in the URL: set store.user and store.password_env",
            ));
        }
        let mut endpoints = Vec::new();
        for h in hosts.split(',') {
            let h = h.trim();
            if h.is_empty() {
                return Err(bad("empty endpoint: list members as host:port,host:port"));
            }
            let has_port = match h.rfind(']') {
                Some(i) => h[i..].contains(':'),
                None => h.contains(':'),
            };
            if has_port {
                let port = &h[h.rfind(':').expect("has a colon") + 1..];
                if port.parse::<u16>().is_err() {
                    return Err(bad(&format!("bad port in endpoint {h:?}")));
                }
                endpoints.push(h.to_string());
            } else {
                endpoints.push(format!("{h}:2379"));
            }
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            DEFAULT_PREFIX.to_string()
        } else {
            check_key(prefix).map_err(|e| bad(&format!("bad key prefix: {e}")))?;
            prefix.to_string()
        };
        Ok(EtcdUrl {
            tls,
            endpoints,
            prefix,
        })
    }

    /// The URL in normal form (what messages show).
    pub fn location(&self) -> String {
        let scheme = if self.tls { "etcds" } else { "etcd" };
        format!("{scheme}://{}/{}", self.endpoints.join(","), self.prefix)
    }
}

/// Drops anything between `://` and `@` so a password never reaches a message.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(a)) if a > s => format!("{}<redacted>{}", &url[..s + 3], &url[a..]),
        _ => url.to_string(),
    }
}

/// The process's runtime: current-thread, made once, driven by whichever thread blocks on it.
fn runtime() -> Result<&'static Runtime, String> {
    static RT: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the etcd client runtime: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// A store in an etcd cluster.
pub struct EtcdStore {
    url: EtcdUrl,
    /// One client per member, connected on first use.
    members: Vec<Member>,
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

/// One member and its client. Each member has a client of its own (rather than one
/// balanced channel over all) so that a dead member costs one failed attempt, not a
/// share of every retry: a balancer favours the member that fails fastest.
struct Member {
    endpoint: String,
    uri: String,
    client: Mutex<Option<Client>>,
}

/// Why an attempt failed: connecting (authentication included) or the request itself.
enum Failure {
    Connect(etcd_client::Error),
    Request(etcd_client::Error),
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("url", &self.url.location())
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Opens a client for the cluster `cfg` names, checking the settings; no member is
    /// contacted until the first request (which also authenticates). TLS uses `ca_file`
    /// (required) and optionally `cert_file` + `key_file`; the password is read from the
    /// environment variable `password_env` and never printed.
    pub fn connect(cfg: &StoreConfig) -> Result<EtcdStore, StoreError> {
        let url = EtcdUrl::parse(&cfg.url)?;
        let bad = |value: &str, why: String| StoreError::BadSetting {
            value: value.to_string(),
            why,
        };
        let connect_timeout = cfg.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let request_timeout = cfg.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(connect_timeout)
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(3))
            .with_require_leader(true);
        let tls = url.tls || cfg.ca_file.is_some() || cfg.cert_file.is_some();
        if tls {
            let read = |what: &str, path: &str| {
                std::fs::read(path).map_err(|e| bad(path, format!("cannot read store.{what}: {e}")))
            };
            let Some(ca) = &cfg.ca_file else {
                return Err(bad(
                    &url.location(),
                    "TLS needs store.ca_file, the CA certificate that signed the members' certificates".into(),
                ));
            };
            let mut t =
                TlsOptions::new().ca_certificate(Certificate::from_pem(read("ca_file", ca)?));
            match (&cfg.cert_file, &cfg.key_file) {
                (Some(c), Some(k)) => {
                    t = t.identity(Identity::from_pem(
                        read("cert_file", c)?,
                        read("key_file", k)?,
                    ));
                }
                (None, None) => {}
                _ => {
                    return Err(bad(
                        &url.location(),
                        "store.cert_file and store.key_file go together".into(),
                    ));
                }
            }
            opts = opts.with_tls(t);
        }
        if let Some(user) = &cfg.user {
            let Some(var) = &cfg.password_env else {
                return Err(bad(
                    user,
                    "store.user needs store.password_env, the environment variable holding the password".into(),
                ));
            };
            let password = std::env::var(var).map_err(|_| {
                bad(
                    var,
                    "store.password_env names an environment variable that is not set".into(),
                )
            })?;
            opts = opts.with_user(user.clone(), password);
        }
        let scheme = if tls { "https" } else { "http" };
        let members = url
            .endpoints
            .iter()
            .map(|e| Member {
                endpoint: e.clone(),
                uri: format!("{scheme}://{e}"),
                client: Mutex::new(None),
            })
            .collect::<Vec<_>>();
        // Processes start on different members, spreading the load over the cluster.
        let first = (crate::util::random::u64() % members.len() as u64) as usize;
        Ok(EtcdStore {
            user: cfg
                .user
                .clone()
                .map(|u| (u, cfg.password_env.clone().unwrap_or_default())),
            url,
            members,
            preferred: AtomicUsize::new(first),
            options: opts,
            request_timeout,
            leases: Mutex::new(HashMap::new()),
            beats: Mutex::new(HashMap::new()),
        })
    }

    /// Member `i`'s client, connecting (and authenticating) on first use.
    async fn client(&self, i: usize) -> Result<Client, etcd_client::Error> {
        let m = &self.members[i];
        if let Some(c) = m.client.lock().expect("member client").clone() {
            return Ok(c);
        }
        let c = Client::connect([m.uri.as_str()], Some(self.options.clone())).await?;
        *m.client.lock().expect("member client") = Some(c.clone());
        Ok(c)
    }

    /// The parsed URL.
    pub fn url(&self) -> &EtcdUrl {
        &self.url
    }

    fn full(&self, key: &str) -> Result<String, StoreError> {
        check_key(key)?;
        Ok(format!("{}/{key}", self.url.prefix))
    }

    fn marker(&self) -> String {
        format!("{}/{MARKER}", self.url.prefix)
    }

    fn marked(&self) -> Compare {
        Compare::create_revision(self.marker(), CompareOp::Greater, 0)
    }

    fn unmarked(&self) -> StoreError {
        StoreError::Unmarked {
            location: self.url.location(),
            marker: self.marker(),
        }
    }

    /// Runs `f` (one attempt: a member's client and the attempt's number) under the
    /// request timeout. On an error another member or a moment later may not have, the
    /// next member is tried at once; after a round of all of them, a pause (backing off
    /// to 400 ms). A member that answers becomes the first tried next time.
    fn call<T, F, Fut>(&self, what: &'static str, key: &str, mut f: F) -> Result<T, StoreError>
    where
        F: FnMut(Client, u32) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let rt = runtime().map_err(|reason| StoreError::Unavailable {
            location: self.url.location(),
            reason,
        })?;
        rt.block_on(async {
            let deadline = tokio::time::Instant::now() + self.request_timeout;
            // One member must not take all the time, but a live one may be waiting out an
            // election (about a second): give it two thirds of the time.
            let per_attempt = (self.request_timeout * 2 / 3).max(Duration::from_secs(1));
            let n = self.members.len();
            let start = self.preferred.load(Ordering::Relaxed);
            let mut pause = Duration::from_millis(20);
            let mut last: Option<String>;
            let mut attempt: u32 = 0;
            loop {
                let i = (start + attempt as usize) % n;
                let until = deadline.min(tokio::time::Instant::now() + per_attempt);
                let one = async {
                    let c = self.client(i).await.map_err(Failure::Connect)?;
                    f(c, attempt).await.map_err(Failure::Request)
                };
                match tokio::time::timeout_at(until, one).await {
                    Ok(Ok(v)) => {
                        self.preferred.store(i, Ordering::Relaxed);
                        return Ok(v);
                    }
                    Ok(Err(Failure::Connect(e) | Failure::Request(e))) if retryable(&e) => {
                        last = Some(format!("{}: {}", self.members[i].endpoint, describe(&e)));
                    }
                    Ok(Err(Failure::Connect(e))) => return Err(self.refused(&e)),
                    Ok(Err(Failure::Request(e))) => return Err(self.failed(what, key, &e)),
                    Err(_) => {
                        last = Some(format!(
                            "{}: no answer within {per_attempt:?}",
                            self.members[i].endpoint
                        ));
                    }
                }
                attempt += 1;
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    break;
                }
                if (attempt as usize).is_multiple_of(n) {
                    if now + pause >= deadline {
                        break;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(400));
                }
            }
            Err(self.unavailable(what, key, last))
        })
    }

    /// A member refused to let us in (authentication): a setting to fix, not an outage.
    fn refused(&self, e: &etcd_client::Error) -> StoreError {
        let (user, var) = self.user.clone().unwrap_or_default();
        StoreError::BadSetting {
            value: self.url.location(),
            why: format!(
                "etcd refused user {user:?}: {} (check store.user and the password in ${var})",
                describe(e)
            ),
        }
    }

    fn unavailable(&self, what: &str, key: &str, last: Option<String>) -> StoreError {
        let last = last
            .map(|l| format!("; last error: {l}"))
            .unwrap_or_default();
        StoreError::Unavailable {
            location: self.url.location(),
            reason: format!(
                "{what} {key}: no answer within {:?} from any of {} (is a quorum of members up?){last}",
                self.request_timeout,
                self.url.endpoints.join(", ")
            ),
        }
    }

    fn failed(&self, what: &'static str, key: &str, e: &etcd_client::Error) -> StoreError {
        let kind = match e {
            etcd_client::Error::GRpcStatus(s)
                if matches!(
                    s.code(),
                    tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
                ) =>
            {
                io::ErrorKind::PermissionDenied
            }
            _ => io::ErrorKind::Other,
        };
        StoreError::Io {
            location: self.url.location(),
            op: what,
            key: key.to_string(),
            cause: io::Error::new(kind, describe(e)),
        }
    }

    fn txn(&self, what: &'static str, key: &str, txn: Txn) -> Result<TxnResponse, StoreError> {
        self.call(what, key, |c, _| {
            let mut kv = kv_of(&c);
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
    }

    /// The lease for a key written now with `ttl`: shared by every writer (every process
    /// and host) in the same time bucket of `ttl / 20` (1 s to 1 h), found by a well-known
    /// ID, and granted for `ttl` plus two buckets, so a key never expires before its TTL
    /// (clock skew between hosts up to a bucket included) and at most two buckets late.
    /// A farm then holds a few hundred leases, not one per greaserun for 30 days.
    fn lease_for(&self, ttl: Duration) -> Result<i64, StoreError> {
        let secs = (ttl.as_secs_f64().ceil() as i64).max(1);
        let bucket = (secs / 20).clamp(1, 3600);
        let grant_ttl = secs + 2 * bucket;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let index = now / bucket;
        if let Some((i, id)) = self.leases.lock().expect("lease cache").get(&secs)
            && *i == index
        {
            return Ok(*id);
        }
        let id = match self.shared_lease(grant_ttl, index)? {
            Some(id) => id,
            // The well-known ID is taken by a lease of another TTL: use a private one.
            None => self.grant(grant_ttl, 0)?,
        };
        self.leases
            .lock()
            .expect("lease cache")
            .insert(secs, (index, id));
        Ok(id)
    }

    /// Finds or grants the shared lease of `grant_ttl` for bucket `index`; `None` if its ID
    /// holds a lease of another TTL.
    fn shared_lease(&self, grant_ttl: i64, index: i64) -> Result<Option<i64>, StoreError> {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(format!("scalegrease-lease/{grant_ttl}/{index}"));
        let raw = i64::from_le_bytes(d[..8].try_into().expect("8 bytes"));
        // Positive, and never 0 (which asks the server to choose).
        let id = (raw & 0x3fff_ffff_ffff_ffff) | 0x4000_0000_0000_0000;
        let found = |ttl: &LeaseTimeToLiveResponse| {
            (ttl.ttl() > 0).then_some(ttl.granted_ttl() == grant_ttl)
        };
        if let Some(ours) = found(&self.time_to_live(id)?) {
            return Ok(ours.then_some(id));
        }
        match self.grant(grant_ttl, id) {
            Ok(_) => Ok(Some(id)),
            // Granted by another writer at the same moment.
            Err(e) if e.to_string().contains("lease already exists") => {
                Ok(found(&self.time_to_live(id)?)
                    .unwrap_or(false)
                    .then_some(id))
            }
            Err(e) => Err(e),
        }
    }

    fn time_to_live(&self, id: i64) -> Result<LeaseTimeToLiveResponse, StoreError> {
        self.call("look up a lease for", "", |c, _| {
            let mut lease = c.lease_client();
            async move { lease.time_to_live(id, None).await }
        })
    }

    /// Grants a lease of `secs` with ID `id` (0: the server chooses).
    fn grant(&self, secs: i64, id: i64) -> Result<i64, StoreError> {
        let resp = self.call("grant a lease for", "", |c, _| {
            let mut lease = c.lease_client();
            async move {
                lease
                    .grant(secs, Some(LeaseGrantOptions::new().with_id(id)))
                    .await
            }
        })?;
        Ok(resp.id())
    }

    fn forget_leases(&self) {
        self.leases.lock().expect("lease cache").clear();
    }

    /// A put under the marker check, attached to lease `lease` (0: none).
    fn put_txn(&self, full: &str, key: &str, value: &[u8], lease: i64) -> Result<(), StoreError> {
        let opts = (lease != 0).then(|| PutOptions::new().with_lease(lease));
        let txn = Txn::new()
            .when([self.marked()])
            .and_then([TxnOp::put(full, value, opts)]);
        if self.txn("write", key, txn)?.succeeded() {
            Ok(())
        } else {
            Err(self.unmarked())
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
            ops.push(TxnOp::get(base.clone(), Some(opts().with_prefix())));
        }
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
}

/// A KV client that takes responses as large as a farm's bundles.
fn kv_of(c: &Client) -> KvClient {
    c.kv_client()
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// Errors that mean "this member, or the cluster right now, cannot answer": worth another
/// try on another member before the deadline.
fn retryable(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(s) => matches!(
            s.code(),
            tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Unknown
                | tonic::Code::Aborted
                | tonic::Code::Cancelled
        ),
        _ => false,
    }
}

/// An error with its causes, one line.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = match e.downcast_ref::<etcd_client::Error>() {
        Some(etcd_client::Error::GRpcStatus(st)) => format!("{}: {}", st.code(), st.message()),
        _ => e.to_string(),
    };
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    s
}

fn lease_not_found(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { cause, .. } if cause.to_string().contains("lease not found"))
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
        let Some(ttl) = ttl else {
            return self.put_txn(&full, key, value, 0);
        };
        match self.put_txn(&full, key, value, self.lease_for(ttl)?) {
            Err(e) if lease_not_found(&e) => {
                self.forget_leases();
                self.put_txn(&full, key, value, self.lease_for(ttl)?)
            }
            r => r,
        }
    }

    fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Created, StoreError> {
        let full = self.full(key)?;
        let attempt = |lease: i64| -> Result<Created, StoreError> {
            let opts = (lease != 0).then(|| PutOptions::new().with_lease(lease));
            let txn = Txn::new()
                .when([
                    self.marked(),
                    Compare::create_revision(full.clone(), CompareOp::Equal, 0),
                ])
                .and_then([TxnOp::put(full.clone(), value, opts)])
                .or_else([
                    TxnOp::get(self.marker(), Some(GetOptions::new().with_keys_only())),
                    TxnOp::get(full.clone(), None),
                ]);
            let mut retried = false;
            let resp = self.call("create", key, |c, n| {
                retried |= n > 0;
                let mut kv = kv_of(&c);
                let txn = txn.clone();
                async move { kv.txn(txn).await }
            })?;
            if resp.succeeded() {
                return Ok(Created::Created);
            }
            let mut rs = resp.op_responses().into_iter();
            let (Some(TxnOpResponse::Get(m)), Some(TxnOpResponse::Get(mut k))) =
                (rs.next(), rs.next())
            else {
                return Err(self.unavailable("create", key, Some("malformed reply".into())));
            };
            if m.kvs().is_empty() {
                return Err(self.unmarked());
            }
            match k.take_kvs().pop() {
                // An earlier attempt whose reply was lost may have been ours: same value on
                // the same lease.
                Some(kv) if retried && kv.lease() == lease && kv.value() == value => {
                    Ok(Created::Created)
                }
                Some(kv) => Ok(Created::Exists(kv.into_key_value().1)),
                None => Err(self.unavailable(
                    "create",
                    key,
                    Some("the key vanished during the transaction".into()),
                )),
            }
        };
        let Some(ttl) = ttl else {
            return attempt(0);
        };
        match attempt(self.lease_for(ttl)?) {
            Err(e) if lease_not_found(&e) => {
                self.forget_leases();
                attempt(self.lease_for(ttl)?)
            }
            r => r,
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

    fn prune(&self, _prefix: &str, _older_than: Duration) -> Result<usize, StoreError> {
        // Keys written with a TTL expire with their lease; the others are kept on purpose.
        self.check().map(|_| 0)
    }

    fn beat(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let full = self.full(key)?;
        let known = self.beats.lock().expect("beat leases").get(key).copied();
        if let Some(id) = known {
            let alive = self.call("keep alive the heartbeat", key, |c, _| {
                let mut lease = c.lease_client();
                async move {
                    match lease.keep_alive(id).await {
                        Ok(_) => Ok(true),
                        Err(etcd_client::Error::LeaseKeepAliveError(m))
                            if m.contains("not found") =>
                        {
                            Ok(false)
                        }
                        Err(e) => Err(e),
                    }
                }
            })?;
            if alive {
                match self.put_txn(&full, key, value, id) {
                    Err(e) if lease_not_found(&e) => {}
                    r => return r,
                }
            }
        }
        let id = self.grant((ttl.as_secs_f64().ceil() as i64).max(1), 0)?;
        self.put_txn(&full, key, value, id)?;
        if let Some(old) = self
            .beats
            .lock()
            .expect("beat leases")
            .insert(key.to_string(), id)
        {
            // The old lease has expired already or will; revoking is only tidiness.
            let _ = self.call("revoke", key, |c, _| {
                let mut lease = c.lease_client();
                async move { lease.revoke(old).await }
            });
        }
        Ok(())
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
        let watched = if prefix.is_empty() {
            format!("{}/", self.url.prefix)
        } else {
            self.full(prefix)?
        };
        let rt = runtime().map_err(|reason| StoreError::Unavailable {
            location: self.url.location(),
            reason,
        })?;
        rt.block_on(async {
            let deadline = tokio::time::Instant::now() + timeout;
            let n = self.members.len();
            let mut i = self.preferred.load(Ordering::Relaxed);
            let mut pause = Duration::from_millis(50);
            let mut last: Option<String> = None;
            let mut failures: usize = 0;
            // Whether the current attempt's watch is established (then a quiet timeout is
            // a plain "no change", whatever failed before).
            let established = std::cell::Cell::new(false);
            loop {
                established.set(false);
                let watch = async {
                    let c = self.client(i).await.map_err(Failure::Connect)?;
                    let opts = WatchOptions::new()
                        .with_prefix()
                        .with_start_revision(since.0 as i64 + 1);
                    let mut w = c
                        .watch_client()
                        .watch(watched.clone(), Some(opts))
                        .await
                        .map_err(Failure::Request)?;
                    loop {
                        let resp = w.message().await.map_err(Failure::Request)?;
                        let Some(resp) = resp else {
                            return Err(Failure::Request(etcd_client::Error::WatchError(
                                "the member closed the watch".into(),
                            )));
                        };
                        if resp.compact_revision() > 0 || !resp.events().is_empty() {
                            // Compacted past `since`: the caller must re-list anyway.
                            return Ok(true);
                        }
                        if resp.canceled() {
                            return Err(Failure::Request(etcd_client::Error::WatchError(format!(
                                "watch canceled: {}",
                                resp.cancel_reason()
                            ))));
                        }
                        if resp.created() {
                            established.set(true);
                        }
                    }
                };
                match tokio::time::timeout_at(deadline, watch).await {
                    Ok(Ok(changed)) => {
                        self.preferred.store(i, Ordering::Relaxed);
                        return Ok(changed);
                    }
                    Ok(Err(Failure::Connect(e) | Failure::Request(e)))
                        if retryable(&e) || matches!(e, etcd_client::Error::WatchError(_)) =>
                    {
                        last = Some(format!("{}: {}", self.members[i].endpoint, describe(&e)));
                    }
                    Ok(Err(Failure::Connect(e))) => return Err(self.refused(&e)),
                    Ok(Err(Failure::Request(e))) => return Err(self.failed("watch", prefix, &e)),
                    Err(_) if established.get() || last.is_none() => return Ok(false),
                    Err(_) => return Err(self.unavailable("watch", prefix, last)),
                }
                // The next member at once; after a round of all, a pause.
                i = (i + 1) % n;
                failures += 1;
                if failures.is_multiple_of(n) {
                    if tokio::time::Instant::now() + pause >= deadline {
                        return Err(self.unavailable("watch", prefix, last));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(400));
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = EtcdUrl::parse("etcd://a:1,b,[::1]:3/sg/farm").unwrap();
        assert_eq!(u.endpoints, ["a:1", "b:2379", "[::1]:3"]);
        assert_eq!(u.prefix, "sg/farm");
        assert!(!u.tls);
        assert_eq!(u.location(), "etcd://a:1,b:2379,[::1]:3/sg/farm");
        let u = EtcdUrl::parse("etcds://a:2379").unwrap();
        assert!(u.tls);
        assert_eq!(u.prefix, DEFAULT_PREFIX);
        for bad in [
            "etcd://",
            "etcd://a:x/p",
            "etcd://a,,b/p",
            "etcd://a/.p",
            "http://a",
        ] {
            assert!(EtcdUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_in_url_are_refused_and_never_shown() {
        let e = EtcdUrl::parse("etcd://me:secret@a:2379/p")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("store.password_env"), "{e}");
    }
}
