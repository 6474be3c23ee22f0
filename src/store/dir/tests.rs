//! The directory store's own unit tests (the store contract runs in tests/store.rs).

use super::*;

fn store() -> (tempfile::TempDir, DirStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = DirStore::new(dir.path().join("store"));
    (dir, s)
}

#[test]
fn refuses_without_marker() {
    let (_d, s) = store();
    assert!(matches!(
        s.list("bundles"),
        Err(StoreError::Unmarked { .. })
    ));
    fs::create_dir_all(s.root()).unwrap();
    assert!(matches!(
        s.put("a", b"x", None),
        Err(StoreError::Unmarked { .. })
    ));
    s.init().unwrap();
    s.put("a", b"x", None).unwrap();
    s.init().unwrap();
    assert_eq!(s.get("a").unwrap().unwrap(), b"x");
}

#[test]
fn a_marker_gone_is_noticed_by_every_write_and_by_a_read_that_finds_nothing() {
    let (_d, s) = store();
    s.init().unwrap();
    s.put("runs/j/a", b"x", None).unwrap();
    fs::remove_file(s.root().join(MARKER)).unwrap();
    let unmarked = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Unmarked { .. }));
    assert!(unmarked(s.get("runs/j/none").map(|_| ())));
    assert!(unmarked(s.children("runs/none").map(|_| ())));
    assert!(unmarked(s.put("runs/j/b", b"y", None)));
    // A fresh store (a new process) refuses from its first read on.
    let fresh = DirStore::new(s.root());
    assert!(unmarked(fresh.get("runs/j/a").map(|_| ())));
    assert!(unmarked(fresh.list("runs").map(|_| ())));
}

#[test]
fn put_get_list_delete() {
    let (_d, s) = store();
    s.init().unwrap();
    s.put("bundles/p2", b"two", None).unwrap();
    s.put("bundles/p1", b"one", None).unwrap();
    s.put("claims/j/s", b"c", None).unwrap();
    let l = s.list("bundles").unwrap();
    assert_eq!(
        l.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["bundles/p1", "bundles/p2"]
    );
    assert_eq!(l[0].value, b"one");
    assert_eq!(s.keys("claims").unwrap(), ["claims/j/s"]);
    assert!(s.delete("bundles/p1").unwrap());
    assert!(!s.delete("bundles/p1").unwrap());
    assert!(s.list("nothing").unwrap().is_empty());
}

#[test]
fn create_is_exclusive() {
    let (_d, s) = store();
    s.init().unwrap();
    assert_eq!(
        s.create("claims/j/1", b"me", None).unwrap(),
        Created::Created
    );
    assert_eq!(
        s.create("claims/j/1", b"you", None).unwrap(),
        Created::Exists(b"me".to_vec())
    );
}

#[test]
fn prune_removes_old_entries_only() {
    let (_d, s) = store();
    s.init().unwrap();
    s.put("claims/j/1", b"x", None).unwrap();
    assert_eq!(s.prune("claims", Duration::from_secs(3600)).unwrap(), 0);
    assert_eq!(s.prune("claims", Duration::ZERO).unwrap(), 1);
    assert!(s.list("claims").unwrap().is_empty());
    assert!(s.check().is_ok());
}

#[test]
fn writes_survive_a_concurrent_prune_removing_their_directories() {
    let (_d, s) = store();
    s.init().unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            // Old entries only: here that removes just the empty directories.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                s.prune("hb", Duration::from_secs(3600)).unwrap();
            }
        });
        let results: Vec<_> = (0..200)
            .map(|i| {
                let dir = format!("hb/{i}");
                let put = s.put(&format!("{dir}/put"), b"x", None);
                let _ = s.delete(&format!("{dir}/put"));
                let create = s.create(&format!("{dir}/create"), b"x", None);
                let _ = s.delete(&format!("{dir}/create"));
                (
                    put.err().map(|e| e.to_string()),
                    create.err().map(|e| e.to_string()),
                )
            })
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let failed: Vec<_> = results
            .iter()
            .filter(|(p, c)| p.is_some() || c.is_some())
            .collect();
        assert!(failed.is_empty(), "{failed:?}");
    });
}

#[test]
fn rejects_bad_keys() {
    let (_d, s) = store();
    s.init().unwrap();
    assert!(matches!(s.get("../x"), Err(StoreError::BadKey { .. })));
    assert!(matches!(s.get("a//b"), Err(StoreError::BadKey { .. })));
}

#[test]
fn ranges_children_and_last_child_read_one_part() {
    let (_d, s) = store();
    s.init().unwrap();
    for k in [
        "runs/j/2026-11-01T00:00Z/h-1",
        "runs/j/2026-11-02T00:00Z/h-2",
        "runs/j/2026-11-03T00:00Z/h-3",
        "runs/k/2026-11-02T00:00Z/h-4",
        "runs/k/2026-11-01T00:00Z/h-5",
    ] {
        s.put(k, k.as_bytes(), None).unwrap();
    }
    let keys = |v: Vec<Entry>| v.into_iter().map(|e| e.key).collect::<Vec<_>>();
    assert_eq!(
        keys(s.list_range("runs/j", 0, "2026-11-02T00:00Z").unwrap()),
        [
            "runs/j/2026-11-02T00:00Z/h-2",
            "runs/j/2026-11-03T00:00Z/h-3"
        ]
    );
    let all = s.list_range("runs", 1, "2026-11-02T00:00Z").unwrap();
    assert_eq!(
        keys(all.clone()),
        [
            "runs/j/2026-11-02T00:00Z/h-2",
            "runs/j/2026-11-03T00:00Z/h-3",
            "runs/k/2026-11-02T00:00Z/h-4"
        ]
    );
    assert_eq!(all[0].value, b"runs/j/2026-11-02T00:00Z/h-2");
    assert!(s.list_range("runs/j", 0, "2027").unwrap().is_empty());
    assert!(s.list_range("runs/none", 0, "").unwrap().is_empty());
    assert_eq!(s.children("runs").unwrap(), ["j", "k"]);
    assert_eq!(s.children("runs/k").unwrap().len(), 2);
    assert!(s.children("claims").unwrap().is_empty());
    assert_eq!(
        s.last_child("runs/j").unwrap().as_deref(),
        Some("2026-11-03T00:00Z")
    );
    assert_eq!(s.last_child("runs/none").unwrap(), None);
    // The defaults answer the same from a full listing.
    for (prefix, depth, from) in [
        ("runs/j", 0, "2026-11-02T00:00Z"),
        ("runs", 1, "2026-11-02"),
    ] {
        let mut want = s.list(prefix).unwrap();
        want.retain(|e| crate::store::in_range(&e.key, prefix, depth, from));
        assert_eq!(keys(s.list_range(prefix, depth, from).unwrap()), keys(want));
    }
}
