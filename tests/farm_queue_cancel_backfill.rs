//! The farm queue's cancel and farm-wide backfill through the real binaries, workers
//! being real `greasesnatch --watch` processes (harness/farm.rs) on the directory store:
//! - `greasedispatch --cancel ID` of a request that runs: the worker's greaserun ends the
//!   job by TERM (the job's trap records it), the request ends `cancelled`, and a
//!   `--follow` and an `--attach` of it exit 81;
//! - `--backfill W --limit 2` drained by several workers with room: the jobs' own start
//!   and end marks never show more than 2 of the batch under way at once, every slot runs
//!   once, and oldest first (a slot starts before the slot two after it: within the
//!   limit's window, the order of starts is the order of takes give or take startup).

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::Duration;

use scalegrease::arbitration::queue;
use scalegrease::model::request::Phase;

use crate::harness::farm::{self, Farm};
use crate::harness::{World, text, wait_for};

/// Waits (up to 60 s) for a spawned greasedispatch to exit: (exit code, stdout, stderr).
fn exited(mut child: Child) -> (i32, String, String) {
    wait_for("greasedispatch to exit", Duration::from_secs(60), || {
        child.try_wait().unwrap()
    });
    let out = child.wait_with_output().unwrap();
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

#[test]
fn cancel_of_a_running_request_ends_its_job_by_term_and_its_followers_exit_81() {
    let w = World::new();
    let (started, termed) = (w.join("started"), w.join("termed"));
    let cmd = format!(
        "echo started; echo $$ > {}; trap \"echo term > {}; exit 143\" TERM; while :; do sleep 0.1; done",
        started.display(),
        termed.display()
    );
    let mut f = Farm::new(w, &[("sleeper", "--kill-grace 30s", &cmd)]);
    f.quick_abandon();
    f.start_workers(2, 4);
    f.wait_installed();
    let dispatch = |args: &[&str]| {
        f.w.spawn_cmd("greasedispatch")
            .env("SCALEGREASE_HOSTNAME", "submitter.farm")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let follower = dispatch(&["sleeper", "--slot", "2026-04-01T03:00Z", "--follow"]);
    let pid: i32 = wait_for("the job to start", Duration::from_secs(60), || {
        std::fs::read_to_string(&started).ok()?.trim().parse().ok()
    });
    let (id, st) = wait_for("the request to run", Duration::from_secs(30), || {
        f.states()
            .into_iter()
            .find(|(_, s)| s.phase == Phase::Running)
    });
    let attacher = dispatch(&["--attach", &id]);

    let out =
        f.w.cmd("greasedispatch")
            .env("SCALEGREASE_HOSTNAME", "submitter.farm")
            .args(["--cancel", &id, "--json"])
            .output()
            .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["outcome"].as_str(), v["host"].as_str()),
        (Some("asked"), st.host.as_deref()),
        "{v}"
    );

    // The job ended by TERM (its trap ran), and is gone.
    wait_for("the job's TERM trap", Duration::from_secs(30), || {
        std::fs::read_to_string(&termed)
            .ok()
            .filter(|t| t.trim() == "term")
    });
    let pid = nix::unistd::Pid::from_raw(pid);
    wait_for("the job to be gone", Duration::from_secs(30), || {
        nix::sys::signal::kill(pid, None).is_err().then_some(())
    });
    let end = wait_for("the request to end", Duration::from_secs(30), || {
        queue::state(f.store(), &id)
            .unwrap()
            .filter(|s| s.phase.is_final())
    });
    assert_eq!(end.phase, Phase::Cancelled, "{end:?}");
    assert_eq!(end.host, st.host, "{end:?}");
    let recs = f.records();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].status.to_string(), "cancelled", "{recs:?}");

    let (code, out, err) = exited(follower);
    assert_eq!(code, 81, "--follow: {out}\n{err}");
    assert!(
        out.starts_with("started\n"),
        "--follow printed the output: {out:?}"
    );
    let (code, _, err) = exited(attacher);
    assert_eq!(code, 81, "--attach: {err}");
    assert!(err.contains("cancelled"), "{err}");
}

#[test]
fn a_farm_wide_backfill_keeps_to_its_limit_runs_every_slot_once_oldest_first() {
    let w = World::new();
    let marks = w.join("marks");
    let cmd = format!(
        "echo S {slot} >> {m}; sleep 1; echo E {slot} >> {m}",
        slot = farm::SLOT,
        m = marks.display()
    );
    let mut f = Farm::new(w, &[("bf", "", &cmd)]);
    f.start_workers(4, 4);
    f.wait_installed();
    let out =
        f.w.cmd("greasedispatch")
            .env("SCALEGREASE_HOSTNAME", "submitter.farm")
            .args(["bf", "--slot", "2026-05-01T00:07Z", "--backfill", "8m"])
            .args(["--every", "1m", "--limit", "2", "--json"])
            .output()
            .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let slots: Vec<String> = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slot"].as_str().unwrap().to_string())
        .collect();
    assert!(slots.len() >= 8, "{v}");
    assert!(
        slots.windows(2).all(|p| p[0] < p[1]),
        "queued oldest first: {slots:?}"
    );

    let states = wait_for("the batch to end", Duration::from_secs(180), || {
        let st = f.states();
        (st.len() == slots.len() && st.values().all(|s| s.phase.is_final())).then_some(st)
    });
    assert!(
        states.values().all(|s| s.phase == Phase::Succeeded),
        "{states:?}"
    );
    let hosts: std::collections::BTreeSet<_> =
        states.values().filter_map(|s| s.host.clone()).collect();

    // Replay the jobs' own marks, in the order they were appended.
    let text = std::fs::read_to_string(&marks).unwrap();
    let (mut now, mut max) = (0i32, 0i32);
    let mut starts: Vec<String> = Vec::new();
    let mut ends: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("S", slot)) => {
                now += 1;
                starts.push(slot.to_string());
            }
            Some(("E", slot)) => {
                now -= 1;
                *ends.entry(slot.to_string()).or_default() += 1;
            }
            _ => panic!("odd mark {line:?}"),
        }
        max = max.max(now);
    }
    assert!(
        max <= 2,
        "{max} of the batch under way at once (limit 2):\n{text}"
    );
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(sorted, slots, "every slot started once:\n{text}");
    assert!(
        ends.values().all(|n| *n == 1) && ends.len() == slots.len(),
        "{text}"
    );
    let pos = |s: &String| starts.iter().position(|x| x == s).unwrap();
    for i in 0..slots.len() - 2 {
        assert!(
            pos(&slots[i]) < pos(&slots[i + 2]),
            "slot {} started after {} (not oldest first):\n{text}",
            slots[i],
            slots[i + 2]
        );
    }
    eprintln!("batch ran on {} hosts: {hosts:?}", hosts.len());
}
