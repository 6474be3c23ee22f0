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
use crate::util::parallel::read_each;

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
/// newest slot, and in it the run [`pick`] chooses, with its status as of `now` (the
/// jobs read on a few threads, [`read_each`]).
pub fn latest(
    store: &dyn Store,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<RunRecord>, StoreError> {
    let mut jobs = BTreeSet::new();
    for top in TOPS {
        jobs.extend(store.children(top)?);
    }
    let jobs: Vec<String> = jobs.iter().map(|s| keys::unsegment(s)).collect();
    let mut out: Vec<RunRecord> = read_each(&jobs, |job| latest_of(store, cfg, job, now))?
        .into_iter()
        .flatten()
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitration::claim::decline;
    use crate::debugging::runs::runs;
    use crate::model::funnel::{Beat, Claimant};
    use crate::model::record::Status;
    use crate::store::dir::DirStore;
    use std::time::Duration;

    /// One slot's keys as the funnel leaves them: claim (by host `c`, with a beat `at`),
    /// records (`(host, claimed, status)`), declines (by host).
    struct Case {
        claim: Option<(&'static str, DateTime<Utc>)>,
        records: &'static [(&'static str, bool, Status)],
        declines: &'static [&'static str],
    }

    #[test]
    fn reading_one_slot_for_latest_shows_what_reading_everything_shows() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path());
        s.init().unwrap();
        let mut cfg = Config::default();
        cfg.funnel.abandon_after = Duration::from_secs(60);
        let now = Utc::now();
        let (fresh, stale) = (now, now - chrono::TimeDelta::seconds(600));
        let who = |h: &str| Claimant {
            host: h.into(),
            pid: 9,
            user: "u".into(),
            request: None,
        };
        let cases = [
            Case {
                claim: Some(("a", fresh)),
                records: &[("a", true, Status::Succeeded)],
                declines: &[],
            },
            Case {
                claim: Some(("a", fresh)),
                records: &[("a", true, Status::Running)],
                declines: &[],
            },
            Case {
                claim: Some(("a", stale)),
                records: &[("a", true, Status::Running)],
                declines: &["b"],
            },
            Case {
                claim: Some(("a", fresh)),
                records: &[],
                declines: &["b"],
            },
            Case {
                claim: Some(("a", stale)),
                records: &[],
                declines: &[],
            },
            Case {
                claim: None,
                records: &[],
                declines: &["b", "c"],
            },
            Case {
                claim: None,
                records: &[("m", false, Status::Failed)],
                declines: &["b"],
            },
            Case {
                claim: None,
                records: &[("m", false, Status::Running)],
                declines: &[],
            },
            Case {
                claim: Some(("a", fresh)),
                records: &[("m", false, Status::Succeeded), ("a", true, Status::Failed)],
                declines: &[],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let job = format!("j{i}");
            let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
            if let Some((host, at)) = case.claim {
                let c = who(host).claim(&job, slot, stale);
                s.put(
                    &keys::claim(&job, slot),
                    &serde_json::to_vec(&c).unwrap(),
                    None,
                )
                .unwrap();
                let beat = Beat {
                    host: host.into(),
                    pid: 9,
                    at,
                };
                let key = keys::heartbeat(&job, slot, &c.run_id());
                s.put(&key, &serde_json::to_vec(&beat).unwrap(), None)
                    .unwrap();
            }
            for (host, claimed, status) in case.records {
                let r = RunRecord {
                    host: (*host).into(),
                    pid: 9,
                    claimed: *claimed,
                    start: Some(stale),
                    ..RunRecord::new(&job, &slot.key(), *status)
                };
                records::write(&s, &r, Duration::from_secs(3600)).unwrap();
            }
            for host in case.declines {
                decline(&s, &cfg.funnel, &job, slot, &who(host), "load").unwrap();
            }
            let all = runs(&s, &cfg, Some(&job), None, now).unwrap();
            let one = runs_in(&s, &cfg, Some(&job), Slots::At(slot), now).unwrap();
            assert_eq!(one, all, "case {i}");
            let shown = latest_of(&s, &cfg, &job, now).unwrap();
            assert_eq!(shown, pick(&all.iter().collect::<Vec<_>>()), "case {i}");
        }
    }
}
