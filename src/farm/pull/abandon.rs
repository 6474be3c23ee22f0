//! A pull round's housekeeping: requests in flight whose worker or run died. A take
//! still `taken` after `funnel.abandon_after` with no greaserun started, or a `running`
//! request whose run stopped heartbeating (`heartbeats/<job>/<slot>/<run id>`) for that
//! long, is ended `abandoned` (its run record too, if it still says running). When the
//! installed entry's `--retries` allows another attempt, attempt + 1 is queued as a
//! retry (the attempt reservation makes exactly one worker do it).
//!
//! A command this worker started that exits before greaserun took the request over is
//! handled at once ([`super::early`]).
//!
//! Only takes of jobs installed here are judged, so the retry policy is the entry's.
//! Removing the take (`taken/<id>`) is the exclusive step: of several workers noticing
//! the same lapse, only the one whose delete removed it writes the end.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::PullOptions;
use super::installed::Installed;
use crate::arbitration::options::RetryPolicy;
use crate::arbitration::queue::{self, Submitted};
use crate::arbitration::records;
use crate::model::funnel::{Beat, alive};
use crate::model::keys;
use crate::model::record::{RunRecord, Status};
use crate::model::request::{Phase, Request, RequestState, Take};
use crate::model::slot::Slot;
use crate::store::{Store, StoreError};

/// What the housekeeping ended: `(abandoned, retries queued)`.
pub(super) fn abandon(
    store: &dyn Store,
    opts: &PullOptions,
    installed: &BTreeMap<String, Installed>,
    flights: &[Take],
    mine: &[String],
    now: DateTime<Utc>,
) -> Result<(usize, usize), StoreError> {
    let (mut abandoned, mut retried) = (0, 0);
    for t in flights {
        let Some(it) = installed.get(&t.job) else {
            continue;
        };
        // Every lapse below counts from the take on (a run's state and beats come after
        // it): a take younger than `abandon_after` is not read further.
        if alive(Some(t.at), opts.funnel.abandon_after, now) {
            continue;
        }
        let st = queue::state(store, &t.id)?;
        if st.as_ref().is_some_and(|s| s.phase == Phase::Queued)
            && !alive(Some(t.at), opts.funnel.abandon_after, now)
        {
            // A take whose worker never got as far as marking it taken (its store
            // failed mid-take), so nothing started it: the request goes back to the queue.
            if let Some(req) = queue::get(store, &t.id)? {
                tracing::warn!(
                    "request {} put back: {} never finished taking it",
                    t.id,
                    t.host
                );
                queue::release(store, &req)?;
            }
            continue;
        }
        let Some(why) = lapsed(store, opts, t, st.as_ref(), mine, now)? else {
            continue;
        };
        if !store.delete(&keys::request(keys::TAKEN, &t.id))? {
            continue;
        }
        queue::release_token(store, t)?;
        tracing::warn!("request {} abandoned: {why}", t.id);
        let run = st.as_ref().and_then(|s| s.run.clone());
        queue::finish(
            store,
            &RequestState {
                host: Some(t.host.clone()),
                run: run.clone(),
                reason: Some(why.clone()),
                ..RequestState::new(&t.id, Phase::Abandoned)
            },
        )?;
        abandoned += 1;
        if let Some(key) = run {
            abandon_record(store, opts, &key, &why, now)?;
        }
        if let Some(req) = queue::get(store, &t.id)?
            && retry(store, opts, it, &req, now)?
        {
            retried += 1;
        }
    }
    Ok((abandoned, retried))
}

/// Why take `t` counts as abandoned at `now`, or `None` while it may still be alive.
fn lapsed(
    store: &dyn Store,
    opts: &PullOptions,
    t: &Take,
    st: Option<&RequestState>,
    mine: &[String],
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let after = opts.funnel.abandon_after;
    let phase = st.map_or(Phase::Taken, |s| s.phase);
    match phase {
        Phase::Taken => {
            let last = st.map_or(t.at, |s| s.at.max(t.at));
            let ours = t.host == opts.host && mine.contains(&t.id);
            if ours || alive(Some(last), after, now) {
                return Ok(None);
            }
            // greaserun heartbeats from its claim on, before it writes `running` (a
            // replaced run may take a while to end first): a fresh beat of the taking
            // host on this slot means it started.
            if let Some(slot) = Slot::from_key(&t.slot) {
                let prefix = format!(
                    "{}/{}/{}",
                    keys::HEARTBEATS,
                    keys::segment(&t.job),
                    keys::segment(&slot.key())
                );
                let started = store.list(&prefix)?.iter().any(|e| {
                    serde_json::from_slice::<Beat>(&e.value)
                        .is_ok_and(|b| b.host == t.host && alive(Some(b.at), after, now))
                });
                if started {
                    return Ok(None);
                }
            }
            Ok(Some(format!(
                "taken by {} at {}, and no greaserun started it within funnel.abandon_after",
                t.host,
                last.to_rfc3339()
            )))
        }
        Phase::Running => {
            let Some(st) = st else { return Ok(None) };
            let beat = match st.run.as_deref().and_then(heartbeat_key) {
                Some(hb) => store
                    .get(&hb)?
                    .and_then(|b| serde_json::from_slice::<Beat>(&b).ok()),
                None => None,
            };
            let last = beat.map_or(st.at, |b| b.at.max(st.at));
            Ok((!alive(Some(last), after, now)).then(|| {
                format!(
                    "its run on {} stopped heartbeating at {} (funnel.abandon_after)",
                    st.host.as_deref().unwrap_or("?"),
                    last.to_rfc3339()
                )
            }))
        }
        // A take left behind by an end whose cleanup failed, or a release in progress.
        _ => Ok(None),
    }
}

/// The heartbeat key of the run whose record key is `run` (`runs/<job>/<slot>/<id>`).
fn heartbeat_key(run: &str) -> Option<String> {
    let (job, slot, id) = keys::run_parts(run)?;
    Some(keys::heartbeat(&job, Slot::from_key(&slot)?, &id))
}

/// Marks the run record at `key` abandoned when it still says running.
fn abandon_record(
    store: &dyn Store,
    opts: &PullOptions,
    key: &str,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(mut rec) = store
        .get(key)?
        .and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok())
    else {
        return Ok(());
    };
    if rec.status != Status::Running {
        return Ok(());
    }
    rec.status = Status::Abandoned;
    rec.end = Some(now);
    rec.reason = Some(why.to_string());
    records::write(store, &rec, opts.history_retention)
}

/// Queues the next attempt of `req` when the entry's `--retries` allows it.
fn retry(
    store: &dyn Store,
    opts: &PullOptions,
    it: &Installed,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let a = &it.entry.args;
    let policy = RetryPolicy {
        retries: a.retries,
        delay: a.retry_delay,
        max_delay: a.retry_max_delay,
    };
    let Some(wait) = policy.wait(req.attempt) else {
        return Ok(false);
    };
    let next = req.retry(
        req.attempt + 1,
        &format!("greasesnatch@{}", opts.host),
        now,
        wait,
    );
    match queue::submit(store, &next)? {
        Submitted::Queued => {
            tracing::warn!(
                "retry (attempt {}) of abandoned request {} queued as {}",
                next.attempt,
                req.id,
                next.id
            );
            Ok(true)
        }
        Submitted::AttemptTaken(_) => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_key_of_a_run_key() {
        let run = keys::run("my job", "2026-11-23T03:00Z", "w1-42");
        let slot = Slot::from_key("2026-11-23T03:00Z").unwrap();
        assert_eq!(
            heartbeat_key(&run),
            Some(keys::heartbeat("my job", slot, "w1-42"))
        );
        assert_eq!(heartbeat_key("claims/x/y/z"), None);
    }
}
