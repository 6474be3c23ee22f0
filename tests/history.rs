//! Run history read by range (issue 10, "The store must answer these fast"): the store's
//! range reads on every backend, and through the real greasestatus: `runs --since` shows
//! exactly the slots from then on, `runs JOB` only that job, `runs --latest` each job's
//! newest slot, and `log` of a large output matches the log file byte for byte.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use scalegrease::arbitration::records;
use scalegrease::model::funnel::Decline;
use scalegrease::model::keys;
use scalegrease::model::record::{RunRecord, Status, TAIL_BYTES};
use scalegrease::model::slot::Slot;
use scalegrease::store::{Entry, in_range};

use crate::harness::backend::{each_backend, worlds};
use crate::harness::{World, text};

const KEEP: Duration = Duration::from_secs(3600);

fn key_list(v: Vec<Entry>) -> Vec<String> {
    v.into_iter().map(|e| e.key).collect()
}

#[test]
fn ranges_children_and_last_child_on_every_backend() {
    each_backend(|b, w| {
        let s = w.store();
        for k in [
            "runs/j/2026-11-01T00:00Z/h-1",
            "runs/j/2026-11-02T00:00Z/h-2",
            "runs/j/2026-11-02T00:00Z/h-3",
            "runs/j/2026-11-03T00:00Z/h-4",
            "runs/j-x/2026-11-01T00:00Z/h-5",
            "runs/j-x/2026-11-04T00:00Z/h-6",
            "runs/k/2026-11-01T00:00Z/h-7",
            "claims/j/2026-11-05T00:00Z",
        ] {
            s.put(k, k.as_bytes(), None).unwrap();
        }
        let per_job = s.list_range("runs/j", 0, "2026-11-02T00:00Z").unwrap();
        assert_eq!(
            key_list(per_job.clone()),
            [
                "runs/j/2026-11-02T00:00Z/h-2",
                "runs/j/2026-11-02T00:00Z/h-3",
                "runs/j/2026-11-03T00:00Z/h-4"
            ],
            "{b:?}"
        );
        assert_eq!(per_job[2].value, b"runs/j/2026-11-03T00:00Z/h-4", "{b:?}");
        for (prefix, depth, from) in [
            ("runs", 1, "2026-11-02T00:00Z"),
            ("runs", 1, ""),
            ("runs/j-x", 0, "2026-11-02"),
            ("runs/none", 0, ""),
            ("claims", 1, "2026-11-05T00:00Z"),
            ("claims/j", 0, "2026-11-05T00:00Z"),
        ] {
            let mut want = s.list(prefix).unwrap();
            want.retain(|e| in_range(&e.key, prefix, depth, from));
            let got = s.list_range(prefix, depth, from).unwrap();
            assert_eq!(got, want, "{b:?} {prefix} {depth} {from}");
        }
        assert_eq!(s.children("runs").unwrap(), ["j", "j-x", "k"], "{b:?}");
        assert_eq!(s.children("runs/j").unwrap().len(), 3, "{b:?}");
        assert!(s.children("declines").unwrap().is_empty(), "{b:?}");
        assert_eq!(
            s.last_child("runs/j").unwrap().as_deref(),
            Some("2026-11-03T00:00Z"),
            "{b:?}"
        );
        assert_eq!(
            s.last_child("runs/j-x").unwrap().as_deref(),
            Some("2026-11-04T00:00Z"),
            "{b:?}"
        );
        assert_eq!(s.last_child("runs/none").unwrap(), None, "{b:?}");
    });
}

/// A finished run of `job` at `slot`.
fn ran(job: &str, slot: Slot, host: &str, status: Status) -> RunRecord {
    RunRecord {
        host: host.into(),
        pid: 4242,
        user: "u".into(),
        claimed: true,
        runner: "shell".into(),
        start: Some(slot.time()),
        end: Some(slot.time() + TimeDelta::seconds(5)),
        exit_code: Some(if status == Status::Succeeded { 0 } else { 1 }),
        ..RunRecord::new(job, &slot.key(), status)
    }
}

/// (job, slot, status) of `greasestatus --json runs ARGS`.
fn shown(w: &World, args: &[&str]) -> Vec<(String, String, String)> {
    let out = w
        .cmd("greasestatus")
        .arg("--json")
        .arg("runs")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "runs {args:?}: {:?}", text(&out));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("job"), s("slot"), s("status"))
        })
        .collect()
}

#[test]
fn since_per_job_and_latest_show_exactly_their_runs() {
    for w in worlds() {
        let s = w.store();
        let now = Slot::now();
        let ago = |m: i64| Slot::at(now.time() - TimeDelta::minutes(m));
        let jobs = ["alpha", "beta:x~1", "gamma"];
        for (i, job) in jobs.iter().enumerate() {
            for m in [600, 180, 90, 30 + i as i64] {
                let st = if m == 90 {
                    Status::Failed
                } else {
                    Status::Succeeded
                };
                records::write(&*s, &ran(job, ago(m), "w1", st), KEEP).unwrap();
            }
        }
        // gamma's newest slot was only declined (5 minutes ago): still its latest.
        let d = Decline {
            job: "gamma".into(),
            slot: ago(5).key(),
            host: "w2".into(),
            reason: "load 9 > 2".into(),
            at: Utc::now(),
        };
        let dk = keys::decline("gamma", ago(5), "w2");
        s.put(&dk, &serde_json::to_vec(&d).unwrap(), None).unwrap();

        let row = |job: &str, m: i64, st: &str| (job.to_string(), ago(m).key(), st.to_string());
        let mut want = vec![
            row("gamma", 5, "declined"),
            row("alpha", 30, "succeeded"),
            row("beta:x~1", 31, "succeeded"),
            row("gamma", 32, "succeeded"),
        ];
        assert_eq!(shown(&w, &["--since", "1h"]), want);
        want.extend(jobs.map(|j| row(j, 90, "failed")));
        let mut since_2h = shown(&w, &["--since", "2h"]);
        since_2h[4..].sort();
        assert_eq!(since_2h, want);
        assert_eq!(
            shown(&w, &["beta:x~1"]),
            [600, 180, 90, 31]
                .map(|m| row("beta:x~1", m, if m == 90 { "failed" } else { "succeeded" }))
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            shown(&w, &["beta", "--since", "100m"]),
            [
                row("beta:x~1", 31, "succeeded"),
                row("beta:x~1", 90, "failed")
            ]
        );
        assert_eq!(
            shown(&w, &["--latest"]),
            [
                row("gamma", 5, "declined"),
                row("alpha", 30, "succeeded"),
                row("beta:x~1", 31, "succeeded"),
            ]
        );
        assert_eq!(
            shown(&w, &["alpha", "--latest"]),
            [row("alpha", 30, "succeeded")]
        );
        // The latest log of gamma is its newest run that ran, not the declined slot.
        let out = w
            .cmd("greasestatus")
            .args(["log", "gamma"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        assert!(text(&out).1.contains("succeeded on w1"), "{:?}", text(&out));
    }
}

#[test]
fn log_of_a_large_output_streams_byte_for_byte() {
    let w = World::new();
    let s = w.store();
    let slot = Slot::now();
    let logf = w.join("logs/big.log");
    let mut body = Vec::new();
    let mut want = Vec::new();
    for i in 0..250_000 {
        let pid = if i % 5 == 0 { 77 } else { 4242 };
        let line = format!(
            "[{pid}] 03:00:01 OUT:job line {i} é {}\n",
            "x".repeat(i % 50)
        );
        if pid == 4242 {
            want.extend_from_slice(line.as_bytes());
        }
        body.extend_from_slice(line.as_bytes());
    }
    std::fs::write(&logf, &body).unwrap();
    let rec = RunRecord {
        log_path: Some(logf.display().to_string()),
        ..ran("big", slot, "w1", Status::Succeeded)
    };
    records::write(&*s, &rec, KEEP).unwrap();
    records::write_tail(&*s, &rec, &vec![b'x'; TAIL_BYTES], KEEP).unwrap();

    let out = w.cmd("greasestatus").args(["log", "big"]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out).1);
    assert!(want.len() > 10 << 20);
    assert!(
        out.stdout == want,
        "the log differs from the file's lines of pid 4242"
    );
    let out = w
        .cmd("greasestatus")
        .args(["--json", "log", "big"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out).1);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["source"], "file");
    assert_eq!(j["run"]["job"], "big");
    assert!(j["text"].as_str().unwrap().as_bytes() == want);
}
