//! The funnel on a real 3-member etcd cluster while its leader dies and returns, and while
//! quorum is lost.

use std::process::Child;
use std::time::Duration;

use crate::harness::{World, text};

/// The smallest valid zip file (an empty one): a local "fat jar" for the shell runner.
use crate::funnel::*;

/// A world whose store is a prefix on `c`, a cluster of the test's own.
fn world_on_cluster(c: &crate::harness::etcd::Cluster) -> World {
    use crate::harness::etcd as backends;
    let mut w = World::new();
    // The default request timeout, which rides out an election when the leader dies.
    let cfg = backends::etcd_config_through_elections(c.url(&backends::unique_prefix()));
    w.configure(|j| j["store"] = backends::store_json(&cfg));
    w
}

/// The slots in `ran`, a farm's log of `<slot> <host>` lines.
fn ran_count(ran: &std::path::Path) -> usize {
    std::fs::read_to_string(ran)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn etcd_farm_runs_each_slot_once_while_the_leader_dies_and_returns() {
    use crate::harness::etcd as backends;
    if !backends::available() {
        return;
    }
    let c = backends::Cluster::start();
    let w = world_on_cluster(&c);
    let ran = w.join("ran.log");
    // The farm runs in its own thread; this one kills the leader mid-run and restarts it.
    let farm = std::thread::spawn(move || farm_on(w));
    // A fresh cluster and a farm under a loaded CI machine: a generous deadline.
    crate::harness::wait_for("100 slots to run", Duration::from_secs(180), || {
        (ran_count(&ran) >= 100).then_some(())
    });
    let leader = c.leader().unwrap_or(0);
    c.kill(leader);
    eprintln!(
        "killed member {leader} (the leader) after {} slots",
        ran_count(&ran)
    );
    crate::harness::wait_for("250 slots to run", Duration::from_secs(180), || {
        (ran_count(&ran) >= 250).then_some(())
    });
    c.restart(leader);
    eprintln!("restarted member {leader} after {} slots", ran_count(&ran));
    // farm_on checks: exactly one run per slot, none lost, every record succeeded.
    farm.join().unwrap();
}

#[test]
fn etcd_quorum_lost_workers_skip_and_run_once_it_returns() {
    use crate::harness::etcd as backends;
    if !backends::available() {
        return;
    }
    let c = backends::Cluster::start();
    let w = world_on_cluster(&c);
    let store = w.store();
    let jar = jar(&w);
    let ran = w.join("ran.log");
    let cmd = format!(
        "echo {{datetime}} $SCALEGREASE_HOSTNAME >> {}",
        ran.display()
    );
    let farm = |slot: &str| -> Vec<std::process::Output> {
        let children: Vec<Child> = (0..5)
            .map(|i| {
                worker(&w, &format!("worker{i}.farm"))
                    .args(["--job", "q", "--slot", slot, "--runner", "shell"])
                    .args([jar.to_str().unwrap(), "--", "sh", "-c", &cmd])
                    .spawn()
                    .unwrap()
            })
            .collect();
        children.into_iter().map(finish).collect()
    };
    c.kill(1);
    c.kill(2);
    backends::eventually("the survivor to lose its leader", || store.check().is_err());
    for out in farm("2026-03-01T03:00Z") {
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(75), "{err}");
        assert!(
            err.contains("cannot claim it") && err.contains("unavailable"),
            "{err}"
        );
    }
    assert_eq!(ran_count(&ran), 0, "a worker ran without a claim");
    // Quorum returns: the next slot runs exactly once; the skipped one stays unrun.
    c.restart(1);
    backends::eventually("quorum to return", || store.check().is_ok());
    for out in farm("2026-03-01T03:01Z") {
        assert!(out.status.success(), "{:?}", text(&out));
    }
    let log = std::fs::read_to_string(&ran).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.starts_with("2026-03-01T03:01"), "{log}");
    let recs = runs(&w, "q");
    assert_eq!(
        recs.iter().filter(|r| status_of(r) == "succeeded").count(),
        1
    );
    c.restart(2);
}
