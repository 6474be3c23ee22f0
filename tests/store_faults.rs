//! Store faults a user or an operator causes, through the real store and the real
//! binaries: leases revoked under a writer (etcd), a directory store the tool may not read
//! or write.

use std::time::Duration;

use scalegrease::store::Created;

use crate::harness::etcd::{self as cluster, Solo, etcd_config};

/// Revokes every lease of `solo`'s cluster (what an operator's `etcdctl lease revoke` or a
/// lease expiring under a long-lived process does).
fn revoke_all_leases(solo: &Solo) {
    let listed = solo.etcdctl(&["lease", "list"]);
    let ids: Vec<&str> = listed
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!ids.is_empty(), "no lease to revoke: {listed}");
    for id in ids {
        solo.etcdctl(&["lease", "revoke", id]);
    }
}

#[test]
fn etcd_writes_with_a_ttl_survive_their_lease_being_revoked() {
    if !cluster::available() {
        return;
    }
    let solo = Solo::start("http", &[]);
    let s = cluster::open(&etcd_config(format!("etcd://{}/sg", solo.endpoint)));
    s.init().unwrap();
    let hour = Some(Duration::from_secs(3600));
    s.put("runs/a", b"1", hour).unwrap();
    s.beat("heartbeats/h", b"alive", Duration::from_secs(3600))
        .unwrap();
    revoke_all_leases(&solo);
    assert_eq!(s.get("runs/a").unwrap(), None, "revoking removes its keys");
    // The process still knows the revoked leases: each write finds its lease gone and
    // takes a fresh one.
    s.put("runs/b", b"2", hour).unwrap();
    assert_eq!(s.get("runs/b").unwrap().as_deref(), Some(&b"2"[..]));
    revoke_all_leases(&solo);
    assert_eq!(s.create("claims/c", b"3", hour).unwrap(), Created::Created);
    assert_eq!(s.get("claims/c").unwrap().as_deref(), Some(&b"3"[..]));
    s.beat("heartbeats/h", b"again", Duration::from_secs(3600))
        .unwrap();
    assert_eq!(
        s.get("heartbeats/h").unwrap().as_deref(),
        Some(&b"again"[..])
    );
}
