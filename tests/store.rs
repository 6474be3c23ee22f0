//! The store contract (`scalegrease::store::Store`), run against every backend: the
//! directory store and a real 3-member etcd cluster. Failure tests (unreachable cluster,
//! a member down, quorum lost) are etcd's own.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use scalegrease::config::StoreConfig;
use scalegrease::store::{Created, Store, StoreError};

use crate::harness::World;
use crate::harness::etcd::{self as cluster, Backend, each_backend, etcd_config, eventually};

pub(crate) fn fresh(b: Backend, w: &World) -> (StoreConfig, Box<dyn Store>) {
    let cfg = b.store_config(w).expect("backend available");
    let s = cluster::open(&cfg);
    (cfg, s)
}

fn is_unmarked<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Unmarked { .. }))
}

pub(crate) fn is_unavailable<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Unavailable { .. }))
}

#[test]
fn unmarked_store_refuses_everything_but_init() {
    each_backend(|b, w| {
        let (_, s) = fresh(b, &w);
        assert!(is_unmarked(s.check()), "{b:?}");
        assert!(is_unmarked(s.get("a")), "{b:?}");
        assert!(is_unmarked(s.put("a", b"x", None)), "{b:?}");
        assert!(is_unmarked(s.create("a", b"x", None)), "{b:?}");
        assert!(is_unmarked(s.delete("a")), "{b:?}");
        assert!(is_unmarked(s.list("")), "{b:?}");
        assert!(is_unmarked(s.keys("bundles")), "{b:?}");
        assert!(is_unmarked(s.prune("claims", Duration::ZERO)), "{b:?}");
        assert!(
            is_unmarked(s.beat("hb/x", b"x", Duration::from_secs(5))),
            "{b:?}"
        );
        let msg = s.get("a").unwrap_err().to_string();
        assert!(msg.contains("greaselaunch --init-store"), "{msg}");
        s.init().unwrap();
        s.init().unwrap();
        s.check().unwrap();
        s.put("a", b"x", None).unwrap();
        assert_eq!(s.get("a").unwrap().as_deref(), Some(&b"x"[..]));
    });
}

#[test]
fn put_get_list_delete() {
    each_backend(|b, w| {
        let (_, s) = fresh(b, &w);
        s.init().unwrap();
        s.put("bundles/p2", b"two", None).unwrap();
        s.put("bundles/p1", b"one", None).unwrap();
        s.put("bundles/p1", b"uno", None).unwrap();
        s.put("bundlesx", b"sibling", None).unwrap();
        s.put("claims/j/2026-01-01T03:00", b"c", None).unwrap();
        assert_eq!(s.get("bundles/p1").unwrap().as_deref(), Some(&b"uno"[..]));
        assert_eq!(s.get("bundles/none").unwrap(), None);
        let l = s.list("bundles").unwrap();
        let keys: Vec<&str> = l.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["bundles/p1", "bundles/p2"], "{b:?}");
        assert_eq!(l[0].value, b"uno");
        assert_eq!(s.keys("claims").unwrap(), ["claims/j/2026-01-01T03:00"]);
        assert_eq!(s.keys("bundles/p2").unwrap(), ["bundles/p2"], "{b:?}");
        let all = s.keys("").unwrap();
        assert_eq!(
            all,
            [
                "bundles/p1",
                "bundles/p2",
                "bundlesx",
                "claims/j/2026-01-01T03:00"
            ],
            "{b:?}: the marker is not a key"
        );
        assert!(s.delete("bundles/p1").unwrap());
        assert!(!s.delete("bundles/p1").unwrap());
        assert!(s.list("nothing").unwrap().is_empty());
        assert!(matches!(
            s.put("../escape", b"x", None),
            Err(StoreError::BadKey { .. })
        ));
    });
}

#[test]
fn create_is_exclusive_between_threads() {
    const THREADS: usize = 8;
    const KEYS: usize = 40;
    each_backend(|b, w| {
        let (cfg, s) = fresh(b, &w);
        s.init().unwrap();
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (cfg, barrier) = (cfg.clone(), barrier.clone());
                std::thread::spawn(move || {
                    // Each thread its own store, as each worker host has.
                    let s = cluster::open(&cfg);
                    barrier.wait();
                    let mut seen = Vec::new();
                    for k in 0..KEYS {
                        let me = format!("thread {t}");
                        let key = format!("claims/job/{k:03}");
                        let r = s
                            .create(&key, me.as_bytes(), Some(Duration::from_secs(600)))
                            .unwrap();
                        seen.push((k, r));
                    }
                    (t, seen)
                })
            })
            .collect();
        let mut winners: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut told: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for h in handles {
            let (t, seen) = h.join().unwrap();
            for (k, r) in seen {
                match r {
                    Created::Created => winners.entry(k).or_default().push(t),
                    Created::Exists(v) => told.entry(k).or_default().push(v),
                }
            }
        }
        for k in 0..KEYS {
            let w = winners.get(&k).cloned().unwrap_or_default();
            assert_eq!(w.len(), 1, "{b:?}: key {k} had winners {w:?}");
            let want = format!("thread {}", w[0]).into_bytes();
            for v in &told[&k] {
                assert_eq!(v, &want, "{b:?}: a loser was told another winner");
            }
            let stored = s.get(&format!("claims/job/{k:03}")).unwrap().unwrap();
            assert_eq!(stored, want);
        }
    });
}

/// One claimer process of [`create_is_exclusive_between_processes`]: does nothing unless
/// started by it.
#[test]
fn claimer_child() {
    let Ok(url) = std::env::var("SG_TEST_CLAIMER_STORE") else {
        return;
    };
    let id = std::env::var("SG_TEST_CLAIMER_ID").unwrap();
    let keys: usize = std::env::var("SG_TEST_CLAIMER_KEYS")
        .unwrap()
        .parse()
        .unwrap();
    let cfg = if url.starts_with("etcd://") {
        // The default request timeout: this child rides out elections.
        cluster::etcd_config_through_elections(url)
    } else {
        StoreConfig::from_url(url)
    };
    let s = cluster::open(&cfg);
    for k in 0..keys {
        let key = format!("claims/job/{k:03}");
        match s.create(&key, id.as_bytes(), Some(Duration::from_secs(600))) {
            Ok(Created::Created) => println!("WON {k}"),
            Ok(Created::Exists(_)) => {}
            // Another claimer takes the key; the test counts these.
            Err(e) => println!("ERR {k} {e}"),
        }
    }
}

/// Runs `procs` claimer processes over `keys` keys of `cfg`'s store while `during` runs;
/// returns the winners per key and the failed claims (`proc <i> <key> <error>`).
pub(crate) fn race(
    cfg: &StoreConfig,
    procs: usize,
    keys: usize,
    during: impl FnOnce(),
) -> (BTreeMap<usize, usize>, Vec<String>) {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..procs)
        .map(|i| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "store::claimer_child",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env("SG_TEST_CLAIMER_STORE", &cfg.url)
                .env("SG_TEST_CLAIMER_ID", format!("proc {i}"))
                .env("SG_TEST_CLAIMER_KEYS", keys.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    during();
    let mut won: BTreeMap<usize, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "a claimer failed");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // libtest may print "test store::claimer_child ... " before the first line.
            if let Some((_, k)) = line.split_once("WON ") {
                *won.entry(k.trim().parse().unwrap()).or_default() += 1;
            } else if let Some((_, e)) = line.split_once("ERR ") {
                // "<key> <error>", tagged with the claimer's id ("proc <i>").
                errors.push(format!("proc {i} {e}"));
            }
        }
    }
    (won, errors)
}

#[test]
fn create_is_exclusive_between_processes() {
    each_backend(|b, w| {
        let (cfg, s) = fresh(b, &w);
        s.init().unwrap();
        let (won, errors) = race(&cfg, 6, 60, || {});
        assert!(errors.is_empty(), "{b:?}: {errors:?}");
        for k in 0..60 {
            assert_eq!(won.get(&k), Some(&1), "{b:?}: key {k}");
        }
    });
}

#[test]
fn wait_changed_sees_a_change_and_only_then() {
    each_backend(|b, w| {
        let (cfg, s) = fresh(b, &w);
        s.init().unwrap();
        s.put("bundles/a", b"1", None).unwrap();
        let (entries, v) = s.list_versioned("bundles").unwrap();
        assert_eq!(entries.len(), 1);
        // Nothing changes under the prefix (a write elsewhere does not count for the
        // directory store's digest; etcd watches only the prefix).
        s.put("claims/x", b"1", None).unwrap();
        assert!(
            !s.wait_changed("bundles", v, Duration::from_millis(1500))
                .unwrap(),
            "{b:?}"
        );
        let writer = std::thread::spawn(move || {
            let s = cluster::open(&cfg);
            std::thread::sleep(Duration::from_millis(300));
            s.put("bundles/b", b"2", None).unwrap();
        });
        assert!(
            s.wait_changed("bundles", v, Duration::from_secs(30))
                .unwrap(),
            "{b:?}"
        );
        writer.join().unwrap();
        // A change made before the wait starts is not missed either.
        let (_, v2) = s.list_versioned("bundles").unwrap();
        assert_ne!(v, v2);
        s.delete("bundles/a").unwrap();
        assert!(
            s.wait_changed("bundles", v2, Duration::from_secs(30))
                .unwrap()
        );
    });
}

#[test]
fn beat_writes_the_current_value() {
    each_backend(|b, w| {
        let (_, s) = fresh(b, &w);
        s.init().unwrap();
        for i in 0..3 {
            s.beat(
                "heartbeats/job/slot",
                format!("beat {i}").as_bytes(),
                Duration::from_secs(30),
            )
            .unwrap();
            assert_eq!(
                s.get("heartbeats/job/slot").unwrap(),
                Some(format!("beat {i}").into_bytes()),
                "{b:?}"
            );
        }
    });
}

#[test]
fn etcd_ttl_expires_keys_and_beats_keep_them() {
    let Some(c) = cluster::shared() else { return };
    let s = cluster::open(&etcd_config(c.url(&cluster::unique_prefix())));
    s.init().unwrap();
    let ttl = Some(Duration::from_secs(1));
    s.put("runs/short", b"x", ttl).unwrap();
    assert_eq!(
        s.create("claims/short", b"x", ttl).unwrap(),
        Created::Created
    );
    s.put("runs/kept", b"x", None).unwrap();
    s.put("runs/long", b"x", Some(Duration::from_secs(3600)))
        .unwrap();
    // A heartbeat with a TTL shorter than the test keeps its key while it beats.
    s.beat("heartbeats/a", b"alive", Duration::from_secs(2))
        .unwrap();
    eventually("the 1 s keys to expire", || {
        s.beat("heartbeats/a", b"alive", Duration::from_secs(2))
            .unwrap();
        s.get("runs/short").unwrap().is_none() && s.get("claims/short").unwrap().is_none()
    });
    assert!(s.get("heartbeats/a").unwrap().is_some());
    assert!(s.get("runs/kept").unwrap().is_some());
    assert!(s.get("runs/long").unwrap().is_some());
    // Once beats stop, the heartbeat key goes: that is how a dead host shows.
    eventually("the heartbeat key to expire", || {
        s.get("heartbeats/a").unwrap().is_none()
    });
    // An expired claim can be taken again.
    assert_eq!(
        s.create("claims/short", b"y", ttl).unwrap(),
        Created::Created
    );
}
