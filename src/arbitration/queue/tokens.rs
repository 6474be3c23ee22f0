//! A backfill batch's run tokens: `limit` keys per batch ([`keys::batch_token`]), each
//! held by one request in flight (exclusive creates), so at most `limit` of the batch
//! run at once farm-wide. A token whose holder has no take for [`STALE_TOKEN`] (a worker
//! that died between the token and the take) is freed by the one worker whose
//! exclusive create of its freeing mark wins.

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::take_of;
use crate::model::keys;
use crate::model::request::Take;
use crate::store::{Created, Store, StoreError};

/// How long a run token may stay without its holder's take before anyone may free it (a
/// worker that died between the token and the take).
pub const STALE_TOKEN: std::time::Duration = std::time::Duration::from_secs(60);

/// A run token's value: which request on which host holds it since when.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Token {
    pub(super) id: String,
    pub(super) host: String,
    pub(super) at: chrono::DateTime<Utc>,
}

/// Gets a free run token of `batch` (of `limit`) for request `id` on `host` (or the one
/// it got in an earlier round whose answer was lost), freeing stale ones (held by no take
/// for [`STALE_TOKEN`]); `None` when all are held.
pub(super) fn acquire_token(
    store: &dyn Store,
    batch: &str,
    limit: u32,
    id: &str,
    host: &str,
) -> Result<Option<u32>, StoreError> {
    let body = serde_json::to_vec(&Token {
        id: id.to_string(),
        host: host.to_string(),
        at: Utc::now(),
    })
    .expect("tokens serialise");
    // Probing from a point of the request's own, a batch with a large limit costs one
    // create per take, not one per request in flight.
    let start = id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
        % limit;
    for k in (0..limit).map(|i| (start + i) % limit) {
        let key = keys::batch_token(batch, k);
        let (held, raw) = match create_token(store, &key, &body)? {
            Holder::Us => return Ok(Some(k)),
            Holder::Churning => continue,
            Holder::Them(raw) => (serde_json::from_slice::<Token>(&raw).ok(), raw),
        };
        let stale = match &held {
            Some(t) if t.id == id && t.host == host => return Ok(Some(k)),
            Some(t) => {
                Utc::now() - t.at > chrono::TimeDelta::from_std(STALE_TOKEN).expect("small")
                    && take_of(store, &t.id)?.is_none()
            }
            None => true,
        };
        // Only the worker whose exclusive create of this token's freeing mark wins frees
        // it: two freers deleting in turn would each delete the other's fresh token.
        let mark = format!("{key}.freed.{}", &hex::encode(Sha256::digest(&raw))[..16]);
        if stale && free_mark(store, &mark)? {
            tracing::warn!("freeing run token {key} of batch {batch}: no take holds it");
            store.delete(&key)?;
            if store.create(&key, &body, None)? == Created::Created {
                return Ok(Some(k));
            }
        }
    }
    Ok(None)
}

/// Creates a token's freeing `mark` (its value the time): `true` when this worker may
/// free the token. A mark older than [`STALE_TOKEN`] is a freer that died between its
/// mark and the delete: it is removed, so the next round may free the token.
fn free_mark(store: &dyn Store, mark: &str) -> Result<bool, StoreError> {
    let now = Utc::now();
    match store.create(mark, now.to_rfc3339().as_bytes(), Some(STALE_TOKEN))? {
        Created::Created => Ok(true),
        Created::Exists(v) => {
            let old = std::str::from_utf8(&v)
                .ok()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_none_or(|t| {
                    now - t.to_utc() > chrono::TimeDelta::from_std(STALE_TOKEN).expect("small")
                });
            if old {
                store.delete(mark)?;
            }
            Ok(false)
        }
    }
}

/// Who holds a run token after [`create_token`].
enum Holder {
    /// The create won: this request holds it.
    Us,
    /// Someone holds it: the token's value as stored.
    Them(Vec<u8>),
    /// It kept being freed between a failed create and the read of its holder.
    Churning,
}

/// Creates run token `key` with `body`. A token freed between the failed create and
/// its read comes back empty: that is no holder to judge (judging it stale would delete
/// whatever token is created there next), so the create is tried again, a few times.
fn create_token(store: &dyn Store, key: &str, body: &[u8]) -> Result<Holder, StoreError> {
    for _ in 0..3 {
        match store.create(key, body, None)? {
            Created::Created => return Ok(Holder::Us),
            Created::Exists(v) if v.is_empty() => continue,
            Created::Exists(v) => return Ok(Holder::Them(v)),
        }
    }
    Ok(Holder::Churning)
}

/// Frees the run token `t` holds, if any (and if it still holds it).
pub fn release_token(store: &dyn Store, t: &Take) -> Result<(), StoreError> {
    let (Some(b), Some(k)) = (&t.batch, t.token) else {
        return Ok(());
    };
    let key = keys::batch_token(b, k);
    if let Some(v) = store.get(&key)?
        && serde_json::from_slice::<Token>(&v).is_ok_and(|h| h.id == t.id && h.host == t.host)
    {
        store.delete(&key)?;
    }
    Ok(())
}
