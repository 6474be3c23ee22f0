//! Run records in the store: written by the funnel as a run starts and ends (and for a
//! dropped slot when pruning), read by backfill and the status views. The record type is
//! [`crate::model::record::RunRecord`]; its keys are in [`crate::model::keys`]:
//! `runs/<job>/<slot>/<run id>` for the record, `tails/<job>/<slot>/<run id>` for the
//! last 64 KiB of the run's output, kept apart so listing history never reads output.
//! Both live for `history.retention` (default 30 days).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::model::keys;
use crate::model::record::{RunRecord, Status, TAIL_BYTES};
use crate::model::slot::Slot;
use crate::store::{Store, StoreError};

/// Writes (or replaces) a record, kept for `retention`.
pub fn write(store: &dyn Store, rec: &RunRecord, retention: Duration) -> Result<(), StoreError> {
    let body = serde_json::to_vec(rec).expect("a record always serialises");
    store.put(&rec.key(), &body, Some(retention))
}

/// Writes the run's output tail (only its last [`TAIL_BYTES`] are kept).
pub fn write_tail(
    store: &dyn Store,
    rec: &RunRecord,
    tail: &[u8],
    retention: Duration,
) -> Result<(), StoreError> {
    let start = tail.len().saturating_sub(TAIL_BYTES);
    store.put(&rec.tail_key(), &tail[start..], Some(retention))
}

/// Reads a run's output tail.
pub fn read_tail(store: &dyn Store, rec: &RunRecord) -> Result<Option<Vec<u8>>, StoreError> {
    store.get(&rec.tail_key())
}

/// Every record under `prefix` (see [`keys::job_prefix`], [`keys::slot_runs`]);
/// unreadable ones are skipped (and counted in the second value) rather than hiding the
/// rest.
pub fn list(store: &dyn Store, prefix: &str) -> Result<(Vec<RunRecord>, usize), StoreError> {
    Ok(parse(store.list(prefix)?))
}

/// The entries under `top` (one of [`keys::JOB_TOPS`] or [`keys::HEARTBEATS`]) of `job`
/// (or of every job) whose slot is `since` or later, reading nothing older.
pub fn slot_range(
    store: &dyn Store,
    top: &str,
    job: Option<&str>,
    since: Slot,
) -> Result<Vec<crate::store::Entry>, StoreError> {
    let depth = if job.is_some() { 0 } else { 1 };
    let from = keys::segment(&since.key());
    store.list_range(&keys::job_prefix(top, job), depth, &from)
}

/// The newest slot under `top` of `job` (one directory or key read), if any.
pub fn newest_slot(store: &dyn Store, top: &str, job: &str) -> Result<Option<Slot>, StoreError> {
    let prefix = keys::job_prefix(top, Some(job));
    if let Some(s) = store.last_child(&prefix)?.and_then(|s| Slot::from_key(&s)) {
        return Ok(Some(s));
    }
    // Something that is not a slot sorts last: look at every child.
    Ok(store
        .children(&prefix)?
        .iter()
        .filter_map(|s| Slot::from_key(s))
        .max())
}

/// Records from entries (a listing of run records); unreadable ones skipped and counted.
pub fn parse(entries: Vec<crate::store::Entry>) -> (Vec<RunRecord>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for e in entries {
        match serde_json::from_slice::<RunRecord>(&e.value) {
            Ok(r) => out.push(r),
            Err(_) => bad += 1,
        }
    }
    (out, bad)
}

/// Whether the slot has a succeeded run (backfill's test when no output pattern is given).
pub fn succeeded(store: &dyn Store, job: &str, slot: Slot) -> Result<bool, StoreError> {
    let (recs, _) = list(store, &keys::slot_runs(job, slot))?;
    Ok(recs.iter().any(|r| r.status == Status::Succeeded))
}

/// One run's records as it goes: the `running` record is written beside the job's start
/// (in the background, never delaying it); [`Recorder::save`] waits for it before writing
/// the final one, so the final record is never overwritten by the older state. Store
/// failures are warnings: a record never stops a run.
pub struct Recorder {
    store: Option<Arc<dyn Store>>,
    retention: Duration,
    running: Option<JoinHandle<Result<(), StoreError>>>,
}

impl Recorder {
    /// Records into `store` (none: records are not kept), each kept for `retention`.
    pub fn new(store: Option<Arc<dyn Store>>, retention: Duration) -> Recorder {
        Recorder {
            store,
            retention,
            running: None,
        }
    }

    /// Starts writing the `running` record in the background.
    pub fn running(&mut self, rec: &RunRecord) {
        self.running = self.store.as_ref().map(|s| {
            let (s, r, ret) = (s.clone(), rec.clone(), self.retention);
            std::thread::spawn(move || write(&*s, &r, ret))
        });
    }

    /// Writes the final record (and, before it, the output tail, if any) once the
    /// running record is written: whoever sees the run ended finds its output.
    pub fn save(mut self, rec: &RunRecord, tail: Option<&[u8]>) {
        match self.running.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => tracing::warn!(
                "running record of {} slot {} not written: {e}",
                rec.job,
                shown(rec)
            ),
            Some(Err(_)) => tracing::warn!("writing the running record panicked"),
            _ => {}
        }
        let Some(s) = &self.store else { return };
        let ret = self.retention;
        let wrote_tail = tail.map_or(Ok(()), |t| write_tail(&**s, rec, t, ret));
        // The record is written even when the tail could not be.
        let r = write(&**s, rec, ret).and(wrote_tail);
        if let Err(e) = r {
            tracing::warn!(
                "run record of {} slot {} not written: {e}",
                rec.job,
                shown(rec)
            );
        }
    }
}

/// The record's slot as people read it (local time).
fn shown(rec: &RunRecord) -> String {
    rec.slot().map_or(rec.slot.clone(), |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dir::DirStore;
    use chrono::Utc;

    pub(crate) fn sample(job: &str, slot: Slot, host: &str) -> RunRecord {
        RunRecord {
            host: host.into(),
            pid: 42,
            user: "u".into(),
            claimed: true,
            runner: "shell".into(),
            artifact: "/x.jar".into(),
            args: vec!["echo".into(), "hi there".into()],
            start: Some(Utc::now()),
            ..RunRecord::new(job, &slot.key(), Status::Running)
        }
    }

    #[test]
    fn round_trip_and_tail_cap() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path());
        s.init().unwrap();
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        let mut r = sample("shell:job/x", slot, "w1.example");
        write(&s, &r, Duration::from_secs(60)).unwrap();
        r.status = Status::Succeeded;
        r.exit_code = Some(0);
        write(&s, &r, Duration::from_secs(60)).unwrap();
        let big = vec![b'x'; TAIL_BYTES + 10];
        write_tail(&s, &r, &big, Duration::from_secs(60)).unwrap();
        let (all, bad) = list(&s, &keys::job_prefix(keys::RUNS, Some("shell:job/x"))).unwrap();
        assert_eq!((all.len(), bad), (1, 0));
        assert_eq!(all[0], r);
        assert_eq!(read_tail(&s, &r).unwrap().unwrap().len(), TAIL_BYTES);
        assert!(succeeded(&s, "shell:job/x", slot).unwrap());
        assert!(!succeeded(&s, "shell:job/x", slot.offset_secs(60)).unwrap());
    }
}
