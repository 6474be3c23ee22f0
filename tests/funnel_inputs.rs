//! --skip-if-exists and --wait-for through the real binaries, and derived job names found by
//! a unique part in greasestatus runs and log.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{World, text, wait_for};

use crate::funnel::*;

/// `--skip-if-exists` records `skipped`; `--wait-for` starts the job once its input
/// appears, and times out with 75 when it never does.
#[test]
fn skip_and_wait_for() {
    let w = World::new();
    w.store();
    let jar = jar(&w);
    let input = w.join("input.txt");
    let run = |extra: &[&str], job: &str| {
        let mut c = worker(&w, "w1.farm");
        c.args(["--job", job, "--slot", "2026-03-01T03:00"])
            .args(extra)
            .args([
                "--runner",
                "shell",
                jar.to_str().unwrap(),
                "--",
                "echo",
                "ran {date}",
            ]);
        c
    };
    std::fs::write(w.join("done"), "x").unwrap();
    let o = run(
        &["--skip-if-exists", w.join("done").to_str().unwrap()],
        "skipper",
    )
    .output()
    .unwrap();
    assert!(o.status.success());
    assert_eq!(status_of(&runs(&w, "skipper")[0]), "skipped");

    let o = run(
        &[
            "--wait-for",
            w.join("never").to_str().unwrap(),
            "--wait-timeout",
            "0s",
        ],
        "starved",
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(75), "{:?}", text(&o));

    let waiter = run(
        &[
            "--wait-for",
            input.to_str().unwrap(),
            "--wait-timeout",
            "60s",
        ],
        "waiter",
    )
    .spawn()
    .unwrap();
    wait_for(
        "the waiter's running record",
        Duration::from_secs(60),
        || {
            // Until the waiter claims, the store does not know the job (exit 1).
            let mut c = w.cmd("greasestatus");
            let o = c.args(["runs", "waiter", "--json"]).output().unwrap();
            let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap_or_default();
            (o.status.success() && !v.is_empty()).then_some(())
        },
    );
    std::fs::write(&input, "here").unwrap();
    let o = finish(waiter);
    assert!(o.status.success(), "{:?}", text(&o));
    let (stdout, _) = text(&o);
    assert!(stdout.contains("ran 2026-03-01"), "{stdout}");
    let out = w
        .cmd("greasestatus")
        .args(["log", "waiter"])
        .output()
        .unwrap();
    let (log, _) = text(&out);
    assert!(log.contains("ran 2026-03-01"), "{log}");
}

/// A derived job name (runner, artifact, arguments, hash) is found by any unique part of
/// it, so `greasestatus log alpha` works without knowing the full name; an ambiguous part
/// lists the candidates.
#[test]
fn derived_job_names_are_found_by_a_unique_part() {
    let w = World::new();
    w.store();
    let jar = jar(&w);
    for word in ["alpha", "beta"] {
        let o = worker(&w, "w1.farm")
            .args(["--slot", "2026-03-01T03:00", "--runner", "shell"])
            .arg(&jar)
            .args(["--", "echo", word])
            .output()
            .unwrap();
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let o = w
        .cmd("greasestatus")
        .args(["log", "alpha"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(stdout, "alpha\n");
    assert!(stderr.contains("succeeded on w1.farm"), "{stderr}");

    let listed = runs(&w, "beta");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0]["job"].as_str().unwrap().contains("beta"));

    let o = w
        .cmd("greasestatus")
        .args(["log", "echo"])
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("matches several jobs"), "{stderr}");
    assert!(
        stderr.contains("alpha") && stderr.contains("beta"),
        "{stderr}"
    );
}
