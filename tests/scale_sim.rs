//! The farm-scale simulation (bench/scale_sim.rs, issue 11) at a small scale: its
//! placement, claim and membership code in-process, on the counting fake and on the
//! shared 3-member etcd cluster. Every slot runs exactly once with k = 2 holders while a
//! fifth of the workers die and some come back; today's farm (k = all) is the control.

#[allow(dead_code)]
#[path = "../bench/scale_sim/sim.rs"]
mod sim;
#[allow(dead_code)]
#[path = "../bench/scale_sim/store.rs"]
mod store;

use std::sync::Arc;
use std::time::Duration;

use scalegrease::store::Store;
use sim::{Outcome, Params, Sim};
use store::{Clock, Fake};

fn params(workers: usize, entries: usize, hours: i64, k: usize) -> Params {
    Params {
        workers,
        entries,
        hours,
        k,
        slack: 1.25,
        deaths: 0.2,
        returns: 0.5,
        member_ttl_ms: 90_000,
        max_delay: Duration::from_secs(60),
        seed: 7,
        tag: String::new(),
    }
}

fn on_fake(p: Params) -> Outcome {
    let clock = Clock::default();
    let fake: Arc<dyn Store> = Arc::new(Fake::new(clock.clone(), 5));
    Sim::new(p, fake, clock).unwrap().run().unwrap()
}

/// Every slot won exactly once, with nothing lost and no store error.
fn each_slot_once(o: &Outcome, slots: u64) {
    assert_eq!(o.slots, slots);
    assert_eq!(o.duplicates, 0, "{o:?}");
    assert_eq!((o.lost_all_down, o.lost_unheld), (0, 0), "{o:?}");
    assert_eq!(o.errors, 0);
    assert_eq!(o.latency_ms.len() as u64, slots);
}

#[test]
fn k_holders_start_each_slot_and_it_runs_once_while_workers_die() {
    let o = on_fake(params(30, 200, 3, 2));
    each_slot_once(&o, 600);
    assert!(o.died == 6 && o.changes > 0, "{o:?}");
    // At most k starts per slot, and a dead holder's share moved within the TTL and a round.
    assert!(
        o.starts <= 2 * 600 && o.starts >= 2 * 600 - 30,
        "{}",
        o.starts
    );
    // Greasesnatch, whatever W and J: each round a beat, the bundles' stamp and the
    // member list; the bundles themselves (one listing) only on a full round, when the
    // stamp or the members changed or every skip::RESYNC, so at most once a round.
    let n = |kind: &'static str, area: &str| {
        o.snatch_counts
            .get(&(kind, area.to_string()))
            .copied()
            .unwrap_or(0)
    };
    let wm = o.worker_minutes;
    assert_eq!(n("write", "members"), wm, "{:?}", o.snatch_counts);
    assert_eq!(n("read", "members"), wm, "{:?}", o.snatch_counts);
    assert_eq!(n("read", "bundles:stamp"), wm, "{:?}", o.snatch_counts);
    let listings = n("read", "bundles");
    assert!(listings > 0 && listings < wm, "{:?}", o.snatch_counts);
    let snatch: u64 = o.snatch_counts.values().sum();
    assert_eq!(snatch, 3 * wm + listings, "{:?}", o.snatch_counts);
}

#[test]
fn todays_farm_starts_every_slot_on_every_live_worker() {
    let o = on_fake(params(20, 60, 1, 0));
    each_slot_once(&o, 60);
    assert!(o.starts > 15 * 60, "{}", o.starts);
}

#[test]
fn the_simulation_runs_each_slot_once_on_etcd() {
    use crate::harness::etcd as backends;
    let Some(c) = backends::shared() else { return };
    let cfg = backends::etcd_config(c.url(&backends::unique_prefix()));
    let s: Arc<dyn Store> = Arc::from(scalegrease::store::open(&cfg).unwrap());
    s.init().unwrap();
    let o = Sim::new(params(20, 100, 1, 2), s, Clock::default())
        .unwrap()
        .run()
        .unwrap();
    each_slot_once(&o, 100);
}
