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

/// `Store::stamp` on both backends: steady while nothing under the prefix changes,
/// different after a put, an overwrite or a delete (the directory store's only once its
/// directory settled: `None` until then, which callers take as "changed").
#[test]
fn the_bundles_stamp_changes_with_every_write_under_the_prefix() {
    use crate::harness::backend::{each_backend, store_of};
    each_backend(|_, w| {
        let s = store_of(&w);
        s.init().unwrap();
        let settled = || {
            crate::harness::wait_for(
                "a settled stamp",
                std::time::Duration::from_secs(30),
                || s.stamp("bundles").unwrap(),
            )
        };
        s.put("bundles/a", b"1", None).unwrap();
        let first = settled();
        assert_eq!(s.stamp("bundles").unwrap(), Some(first));
        // Writes elsewhere do not change it.
        s.put("runs/x/y/z", b"1", None).unwrap();
        assert_eq!(settled(), first);
        let mut seen = vec![first];
        for step in ["put", "overwrite", "delete"] {
            match step {
                "put" => s.put("bundles/b", b"1", None).unwrap(),
                "overwrite" => s.put("bundles/a", b"2", None).unwrap(),
                _ => assert!(s.delete("bundles/b").unwrap()),
            }
            assert_ne!(
                s.stamp("bundles").unwrap(),
                Some(*seen.last().unwrap()),
                "{step}"
            );
            let now = settled();
            assert!(!seen.contains(&now), "{step}: a stamp seen before");
            seen.push(now);
        }
    });
}
