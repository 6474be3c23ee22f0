//! Placement (#11) on the shared 3-member etcd cluster: the scenario of `placement.rs`
//! (30 workers, 5 stop beating, a 200-slot run-through), with membership beats on
//! leases and the bundles' stamp read as one range of one key.

use crate::harness::World;

#[test]
fn etcd_each_entry_is_held_by_k_live_workers_and_each_slot_runs_once() {
    use crate::harness::etcd as backends;
    let Some(c) = backends::shared() else {
        return;
    };
    let mut w = World::new();
    let cfg = backends::etcd_config(c.url(&backends::unique_prefix()));
    w.configure(|j| j["store"] = backends::store_json(&cfg));
    crate::placement::placement_on(w);
}
