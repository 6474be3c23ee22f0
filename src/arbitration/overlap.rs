//! `--concurrency`: the other runs of a job that are alive anywhere in the farm (a
//! heartbeat under `heartbeats/<job>/` fresh within `funnel.abandon_after`, and no final
//! record yet: on the directory store a finished run's heartbeat stays), and asking one
//! to end (its cancel marker, which its heartbeat reads).

use chrono::Utc;

use crate::config::Funnel;
use crate::model::funnel::{Beat, alive};
use crate::model::keys;
use crate::model::record::{RunRecord, Status};
use crate::store::{Store, StoreError};

/// Another run of the job, alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRun {
    /// Its slot, in key form.
    pub slot: String,
    /// `<host>-<pid>`.
    pub run_id: String,
}

impl std::fmt::Display for LiveRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run {} of slot {}", self.run_id, self.slot)
    }
}

/// The runs of `job` alive now, other than run `me` (a run id).
pub fn live_runs(
    store: &dyn Store,
    cfg: &Funnel,
    job: &str,
    me: &str,
) -> Result<Vec<LiveRun>, StoreError> {
    let now = Utc::now();
    let mut out = Vec::new();
    for e in store.list(&keys::job_prefix(keys::HEARTBEATS, Some(job)))? {
        let parts: Vec<String> = e.key.split('/').map(keys::unsegment).collect();
        let [_, _, slot, run_id] = parts.as_slice() else {
            continue;
        };
        let fresh = serde_json::from_slice::<Beat>(&e.value)
            .is_ok_and(|b| alive(Some(b.at), cfg.abandon_after, now));
        if run_id == me || !fresh {
            continue;
        }
        let ended = store
            .get(&keys::run(job, slot, run_id))?
            .and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok())
            .is_some_and(|r| r.status != Status::Running);
        if !ended {
            out.push(LiveRun {
                slot: slot.clone(),
                run_id: run_id.clone(),
            });
        }
    }
    Ok(out)
}

/// Asks `run` of `job` to end: writes its cancel marker with `by` (who asks).
pub fn cancel(store: &dyn Store, job: &str, run: &LiveRun, by: &str) -> Result<(), StoreError> {
    store.put(
        &keys::cancel(job, &run.slot, &run.run_id),
        by.as_bytes(),
        None,
    )
}
