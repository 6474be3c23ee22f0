//! Queueing runs of a published job: `greasedispatch JOB [--slot TIME | --backfill
//! WINDOW [--every STEP]] [--rerun]`. A request names (job, slot, attempt), never a
//! command (the caller found the job with [`crate::farm::published::find`]).
//!
//! - One slot (the current minute by default): refused as a duplicate when the slot has
//!   a queued or in-flight request, a live claim, a running run, or a run that ended
//!   within `funnel.retention` ([`existing`]), unless `--rerun`.
//! - The attempt is the next one: max(attempts reserved, 1 if the slot has a claim or a
//!   run record) + 1 ([`next_attempt`]); attempt 1 is the slot's first run and takes its
//!   funnel claim where it runs.
//! - A backfill queues the window's slots (as greaserun's `--backfill`: ending at the
//!   slot, `--every` 1h for an hour window, else 1d) that have no succeeded run record
//!   and nothing queued or running, oldest first, as one batch of which at most `limit`
//!   run at once farm-wide. With `--rerun`, every slot of the window.

use chrono::{DateTime, Utc};

use crate::arbitration::{claim, queue, records};
use crate::config::Config;
use crate::farm::error::FarmError;
use crate::model::funnel::{Beat, ClaimInfo, alive};
use crate::model::keys;
use crate::model::record::Status;
use crate::model::request::{Kind, Request, request_id};
use crate::model::slot::{self, Period, Slot};
use crate::store::{Store, StoreError};

/// What to queue, validated.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    /// `--slot`: the slot (the last of a backfill window). Default: the minute of `now`.
    pub slot: Option<Slot>,
    /// `--backfill`: the window.
    pub backfill: Option<Period>,
    /// `--every`: the step between backfill slots.
    pub every: Option<Period>,
    /// `--rerun`: queue a new attempt even where one exists.
    pub rerun: bool,
    /// `--limit`: at most this many of a backfill's requests run at once.
    pub limit: u32,
    /// `user@host` of the submitter.
    pub requested_by: String,
    pub now: DateTime<Utc>,
}

/// What [`submit`] did.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// The requests queued, oldest slot first.
    pub requests: Vec<Request>,
    /// The backfill batch (the first request's id), if a backfill queued any.
    pub batch: Option<String>,
    /// Slots of a backfill window not queued, and why (`succeeded`, or what exists).
    pub left: Vec<(Slot, String)>,
}

/// Something that already exists for (job, slot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    /// What it is, e.g. `has request 2026...-0000abcd (attempt 1) queued`.
    pub what: String,
    /// Whether it has ended (a finished run) rather than being queued or running.
    pub ended: bool,
}

/// Queues `job` per `opts`.
pub fn submit(
    store: &dyn Store,
    cfg: &Config,
    job: &str,
    opts: &SubmitOptions,
) -> Result<Submission, FarmError> {
    let last = opts.slot.unwrap_or_else(|| Slot::at(opts.now));
    // Ids of one submission count up from a random base, so they sort oldest slot first.
    let base = crate::util::random::u64() as u32 & 0x7fff_ffff;
    let Some(window) = opts.backfill else {
        if !opts.rerun
            && let Some(e) = existing(store, cfg, job, last, opts.now)?
        {
            return Err(duplicate(job, last, e.what));
        }
        let req = queue_one(store, job, last, opts, Kind::Demand, None, (base, 0))?;
        return Ok(Submission {
            requests: vec![req],
            ..Submission::default()
        });
    };
    let slots = slot::backfill(last, window, opts.every).map_err(|(every, window)| {
        FarmError::Usage(format!(
            "--every {every} is longer than --backfill {window}"
        ))
    })?;
    let mut out = Submission::default();
    for (i, s) in slots.into_iter().enumerate() {
        if !opts.rerun {
            if records::succeeded(store, job, s)? {
                out.left.push((s, "succeeded".into()));
                continue;
            }
            if let Some(e) = existing(store, cfg, job, s, opts.now)?
                && !e.ended
            {
                out.left.push((s, e.what));
                continue;
            }
        }
        match queue_one(
            store,
            job,
            s,
            opts,
            Kind::Backfill,
            out.batch.clone(),
            (base, i),
        ) {
            Ok(req) => {
                out.batch.get_or_insert_with(|| req.id.clone());
                out.requests.push(req);
            }
            Err(FarmError::Duplicate { what, .. }) => out.left.push((s, what)),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn duplicate(job: &str, slot: Slot, what: String) -> FarmError {
    FarmError::Duplicate {
        job: job.to_string(),
        slot: slot.to_string(),
        what,
    }
}

/// Submits the next attempt of (job, slot), with id `request_id(now, base + seq)`. Another
/// submitter reserving the same attempt meanwhile is a duplicate, or with `--rerun`,
/// the attempt after it.
fn queue_one(
    store: &dyn Store,
    job: &str,
    slot: Slot,
    opts: &SubmitOptions,
    kind: Kind,
    batch: Option<String>,
    (base, seq): (u32, usize),
) -> Result<Request, FarmError> {
    let id = request_id(opts.now, base.wrapping_add(seq as u32));
    for _ in 0..8 {
        let req = Request {
            id: id.clone(),
            job: job.to_string(),
            slot: slot.key(),
            attempt: next_attempt(store, job, slot)?,
            kind,
            requested_by: opts.requested_by.clone(),
            requested_at: opts.now,
            not_before: None,
            deadline: None,
            limit: (kind == Kind::Backfill).then_some(opts.limit),
            batch: if kind == Kind::Backfill {
                Some(batch.clone().unwrap_or_else(|| id.clone()))
            } else {
                None
            },
        };
        match queue::submit(store, &req)? {
            queue::Submitted::Queued => return Ok(req),
            queue::Submitted::AttemptTaken(other) if !opts.rerun => {
                return Err(duplicate(
                    job,
                    slot,
                    format!(
                        "was just queued as request {other} (attempt {})",
                        req.attempt
                    ),
                ));
            }
            queue::Submitted::AttemptTaken(_) => {}
        }
    }
    Err(duplicate(
        job,
        slot,
        "has attempts being queued by others as fast as we try".into(),
    ))
}

/// The next attempt of (job, slot): max(attempts reserved, 1 if the slot has a claim
/// or a run record other than a dropped one) + 1.
pub fn next_attempt(store: &dyn Store, job: &str, slot: Slot) -> Result<u32, StoreError> {
    let reserved = queue::attempts(store, job, &slot.key())?
        .last()
        .copied()
        .unwrap_or(0);
    let ran = store.get(&keys::claim(job, slot))?.is_some()
        || records::list(store, &keys::slot_runs(job, slot))?
            .0
            .iter()
            .any(|r| !matches!(r.status, Status::Dropped | Status::Declined));
    Ok(reserved.max(u32::from(ran)) + 1)
}

/// What already exists for (job, slot) that a request would duplicate, the first found:
/// a request queued, taken or running; a run whose heartbeat is fresh; a run that ended
/// within `funnel.retention` of `now`; a claim whose winner is alive.
pub fn existing(
    store: &dyn Store,
    cfg: &Config,
    job: &str,
    slot: Slot,
    now: DateTime<Utc>,
) -> Result<Option<Existing>, StoreError> {
    let key = slot.key();
    for n in queue::attempts(store, job, &key)? {
        let Some(id) = store.get(&keys::attempt(job, &key, n))? else {
            continue;
        };
        let id = String::from_utf8_lossy(&id).into_owned();
        if let Some(st) = queue::state(store, &id)?
            && !st.phase.is_final()
        {
            let on = st.host.map(|h| format!(" on {h}")).unwrap_or_default();
            return Ok(Some(Existing {
                what: format!("has request {id} (attempt {n}) {}{on}", st.phase),
                ended: false,
            }));
        }
    }
    let retention =
        chrono::TimeDelta::from_std(cfg.funnel.retention).unwrap_or(chrono::TimeDelta::MAX);
    let (recs, _) = records::list(store, &keys::slot_runs(job, slot))?;
    for r in &recs {
        let run = format!("run {}", r.id());
        match r.status {
            Status::Running => {
                let beat = store
                    .get(&keys::heartbeat(job, slot, &r.id()))?
                    .and_then(|b| serde_json::from_slice::<Beat>(&b).ok());
                if alive(
                    beat.map(|b| b.at).or(r.start),
                    cfg.funnel.abandon_after,
                    now,
                ) {
                    return Ok(Some(Existing {
                        what: format!("is running on {} ({run})", r.host),
                        ended: false,
                    }));
                }
            }
            Status::Succeeded | Status::Failed | Status::Skipped | Status::Cancelled => {
                let at = r.end.or(r.start).unwrap_or(now);
                if now.signed_duration_since(at) <= retention {
                    let code = r
                        .exit_code
                        .map(|c| format!(", exit {c}"))
                        .unwrap_or_default();
                    return Ok(Some(Existing {
                        what: format!(
                            "already ran on {}: {} at {}{code} ({run}, within funnel.retention {})",
                            r.host,
                            r.status,
                            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            crate::util::duration::format(cfg.funnel.retention),
                        ),
                        ended: true,
                    }));
                }
            }
            Status::Abandoned | Status::Dropped | Status::Declined => {}
        }
    }
    if let Some(body) = store.get(&keys::claim(job, slot))?
        && let Ok(c) = serde_json::from_slice::<ClaimInfo>(&body)
        && !recs
            .iter()
            .any(|r| r.id() == c.run_id() && r.status != Status::Running)
        && claim::abandoned(store, &cfg.funnel, &c, now)?.is_none()
    {
        return Ok(Some(Existing {
            what: format!(
                "is claimed by {} (run {}), which is running it",
                c.host,
                c.run_id()
            ),
            ended: false,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::RunRecord;

    fn opts(slot: &str) -> SubmitOptions {
        SubmitOptions {
            slot: Some(Slot::parse(slot).unwrap()),
            backfill: None,
            every: None,
            rerun: false,
            limit: 1,
            requested_by: "u@h".into(),
            now: Utc::now(),
        }
    }

    #[test]
    fn duplicates_are_refused_and_reruns_count_attempts() {
        let (_d, store, cfg) = crate::arbitration::claim::tests::setup();
        let o = opts("2026-11-23T03:00Z");
        let first = submit(&*store, &cfg, "j", &o).unwrap().requests;
        assert_eq!((first.len(), first[0].attempt), (1, 1));
        let e = submit(&*store, &cfg, "j", &o).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::REFUSED);
        assert!(e.to_string().contains(&first[0].id), "{e}");
        let again = submit(
            &*store,
            &cfg,
            "j",
            &SubmitOptions {
                rerun: true,
                ..o.clone()
            },
        );
        assert_eq!(again.unwrap().requests[0].attempt, 2);
        // A slot that ran long ago (no request) is not a duplicate; its next attempt is 2.
        let old = Slot::parse("2026-11-20T03:00Z").unwrap();
        let rec = RunRecord {
            host: "w1".into(),
            pid: 9,
            end: Some(Utc::now() - chrono::TimeDelta::days(2)),
            ..RunRecord::new("j", &old.key(), Status::Failed)
        };
        records::write(&*store, &rec, cfg.history.retention).unwrap();
        let r = submit(&*store, &cfg, "j", &opts("2026-11-20T03:00Z")).unwrap();
        assert_eq!(r.requests[0].attempt, 2);
    }

    #[test]
    fn backfill_queues_the_missing_slots_oldest_first_in_one_batch() {
        let (_d, store, cfg) = crate::arbitration::claim::tests::setup();
        let ok = Slot::parse("2026-11-22T03:00Z").unwrap();
        let rec = RunRecord {
            host: "w1".into(),
            end: Some(Utc::now()),
            ..RunRecord::new("j", &ok.key(), Status::Succeeded)
        };
        records::write(&*store, &rec, cfg.history.retention).unwrap();
        let o = SubmitOptions {
            backfill: Some(Period::Days(4)),
            limit: 2,
            ..opts("2026-11-23T03:00Z")
        };
        let s = submit(&*store, &cfg, "j", &o).unwrap();
        let slots: Vec<&str> = s.requests.iter().map(|r| r.slot.as_str()).collect();
        assert_eq!(
            slots,
            [
                "2026-11-20T03:00Z",
                "2026-11-21T03:00Z",
                "2026-11-23T03:00Z"
            ]
        );
        let batch = s.batch.clone().unwrap();
        assert_eq!(batch, s.requests[0].id);
        assert!(s.requests.iter().all(|r| r.batch.as_deref() == Some(&batch)
            && r.limit == Some(2)
            && r.kind == Kind::Backfill));
        assert!(s.requests.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(s.left.len(), 1);
        let (p, _) = queue::pending(&*store).unwrap();
        assert_eq!(p.len(), 3);
        // Again: everything is queued or succeeded now.
        assert!(submit(&*store, &cfg, "j", &o).unwrap().requests.is_empty());
    }
}
