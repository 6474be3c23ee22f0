//! The farm queue through the real binaries (harness/farm.rs): 20 `greasesnatch --watch`
//! workers on one store drain 1,000 requests, each run exactly once and no host over its
//! `guard.max_running`, on the directory store and on a 3-member etcd cluster that loses
//! a member mid-run; and a worker SIGKILLed mid-job (its greasesnatch, greaseruns and
//! jobs, found by their `SCALEGREASE_HOSTNAME`) leaves its request abandoned, run again
//! elsewhere only when the entry says `--retries 1`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use scalegrease::arbitration::queue;
use scalegrease::model::request::Phase;

use crate::harness::etcd as backends;
use crate::harness::farm::{self, Farm, JOB};
use crate::harness::{World, text, wait_for};

const WORKERS: usize = 20;
const REQUESTS: usize = 1000;
const MAX_RUNNING: u32 = 2;

/// A farm of [`WORKERS`] on `w`'s store drains [`REQUESTS`] requests; `during(farm,
/// ran)` is called as runs come in (to break the store mid-run). Checks that every
/// request ran exactly once, succeeded, has one record, and that no host ever ran more
/// than [`MAX_RUNNING`] jobs at once.
fn drain(w: World, mut during: impl FnMut(&Farm, usize)) {
    let started = Instant::now();
    let cmd = farm::logging_command(&w.join("ran.log"));
    let mut f = Farm::new(w, &[(JOB, "", &cmd)]);
    f.start_workers(WORKERS, MAX_RUNNING);
    f.wait_installed();
    let submitting = Instant::now();
    // Submit from other threads while this one watches the runs come in (and breaks the
    // store on cue).
    let (reqs, submit_took) = std::thread::scope(|sc| {
        let submitter = sc.spawn(|| {
            let r = f.submit_many(JOB, REQUESTS);
            (r, submitting.elapsed())
        });
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let n = f.ran().len();
            during(&f, n);
            if n >= REQUESTS {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "only {n} of {REQUESTS} requests ran within 240 s\n{}\n{}",
                f.unsettled(),
                f.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        submitter.join().unwrap()
    });
    let ids: Vec<&str> = reqs.iter().map(|r| r.id.as_str()).collect();
    let ended = wait_for(
        "every request to reach an end",
        Duration::from_secs(60),
        || {
            // A request's end is written before its take is removed: wait for both.
            let st = f.states();
            (ids.iter()
                .all(|id| st.get(*id).is_some_and(|s| s.phase.is_final()))
                && queue::in_flight(f.store()).unwrap().is_empty())
            .then_some(st)
        },
    );
    let drained = submitting.elapsed();

    let ran = f.ran();
    // One request per slot: a slot that ran twice is a request that ran twice.
    let mut per_slot: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &ran {
        per_slot.entry(&r.slot).or_default().push(&r.host);
    }
    let twice: Vec<_> = per_slot.iter().filter(|(_, h)| h.len() > 1).collect();
    assert!(twice.is_empty(), "requests run more than once: {twice:?}");
    let wanted: BTreeSet<&str> = reqs.iter().map(|r| r.slot.as_str()).collect();
    let got: BTreeSet<&str> = per_slot.keys().copied().collect();
    assert_eq!(got, wanted, "runs of unknown slots, or requests lost");
    let not_ok: Vec<_> = ended
        .values()
        .filter(|s| ids.contains(&s.id.as_str()))
        .filter(|s| s.phase != Phase::Succeeded)
        .collect();
    assert!(
        not_ok.is_empty(),
        "requests not succeeded: {not_ok:?}\n{}",
        not_ok.iter().map(|s| f.mentions(&s.id)).collect::<String>()
    );
    // A worker whose listing was stale may create a take of an ended request and undo
    // it at once (its pending marker is gone): such a take is transient, a stuck one is
    // not.
    wait_for(
        "no take or pending marker left",
        Duration::from_secs(20),
        || {
            (queue::in_flight(f.store()).unwrap().is_empty()
                && queue::pending(f.store()).unwrap().0.is_empty())
            .then_some(())
        },
    );

    let recs = f.records();
    let mut rec_of: BTreeMap<String, usize> = BTreeMap::new();
    for r in &recs {
        assert!(ids.contains(&r.request.as_deref().unwrap_or("")), "{r:?}");
        assert_eq!(r.status.as_str(), "succeeded", "{r:?}");
        assert_eq!(r.attempt, Some(1), "{r:?}");
        *rec_of
            .entry(r.request.clone().unwrap_or_default())
            .or_default() += 1;
    }
    assert_eq!(recs.len(), REQUESTS, "one record per request");
    assert!(rec_of.values().all(|&n| n == 1), "two records of a request");

    let overlap = farm::max_overlap(&recs);
    let over: Vec<_> = overlap
        .iter()
        .filter(|(_, n)| **n > MAX_RUNNING as usize)
        .collect();
    assert!(over.is_empty(), "hosts over guard.max_running: {over:?}");
    eprintln!(
        "{REQUESTS} requests queued in {submit_took:.1?} (4 submitters) and all ended \
         {drained:.1?} after the first ({:.0}/s) on {} of {WORKERS} workers; most at once \
         on one host: {}; whole test {:.1?}",
        REQUESTS as f64 / drained.as_secs_f64(),
        overlap.len(),
        overlap.values().max().unwrap_or(&0),
        started.elapsed()
    );
}

#[test]
fn twenty_workers_drain_a_thousand_requests_on_the_dir_store() {
    drain(World::new(), |_, _| {});
}

#[test]
fn twenty_workers_drain_a_thousand_requests_on_etcd_while_a_member_dies_and_returns() {
    if !backends::available() {
        return;
    }
    let c = backends::Cluster::start();
    let mut w = World::new();
    let cfg = backends::etcd_config_through_elections(c.url(&backends::unique_prefix()));
    w.configure(|j| j["store"] = backends::store_json(&cfg));
    let (mut killed, mut restarted) = (None, false);
    drain(w, |_, n| {
        if killed.is_none() && n >= REQUESTS / 4 {
            let leader = c.leader().unwrap_or(0);
            c.kill(leader);
            eprintln!("killed member {leader} (the leader) after {n} runs");
            killed = Some(leader);
        } else if let Some(i) = killed
            && !restarted
            && n >= REQUESTS / 2
        {
            c.restart(i);
            eprintln!("restarted member {i} after {n} runs");
            restarted = true;
        }
    });
    assert!(restarted, "the member was never restarted");
}

/// The slot of the slow job's request.
const SLOW_SLOT: &str = "2026-02-01T03:00Z";

/// A farm with one worker whose job `slow` (with `flags`) logs its start and then, the
/// first time only, works for a minute.
fn slow_farm(flags: &str) -> (Farm, String) {
    let w = World::new();
    let flag = w.join("slow-started");
    let cmd = format!(
        "echo {} $SCALEGREASE_HOSTNAME >> {}; test -e {f} || (touch {f}; sleep 60)",
        farm::SLOT,
        w.join("ran.log").display(),
        f = flag.display()
    );
    let quick = farm::logging_command(&w.join("ran.log"));
    let mut f = Farm::new(w, &[("slow", flags, &cmd), (JOB, "", &quick)]);
    f.quick_abandon();
    f.start_workers(1, 4);
    f.wait_installed();
    let id = f.dispatch("slow", SLOW_SLOT);
    let host = f.workers[0].host.clone();
    wait_for("the slow job to start", Duration::from_secs(60), || {
        f.ran()
            .iter()
            .any(|r| r.slot == SLOW_SLOT && r.host == host)
            .then_some(())
    });
    // The host dies: its greasesnatch, greaserun and job, all at once.
    f.kill_worker(0);
    f.start_workers(1, 4);
    f.wait_installed();
    let st = wait_for(
        "the request to show abandoned",
        Duration::from_secs(60),
        || {
            queue::state(f.store(), &id)
                .unwrap()
                .filter(|s| s.phase == Phase::Abandoned)
        },
    );
    assert_eq!(st.host.as_deref(), Some(host.as_str()), "{st:?}");
    let out =
        f.w.cmd("greasestatus")
            .args(["runs", "slow", "--json"])
            .output()
            .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        runs.iter()
            .any(|r| r["status"] == "abandoned" && r["host"] == host.as_str()),
        "{runs:?}"
    );
    (f, id)
}

#[test]
fn a_killed_worker_leaves_its_request_abandoned_and_a_retry_runs_elsewhere() {
    let (f, first) = slow_farm("--retries 1 --retry-delay 1s");
    let second = &f.workers[1].host;
    wait_for(
        "attempt 2 to run on the other worker",
        Duration::from_secs(60),
        || f.ran().into_iter().find(|r| &r.host == second),
    );
    let id = wait_for("attempt 2's reservation", Duration::from_secs(10), || {
        f.store()
            .get(&scalegrease::model::keys::attempt("slow", SLOW_SLOT, 2))
            .unwrap()
    });
    let req = queue::get(f.store(), &String::from_utf8(id).unwrap())
        .unwrap()
        .unwrap();
    assert_ne!(req.id, first);
    assert_eq!((req.job.as_str(), req.attempt), ("slow", 2), "{req:?}");
    assert_eq!(req.kind.as_str(), "retry");
    wait_for("attempt 2 to succeed", Duration::from_secs(30), || {
        queue::state(f.store(), &req.id)
            .unwrap()
            .filter(|s| s.phase == Phase::Succeeded)
    });
    let runs = f.ran();
    assert_eq!(
        runs.len(),
        2,
        "exactly the killed run and its retry: {runs:?}"
    );
    assert_eq!(
        queue::attempts(f.store(), "slow", SLOW_SLOT).unwrap(),
        [1, 2]
    );
}

#[test]
fn a_killed_worker_without_retries_runs_nothing_twice() {
    let (f, first) = slow_farm("");
    // Proof that the surviving worker pulled after the abandon: a later request runs.
    let later = f.request(JOB, "2026-02-01T04:00Z", 1);
    queue::submit(f.store(), &later).unwrap();
    let second = &f.workers[1].host;
    wait_for("a later request to run", Duration::from_secs(60), || {
        f.ran()
            .iter()
            .any(|r| r.slot == later.slot && &r.host == second)
            .then_some(())
    });
    let slow: Vec<_> = f
        .ran()
        .into_iter()
        .filter(|r| r.slot == SLOW_SLOT)
        .collect();
    assert_eq!(slow.len(), 1, "the slow job ran again: {slow:?}");
    assert_eq!(queue::attempts(f.store(), "slow", SLOW_SLOT).unwrap(), [1]);
    assert_eq!(
        queue::state(f.store(), &first).unwrap().unwrap().phase,
        Phase::Abandoned
    );
    assert!(queue::pending(f.store()).unwrap().0.is_empty());
}

#[test]
fn every_worker_installs_the_farms_greaserun_entry_and_dies_whole() {
    let w = World::new();
    let cmd = farm::logging_command(&w.join("ran.log"));
    let mut f = Farm::new(w, &[(JOB, "-q", &cmd)]);
    f.start_workers(3, MAX_RUNNING);
    f.wait_installed();
    let mut commands = Vec::new();
    for wk in &f.workers {
        let file = std::fs::read_dir(&wk.cron_dir)
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().contains("farm_cron"))
            .unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        // Placement comments the entry out on workers that do not hold it; the farm
        // queue serves it there all the same, as read back here.
        let served = scalegrease::dispatch::snatch::place::uncomment_held(&text);
        let tab = scalegrease::dispatch::crontab::parse(&served);
        let entries = scalegrease::farm::entry::entries(&tab);
        // The worker's matcher reads it as a plain greaserun entry of the farm's job.
        let e = match entries.as_slice() {
            [Ok(e)] => e.clone(),
            other => panic!("{}: {other:?}\n{text}", wk.host),
        };
        assert_eq!((e.job.as_str(), e.user.as_str()), (JOB, "root"));
        commands.push((e.command, wk.config.clone(), wk.host.clone()));
    }
    // The entry's command, started by hand as a worker starts it, serves a request and
    // logs its slot and host.
    let req = f.request(JOB, "2026-03-01T05:07Z", 0);
    queue::submit(f.store(), &req).unwrap();
    assert!(queue::take(f.store(), &req, &commands[2].2).unwrap());
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", &commands[2].0])
        .env("SCALEGREASE_REQUEST", &req.id)
        .env("SCALEGREASE_CONFIG", &commands[2].1)
        .env("SCALEGREASE_HOSTNAME", &commands[2].2)
        .env("TZ", "UTC")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let ran = f.ran();
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(
        (ran[0].slot.as_str(), &ran[0].host),
        (req.slot.as_str(), &commands[2].2)
    );
    let st = queue::state(f.store(), &req.id).unwrap().unwrap();
    assert_eq!(st.phase, Phase::Succeeded, "{st:?}");
    let host = f.workers[1].host.clone();
    let alive = |h: &str| {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("environ")).is_ok_and(|env| {
                env.split(|&b| b == 0)
                    .any(|v| v == format!("SCALEGREASE_HOSTNAME={h}").as_bytes())
            })
        })
    };
    assert!(alive(&host));
    f.kill_worker(1);
    assert!(!alive(&host), "a process of {host} survived");
    assert!(alive(&f.workers[0].host));
}

#[test]
fn overlap_counts_runs_under_way_at_once_per_host() {
    use scalegrease::model::record::{RunRecord, Status};
    let t0 = chrono::Utc::now();
    let r = |h: &str, s: i64, e: Option<i64>| RunRecord {
        host: h.into(),
        start: Some(t0 + chrono::TimeDelta::milliseconds(s)),
        end: e.map(|e| t0 + chrono::TimeDelta::milliseconds(e)),
        ..RunRecord::new(JOB, "2026-01-01T00:00Z", Status::Succeeded)
    };
    let recs = [
        r("a", 0, Some(1000)),
        r("a", 1000, Some(2000)),
        r("a", 500, Some(1500)),
        r("b", 0, None),
        r("b", 100, Some(200)),
        r("b", 150, Some(300)),
    ];
    let m = farm::max_overlap(&recs);
    assert_eq!(m["a"], 2);
    assert_eq!(m["b"], 3);
}
