//! The funnel through the real binaries: worker processes, each with its own
//! `SCALEGREASE_HOSTNAME`, racing for the same slots of one store; SIGKILLed winners;
//! overloaded farms; backfill; and the `greasestatus runs` / `log` views.
//!
//! The store is whatever the world's config names (see `World::store`): each test runs
//! once per backend available here (the directory store; etcd with `--features etcd`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::etcd::each_backend;
use crate::harness::{World, text, wait_for};

pub(crate) fn jar(w: &World) -> PathBuf {
    w.empty_jar()
}

/// A greaserun on simulated worker `host`, with no random delay and stdin not a TTY (so
/// it claims, as under cron).
pub(crate) fn worker(w: &World, host: &str) -> std::process::Command {
    let mut c = w.spawn_cmd("greaserun");
    c.env("SCALEGREASE_HOSTNAME", host)
        .arg("-D")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// `greasestatus runs <job> --json`, parsed.
pub(crate) fn runs(w: &World, job: &str) -> Vec<Value> {
    let out = w
        .cmd("greasestatus")
        .args(["runs", job, "--json"])
        .output()
        .unwrap();
    let (o, e) = text(&out);
    assert!(out.status.success(), "greasestatus runs failed: {e}");
    serde_json::from_str(&o).unwrap_or_else(|err| panic!("bad JSON ({err}): {o}"))
}

pub(crate) fn status_of(r: &Value) -> &str {
    r["status"].as_str().unwrap_or("")
}

pub(crate) fn finish(c: Child) -> std::process::Output {
    c.wait_with_output().unwrap()
}

/// 20 worker processes race over the 500 one-minute slots of one job: each worker is one
/// greaserun going through every slot (a backfill of the window), so every slot is
/// contended by all 20 at once. Exactly one run per slot, none lost, none twice.
pub(crate) fn farm_on(w: World) {
    w.store();
    let jar = jar(&w);
    let ran = w.join("ran.log");
    let cmd = format!(
        "echo {{datetime}} $SCALEGREASE_HOSTNAME >> {}",
        ran.display()
    );
    let children: Vec<Child> = (0..20)
        .map(|i| {
            worker(&w, &format!("worker{i:02}.farm"))
                .args(["-q", "--job", "farm", "--slot", "2026-03-01T08:19Z"])
                .args(["--backfill", "500m", "--every", "1m", "--keep-going"])
                .args([
                    "--runner",
                    "shell",
                    jar.to_str().unwrap(),
                    "--",
                    "sh",
                    "-c",
                    &cmd,
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = finish(c);
        assert!(out.status.success(), "a worker failed: {:?}", text(&out));
    }
    let log = std::fs::read_to_string(&ran).unwrap();
    let mut per_slot: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in log.lines() {
        let (slot, host) = line.split_once(' ').unwrap();
        per_slot.entry(slot).or_default().push(host);
    }
    let twice: Vec<_> = per_slot.iter().filter(|(_, h)| h.len() > 1).collect();
    assert!(twice.is_empty(), "slots run more than once: {twice:?}");
    assert_eq!(
        per_slot.len(),
        500,
        "slots lost: {} of 500 ran",
        per_slot.len()
    );

    let recs = runs(&w, "farm");
    assert_eq!(recs.len(), 500);
    assert!(
        recs.iter()
            .all(|r| status_of(r) == "succeeded" && r["claimed"] == true)
    );
    let hosts: std::collections::BTreeSet<_> = per_slot.values().flatten().copied().collect();
    eprintln!("500 slots ran on {} of 20 workers", hosts.len());
}

#[test]
fn farm_of_20_runs_each_of_500_slots_once() {
    each_backend(|_, w| farm_on(w));
}

/// The scheduled path: every worker starts one greaserun per slot (as cron does), with
/// bounded concurrency. 20 workers x 25 slots.
pub(crate) fn farm_per_slot_on(w: World) {
    w.store();
    let jar = jar(&w);
    let ran = w.join("ran.log");
    let cmd = format!(
        "echo {{datetime}} $SCALEGREASE_HOSTNAME >> {}",
        ran.display()
    );
    let queue: Mutex<Vec<(usize, usize)>> = Mutex::new(
        (0..25)
            .rev()
            .flat_map(|s| (0..20).map(move |h| (s, h)))
            .collect(),
    );
    std::thread::scope(|sc| {
        for _ in 0..6 {
            sc.spawn(|| {
                loop {
                    let Some((s, h)) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let slot = format!("2026-03-01T00:{s:02}Z");
                    let out = worker(&w, &format!("worker{h:02}.farm"))
                        .args(["--job", "farm", "--slot", &slot])
                        .args([
                            "--runner",
                            "shell",
                            jar.to_str().unwrap(),
                            "--",
                            "sh",
                            "-c",
                            &cmd,
                        ])
                        .output()
                        .unwrap();
                    let (_, err) = text(&out);
                    assert!(out.status.success(), "worker{h:02} slot {slot}: {err}");
                    assert!(
                        err.is_empty() || err.contains("already claimed by worker"),
                        "{err}"
                    );
                }
            });
        }
    });
    let log = std::fs::read_to_string(&ran).unwrap();
    let mut slots: Vec<&str> = log.lines().map(|l| l.split(' ').next().unwrap()).collect();
    let n = slots.len();
    slots.dedup();
    assert_eq!((n, slots.len()), (25, 25), "{log}");
}

#[test]
fn farm_started_per_slot_runs_each_slot_once() {
    each_backend(|_, w| farm_per_slot_on(w));
}

pub(crate) fn kill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// A winner SIGKILLed mid-run (the host died) shows as `abandoned` once its heartbeat is
/// older than `funnel.abandon_after`, and no other worker reruns the slot by itself.
pub(crate) fn killed_winner_on(mut w: World) {
    w.configure(|c| c["funnel"] = json!({"heartbeat_interval": "100ms", "abandon_after": "1s"}));
    w.store();
    let jar = jar(&w);
    let pidfile = w.join("job.pid");
    let job = format!("echo $$ > {}; exec sleep 120", pidfile.display());
    let mut winner = worker(&w, "doomed.farm")
        .args(["--job", "sleepy", "--slot", "2026-03-01T03:00Z"])
        .args([
            "--runner",
            "shell",
            jar.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &job,
        ])
        .spawn()
        .unwrap();
    let job_pid: i32 = wait_for("the job to start", Duration::from_secs(60), || {
        std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    });
    wait_for("a running record", Duration::from_secs(60), || {
        runs(&w, "sleepy")
            .first()
            .filter(|r| status_of(r) == "running")
            .map(|_| ())
    });
    winner.kill().unwrap(); // SIGKILL
    winner.wait().unwrap();
    kill(job_pid);
    let rec = wait_for(
        "the run to show as abandoned",
        Duration::from_secs(60),
        || {
            runs(&w, "sleepy")
                .into_iter()
                .find(|r| status_of(r) == "abandoned")
        },
    );
    assert_eq!(rec["host"], "doomed.farm");

    let out = worker(&w, "other.farm")
        .args(["--job", "sleepy", "--slot", "2026-03-01T03:00Z"])
        .args(["--runner", "shell", jar.to_str().unwrap(), "--", "true"])
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("already claimed by doomed.farm at"), "{err}");
    assert_eq!(runs(&w, "sleepy").len(), 1);
}

#[test]
fn killed_winner_shows_as_abandoned() {
    each_backend(|_, w| killed_winner_on(w));
}

/// Every worker over its limits: none claims, each records its decline, and the slot
/// shows as `dropped` with the declines once the retention window has passed.
pub(crate) fn all_overloaded_on(mut w: World) {
    w.configure(|c| {
        c["guard"]["max_running"] = json!(0);
        c["funnel"] = json!({"retention": "1s"});
    });
    w.store();
    let jar = jar(&w);
    for i in 0..5 {
        let out = worker(&w, &format!("busy{i}.farm"))
            .args(["--job", "report", "--slot", "2026-03-01T03:00Z"])
            .args(["--runner", "shell", jar.to_str().unwrap(), "--", "true"])
            .output()
            .unwrap();
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(75), "{err}");
        assert!(err.contains(">= 0 (guard.max_running)"), "{err}");
    }
    let rec = wait_for(
        "the slot to show as dropped",
        Duration::from_secs(60),
        || {
            runs(&w, "report")
                .into_iter()
                .find(|r| status_of(r) == "dropped")
        },
    );
    let declines = rec["declines"].as_array().unwrap();
    assert_eq!(declines.len(), 5);
    assert!(declines.iter().all(|d| {
        d["reason"]
            .as_str()
            .unwrap()
            .contains(">= 0 (guard.max_running)")
    }));
    let out = w
        .cmd("greasestatus")
        .args(["runs", "report"])
        .output()
        .unwrap();
    let (table, _) = text(&out);
    assert!(
        table.contains("dropped") && table.contains("busy3.farm: "),
        "{table}"
    );
}

#[test]
fn all_workers_overloaded_drops_the_slot_with_their_declines() {
    each_backend(|_, w| all_overloaded_on(w));
}

/// `--backfill 7d --every 1d` with some outputs present runs exactly the missing days,
/// oldest first, and a second pass runs nothing.
pub(crate) fn backfill_on(w: World) {
    w.store();
    let jar = jar(&w);
    let out = w.join("out");
    std::fs::create_dir_all(&out).unwrap();
    for d in ["2026-03-04", "2026-03-06", "2026-03-07"] {
        std::fs::write(out.join(d), "x").unwrap();
    }
    let ran = w.join("ran.log");
    let job = format!(
        "echo {{date}} >> {ran} && echo made {{date}} > {out}/{{date}}",
        ran = ran.display(),
        out = out.display()
    );
    let pass = || {
        let o = worker(&w, "w1.farm")
            .args([
                "--job",
                "daily",
                "--slot",
                "2026-03-10T03:00",
                "--backfill",
                "7d",
            ])
            .args(["--every", "1d", "--skip-if-exists"])
            .arg(format!("{}/{{date}}", out.display()))
            .args([
                "--runner",
                "shell",
                jar.to_str().unwrap(),
                "--",
                "sh",
                "-c",
                &job,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{:?}", text(&o));
    };
    pass();
    let days = std::fs::read_to_string(&ran).unwrap();
    assert_eq!(
        days.lines().collect::<Vec<_>>(),
        ["2026-03-05", "2026-03-08", "2026-03-09", "2026-03-10"]
    );
    // The claims of the first pass are still held, and the outputs exist now anyway.
    pass();
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), days);

    // The log of one of them, from anywhere.
    let o = w
        .cmd("greasestatus")
        .args(["log", "daily", "--slot", "2026-03-08T03:00"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("w1.farm"), "{stderr}");
    let _ = stdout; // the job printed nothing; its output (empty) comes from the store
}

#[test]
fn backfill_runs_exactly_the_missing_slots_in_order() {
    each_backend(|_, w| backfill_on(w));
}
