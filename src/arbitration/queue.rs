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
//!   request (exclusive create of `taken/<id>`, then removing the pending marker; a
//!   marker already gone means it was cancelled or dropped meanwhile, and the take is
//!   undone), and starts greaserun, which writes `running` and the end with [`finish`].
//! - [`cancel`] withdraws a queued request or asks the running one to end.

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

/// Takes `req` for `host`: `true` when this worker won it and must run it.
pub fn take(store: &dyn Store, req: &Request, host: &str) -> Result<bool, StoreError> {
    let t = Take {
        id: req.id.clone(),
        job: req.job.clone(),
        slot: req.slot.clone(),
        host: host.to_string(),
        at: Utc::now(),
        batch: req.batch.clone(),
    };
    let body = serde_json::to_vec(&t).expect("takes serialise");
    let key = keys::request(keys::TAKEN, &req.id);
    let created = match store.create(&key, &body, None)? {
        Created::Created => true,
        // Our own take from an earlier round whose answer was lost (an etcd member
        // failing over after applying it) is finished now; anyone else's stands.
        Created::Exists(other) => {
            if !serde_json::from_slice::<Take>(&other).is_ok_and(|t| t.host == host) {
                return Ok(false);
            }
            false
        }
    };
    if !store.delete(&keys::request(keys::QUEUE, &req.id))? {
        // Cancelled or dropped between our listing and our take (or, for a take of ours
        // found in place, already taken all the way: it stays as it is).
        if created {
            store.delete(&key)?;
        }
        return Ok(false);
    }
    set_state(
        store,
        &RequestState {
            host: Some(host.to_string()),
            ..RequestState::new(&req.id, Phase::Taken)
        },
    )?;
    Ok(true)
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
pub fn not_taken_by(store: &dyn Store, id: &str, host: &str) -> Option<String> {
    match take_of(store, id) {
        Ok(Some(t)) if t.host == host => None,
        Ok(Some(t)) => Some(format!(
            "it was taken by {}, not by this host {host} (greaserun serves only a request its own worker took)",
            t.host
        )),
        Ok(None) => Some(format!(
            "no worker took it (no taken/{id}), so it is not this host's {host} to run (greaserun serves only a request its own worker took)"
        )),
        Err(e) => Some(format!("cannot read its take: {e}")),
    }
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
    store.delete(&keys::request(keys::TAKEN, &st.id))?;
    store.delete(&keys::request(keys::QUEUE, &st.id))?;
    Ok(())
}

/// Puts a taken request back in the queue for another worker (this one could not start
/// it: its guard refused after all).
pub fn release(store: &dyn Store, req: &Request) -> Result<(), StoreError> {
    let body = serde_json::to_vec(req).expect("requests serialise");
    set_state(store, &RequestState::new(&req.id, Phase::Queued))?;
    store.put(&keys::request(keys::QUEUE, &req.id), &body, None)?;
    store.delete(&keys::request(keys::TAKEN, &req.id))?;
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
    if store.delete(&keys::request(keys::QUEUE, id))? {
        finish(
            store,
            &RequestState {
                reason: Some(format!("cancelled by {by} while queued")),
                ..RequestState::new(id, Phase::Cancelled)
            },
        )?;
        return Ok(Cancelled::Withdrawn);
    }
    let st = state(store, id)?.unwrap_or_else(|| RequestState::new(id, Phase::Taken));
    if st.phase.is_final() {
        return Ok(Cancelled::AlreadyEnded(st));
    }
    store.put(&cancel_key(&req), by.as_bytes(), None)?;
    Ok(Cancelled::Asked(st))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::request::{Kind, request_id};

    fn req(n: u32) -> Request {
        Request {
            id: request_id(Utc::now(), n),
            ..Request::new("j", "2026-11-23T03:00Z", Kind::Demand, "u@h", Utc::now())
        }
    }

    #[test]
    fn submit_take_finish_and_one_winner() {
        let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
        let r = req(1);
        assert_eq!(submit(&*store, &r).unwrap(), Submitted::Queued);
        let dup = Request {
            id: request_id(Utc::now(), 2),
            ..r.clone()
        };
        assert_eq!(
            submit(&*store, &dup).unwrap(),
            Submitted::AttemptTaken(r.id.clone())
        );
        assert_eq!(attempts(&*store, "j", &r.slot).unwrap(), vec![1]);
        let (p, bad) = pending(&*store).unwrap();
        assert_eq!((p, bad), (vec![r.clone()], vec![]));
        let wins: Vec<bool> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..6)
                .map(|i| {
                    let (s, r) = (&store, &r);
                    sc.spawn(move || take(&**s, r, &format!("h{i}")).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(wins.iter().filter(|w| **w).count(), 1);
        assert!(pending(&*store).unwrap().0.is_empty());
        assert!(
            !take(&*store, &r, "h-other").unwrap(),
            "a second take of a taken request"
        );
        assert_eq!(in_flight(&*store).unwrap().len(), 1);
        assert_eq!(
            cancel(&*store, &r.id, "u@h").unwrap(),
            Cancelled::Asked(state(&*store, &r.id).unwrap().unwrap())
        );
        assert!(store.get(&cancel_key(&r)).unwrap().is_some());
        finish(&*store, &RequestState::new(&r.id, Phase::Succeeded)).unwrap();
        assert!(in_flight(&*store).unwrap().is_empty());
        assert!(matches!(
            cancel(&*store, &r.id, "u@h").unwrap(),
            Cancelled::AlreadyEnded(_)
        ));
    }

    #[test]
    fn a_half_done_take_is_finished_by_its_own_host_only() {
        let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
        let r = req(4);
        submit(&*store, &r).unwrap();
        // The take was written but its answer lost: the marker is still queued.
        let t = Take {
            id: r.id.clone(),
            job: r.job.clone(),
            slot: r.slot.clone(),
            host: "w1".into(),
            at: Utc::now(),
            batch: None,
        };
        let key = keys::request(keys::TAKEN, &r.id);
        store
            .put(&key, &serde_json::to_vec(&t).unwrap(), None)
            .unwrap();
        assert!(
            !take(&*store, &r, "w2").unwrap(),
            "another host's take stands"
        );
        assert!(take(&*store, &r, "w1").unwrap(), "its own host finishes it");
        assert!(pending(&*store).unwrap().0.is_empty());
        assert!(!take(&*store, &r, "w1").unwrap(), "and only once");
        assert_eq!(
            in_flight(&*store).unwrap().len(),
            1,
            "the take stays in flight"
        );
    }

    #[test]
    fn cancel_withdraws_and_garbled_markers_are_reported() {
        let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
        let r = req(3);
        submit(&*store, &r).unwrap();
        assert_eq!(cancel(&*store, &r.id, "u@h").unwrap(), Cancelled::Withdrawn);
        assert!(
            !take(&*store, &r, "h").unwrap(),
            "a withdrawn request is not taken"
        );
        assert_eq!(
            state(&*store, &r.id).unwrap().unwrap().phase,
            Phase::Cancelled
        );
        store
            .put("queue/20261130T184512Z-00000001", b"{nope", None)
            .unwrap();
        let (p, bad) = pending(&*store).unwrap();
        assert!(p.is_empty());
        assert_eq!(bad.len(), 1, "{bad:?}");
    }
}
