//! Pruning: claims and declines live for `funnel.retention`, records for
//! `history.retention`; whichever command passes by prunes (at most about once a minute
//! per store, see [`maybe_prune`]). Pruning turns an unclaimed, declined slot into a
//! persistent `dropped` record.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::arbitration::records;
use crate::config::Config;
use crate::model::funnel::{Beat, ClaimInfo, Decline, alive, unclaimed};
use crate::model::keys;
use crate::model::record::Status;
use crate::model::slot::Slot;
use crate::store::{Created, Store, StoreError};

/// What a prune removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub claims: usize,
    pub declines: usize,
    pub dropped_recorded: usize,
    pub records: usize,
}

/// Prunes claims and declines older than `funnel.retention` and records older than
/// `history.retention`, at most once per interval per store (min(retention / 4, 1 min)):
/// the first process to create the interval's marker does it. Errors are returned for
/// the caller to report as a warning; pruning never stops a run.
pub fn maybe_prune(store: &dyn Store, cfg: &Config) -> Result<Option<Pruned>, StoreError> {
    let every = (cfg.funnel.retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let bucket = Utc::now().timestamp() as u64 / every.as_secs().max(1);
    let marker = keys::prune_marker(bucket);
    if store.get(&marker)?.is_some() {
        return Ok(None);
    }
    match store.create(&marker, b"", Some(cfg.funnel.retention))? {
        Created::Exists(_) => Ok(None),
        Created::Created => prune(store, cfg, Utc::now()).map(Some),
    }
}

/// Prunes as of `now` (see [`maybe_prune`]). A claim whose run still heartbeats is kept
/// however old, so a long job's slot cannot be claimed twice. A declined slot with no
/// claim and no record becomes a `dropped` record before its declines go.
pub fn prune(store: &dyn Store, cfg: &Config, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
    let f = &cfg.funnel;
    let keep = chrono::TimeDelta::from_std(f.retention).unwrap_or(chrono::TimeDelta::MAX);
    let old = |t: DateTime<Utc>| now.signed_duration_since(t) > keep;
    let mut out = Pruned::default();

    for e in store.list(keys::CLAIMS)? {
        let Ok(c) = serde_json::from_slice::<ClaimInfo>(&e.value) else {
            continue;
        };
        let Some(slot) = Slot::from_key(&c.slot) else {
            continue;
        };
        if !old(c.at) {
            continue;
        }
        let hb = keys::heartbeat(&c.job, slot, &c.run_id());
        let beat = store
            .get(&hb)?
            .and_then(|b| serde_json::from_slice::<Beat>(&b).ok());
        if alive(beat.map(|b| b.at), f.abandon_after, now) {
            continue;
        }
        store.delete(&e.key)?;
        store.delete(&hb)?;
        out.claims += 1;
    }

    let mut groups: std::collections::BTreeMap<(String, String), Vec<(String, Decline)>> =
        Default::default();
    for e in store.list(keys::DECLINES)? {
        if let Ok(d) = serde_json::from_slice::<Decline>(&e.value) {
            groups
                .entry((d.job.clone(), d.slot.clone()))
                .or_default()
                .push((e.key, d));
        }
    }
    for ((job, slot_key), declines) in groups {
        let Some(slot) = Slot::from_key(&slot_key) else {
            continue;
        };
        let rec = unclaimed(
            &job,
            slot,
            declines.iter().map(|(_, d)| d.clone()).collect(),
            f.retention,
            now,
        );
        if rec.status != Status::Dropped {
            continue;
        }
        let claimed = store.get(&keys::claim(&job, slot))?.is_some();
        let (recs, _) = records::list(store, &keys::slot_runs(&job, slot))?;
        if !claimed && recs.is_empty() {
            records::write(store, &rec, cfg.history.retention)?;
            out.dropped_recorded += 1;
        }
        for (key, _) in &declines {
            store.delete(key)?;
            out.declines += 1;
        }
    }

    out.records += store.prune(keys::RUNS, cfg.history.retention)?;
    store.prune(keys::TAILS, cfg.history.retention)?;
    store.prune(keys::HEARTBEATS, f.retention + f.abandon_after)?;
    store.prune(keys::MAINTENANCE, f.retention)?;
    // What a greaserun that died left of the farm queue's per-run keys.
    store.prune(keys::LIVE, f.retention)?;
    store.prune(keys::CANCELS, f.retention)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitration::claim::tests::{me, setup};
    use crate::arbitration::claim::{Claim, claim, decline};

    #[test]
    fn prune_keeps_live_claims_and_records_dropped_slots() {
        let (_d, store, mut cfg) = setup();
        cfg.funnel.retention = Duration::from_secs(60);
        let s1 = Slot::parse("2026-11-23T03:00Z").unwrap();
        let s2 = s1.offset_secs(60);
        let s3 = s1.offset_secs(120);
        let Claim::Won(hb) = claim(&store, &cfg.funnel, "j", s1, &me("a")).unwrap() else {
            panic!()
        };
        drop(hb); // s1: old, no heartbeat refresh after now + abandon_after
        let live = claim(&store, &cfg.funnel, "j", s2, &me("b")).unwrap();
        decline(&*store, &cfg.funnel, "j", s3, &me("c"), "load 3.2 > 2.0").unwrap();
        decline(&*store, &cfg.funnel, "j", s3, &me("d"), "running 16 >= 16").unwrap();

        // Within retention nothing goes.
        let p = prune(&*store, &cfg, Utc::now()).unwrap();
        assert_eq!(p, Pruned::default());

        // Past retention, s2's heartbeat is still fresh as far as `now` is concerned only
        // if it is within abandon_after: move `now` so s1/s2 claims are old but fake a
        // fresh beat for s2.
        let later = Utc::now() + chrono::TimeDelta::seconds(120);
        let beat = Beat {
            host: "b".into(),
            pid: 7,
            at: later,
        };
        store
            .put(
                &keys::heartbeat("j", s2, "b-7"),
                &serde_json::to_vec(&beat).unwrap(),
                None,
            )
            .unwrap();
        drop(live);
        store
            .put(
                &keys::heartbeat("j", s2, "b-7"),
                &serde_json::to_vec(&beat).unwrap(),
                None,
            )
            .unwrap();
        let p = prune(&*store, &cfg, later).unwrap();
        assert_eq!((p.claims, p.declines, p.dropped_recorded), (1, 2, 1));
        assert!(store.get(&keys::claim("j", s1)).unwrap().is_none());
        assert!(store.get(&keys::claim("j", s2)).unwrap().is_some());
        let (recs, _) = records::list(&*store, &keys::slot_runs("j", s3)).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].status, Status::Dropped);
        assert_eq!(recs[0].declines.len(), 2);
        assert!(recs[0].reason.as_ref().unwrap().contains("load 3.2 > 2.0"));
    }

    #[test]
    fn maybe_prune_runs_once_per_interval() {
        let (_d, store, cfg) = setup();
        let first = maybe_prune(&*store, &cfg).unwrap();
        let second = maybe_prune(&*store, &cfg).unwrap();
        // Both calls can straddle an interval boundary; at most one per bucket prunes.
        assert!(first.is_some() || second.is_some());
        let buckets = store.keys(keys::PRUNE_MARKERS).unwrap().len();
        assert_eq!(
            buckets,
            usize::from(first.is_some()) + usize::from(second.is_some())
        );
    }
}
