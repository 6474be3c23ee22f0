//! greasesnatch --watch and --wait, and snatch through etcd member failures and lost quorum.

use std::os::unix::fs::MetadataExt;

use crate::harness::etcd::{self as backends, Backend};
use crate::harness::{World, text};
use crate::snatch::*;

/// A background `greasesnatch --watch`, killed when dropped.
struct Watcher(std::process::Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_watch(w: &World) -> Watcher {
    let child = w
        .spawn_cmd("greasesnatch")
        .arg("--watch")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Watcher(child)
}

fn has(w: &World, name: &str) -> bool {
    w.cron_dir().join(name).exists()
}

#[test]
fn watch_applies_launches_as_they_are_published() {
    for b in Backend::ALL {
        let Some((w, p1, p2)) = two_projects_on(b) else {
            continue;
        };
        eprintln!("--- backend {b:?}");
        let _watch = start_watch(&w);
        backends::eventually("the watch to install both projects", || {
            w.cron_files().len() == FOREIGN.len() + 3
        });
        w.project(
            "p1",
            "com.example",
            "one",
            &[("z.cron", &entry("nobody", "z"))],
        );
        assert!(w.launch(&p1, &[]).status.success());
        backends::eventually("the watch to apply a relaunch", || {
            has(&w, "sgtest__com_example__one__z_cron")
                && !has(&w, "sgtest__com_example__one__a_cron")
                && !has(&w, "sgtest__com_example__one__b_cron")
        });
        w.project("p2", "com.example", "two", &[]);
        assert!(w.launch(&p2, &["--allow-empty"]).status.success());
        backends::eventually("the watch to remove an emptied project", || {
            !has(&w, "sgtest__com_example__two__c_cron")
        });
        assert!(has(&w, "sgtest__com_example__one__z_cron"));
        assert_foreign_intact(&w);
    }
}

#[test]
fn watch_resumes_after_etcd_member_failures() {
    if !backends::available() {
        return;
    }
    let c = backends::Cluster::start();
    let mut w = World::new();
    let cfg = backends::etcd_config_through_elections(c.url("farm"));
    w.configure(|j| j["store"] = backends::store_json(&cfg));
    w.init_store();
    let _watch = start_watch(&w);
    // Whichever member serves the watch, one of these kills cuts it.
    for i in 0..backends::MEMBERS {
        c.kill(i);
        let artifact = format!("p{i}");
        let p = w.project(
            &artifact,
            "com.example",
            &artifact,
            &[("x.cron", &entry("nobody", "x"))],
        );
        let out = w.launch(&p, &[]);
        assert!(
            out.status.success(),
            "launch with member {i} down: {:?}",
            text(&out)
        );
        let name = format!("sgtest__com_example__{artifact}__x_cron");
        backends::eventually(&format!("{name} with member {i} down"), || has(&w, &name));
        c.restart(i);
    }
}

#[test]
fn etcd_quorum_lost_launch_and_snatch_change_nothing_until_it_returns() {
    if !backends::available() {
        return;
    }
    let c = backends::Cluster::start();
    let mut w = World::new();
    let cfg = backends::etcd_config(c.url("farm"));
    w.configure(|j| j["store"] = backends::store_json(&cfg));
    w.init_store();
    let p = w.project(
        "p",
        "com.example",
        "one",
        &[("a.cron", &entry("nobody", "a"))],
    );
    assert!(w.launch(&p, &[]).status.success());
    assert!(w.snatch(&[]).status.success());
    let before = snapshot(&w);
    c.kill(1);
    c.kill(2);
    // A write in flight at the moment quorum goes may still commit later (raft cannot say
    // either way); from the moment the survivor knows it is alone, nothing gets through.
    let store = backends::store_of(&w);
    backends::eventually("the survivor to lose its leader", || store.check().is_err());
    w.project(
        "p",
        "com.example",
        "one",
        &[("b.cron", &entry("nobody", "b"))],
    );
    let out = w.launch(&p, &[]);
    assert_eq!(out.status.code(), Some(69), "{:?}", text(&out));
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(
        err.contains("unavailable") && err.contains(&c.endpoints[0]),
        "{err}"
    );
    assert_eq!(snapshot(&w), before);
    c.restart(1);
    assert!(w.snatch(&[]).status.success());
    assert_eq!(snapshot(&w), before, "the refused launch was half done");
    assert!(w.launch(&p, &[]).status.success());
    assert!(w.snatch(&[]).status.success());
    assert!(has(&w, "sgtest__com_example__one__b_cron"));
    assert!(!has(&w, "sgtest__com_example__one__a_cron"));
    c.restart(2);
}

#[test]
fn with_wait_a_second_run_blocks_then_installs() {
    let (w, _, _) = two_projects();
    let path = w.cron_dir().join(".sgtest.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap();
    lock.lock().unwrap();
    let child = w
        .spawn_cmd("greasesnatch")
        .arg("--wait")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The kernel lists a process blocked on a flock(2) with "->" in /proc/locks.
    let ino = std::fs::metadata(&path).unwrap().ino();
    crate::harness::wait_for(
        "greasesnatch --wait to block on the lock",
        std::time::Duration::from_secs(30),
        || {
            let locks = std::fs::read_to_string("/proc/locks").ok()?;
            locks
                .lines()
                .any(|l| l.contains("->") && l.contains(&format!(":{ino} ")))
                .then_some(())
        },
    );
    assert_eq!(
        w.cron_files().len(),
        FOREIGN.len(),
        "installed while locked"
    );
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        summary(&out),
        "greasesnatch: 3 installed, 0 updated, 0 removed, 0 unchanged, 0 rejected"
    );
}
