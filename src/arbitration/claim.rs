//! The funnel: every worker holds every crontab, so every worker starts every job; the
//! funnel lets exactly one of them run each (job, slot), with no scheduler machine.
//!
//! - A claim is an exclusive create of `claims/<job>/<slot>` ([`Store::create`]: one
//!   winner across hosts, also on NFS). Losers are told who won and exit 0.
//! - The winner refreshes `heartbeats/<job>/<slot>/<run id>` every
//!   `funnel.heartbeat_interval` while the job runs ([`crate::arbitration::heartbeat`]). A
//!   claim whose heartbeat is older than `funnel.abandon_after` and that has no final
//!   record is `abandoned`; nothing reruns it by itself ([`abandoned`] tells a loser so).
//! - A worker over its guard limits does not claim; it writes
//!   `declines/<job>/<slot>/<host>` with the reason, so a slot nobody took shows as
//!   `dropped` with the declines that explain it.
//! - Claims and declines are kept for `funnel.retention` and pruned by whichever command
//!   passes by ([`crate::arbitration::prune`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::arbitration::heartbeat::Heartbeat;
use crate::config::Funnel;
use crate::model::funnel::{Beat, ClaimInfo, Claimant, Decline, alive};
use crate::model::keys;
use crate::model::slot::Slot;
use crate::store::{Created, Store, StoreError};

/// This process, with host name `host` (see [`crate::config::Config::hostname`]).
pub fn me(host: String) -> Claimant {
    Claimant {
        host,
        pid: std::process::id(),
        user: crate::util::host::user_name(),
        request: None,
    }
}

/// The result of a claim attempt.
#[derive(Debug)]
pub enum Claim {
    /// We hold the slot; the heartbeat runs until the value is dropped or finished.
    Won(Heartbeat),
    /// Someone else does.
    Taken(ClaimInfo),
}

/// Claims (job, slot) for `me`. On a win the heartbeat starts at once (its first beat is
/// written by the heartbeat thread, off the job's start path).
pub fn claim(
    store: &Arc<dyn Store>,
    cfg: &Funnel,
    job: &str,
    slot: Slot,
    me: &Claimant,
) -> Result<Claim, StoreError> {
    let info = me.claim(job, slot, Utc::now());
    let key = keys::claim(job, slot);
    let taken = |other: Vec<u8>| {
        Claim::Taken(serde_json::from_slice(&other).unwrap_or(ClaimInfo {
            host: "an unknown host (unreadable claim)".into(),
            pid: 0,
            user: String::new(),
            at: Utc::now(),
            request: None,
            ..info.clone()
        }))
    };
    let won = || {
        Claim::Won(Heartbeat::start(
            store.clone(),
            keys::heartbeat(job, slot, &me.run_id()),
            me,
            cfg,
        ))
    };
    // A claim made for this very request by an earlier greaserun of it is taken over:
    // only the holder of the request's take serves it, so that greaserun has ended
    // without running anything (its store failed after the claim was applied).
    let earlier_of_ours = |other: &[u8]| {
        me.request.is_some()
            && serde_json::from_slice::<ClaimInfo>(other).is_ok_and(|c| c.request == me.request)
    };
    let body = serde_json::to_vec(&info).expect("claims serialise");
    // Most losers arrive after the winner: a read tells them without writing anything.
    let answer = match store.get(&key)? {
        Some(other) => Created::Exists(other),
        None => store.create(&key, &body, Some(cfg.retention))?,
    };
    match answer {
        Created::Created => Ok(won()),
        Created::Exists(other) if earlier_of_ours(&other) => {
            tracing::warn!(
                "{job} slot {slot}: taking over the claim an earlier greaserun of request {} made",
                me.request.as_deref().unwrap_or_default()
            );
            store.put(&key, &body, Some(cfg.retention))?;
            Ok(won())
        }
        Created::Exists(other) => Ok(taken(other)),
    }
}

/// Records that `me` declined (job, slot) and why. A decline is kept twice
/// `funnel.retention`: the slot turns `dropped` once its latest decline is `retention`
/// old, and the earlier declines (on etcd, each on its own lease) must still be there
/// for the dropped record to hold them all.
pub fn decline(
    store: &dyn Store,
    cfg: &Funnel,
    job: &str,
    slot: Slot,
    me: &Claimant,
    reason: &str,
) -> Result<(), StoreError> {
    let d = Decline {
        job: job.to_string(),
        slot: slot.key(),
        host: me.host.clone(),
        at: Utc::now(),
        reason: reason.to_string(),
    };
    let body = serde_json::to_vec(&d).expect("declines serialise");
    store.put(
        &keys::decline(job, slot, &me.host),
        &body,
        Some(cfg.retention.saturating_mul(2)),
    )
}

/// When a claim's run is abandoned as of `now` (its winner's heartbeat, or without one
/// the claim's time, is older than `funnel.abandon_after`): the last sign of life.
/// `None` while the winner is alive.
pub fn abandoned(
    store: &dyn Store,
    cfg: &Funnel,
    claim: &ClaimInfo,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let Some(slot) = Slot::from_key(&claim.slot) else {
        return Ok(None);
    };
    let beat = store
        .get(&keys::heartbeat(&claim.job, slot, &claim.run_id()))?
        .and_then(|b| serde_json::from_slice::<Beat>(&b).ok());
    let last = beat.map_or(claim.at, |b| b.at);
    Ok((!alive(Some(last), cfg.abandon_after, now)).then_some(last))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::dir::DirStore;
    use std::time::Duration;

    /// A claimant on `host` (pid 7, user u).
    pub(crate) fn me(host: &str) -> Claimant {
        Claimant {
            host: host.into(),
            pid: 7,
            user: "u".into(),
            request: None,
        }
    }

    /// A fresh directory store and a config with a 20 ms heartbeat.
    pub(crate) fn setup() -> (tempfile::TempDir, Arc<dyn Store>, crate::config::Config) {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path().join("store"));
        s.init().unwrap();
        let mut cfg = crate::config::Config::default();
        cfg.funnel.heartbeat_interval = Duration::from_millis(20);
        (d, Arc::new(s), cfg)
    }

    #[test]
    fn one_winner_among_threads() {
        let (_d, store, cfg) = setup();
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        let wins: Vec<bool> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..8)
                .map(|i| {
                    let store = store.clone();
                    let cfg = cfg.funnel.clone();
                    sc.spawn(move || {
                        matches!(
                            claim(&store, &cfg, "j", slot, &me(&format!("h{i}"))).unwrap(),
                            Claim::Won(_)
                        )
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(wins.iter().filter(|w| **w).count(), 1);
        match claim(&store, &cfg.funnel, "j", slot, &me("late")).unwrap() {
            Claim::Taken(c) => assert!(c.host.starts_with('h')),
            Claim::Won(_) => panic!("second win"),
        }
    }

    #[test]
    fn a_lapsed_heartbeat_makes_a_claim_abandoned() {
        let (_d, store, mut cfg) = setup();
        cfg.funnel.abandon_after = Duration::from_secs(60);
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        let Claim::Won(hb) = claim(&store, &cfg.funnel, "j", slot, &me("a")).unwrap() else {
            panic!("lost")
        };
        hb.stop();
        let Claim::Taken(c) = claim(&store, &cfg.funnel, "j", slot, &me("b")).unwrap() else {
            panic!("won twice")
        };
        let now = Utc::now();
        assert_eq!(abandoned(&*store, &cfg.funnel, &c, now).unwrap(), None);
        let later = now + chrono::TimeDelta::seconds(120);
        let last = abandoned(&*store, &cfg.funnel, &c, later).unwrap().unwrap();
        assert!(last >= c.at && last <= now, "{last} {}", c.at);
    }

    #[test]
    fn a_claim_an_earlier_greaserun_of_the_same_request_made_is_taken_over() {
        let (_d, store, cfg) = setup();
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        let serving = |host: &str, pid: u32, request: Option<&str>| Claimant {
            pid,
            request: request.map(Into::into),
            ..me(host)
        };
        let claim_as = |who: &Claimant| claim(&store, &cfg.funnel, "j", slot, who).unwrap();
        // The first greaserun of request r1 claimed the slot, then ended without running
        // (its store failed after the claim was applied).
        let Claim::Won(hb) = claim_as(&serving("w02", 1, Some("r1"))) else {
            panic!("first claim lost")
        };
        hb.stop();
        // Neither a scheduled run nor another request's greaserun may take it over.
        for other in [serving("w05", 2, None), serving("w05", 3, Some("r2"))] {
            let Claim::Taken(c) = claim_as(&other) else {
                panic!("{other:?} took over a claim of r1")
            };
            assert_eq!((c.host.as_str(), c.request.as_deref()), ("w02", Some("r1")));
        }
        // The next greaserun of r1 (on another worker) holds the slot now.
        let Claim::Won(hb) = claim_as(&serving("w13", 4, Some("r1"))) else {
            panic!("the request's next greaserun was refused its own claim")
        };
        hb.stop();
        let Claim::Taken(c) = claim_as(&serving("w05", 5, None)) else {
            panic!("won twice")
        };
        assert_eq!((c.host.as_str(), c.pid), ("w13", 4));
    }
}
