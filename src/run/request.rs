//! The farm queue's side of one greaserun: the request it serves (`SCALEGREASE_REQUEST`,
//! loaded and checked against the job greaserun computes), the request's state as the
//! run starts and ends, and what a run queues for others: a retry of a failed attempt
//! (`--retries`) and a rescue of a slot the guard declined here (`--rescue-within`).
//! Store failures here are warnings: the run itself is what matters.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::Error;
use crate::arbitration::options::{Concurrency, RetryPolicy, SlotOptions};
use crate::arbitration::queue::{self, Submitted};
use crate::arbitration::session::Session;
use crate::config::Config;
use crate::exit;
use crate::model::NOTICE;
use crate::model::record::{RunRecord, Status};
use crate::model::request::{Kind, Phase, Request, RequestState, check_request_id};
use crate::model::slot::Slot;
use crate::store::{self, Store, StoreError};

/// The longest pause between tries of writing a request's end (0.5 + 1 + 2 + 4 s).
const ENDED_PATIENCE: Duration = Duration::from_secs(4);

/// How this run relates to the farm queue.
#[derive(Clone, Default)]
pub struct FarmRun {
    /// The request it serves, if a worker started it for one.
    pub request: Option<Request>,
    pub retry: RetryPolicy,
    pub concurrency: Concurrency,
    /// `--kill-grace` (how long a replaced run may take to end).
    pub kill_grace: Duration,
}

/// What a run started for a request does: serve it, or exit with this code.
pub enum Served {
    /// Serve this request; the store it came from.
    Serve(Request, Arc<dyn Store>),
    /// It was refused (missing, garbled): exit with this code.
    Refused(i32),
}

/// Opens the store and loads request `id`, narrowing `funnel` to what it asks: its one
/// slot, claimed by attempt 1 only (later attempts' take is their exclusivity). A
/// missing or garbled request is ended refused; one this host did not take
/// (`taken/<id>` missing or naming another host) is refused and left as it is. A store
/// that does not answer is an error (exit [`exit::UNAVAILABLE`]) that leaves the request
/// as it is: its worker puts it back in the queue.
pub fn open(
    cfg: &Config,
    store_flag: Option<&str>,
    id: &str,
    funnel: &mut SlotOptions,
) -> Result<Served, Error> {
    let s: Arc<dyn Store> = Arc::from(store::open(&cfg.store_config(store_flag))?);
    let req = match load(&*s, id) {
        Ok(r) => r,
        Err(Unloaded::Store(e)) => return Err(e.into()),
        Err(Unloaded::Invalid(why)) => {
            return Ok(Served::Refused(refuse(
                Some(&*s),
                id,
                &cfg.hostname(),
                &why,
            )));
        }
    };
    // Not this host's to run: refused, and the request is left to whoever holds it.
    if let Some(why) = queue::not_taken_by(&*s, id, &cfg.hostname())? {
        return Ok(Served::Refused(refuse(None, id, &cfg.hostname(), &why)));
    }
    funnel.slot = Slot::from_key(&req.slot);
    (funnel.backfill, funnel.every, funnel.keep_going) = (None, None, false);
    funnel.no_claim = req.attempt > 1;
    Ok(Served::Serve(req, s))
}

/// Refuses the request (the code to exit with) when it is for another job than the one
/// this greaserun computes.
pub fn check_job(farm: &FarmRun, session: &Session, host: &str) -> Option<i32> {
    let req = farm.request.as_ref()?;
    if req.job == session.job() {
        return None;
    }
    let why = format!(
        "it is for job {:?}, and this entry's job is {:?}",
        req.job,
        session.job()
    );
    Some(refuse(session.store().ok().as_deref(), &req.id, host, &why))
}

/// Why [`load`] returned no request.
pub enum Unloaded {
    /// The store did not answer: nothing is known about the request.
    Store(StoreError),
    /// The request is missing or not a valid one: why.
    Invalid(String),
}

/// Loads request `id`.
pub fn load(store: &dyn Store, id: &str) -> Result<Request, Unloaded> {
    let invalid = |why: String| Err(Unloaded::Invalid(why));
    if !check_request_id(id) {
        return invalid(format!("{id:?} is not a request id"));
    }
    let key = crate::model::keys::request(crate::model::keys::REQUESTS, id);
    let Some(bytes) = store.get(&key).map_err(Unloaded::Store)? else {
        return invalid(format!("no request {id} in the store"));
    };
    let req = match queue::parse(&bytes) {
        Ok(r) => r,
        Err(why) => return invalid(format!("request {id} is garbled: {why}")),
    };
    if req.id != id {
        return invalid(format!("request {id} holds the id {:?}", req.id));
    }
    Ok(req)
}

/// Ends request `id` refused with `why` (when `id` is a request id at all), says so, and
/// returns [`exit::REFUSED`].
pub fn refuse(store: Option<&dyn Store>, id: &str, host: &str, why: &str) -> i32 {
    tracing::error!(target: NOTICE, "request {id} refused: {why}");
    if let Some(s) = store.filter(|_| check_request_id(id)) {
        let st = RequestState {
            host: Some(host.to_string()),
            reason: Some(why.to_string()),
            ..RequestState::new(id, Phase::Refused)
        };
        if let Err(e) = queue::finish(s, &st) {
            tracing::warn!("state of request {id} not written: {e}");
        }
    }
    exit::REFUSED
}

impl FarmRun {
    /// Stamps the run record with the request it serves (or attempt 1 for a scheduled
    /// run that holds its slot's claim).
    pub fn stamp(&self, rec: &mut RunRecord) {
        match &self.request {
            Some(r) => {
                rec.request = Some(r.id.clone());
                rec.attempt = Some(r.attempt);
                rec.requested_by = Some(r.requested_by.clone());
                rec.requested_at = Some(r.requested_at);
            }
            None if rec.claimed => rec.attempt = Some(1),
            None => {}
        }
    }

    /// The cancel markers this run obeys: its own, and its request's.
    pub fn cancel_keys(&self, rec: &RunRecord) -> Vec<String> {
        let mut keys = vec![crate::model::keys::cancel(&rec.job, &rec.slot, &rec.id())];
        keys.extend(self.request.as_ref().map(queue::cancel_key));
        keys
    }

    /// Removes the cancel markers of a run that obeyed one (they served their purpose).
    pub fn forget_cancel(&self, store: &dyn Store, rec: &RunRecord) {
        for k in self.cancel_keys(rec) {
            if let Err(e) = store.delete(&k) {
                tracing::debug!("cancel marker {k} not removed (pruning will): {e}");
            }
        }
    }

    /// The slot is claimed by another run: 0 for a scheduled run (the funnel did its
    /// job), refused for a request.
    pub fn claimed_elsewhere(&self, store: Option<&dyn Store>, me: &str, holder: &str) -> i32 {
        match &self.request {
            None => exit::OK,
            Some(r) => refuse(
                store,
                &r.id,
                me,
                &format!("slot already claimed by {holder}"),
            ),
        }
    }

    /// Writes the request's `running` state (host and run key).
    pub fn running(&self, store: Option<&dyn Store>, rec: &RunRecord) {
        let (Some(r), Some(s)) = (&self.request, store) else {
            return;
        };
        let st = RequestState {
            host: Some(rec.host.clone()),
            run: Some(rec.key()),
            ..RequestState::new(&r.id, Phase::Running)
        };
        if let Err(e) = queue::set_state(s, &st) {
            tracing::warn!("state of request {} not written: {e}", r.id);
        }
    }

    /// The run ended as `rec` says: ends the request with the same outcome, and queues
    /// the next attempt when a failed one may be retried.
    pub fn ended(&self, store: Option<&dyn Store>, rec: &RunRecord, who: &str) {
        let Some(s) = store else { return };
        if let Some(r) = &self.request {
            let phase = match rec.status {
                Status::Succeeded => Phase::Succeeded,
                Status::Skipped => Phase::Skipped,
                Status::Cancelled => Phase::Cancelled,
                _ => Phase::Failed,
            };
            let st = RequestState {
                host: Some(rec.host.clone()),
                run: Some(rec.key()),
                exit_code: rec.exit_code,
                reason: rec.reason.clone(),
                ..RequestState::new(&r.id, phase)
            };
            // The request's outcome is what its requester waits for: a store failing
            // over (an etcd election) is waited out a few seconds.
            let mut pause = Duration::from_millis(500);
            let mut written = queue::finish(s, &st);
            while written.is_err() && pause <= ENDED_PATIENCE {
                std::thread::sleep(pause);
                pause *= 2;
                written = queue::finish(s, &st);
            }
            if let Err(e) = written {
                tracing::warn!("state of request {} not written: {e}", r.id);
            }
        }
        if rec.status == Status::Failed {
            self.retry(s, rec, who);
        }
    }

    /// Queues attempt a+1 of a failed attempt a (a scheduled run that held its claim is
    /// attempt 1; an unclaimed manual run is not retried: nothing names its slot).
    fn retry(&self, store: &dyn Store, rec: &RunRecord, who: &str) {
        let Some(failed) = rec.attempt else { return };
        let Some(wait) = self.retry.wait(failed) else {
            return;
        };
        let now = Utc::now();
        let req = match &self.request {
            Some(r) => r.retry(failed + 1, who, now, wait),
            None => Request::new(&rec.job, &rec.slot, Kind::Retry, who, now).retry(
                failed + 1,
                who,
                now,
                wait,
            ),
        };
        let what = format!(
            "retry (attempt {}) of {} slot {}",
            req.attempt, rec.job, rec.slot
        );
        match queue::submit(store, &req) {
            Ok(Submitted::Queued) => tracing::warn!(
                target: NOTICE,
                "{what} queued as request {} in {}",
                req.id,
                crate::util::duration::format(wait)
            ),
            Ok(Submitted::AttemptTaken(other)) => {
                tracing::info!("{what} already queued as request {other}")
            }
            Err(e) => tracing::warn!("{what} not queued: {e}"),
        }
    }
}

/// Queues a scheduled slot the guard declined here as attempt 1, kind rescue, for any
/// worker with room to run before `slot + within`. Only the first decliner's submit
/// wins (the attempt reservation); the others' is a debug message.
pub fn rescue(store: &Arc<dyn Store>, job: &str, slot: Slot, within: Duration, who: &str) {
    let now = Utc::now();
    let deadline = slot.time() + chrono::TimeDelta::from_std(within).unwrap_or_default();
    if within.is_zero() || deadline <= now {
        return;
    }
    let req = Request {
        deadline: Some(deadline),
        ..Request::new(job, &slot.key(), Kind::Rescue, who, now)
    };
    match queue::submit(&**store, &req) {
        Ok(Submitted::Queued) => tracing::warn!(
            target: NOTICE,
            "{job} slot {slot}: queued as request {} for a worker with room (rescue, until {})",
            req.id,
            deadline.to_rfc3339()
        ),
        Ok(Submitted::AttemptTaken(other)) => {
            tracing::debug!("{job} slot {slot}: another decliner queued its rescue ({other})")
        }
        Err(e) => tracing::warn!("{job} slot {slot}: rescue not queued: {e}"),
    }
}
