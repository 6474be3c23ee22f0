//! One slot of the pipeline, read top to bottom: claim, heartbeat, the farm-queue stamp
//! on the record, skip if the outputs exist or (`--concurrency forbid`) another run is
//! alive, wait for the inputs, check for a cancel, run the job with its watch (live
//! output, cancel), record, and tell the request (and queue a retry) how it ended.

use chrono::Utc;

use crate::Error;
use crate::arbitration::records::Recorder;
use crate::arbitration::session::{Claimed, Session};
use crate::arbitration::watch::RunWatch;
use crate::exit;
use crate::model::NOTICE;
use crate::model::keys;
use crate::model::record::{RunRecord, Status};
use crate::model::slot::Slot;
use crate::run::{Execute, FarmRun, overlap};

/// One slot: claim, heartbeat, skip if the outputs exist, wait for the inputs, run,
/// record. Returns the slot's exit code; an error is a job that could not start (it is
/// recorded `failed` with the error as its reason).
pub fn run_slot(
    session: &Session,
    slot: Slot,
    job: &mut impl Execute,
    farm: &FarmRun,
) -> Result<i32, Error> {
    let name = session.job();
    let args = session.args(slot);
    let store = session.store().ok();
    let (claimed, heartbeat) = match session.claim(slot) {
        Claimed::Won(hb) => (true, Some(hb)),
        Claimed::Unclaimed => (false, session.heartbeat(slot)),
        Claimed::Elsewhere(c) => {
            let me = session.run_id();
            return Ok(farm.claimed_elsewhere(store.as_deref(), &me, &c.host));
        }
        Claimed::NotHere(code) => return Ok(code),
    };
    // Before the record starts: a replaced run may take a while to end.
    let skip = session
        .outputs_exist(slot)
        .map(|first| format!("outputs exist: {first}"))
        .or_else(|| overlap::step(session, farm));
    let (mut rec, mut recorder) = session.record(slot, args.clone(), claimed);
    farm.stamp(&mut rec);
    let cancel = heartbeat
        .as_ref()
        .map(|hb| hb.watch_cancel(farm.cancel_keys(&rec)));
    let close = |rec: &RunRecord, recorder: Recorder, tail: Option<&[u8]>| {
        recorder.save(rec, tail);
        farm.ended(store.as_deref(), rec, &session.who());
    };
    if let Some(why) = skip {
        rec.status = Status::Skipped;
        rec.end = rec.start;
        rec.reason = Some(why.clone());
        close(&rec, recorder, None);
        tracing::warn!(target: NOTICE, "{name} slot {slot}: skipped, {why}");
        return Ok(exit::OK);
    }

    recorder.running(&rec);
    farm.running(store.as_deref(), &rec);
    let cancelled = || match (&cancel, &store) {
        (Some(c), Some(s)) => c.check(&**s),
        _ => None,
    };
    let waited = session.wait_for_inputs(slot, &|| {
        cancel.as_ref().is_some_and(|c| c.requested().is_some())
    });
    if let Some(who) = cancelled() {
        let why = format!("cancelled by {who} before it started");
        tracing::warn!(target: NOTICE, "not running {name} slot {slot}: {why}");
        rec.finish(Utc::now(), Status::Cancelled, None, None, Some(why));
        close(&rec, recorder, None);
        if let Some(s) = &store {
            farm.forget_cancel(&**s, &rec);
        }
        return Ok(exit::CANCELLED);
    }
    if let Err(why) = waited {
        tracing::error!(target: NOTICE, "not running {name} slot {slot}: {why}");
        rec.finish(
            Utc::now(),
            Status::Failed,
            Some(exit::TEMP_FAIL),
            None,
            Some(why),
        );
        close(&rec, recorder, None);
        return Ok(exit::TEMP_FAIL);
    }

    let retention = session.funnel().retention;
    let live = store
        .clone()
        .map(|s| (s, keys::live(&rec.job, &rec.slot, &rec.id()), retention));
    let mut watch = RunWatch::new(cancel.clone(), live);
    let end = match job.execute(name, slot, args, &mut watch) {
        Ok(end) => end,
        Err(e) => {
            watch.finish();
            rec.finish(Utc::now(), Status::Failed, None, None, Some(e.to_string()));
            close(&rec, recorder, None);
            return Err(e);
        }
    };
    let (status, reason) = if end.cancelled {
        let who = cancel.and_then(|c| c.requested()).unwrap_or_default();
        (Status::Cancelled, Some(format!("cancelled by {who}")))
    } else if end.code == 0 {
        (Status::Succeeded, end.reason)
    } else {
        (Status::Failed, end.reason)
    };
    rec.version = end.version;
    rec.log_path = end.log_path.map(|p| p.display().to_string());
    rec.finish(Utc::now(), status, end.exit_code, end.signal, reason);
    recorder.save(&rec, Some(&end.tail));
    watch.finish();
    farm.ended(store.as_deref(), &rec, &session.who());
    if let (true, Some(s)) = (end.cancelled, &store) {
        farm.forget_cancel(&**s, &rec);
    }
    drop(heartbeat);
    Ok(end.code)
}
