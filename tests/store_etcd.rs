//! The etcd store's own failure tests against a real 3-member cluster: an unreachable
//! cluster, a member down, quorum lost, TLS with client certificates, user and password
//! from the environment, claims while members die, and leases shared across processes.

use std::collections::BTreeMap;
use std::time::Duration;

use scalegrease::store::{Created, StoreError};

use crate::harness::etcd::{self as cluster, Cluster, etcd_config, eventually};
use crate::store::{is_unavailable, race};

#[test]
fn etcd_unreachable_cluster_is_unavailable_and_names_endpoints() {
    if !cluster::available() {
        return;
    }
    // Ports nobody listens on: bind, note, close.
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let eps: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let cfg = etcd_config(format!("etcd://{}/sg", eps.join(",")));
    let check = |e: StoreError| {
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        let msg = e.to_string();
        for ep in &eps {
            assert!(msg.contains(ep.as_str()), "{ep} missing from: {msg}");
        }
    };
    match scalegrease::store::open(&cfg) {
        Err(e) => check(e),
        Ok(s) => {
            check(s.check().unwrap_err());
            check(s.init().unwrap_err());
            check(s.get("a").unwrap_err());
            check(s.put("a", b"x", None).unwrap_err());
            check(
                s.create("a", b"x", Some(Duration::from_secs(60)))
                    .unwrap_err(),
            );
            check(s.list("bundles").unwrap_err());
        }
    }
}

#[test]
fn etcd_member_down_changes_nothing_for_users() {
    if !cluster::available() {
        return;
    }
    let c = Cluster::start();
    // The default request timeout, which rides out an election (about a second, longer
    // on a loaded machine) when the member that goes was the leader.
    let cfg = cluster::etcd_config_through_elections(c.url("sg"));
    let s = cluster::open(&cfg);
    s.init().unwrap();
    // A member goes away (perhaps the leader, perhaps the one this client prefers).
    c.kill(0);
    for k in 0..20 {
        let key = format!("claims/j/{k}");
        assert_eq!(
            s.create(&key, b"me", Some(Duration::from_secs(60)))
                .unwrap(),
            Created::Created
        );
        assert!(
            matches!(s.create(&key, b"other", None).unwrap(), Created::Exists(v) if v == b"me")
        );
    }
    // A process started while the member is down works too.
    let s2 = cluster::open(&cfg);
    assert_eq!(s2.keys("claims/j").unwrap().len(), 20);
    c.restart(0);
    c.kill(1);
    assert_eq!(s2.list("claims").unwrap().len(), 20);
    s2.put("bundles/p", b"v", None).unwrap();
    c.restart(1);
}

#[test]
fn etcd_quorum_loss_refuses_writes_and_recovers() {
    if !cluster::available() {
        return;
    }
    let c = Cluster::start();
    let cfg = etcd_config(c.url("sg"));
    let s = cluster::open(&cfg);
    s.init().unwrap();
    s.put("bundles/p", b"v1", None).unwrap();
    c.kill(1);
    c.kill(2);
    // Once the survivor knows it has no quorum, nothing gets through, reads included
    // (they are linearizable), and every refusal is `Unavailable`.
    eventually("the survivor to lose its leader", || {
        is_unavailable(&s.check())
    });
    assert!(is_unavailable(&s.put("bundles/p", b"v2", None)));
    assert!(is_unavailable(&s.create(
        "claims/j/1",
        b"me",
        Some(Duration::from_secs(60))
    )));
    assert!(is_unavailable(&s.delete("bundles/p")));
    assert!(is_unavailable(&s.list("bundles")));
    assert!(is_unavailable(&s.get("bundles/p")));
    let msg = s.get("bundles/p").unwrap_err().to_string();
    assert!(msg.contains(&c.endpoints[0]), "{msg}");
    // Quorum returns: nothing of the refused writes happened, and work resumes.
    c.restart(1);
    eventually("quorum to return", || s.check().is_ok());
    assert_eq!(s.get("bundles/p").unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(s.get("claims/j/1").unwrap(), None);
    assert_eq!(
        s.create("claims/j/1", b"me", Some(Duration::from_secs(60)))
            .unwrap(),
        Created::Created
    );
    c.restart(2);
}

#[test]
fn etcd_claims_stay_exclusive_while_members_die_and_return() {
    if !cluster::available() {
        return;
    }
    const KEYS: usize = 1200;
    let c = Cluster::start();
    let cfg = cluster::etcd_config_through_elections(c.url("sg"));
    let s = cluster::open(&cfg);
    s.init().unwrap();
    let progress = |n: usize| {
        eventually(&format!("{n} claims"), || {
            s.keys("claims/job").map(|k| k.len()).unwrap_or(0) >= n
        })
    };
    let (won, errors) = race(&cfg, 8, KEYS, || {
        // Every member (so the leader too) dies and comes back while 8 processes race.
        for i in 0..cluster::MEMBERS {
            progress(100 + i * 300);
            c.kill(i);
            progress(250 + i * 300);
            c.restart(i);
        }
    });
    let twice: Vec<_> = won.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "keys won twice: {twice:?}");
    // A key nobody saw itself win is never lost silently. Either every claimer's request
    // failed (the store unavailable through an election, which a worker answers with
    // `skip`), or one claimer's create timed out on its side but committed (a write in
    // flight through an election): then the key holds that claimer's id, the slot is
    // claimed once and never run twice. Duplicates are what must never happen.
    let mut failed: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    for e in &errors {
        let mut parts = e.splitn(4, ' ');
        let owner = format!("{} {}", parts.next().unwrap(), parts.next().unwrap());
        let k: usize = parts.next().unwrap().parse().unwrap();
        let why = parts.next().unwrap_or("").to_string();
        failed.entry(k).or_default().push((owner, why));
    }
    for k in (0..KEYS).filter(|k| !won.contains_key(k)) {
        let why = failed.get(&k).cloned().unwrap_or_default();
        assert!(
            why.iter().all(|(_, w)| w.contains("unavailable")),
            "key {k}: {why:?}"
        );
        match s.get(&format!("claims/job/{k:03}")).unwrap() {
            None => assert_eq!(why.len(), 8, "key {k} unclaimed: {why:?}"),
            Some(owner) => {
                let owner = String::from_utf8(owner).unwrap();
                assert!(
                    why.iter().any(|(o, _)| *o == owner),
                    "key {k} held by {owner}, who neither won nor failed on it: {why:?}"
                );
            }
        }
    }
    eprintln!(
        "{} claims failed and were taken by others; first: {:?}",
        errors.len(),
        errors.first()
    );
}

#[test]
fn etcd_writers_share_leases_across_processes() {
    if !cluster::available() {
        return;
    }
    let solo = cluster::Solo::start("http", &[]);
    let cfg = etcd_config(format!("etcd://{}/sg", solo.endpoint));
    cluster::open(&cfg).init().unwrap();
    // Twelve clients (as twelve greaseruns would be), each writing keys with two TTLs.
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let s = cluster::open(&cfg);
                s.put(
                    &format!("runs/j/{i}"),
                    b"r",
                    Some(Duration::from_secs(30 * 86400)),
                )
                .unwrap();
                s.create(
                    &format!("claims/j/{i}"),
                    b"c",
                    Some(Duration::from_secs(3600)),
                )
                .unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let leases = solo.etcdctl(&["lease", "list"]);
    // "found N leases", then one ID a line.
    let n: usize = leases
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected etcdctl output: {leases}"));
    // One lease per TTL, or two where the test straddled a time bucket's end.
    assert!((2..=4).contains(&n), "{n} leases:\n{leases}");
}
