//! Leases: the shared lease a key written with a TTL is attached to, and the private lease
//! each heartbeat key keeps alive.

use std::time::Duration;

use etcd_client::{LeaseGrantOptions, LeaseTimeToLiveResponse};

use super::EtcdStore;
use super::errors::{keep_alive_lost, lease_exists};
use crate::store::StoreError;

/// What a write attached to a lease found.
pub(super) enum OnLease<T> {
    /// Written.
    Done(T),
    /// The lease is gone (expired or revoked since we learnt its ID): nothing was written.
    Gone(etcd_client::Error),
}

impl EtcdStore {
    /// Runs `write` with the shared lease for `ttl`; when that lease turns out to be gone,
    /// forgets the cached leases and runs it once more with a fresh one.
    pub(super) fn with_lease<T>(
        &self,
        ttl: Duration,
        what: &'static str,
        key: &str,
        write: impl Fn(i64) -> Result<OnLease<T>, StoreError>,
    ) -> Result<T, StoreError> {
        if let OnLease::Done(v) = write(self.lease_for(ttl)?)? {
            return Ok(v);
        }
        self.forget_leases();
        match write(self.lease_for(ttl)?)? {
            OnLease::Done(v) => Ok(v),
            OnLease::Gone(e) => Err(self.failed(what, key, &e)),
        }
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
            None => self.grant_any(grant_ttl)?,
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
        match self.grant(grant_ttl, id)? {
            Some(_) => Ok(Some(id)),
            // Granted by another writer at the same moment.
            None => Ok(found(&self.time_to_live(id)?)
                .unwrap_or(false)
                .then_some(id)),
        }
    }

    fn time_to_live(&self, id: i64) -> Result<LeaseTimeToLiveResponse, StoreError> {
        self.call("look up a lease for", "", |c, _| {
            let mut lease = c.lease_client();
            async move { lease.time_to_live(id, None).await }
        })
    }

    /// Grants a lease of `secs` with ID `id` (0: the server chooses); `None` when `id` is
    /// taken.
    fn grant(&self, secs: i64, id: i64) -> Result<Option<i64>, StoreError> {
        self.call("grant a lease for", "", |c, _| {
            let mut lease = c.lease_client();
            async move {
                match lease
                    .grant(secs, Some(LeaseGrantOptions::new().with_id(id)))
                    .await
                {
                    Ok(r) => Ok(Some(r.id())),
                    Err(e) if id != 0 && lease_exists(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            }
        })
    }

    /// Grants a lease of `secs` with an ID the server chooses.
    fn grant_any(&self, secs: i64) -> Result<i64, StoreError> {
        self.grant(secs, 0)?.ok_or_else(|| {
            let why = "the cluster called the lease ID it chose itself taken";
            self.unavailable("grant a lease for", "", Some(why.into()))
        })
    }

    fn forget_leases(&self) {
        self.leases.lock().expect("lease cache").clear();
    }

    /// [`crate::store::Store::beat`]: keeps `key`'s own lease alive and rewrites the value
    /// on it; when that lease is gone (or this is the first beat), grants a new one.
    pub(super) fn beat_on_lease(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let full = self.full(key)?;
        let known = self.beats.lock().expect("beat leases").get(key).copied();
        if let Some(id) = known {
            let alive = self.call("keep alive the heartbeat", key, |c, _| {
                let mut lease = c.lease_client();
                async move {
                    match lease.keep_alive(id).await {
                        Ok(_) => Ok(true),
                        Err(e) if keep_alive_lost(&e) => Ok(false),
                        Err(e) => Err(e),
                    }
                }
            })?;
            if alive && let OnLease::Done(()) = self.put_txn(&full, key, value, id)? {
                return Ok(());
            }
        }
        let id = self.grant_any((ttl.as_secs_f64().ceil() as i64).max(1))?;
        self.put_txn(&full, key, value, id)?
            .done(self, "write", key)?;
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
}

impl<T> OnLease<T> {
    /// The value written, or the error for a lease that vanished with no retry left.
    pub(super) fn done(
        self,
        store: &EtcdStore,
        what: &'static str,
        key: &str,
    ) -> Result<T, StoreError> {
        match self {
            OnLease::Done(v) => Ok(v),
            OnLease::Gone(e) => Err(store.failed(what, key, &e)),
        }
    }
}
