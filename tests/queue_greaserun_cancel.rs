//! Ending a running greaserun through the farm queue, with the real binary on the
//! directory store (a request's cancel also on etcd): a request's cancel ends the job's
//! whole process group; a run's own cancel marker ends it while it waits for inputs;
//! `--concurrency forbid` skips a slot while another run of the job is alive and
//! `replace` cancels that run first.

use std::time::Duration;

use scalegrease::arbitration::queue;
use scalegrease::model::keys;
use scalegrease::model::record::Status;
use scalegrease::model::request::Phase;

use crate::harness::etcd::each_backend;
use crate::harness::{World, wait_for};
use crate::queue_greaserun::{
    JOB, SLOT, ended, finish, greaserun, on, runs, served, state, submit, world,
};

#[test]
fn cancel_ends_the_jobs_process_group() {
    each_backend(|_, w| cancel_on(w));
}

fn cancel_on(w: World) {
    let (w, s) = on(w);
    let req = submit(&*s, JOB, SLOT, 1);
    let pidfile = w.join("work/bg.pid");
    let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
    let mut c = served(&w, &*s, &req, "worker1", &[], &script);
    let child = c.spawn().unwrap();
    let bg: i32 = wait_for(
        "the job's background process",
        Duration::from_secs(20),
        || std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok(),
    );
    wait_for("the running state", Duration::from_secs(20), || {
        (state(&*s, &req.id).phase == Phase::Running).then_some(())
    });
    let asked = queue::cancel(&*s, &req.id, "bob@front").unwrap();
    assert!(matches!(asked, queue::Cancelled::Asked(_)), "{asked:?}");
    let (code, err) = ended(child);
    assert_eq!(code, 81, "{err}");
    let r = &runs(&*s, SLOT)[0];
    assert_eq!(r.status, Status::Cancelled);
    assert!(r.reason.as_deref().unwrap().contains("bob@front"), "{r:?}");
    let st = state(&*s, &req.id);
    assert_eq!(st.phase, Phase::Cancelled);
    let marker = queue::cancel_key(&req);
    assert!(
        s.get(&marker).unwrap().is_none(),
        "the obeyed marker is removed"
    );
    wait_for(
        "the background process to be gone",
        Duration::from_secs(10),
        || {
            let stat = std::fs::read_to_string(format!("/proc/{bg}/stat")).unwrap_or_default();
            (stat.is_empty() || stat.contains(") Z ")).then_some(())
        },
    );
}

#[test]
fn a_runs_own_cancel_marker_ends_its_wait_for_inputs() {
    let (w, s) = world();
    let missing = w.join("work/never-there").display().to_string();
    let flags = ["--slot", SLOT, "--wait-for", missing.as_str()];
    let child = greaserun(&w, "worker1", &flags, "echo must-not-run")
        .spawn()
        .unwrap();
    let run_id = format!("worker1-{}", child.id());
    wait_for("the running record", Duration::from_secs(20), || {
        runs(&*s, SLOT)
            .into_iter()
            .find(|r| r.status == Status::Running)
    });
    s.put(&keys::cancel(JOB, SLOT, &run_id), b"carol@ops", None)
        .unwrap();
    let (code, err) = ended(child);
    assert_eq!(code, 81, "{err}");
    let r = &runs(&*s, SLOT)[0];
    assert_eq!(r.status, Status::Cancelled);
    let why = r.reason.as_deref().unwrap();
    assert!(
        why.contains("carol@ops") && why.contains("before it started"),
        "{why}"
    );
    assert!(s.get(&keys::cancel(JOB, SLOT, &run_id)).unwrap().is_none());
}

#[test]
fn concurrency_forbid_skips_and_replace_cancels_the_live_run() {
    let (w, s) = world();
    let old = greaserun(&w, "worker1", &["--slot", SLOT], "sleep 120")
        .spawn()
        .unwrap();
    let old_id = format!("worker1-{}", old.id());
    wait_for("the old run's record", Duration::from_secs(20), || {
        runs(&*s, SLOT)
            .into_iter()
            .find(|r| r.status == Status::Running)
    });

    let s2 = "2026-03-01T04:00Z";
    let flags = ["--slot", s2, "--concurrency", "forbid"];
    let (code, err) = finish(greaserun(&w, "worker2", &flags, "echo must-not-run"));
    assert_eq!(code, 0, "{err}");
    let r = &runs(&*s, s2)[0];
    assert_eq!(r.status, Status::Skipped);
    assert!(r.reason.as_deref().unwrap().contains(&old_id), "{r:?}");

    let s3 = "2026-03-01T05:00Z";
    let flags = ["--slot", s3, "--concurrency", "replace"];
    let (code, err) = finish(greaserun(&w, "worker2", &flags, "echo replaced"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(runs(&*s, s3)[0].status, Status::Succeeded);
    let (code, err) = ended(old);
    assert_eq!(code, 81, "{err}");
    let r = &runs(&*s, SLOT)[0];
    assert_eq!(r.status, Status::Cancelled);
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("--concurrency replace"),
        "{r:?}"
    );
    let new_start = runs(&*s, s3)[0].start.unwrap();
    assert!(
        r.end.unwrap() <= new_start,
        "the old run ended before the new one started"
    );
}
