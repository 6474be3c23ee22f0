//! `Store::keys_versioned` and `Store::wait_keys_changed` (the farm queue's keys-only
//! listing and wait, `greasesnatch --watch`'s pull loop), on the directory store and a
//! real 3-member etcd cluster: a key coming or going wakes the wait, also one made before
//! the wait starts; nothing else does.

use std::time::Duration;

use crate::harness::etcd::{self as cluster, each_backend};
use crate::store::fresh;

#[test]
fn wait_keys_changed_sees_keys_come_and_go_and_only_then() {
    each_backend(|b, w| {
        let (cfg, s) = fresh(b, &w);
        s.init().unwrap();
        s.put("queue/a", b"1", None).unwrap();
        let (keys, v) = s.keys_versioned("queue").unwrap();
        assert_eq!(keys, vec!["queue/a".to_string()], "{b:?}");
        // A write elsewhere is not a change of the queue's keys.
        s.put("taken/a", b"1", None).unwrap();
        assert!(
            !s.wait_keys_changed("queue", v, Duration::from_millis(1500))
                .unwrap(),
            "{b:?}"
        );
        let writer = std::thread::spawn(move || {
            let s = cluster::open(&cfg);
            std::thread::sleep(Duration::from_millis(300));
            s.put("queue/b", b"2", None).unwrap();
        });
        assert!(
            s.wait_keys_changed("queue", v, Duration::from_secs(30))
                .unwrap(),
            "{b:?}"
        );
        writer.join().unwrap();
        // A key removed before the wait starts is not missed either.
        let (keys, v2) = s.keys_versioned("queue").unwrap();
        assert_eq!(keys.len(), 2, "{b:?}");
        assert_ne!(v, v2, "{b:?}");
        s.delete("queue/a").unwrap();
        assert!(
            s.wait_keys_changed("queue", v2, Duration::from_secs(30))
                .unwrap(),
            "{b:?}"
        );
    });
}
