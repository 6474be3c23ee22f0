//! The status views over the store: `greasestatus runs` (history, newest first, with each
//! run's status; shown by [`crate::debugging::table`]) and `greasestatus log` (one run's
//! output, wherever it ran: [`crate::debugging::logview`]). The binary only parses
//! arguments and prints what these functions return.
//!
//! A run's shown status combines its record with the funnel's keys: a `running` record
//! (or a claim with no record yet) whose heartbeat is older than `funnel.abandon_after`
//! is `abandoned`; a slot with declines and no claim is `declined`, then `dropped` once
//! `funnel.retention` has passed without a claim.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::arbitration::records;
use crate::config::Config;
use crate::model::funnel::{Beat, ClaimInfo, Decline, alive, unclaimed};
use crate::model::keys;
use crate::model::record::{RunRecord, Status};
use crate::model::slot::Slot;
use crate::store::{Store, StoreError, segment};

pub use crate::debugging::latest::{latest, latest_of};
pub use crate::debugging::logview::{LogSource, LogView, log};
pub use crate::debugging::table::{json, table};

/// Why a view could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no runs of job {job:?}{at} in the store (`greasestatus runs` lists jobs and slots)")]
    NoRun { job: String, at: String },
    #[error("{query:?} matches several jobs: {candidates} (give more of the name)")]
    Ambiguous { query: String, candidates: String },
    #[error("no job in the store matches {query:?} ({known})")]
    UnknownJob { query: String, known: String },
    #[error("invalid --since {0:?}: use a time (2026-11-23T03:00) or an age (90m, 2d)")]
    Since(String),
}

impl ViewError {
    /// The documented exit code: 1 for a job or run the store does not know, 2 for a bad
    /// `--since`, the store's own code otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ViewError::Store(e) => e.exit_code(),
            ViewError::NoRun { .. }
            | ViewError::Ambiguous { .. }
            | ViewError::UnknownJob { .. } => crate::exit::FAILURE,
            ViewError::Since(_) => crate::exit::USAGE,
        }
    }
}

/// Reads `--since`: a slot time, or an age before `now` (`90m`, `2h`, `7d`).
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<Slot, ViewError> {
    if let Ok(s) = Slot::parse(text) {
        return Ok(s);
    }
    let age = crate::util::duration::parse(text).map_err(|_| ViewError::Since(text.into()))?;
    let age = chrono::TimeDelta::from_std(age).map_err(|_| ViewError::Since(text.into()))?;
    Ok(Slot::at(now - age))
}

/// The job a user means: `query` itself when the store has runs, claims or declines of
/// that name, else the one known job whose name contains `query` (so `hello-job` finds
/// `java:com.example:hello-job:date-1d~47fa4f31`). No match is [`ViewError::UnknownJob`],
/// naming the jobs the store knows;
/// several are [`ViewError::Ambiguous`], listing them.
pub fn find_job(store: &dyn Store, query: &str) -> Result<String, ViewError> {
    // One level each (the job's slots, the jobs), never the records below.
    for top in keys::JOB_TOPS {
        if !store
            .children(&keys::job_prefix(top, Some(query)))?
            .is_empty()
        {
            return Ok(query.to_string());
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for top in keys::JOB_TOPS {
        names.extend(store.children(top)?.iter().map(|s| keys::unsegment(s)));
    }
    let hits: Vec<&String> = names.iter().filter(|n| n.contains(query)).collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(ViewError::UnknownJob {
            query: query.to_string(),
            known: match names.len() {
                0 => "the store has no runs, claims or declines yet".into(),
                n if n <= 10 => format!("known: {}", join(names.iter())),
                n => format!("known: {} and {} more", join(names.iter().take(10)), n - 10),
            },
        }),
        many => Err(ViewError::Ambiguous {
            query: query.to_string(),
            candidates: many
                .iter()
                .map(|s| crate::util::escape::escape(s))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Which slots [`runs_in`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slots {
    /// Every slot kept.
    All,
    /// This slot and the later ones (`--since`).
    Since(Slot),
    /// This slot only (a job's newest, for `--latest`): read by its keys, no listing.
    At(Slot),
}

/// Every run (and every slot no run took) of `job`, or of all jobs, from slot `since`
/// on, newest first, each with its status as of `now`.
pub fn runs(
    store: &dyn Store,
    cfg: &Config,
    job: Option<&str>,
    since: Option<Slot>,
    now: DateTime<Utc>,
) -> Result<Vec<RunRecord>, StoreError> {
    runs_in(store, cfg, job, since.map_or(Slots::All, Slots::Since), now)
}

/// [`runs`] over the slots `slots` says, reading nothing else: with a slot, for one job
/// one range (or one slot's keys) per top, for every job one range per job. For one
/// job's one slot (`--latest`) only what can change the answer is read: the slot's
/// claim when no record holds it, its declines when nothing ran or claimed it, its
/// heartbeats when a run may be alive.
pub fn runs_in(
    store: &dyn Store,
    cfg: &Config,
    job: Option<&str>,
    slots: Slots,
    now: DateTime<Utc>,
) -> Result<Vec<RunRecord>, StoreError> {
    let sub = |top: &str| keys::job_prefix(top, job);
    let keep = |slot: &str| match (slots, Slot::from_key(slot)) {
        (Slots::Since(since), Some(s)) => s >= since,
        (Slots::At(at), Some(s)) => s == at,
        (Slots::All, _) => true,
        (_, None) => false,
    };
    let one_slot = matches!((slots, job), (Slots::At(_), Some(_)));
    let read = |top: &str| match (slots, job) {
        (Slots::At(at), Some(_)) => store.list(&format!("{}/{}", sub(top), segment(&at.key()))),
        (Slots::Since(s) | Slots::At(s), _) => records::slot_range(store, top, job, s),
        (Slots::All, _) => store.list(&sub(top)),
    };

    let mut by_slot: BTreeMap<(String, String), Vec<RunRecord>> = BTreeMap::new();
    let (recs, _) = records::parse(read(keys::RUNS)?);
    for r in recs.into_iter().filter(|r| keep(&r.slot)) {
        by_slot
            .entry((r.job.clone(), r.slot.clone()))
            .or_default()
            .push(r);
    }
    let held = by_slot.values().flatten().any(|r| r.claimed);
    let claims: Vec<ClaimInfo> = if one_slot && held {
        Vec::new()
    } else {
        read(keys::CLAIMS)?
            .iter()
            .filter_map(|e| serde_json::from_slice(&e.value).ok())
            .collect()
    };
    let may_live = by_slot
        .values()
        .flatten()
        .any(|r| r.status == Status::Running);
    let beats: HashMap<String, DateTime<Utc>> = if one_slot && !may_live && claims.is_empty() {
        HashMap::new()
    } else {
        read(keys::HEARTBEATS)?
            .into_iter()
            .filter_map(|e| Some((e.key, serde_json::from_slice::<Beat>(&e.value).ok()?.at)))
            .collect()
    };
    let beat_of = |job: &str, slot: &str, run_id: &str| {
        Slot::from_key(slot).and_then(|s| beats.get(&keys::heartbeat(job, s, run_id)).copied())
    };

    let mut out = Vec::new();
    for mut r in by_slot.values().flatten().cloned() {
        if r.status == Status::Running {
            let last = beat_of(&r.job, &r.slot, &r.id()).or(r.start);
            if !alive(last, cfg.funnel.abandon_after, now) {
                r.status = Status::Abandoned;
            }
        }
        out.push(r);
    }

    let mut claimed: std::collections::HashSet<(String, String)> = Default::default();
    for c in claims {
        let key = (c.job.clone(), c.slot.clone());
        claimed.insert(key.clone());
        let recorded = by_slot
            .get(&key)
            .is_some_and(|rs| rs.iter().any(|r| r.claimed));
        if recorded || !keep(&c.slot) {
            continue;
        }
        // Claimed, but the winner has not written (or never wrote) its record.
        let last = beat_of(&c.job, &c.slot, &c.run_id()).or(Some(c.at));
        let status = if alive(last, cfg.funnel.abandon_after, now) {
            Status::Running
        } else {
            Status::Abandoned
        };
        out.push(c.record(status));
    }

    let mut declined: BTreeMap<(String, String), Vec<Decline>> = BTreeMap::new();
    let unheld = by_slot.is_empty() && claimed.is_empty();
    for e in if one_slot && !unheld {
        Vec::new()
    } else {
        read(keys::DECLINES)?
    } {
        if let Ok(d) = serde_json::from_slice::<Decline>(&e.value) {
            declined
                .entry((d.job.clone(), d.slot.clone()))
                .or_default()
                .push(d);
        }
    }
    for ((job, slot), declines) in declined {
        if claimed.contains(&(job.clone(), slot.clone()))
            || by_slot.contains_key(&(job.clone(), slot.clone()))
            || !keep(&slot)
        {
            continue;
        }
        let Some(s) = Slot::from_key(&slot) else {
            continue;
        };
        out.push(unclaimed(&job, s, declines, cfg.funnel.retention, now));
    }

    out.sort_by(|a, b| {
        b.slot
            .cmp(&a.slot)
            .then_with(|| b.start.cmp(&a.start))
            .then_with(|| a.job.cmp(&b.job))
    });
    Ok(out)
}

/// Job names from the store, control characters escaped, for a message.
fn join<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names
        .map(|s| crate::util::escape::escape(s))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitration::claim::{Claim, claim, decline};
    use crate::model::funnel::Claimant;
    use crate::store::dir::DirStore;
    use std::sync::Arc;
    use std::time::Duration;

    fn me(h: &str) -> Claimant {
        Claimant {
            host: h.into(),
            pid: 9,
            user: "u".into(),
            request: None,
        }
    }

    #[test]
    fn statuses_from_records_claims_and_declines() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path());
        s.init().unwrap();
        let store: Arc<dyn Store> = Arc::new(s);
        let mut cfg = Config::default();
        cfg.funnel.retention = Duration::from_secs(600);
        cfg.funnel.abandon_after = Duration::from_secs(60);
        let s1 = Slot::parse("2026-11-23T03:00Z").unwrap();
        let s2 = s1.offset_secs(60);
        let s3 = s1.offset_secs(120);

        // s1: claimed and finished.
        let Claim::Won(hb) = claim(&store, &cfg.funnel, "j", s1, &me("a")).unwrap() else {
            panic!()
        };
        drop(hb);
        let r = RunRecord {
            host: "a".into(),
            pid: 9,
            claimed: true,
            exit_code: Some(0),
            ..RunRecord::new("j", &s1.key(), Status::Succeeded)
        };
        records::write(&*store, &r, Duration::from_secs(3600)).unwrap();
        records::write_tail(&*store, &r, b"hello\n", Duration::from_secs(3600)).unwrap();
        // s2: claimed, no record.
        let Claim::Won(hb) = claim(&store, &cfg.funnel, "j", s2, &me("b")).unwrap() else {
            panic!()
        };
        drop(hb);
        // s3: declined by two hosts.
        decline(&*store, &cfg.funnel, "j", s3, &me("c"), "load 3.2 > 2.0").unwrap();
        decline(
            &*store,
            &cfg.funnel,
            "j",
            s3,
            &me("d"),
            "memory 100 MiB < 256 MiB",
        )
        .unwrap();

        let now = Utc::now();
        let v = runs(&*store, &cfg, Some("j"), None, now).unwrap();
        let st: Vec<_> = v.iter().map(|r| (r.slot.clone(), r.status)).collect();
        assert_eq!(
            st,
            [
                (s3.key(), Status::Declined),
                (s2.key(), Status::Running),
                (s1.key(), Status::Succeeded)
            ]
        );
        let later = now + chrono::TimeDelta::seconds(3600);
        let v = runs(&*store, &cfg, None, Some(s2), later).unwrap();
        let st: Vec<_> = v.iter().map(|r| r.status).collect();
        assert_eq!(st, [Status::Dropped, Status::Abandoned]);
        assert!(v[0].reason.as_ref().unwrap().contains("c: load 3.2 > 2.0"));
        assert!(table(&v).contains("dropped"));
        assert!(json(&v).contains("\"abandoned\""));

        let l = log(&*store, &cfg, "j", Some(s1), now).unwrap();
        assert_eq!(l.source, LogSource::Store);
        assert_eq!(l.text, b"hello\n");
        assert!(
            l.header().contains("succeeded on a (pid 9)"),
            "{}",
            l.header()
        );
        let l = log(&*store, &cfg, "j", None, now).unwrap();
        assert_eq!(l.source, LogSource::None); // the latest slot was only declined
        assert!(matches!(
            log(&*store, &cfg, "nope", None, now),
            Err(ViewError::NoRun { .. })
        ));
    }

    #[test]
    fn since_takes_times_and_ages() {
        let now = Utc::now();
        assert_eq!(
            parse_since("2h", now).unwrap(),
            Slot::at(now - chrono::TimeDelta::hours(2))
        );
        assert_eq!(
            parse_since("2026-11-23T03:00Z", now).unwrap().key(),
            "2026-11-23T03:00Z"
        );
        assert!(parse_since("soon", now).is_err());
    }
}
