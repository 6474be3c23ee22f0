//! The latest run of every job (`greasestatus runs --latest`, and `greasestatus log`
//! without `--slot`), read without touching older history: the jobs are the children of
//! `runs/`, `claims/` and `declines/` (one directory or key-range read each), each job's
//! newest slot is the last child of its three prefixes (slot keys sort by time), and only
//! that slot is read, with the statuses [`runs`] gives. No index is kept: the per-job,
//! time-ordered key layout is the index, so writers do nothing extra and an older store
//! needs no migration.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::arbitration::records;
use crate::config::Config;
use crate::debugging::runs::{Slots, runs_in};
use crate::model::keys;
use crate::model::record::RunRecord;
use crate::model::slot::Slot;
use crate::store::{Store, StoreError};

/// The tops a job's slots are found under (attempts only exist beside a claim or run).
const TOPS: [&str; 3] = [keys::RUNS, keys::CLAIMS, keys::DECLINES];

/// The run `greasestatus log` shows among a slot's (or a history's, newest first):
/// one that ran holding the claim, else one with a host (a manual run), else the first
/// (a drop or a decline).
pub fn pick(candidates: &[&RunRecord]) -> Option<RunRecord> {
    candidates
        .iter()
        .find(|r| r.claimed && !r.host.is_empty())
        .or_else(|| candidates.iter().find(|r| !r.host.is_empty()))
        .or_else(|| candidates.first())
        .map(|r| (*r).clone())
}

/// `job`'s newest slot with a run record, a claim or a decline.
pub fn newest_slot(store: &dyn Store, job: &str) -> Result<Option<Slot>, StoreError> {
    let mut newest = None;
    for top in TOPS {
        newest = newest.max(records::newest_slot(store, top, job)?);
    }
    Ok(newest)
}

/// The latest run of every job the store has history of, newest first: each job's
/// newest slot, and in it the run [`pick`] chooses, with its status as of `now`.
pub fn latest(
    store: &dyn Store,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<RunRecord>, StoreError> {
    let mut jobs = BTreeSet::new();
    for top in TOPS {
        jobs.extend(store.children(top)?);
    }
    let mut out = Vec::new();
    for seg in jobs {
        out.extend(latest_of(store, cfg, &keys::unsegment(&seg), now)?);
    }
    out.sort_by(|a, b| b.slot.cmp(&a.slot).then_with(|| a.job.cmp(&b.job)));
    Ok(out)
}

/// The latest run of `job`: in its newest slot, the run [`pick`] chooses.
pub fn latest_of(
    store: &dyn Store,
    cfg: &Config,
    job: &str,
    now: DateTime<Utc>,
) -> Result<Option<RunRecord>, StoreError> {
    let Some(slot) = newest_slot(store, job)? else {
        return Ok(None);
    };
    let all = runs_in(store, cfg, Some(job), Slots::At(slot), now)?;
    let here: Vec<&RunRecord> = all.iter().collect();
    Ok(pick(&here))
}
