//! The farm queue in the store: submitting a request, a worker taking it (one winner
//! farm-wide), its state as it runs and ends, cancelling, and putting it back. The
//! record types are [`crate::model::request`]; the key layout is
//! [`crate::model::keys`]. Who calls what:
//!
//! - `greasedispatch` (and greaserun, for retries and rescues) [`submit`]s: the attempt
//!   is reserved by an exclusive create of `attempts/<job>/<slot>/<n>`, so two
//!   submitters never queue the same attempt; then the request, its `queued` state and
//!   its pending marker `queue/<id>` are written.
//! - A worker lists the keys of `queue/` (one keys-only range read: its whole idle
//!   cost; ids sort by submission time), reads the markers it comes to
//!   ([`read_marker`]; [`pending`] reads them all, for status), [`take`]s a
//!   request (exclusive create of `taken/<id>`, then removing the pending marker: only
//!   the holder of the take removes it, so a marker found gone is the taker's own
//!   delete applied twice across an etcd failover, unless the request has ended), and
//!   starts greaserun, which writes `running` and the end with [`finish`].
//! - [`cancel`] withdraws a queued request (by taking it first) or asks the running one
//!   to end.

use chrono::Utc;

use crate::model::keys;
use crate::model::request::{Phase, Request, RequestState, Take, check_request_id};
use crate::store::{Created, Entry, Store, StoreError};

/// The outcome of [`submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// The request is queued.
    Queued,
    /// Another request already holds this attempt of (job, slot): its id.
    AttemptTaken(String),
}

/// Queues `req`. The attempt reservation is the only exclusive step; the rest are plain
/// writes, the pending marker last, so a worker never sees a request without its record.
pub fn submit(store: &dyn Store, req: &Request) -> Result<Submitted, StoreError> {
    let body = serde_json::to_vec(req).expect("requests serialise");
    let reserve = keys::attempt(&req.job, &req.slot, req.attempt);
    if let Created::Exists(other) = store.create(&reserve, req.id.as_bytes(), None)? {
        return Ok(Submitted::AttemptTaken(
            String::from_utf8_lossy(&other).into_owned(),
        ));
    }
    store.put(&keys::request(keys::REQUESTS, &req.id), &body, None)?;
    set_state(store, &RequestState::new(&req.id, Phase::Queued))?;
    store.put(&keys::request(keys::QUEUE, &req.id), &body, None)?;
    Ok(Submitted::Queued)
}

/// The attempts of (job, slot) already reserved, by number (`slot` in key form).
pub fn attempts(store: &dyn Store, job: &str, slot: &str) -> Result<Vec<u32>, StoreError> {
    let mut out: Vec<u32> = store
        .keys(&keys::slot_attempts(job, slot))?
        .iter()
        .filter_map(|k| k.rsplit('/').next()?.parse().ok())
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// A pending marker that is not a valid request: a worker records it refused and removes
/// it (nothing runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garbled {
    pub key: String,
    pub why: String,
}

/// The requests waiting for a worker, oldest first, and the markers that are not valid
/// requests.
pub fn pending(store: &dyn Store) -> Result<(Vec<Request>, Vec<Garbled>), StoreError> {
    Ok(pending_of(store.list(keys::QUEUE)?))
}

/// [`pending`] of entries already listed under `queue/` (a watching worker lists them
/// with their version).
pub fn pending_of(entries: Vec<Entry>) -> (Vec<Request>, Vec<Garbled>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for e in entries {
        match marker(&e.key, &e.value) {
            Ok(r) => ok.push(r),
            Err(why) => bad.push(Garbled { key: e.key, why }),
        }
    }
    (ok, bad)
}

/// Reads the pending marker `key` (from a keys-only listing of `queue/`): `None` when it
/// is gone (taken or withdrawn since), else the request or why it is not a valid one.
pub fn read_marker(
    store: &dyn Store,
    key: &str,
) -> Result<Option<Result<Request, String>>, StoreError> {
    Ok(store.get(key)?.map(|v| marker(key, &v)))
}

/// The id a pending marker's key names.
pub fn marker_id(key: &str) -> String {
    keys::unsegment(key.rsplit('/').next().unwrap_or_default())
}

/// Parses the pending marker `key` holding `value`: a valid request whose id is the key's.
fn marker(key: &str, value: &[u8]) -> Result<Request, String> {
    let r = parse(value)?;
    if r.id != marker_id(key) {
        return Err(format!("its id {:?} does not match its key", r.id));
    }
    Ok(r)
}

/// Parses a request and checks what a worker relies on: the id's form, a valid job
/// name and slot, an attempt of at least 1.
pub fn parse(bytes: &[u8]) -> Result<Request, String> {
    let r: Request =
        serde_json::from_slice(bytes).map_err(|e| format!("not a request document: {e}"))?;
    if !check_request_id(&r.id) {
        return Err(format!("invalid request id {:?}", r.id));
    }
    crate::model::job::check_job_name(&r.job).map_err(|e| format!("job {:?}: {e}", r.job))?;
    if crate::model::slot::Slot::from_key(&r.slot).is_none() {
        return Err(format!("invalid slot {:?}", r.slot));
    }
    if r.attempt == 0 {
        return Err("attempt 0 (attempts count from 1)".into());
    }
    Ok(r)
}

/// Reads request `id`, if it exists.
pub fn get(store: &dyn Store, id: &str) -> Result<Option<Request>, StoreError> {
    Ok(store
        .get(&keys::request(keys::REQUESTS, id))?
        .and_then(|b| parse(&b).ok()))
}

/// Takes `req` for `host`: `true` when this worker won it and must run it ([`take_for`]).
pub fn take(store: &dyn Store, req: &Request, host: &str) -> Result<bool, StoreError> {
    Ok(take_for(store, req, host)? == Took::Won)
}

/// What [`take_for`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Took {
    /// This worker won the request and must run it.
    Won,
    /// Another worker has it, or it was withdrawn meanwhile.
    Lost,
    /// Its backfill batch has `limit` requests in flight: none of the batch may be taken
    /// now (taking a later one would break the batch's oldest-first order).
    Full,
}

/// Takes `req` for `host`. A request of a backfill batch first gets one of the batch's
/// `limit` run tokens ([`keys::batch_token`], exclusive creates): none free, it is not
/// taken ([`Took::Full`]), so the limit holds farm-wide.
pub fn take_for(store: &dyn Store, req: &Request, host: &str) -> Result<Took, StoreError> {
    let token = match &req.batch {
        Some(b) => match acquire_token(store, b, req.limit.unwrap_or(1).max(1), &req.id, host)? {
            Some(k) => Some(k),
            None => return Ok(Took::Full),
        },
        None => None,
    };
    let t = Take {
        id: req.id.clone(),
        job: req.job.clone(),
        slot: req.slot.clone(),
        host: host.to_string(),
        at: Utc::now(),
        batch: req.batch.clone(),
        token,
    };
    let body = serde_json::to_vec(&t).expect("takes serialise");
    let key = keys::request(keys::TAKEN, &req.id);
    let created = match store.create(&key, &body, None)? {
        Created::Created => true,
        // Our own take from an earlier round whose answer was lost (an etcd member
        // failing over after applying it) is finished now; anyone else's stands.
        Created::Exists(other) => {
            let other = serde_json::from_slice::<Take>(&other).ok();
            let ours = other.as_ref().is_some_and(|o| o.host == host);
            // The token we got is that take's own only when the take is ours.
            if !(ours && other.is_some_and(|o| o.token == token)) {
                release_token(store, &t)?;
            }
            if !ours {
                return Ok(Took::Lost);
            }
            false
        }
    };
    if !store.delete(&keys::request(keys::QUEUE, &req.id))?
        && !marker_was_ours(store, &req.id, created)?
    {
        return Ok(Took::Lost);
    }
    set_state(
        store,
        &RequestState {
            host: Some(host.to_string()),
            ..RequestState::new(&req.id, Phase::Taken)
        },
    )?;
    Ok(Took::Won)
}

/// Whether a pending marker found gone after our take was removed by us. Only the
/// holder of a request's take removes its marker ([`cancel`] takes it first, too), so
/// a marker gone under our new take is our own delete applied twice: an etcd member
/// failing over after applying it, retried on the next member, answers "nothing
/// deleted". Unless the request has ended meanwhile (a stale listing: it was taken,
/// run and finished before our take), it is ours. A take of ours found in place is an
/// earlier round's, taken all the way or not: it stays as it is.
fn marker_was_ours(store: &dyn Store, id: &str, created: bool) -> Result<bool, StoreError> {
    if !created {
        return Ok(false);
    }
    if state(store, id)?.is_some_and(|st| st.phase.is_final()) {
        drop_take(store, id)?;
        return Ok(false);
    }
    Ok(true)
}

/// Removes request `id`'s take, freeing its run token first.
fn drop_take(store: &dyn Store, id: &str) -> Result<(), StoreError> {
    if let Some(t) = take_of(store, id)? {
        release_token(store, &t)?;
    }
    store.delete(&keys::request(keys::TAKEN, id))?;
    Ok(())
}

/// The take of request `id` (which worker won it), while it is in flight.
pub fn take_of(store: &dyn Store, id: &str) -> Result<Option<Take>, StoreError> {
    Ok(store
        .get(&keys::request(keys::TAKEN, id))?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

/// Why greaserun on `host` must not serve request `id`: the request is not taken, or
/// taken by another host (a worker starts greaserun only after winning the take; any
/// other start, by hand or forged, is refused and leaves the request as it is).
pub fn not_taken_by(store: &dyn Store, id: &str, host: &str) -> Result<Option<String>, StoreError> {
    Ok(match take_of(store, id)? {
        Some(t) if t.host == host => None,
        Some(t) => Some(format!(
            "it was taken by {}, not by this host {host} (greaserun serves only a request its own worker took)",
            t.host
        )),
        None => Some(format!(
            "no worker took it (no taken/{id}), so it is not this host's {host} to run (greaserun serves only a request its own worker took)"
        )),
    })
}

/// The takes in flight (requests taken and not yet ended).
pub fn in_flight(store: &dyn Store) -> Result<Vec<Take>, StoreError> {
    Ok(store
        .list(keys::TAKEN)?
        .iter()
        .filter_map(|e| serde_json::from_slice(&e.value).ok())
        .collect())
}

/// Writes a request's state.
pub fn set_state(store: &dyn Store, st: &RequestState) -> Result<(), StoreError> {
    let body = serde_json::to_vec(st).expect("states serialise");
    store.put(&keys::request(keys::STATES, &st.id), &body, None)
}

/// Reads a request's state.
pub fn state(store: &dyn Store, id: &str) -> Result<Option<RequestState>, StoreError> {
    Ok(store
        .get(&keys::request(keys::STATES, id))?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

/// Ends a request: writes its final state and removes its take and pending marker.
pub fn finish(store: &dyn Store, st: &RequestState) -> Result<(), StoreError> {
    debug_assert!(st.phase.is_final());
    set_state(store, st)?;
    drop_take(store, &st.id)?;
    store.delete(&keys::request(keys::QUEUE, &st.id))?;
    Ok(())
}

/// Puts a taken request back in the queue for another worker (this one could not start
/// it: its guard refused after all).
pub fn release(store: &dyn Store, req: &Request) -> Result<(), StoreError> {
    let body = serde_json::to_vec(req).expect("requests serialise");
    set_state(store, &RequestState::new(&req.id, Phase::Queued))?;
    store.put(&keys::request(keys::QUEUE, &req.id), &body, None)?;
    drop_take(store, &req.id)?;
    Ok(())
}

/// The key a running request's greaserun watches for a cancel (besides its run's own,
/// [`keys::cancel`]).
pub fn cancel_key(req: &Request) -> String {
    keys::cancel(&req.job, &req.slot, &req.id)
}

/// What [`cancel`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// It was still queued: withdrawn, nothing ran.
    Withdrawn,
    /// It is taken or running: its greaserun was asked to end the job.
    Asked(RequestState),
    /// It had already ended.
    AlreadyEnded(RequestState),
    /// No such request.
    Unknown,
}

/// Cancels request `id`.
pub fn cancel(store: &dyn Store, id: &str, by: &str) -> Result<Cancelled, StoreError> {
    let Some(req) = get(store, id)? else {
        return Ok(Cancelled::Unknown);
    };
    // Withdrawing goes through the take like a worker's start, so the holder of a take
    // is the only one who ever removes a pending marker.
    let t = Take {
        id: id.to_string(),
        job: req.job.clone(),
        slot: req.slot.clone(),
        host: format!("(cancelled by {by})"),
        at: Utc::now(),
        batch: None,
        token: None,
    };
    let body = serde_json::to_vec(&t).expect("takes serialise");
    if store.create(&keys::request(keys::TAKEN, id), &body, None)? == Created::Created {
        let queued = store.delete(&keys::request(keys::QUEUE, id))?;
        let ended = state(store, id)?.filter(|st| st.phase.is_final());
        match ended {
            // Not queued but ended: a stale take of ours, undone.
            Some(st) if !queued => {
                store.delete(&keys::request(keys::TAKEN, id))?;
                return Ok(Cancelled::AlreadyEnded(st));
            }
            _ => {
                finish(
                    store,
                    &RequestState {
                        reason: Some(format!("cancelled by {by} while queued")),
                        ..RequestState::new(id, Phase::Cancelled)
                    },
                )?;
                return Ok(Cancelled::Withdrawn);
            }
        }
    }
    let st = state(store, id)?.unwrap_or_else(|| RequestState::new(id, Phase::Taken));
    if st.phase.is_final() {
        return Ok(Cancelled::AlreadyEnded(st));
    }
    store.put(&cancel_key(&req), by.as_bytes(), None)?;
    Ok(Cancelled::Asked(st))
}

mod tokens;
use tokens::acquire_token;
pub use tokens::{STALE_TOKEN, release_token};

#[cfg(test)]
mod tests;
