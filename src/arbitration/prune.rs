//! Pruning: claims and declines live for `funnel.retention`, records for
//! `history.retention`; whichever command passes by prunes (at most about once a minute
//! per store, see [`maybe_prune`]). Pruning turns an unclaimed, declined slot into a
//! persistent `dropped` record.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::arbitration::{queue, records};
use crate::config::Config;
use crate::model::funnel::{Beat, ClaimInfo, Decline, alive, unclaimed};
use crate::model::keys;
use crate::model::record::Status;
use crate::model::request::RequestState;
use crate::model::slot::Slot;
use crate::store::{Created, Store, StoreError};

/// What a prune removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub claims: usize,
    pub declines: usize,
    pub dropped_recorded: usize,
    pub records: usize,
    /// Farm-queue requests whose end is older than `funnel.retention`.
    pub requests: usize,
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

    out.requests = prune_requests(store, f, now)?;
    out.records += store.prune(keys::RUNS, cfg.history.retention)?;
    store.prune(keys::TAILS, cfg.history.retention)?;
    store.prune(keys::HEARTBEATS, f.retention + f.abandon_after)?;
    store.prune(keys::MAINTENANCE, f.retention)?;
    Ok(out)
}

/// Removes what the farm queue keeps of each request that ended more than
/// `funnel.retention` before `now` (its `states/`, `requests/`, its attempt's
/// reservation under `attempts/`, and the `cancels/` and `live/` keys of the request and
/// its run). A request still queued or in flight is never touched, nor `queue/` or
/// `taken/` ([`prune`] removes other runs' cancel markers and live output by age).
/// Returns how many requests went.
fn prune_requests(
    store: &dyn Store,
    f: &crate::config::Funnel,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let keep = chrono::TimeDelta::from_std(f.retention).unwrap_or(chrono::TimeDelta::MAX);
    let mut n = 0;
    for e in store.list(keys::STATES)? {
        let Ok(st) = serde_json::from_slice::<RequestState>(&e.value) else {
            continue;
        };
        if !st.phase.is_final() || now.signed_duration_since(st.at) <= keep {
            continue;
        }
        if let Some(req) = queue::get(store, &st.id)? {
            let reserved = keys::attempt(&req.job, &req.slot, req.attempt);
            if store.get(&reserved)?.as_deref() == Some(req.id.as_bytes()) {
                store.delete(&reserved)?;
            }
            store.delete(&queue::cancel_key(&req))?;
        }
        if let Some((job, slot, id)) = st.run.as_deref().and_then(keys::run_parts) {
            store.delete(&keys::cancel(&job, &slot, &id))?;
            store.delete(&keys::live(&job, &slot, &id))?;
        }
        store.delete(&keys::request(keys::REQUESTS, &st.id))?;
        store.delete(&e.key)?;
        n += 1;
    }
    Ok(n)
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
    fn ended_requests_go_after_retention_and_live_ones_stay() {
        use crate::model::request::{Kind, Phase, Request, request_id};
        let (_d, store, mut cfg) = setup();
        cfg.funnel.retention = Duration::from_secs(60);
        let req = |n: u32, slot: &str| Request {
            id: request_id(Utc::now(), n),
            ..Request::new("j", slot, Kind::Demand, "u@h", Utc::now())
        };
        let (done, waiting, flying) = (
            req(1, "2026-11-23T03:00Z"),
            req(2, "2026-11-23T04:00Z"),
            req(3, "2026-11-23T05:00Z"),
        );
        for r in [&done, &waiting, &flying] {
            queue::submit(&*store, r).unwrap();
        }
        assert!(queue::take(&*store, &flying, "h").unwrap());
        assert!(queue::take(&*store, &done, "h").unwrap());
        let run = keys::run("j", &done.slot, "h-7");
        let (cancel, live) = (
            keys::cancel("j", &done.slot, "h-7"),
            keys::live("j", &done.slot, "h-7"),
        );
        for k in [&cancel, &live, &queue::cancel_key(&done)] {
            store.put(k, b"x", None).unwrap();
        }
        queue::finish(
            &*store,
            &RequestState {
                run: Some(run),
                ..RequestState::new(&done.id, Phase::Succeeded)
            },
        )
        .unwrap();

        // Within retention nothing goes.
        assert_eq!(prune(&*store, &cfg, Utc::now()).unwrap().requests, 0);
        let later = Utc::now() + chrono::TimeDelta::seconds(120);
        assert_eq!(prune(&*store, &cfg, later).unwrap().requests, 1);
        for k in [
            keys::request(keys::STATES, &done.id),
            keys::request(keys::REQUESTS, &done.id),
            keys::attempt("j", &done.slot, 1),
            queue::cancel_key(&done),
            cancel,
            live,
        ] {
            assert!(store.get(&k).unwrap().is_none(), "{k} kept");
        }
        // The queued and the in-flight requests keep everything, queue/ and taken/ too.
        for r in [&waiting, &flying] {
            assert!(queue::get(&*store, &r.id).unwrap().is_some());
            assert!(queue::state(&*store, &r.id).unwrap().is_some());
            assert!(
                store
                    .get(&keys::attempt("j", &r.slot, 1))
                    .unwrap()
                    .is_some()
            );
        }
        assert_eq!(queue::pending(&*store).unwrap().0, vec![waiting.clone()]);
        assert_eq!(queue::in_flight(&*store).unwrap().len(), 1);
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
