//! A farm on one machine for the farm-queue tests: one store (the world's: a directory or
//! an etcd cluster), one published project of greaserun entries, and N workers, each a
//! real `greasesnatch --watch` with its own `SCALEGREASE_HOSTNAME`, cron directory and
//! config (its own `guard.max_running`), all pulling from that store.
//!
//! Every process a worker starts inherits its `SCALEGREASE_HOSTNAME` (the worker passes
//! it to greaserun, which passes its environment to the job), so a worker is killed as a
//! host dies: SIGKILL to every process whose environment names its host: greasesnatch,
//! the detached greaseruns it started (each in its own session) and their jobs. Dropping
//! the farm kills every worker that way.
//!
//! Jobs log `<slot> <host>` lines (slot in key form) to `ran.log` ([`Farm::ran`]):
//! greaserun does not pass the request id on to the job, but every request of a farm
//! test has its own slot. Run records (whose start and end show how many runs a host had
//! under way at once: [`max_overlap`]) and request states are read from the store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use scalegrease::arbitration::{queue, records};
use scalegrease::model::record::RunRecord;
use scalegrease::model::request::{Kind, Request, RequestState, request_id};
use scalegrease::store::Store;

use super::{World, text};

/// The job every farm publishes: appends one line per run to `ran.log` after `pause`
/// seconds of work.
pub const JOB: &str = "farm-job";

/// The slot parameter that greaserun fills with the run's slot in key form (the crontab
/// sets `TZ=UTC`).
pub const SLOT: &str = "{slot:\\%Y-\\%m-\\%dT\\%H:\\%MZ}";

/// The job's shell command (inside single quotes in the crontab): logs its slot and host
/// to `ran` (a shell builtin: no process besides the shell).
pub fn logging_command(ran: &std::path::Path) -> String {
    format!("echo {SLOT} $SCALEGREASE_HOSTNAME >> {}", ran.display())
}

/// One line of `ran.log`: one run of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    /// The run's slot, in key form.
    pub slot: String,
    pub host: String,
}

/// One simulated host.
pub struct Worker {
    pub host: String,
    pub config: PathBuf,
    pub cron_dir: PathBuf,
    child: Option<Child>,
}

/// The farm: the world (store, project, logs) and its workers.
pub struct Farm {
    pub w: World,
    pub workers: Vec<Worker>,
    /// Where jobs log their runs.
    pub ran: PathBuf,
    /// Makes this farm's host names unique among farms running at once.
    tag: String,
    store: Box<dyn Store>,
}

impl Farm {
    /// Initialises `w`'s store and publishes one project whose crontab has an entry per `(job, greaserun flags, shell
    /// command)`, each run as root through this build's greaserun.
    pub fn new(mut w: World, entries: &[(&str, &str, &str)]) -> Farm {
        w.configure(|c| c["launch"]["allow_root"] = true.into());
        let store = w.store();
        let jar = w.empty_jar();
        let greaserun = super::bin_path("greaserun");
        let mut crontab = String::from("TZ=UTC\n");
        crontab += &entries
            .iter()
            .map(|(job, flags, cmd)| {
                format!(
                    "0 0 1 1 * root {} --job {job} {flags} --runner shell {} -- sh -c '{cmd}'\n",
                    greaserun.display(),
                    jar.display()
                )
            })
            .collect::<String>();
        let p = w.project("farm", "com.example", "farm", &[("farm.cron", &crontab)]);
        let out = w.launch(&p, &[]);
        assert!(out.status.success(), "publish the farm: {:?}", text(&out));
        let ran = w.join("ran.log");
        Farm {
            w,
            workers: Vec::new(),
            ran,
            tag: format!("{:04x}", scalegrease::util::random::u64() & 0xffff),
            store,
        }
    }

    /// Short heartbeats (200 ms) and abandons (after 2 s) for workers started from now on.
    pub fn quick_abandon(&mut self) {
        self.w.configure(|c| {
            c["funnel"] = serde_json::json!({"heartbeat_interval": "200ms", "abandon_after": "2s"})
        });
    }

    /// The store, opened by the test process (to submit and to read states and records).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Starts `n` more workers (`w00.<tag>.farm`, `w01.<tag>.farm`, ...), each allowing
    /// `max_running` jobs at once; returns their indexes.
    pub fn start_workers(&mut self, n: usize, max_running: u32) -> std::ops::Range<usize> {
        let first = self.workers.len();
        for i in first..first + n {
            let host = format!("w{i:02}.{}.farm", self.tag);
            let dir = self.w.join(&format!("workers/{host}"));
            let cron_dir = dir.join("cron.d");
            std::fs::create_dir_all(&cron_dir).unwrap();
            let mut cfg = self.w.config.clone();
            cfg["launch"]["crontab_etc_crond"] = cron_dir.display().to_string().into();
            cfg["guard"]["max_running"] = max_running.into();
            let config = dir.join("scalegrease.json");
            std::fs::write(&config, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
            let mut worker = Worker {
                host,
                config,
                cron_dir,
                child: None,
            };
            worker.child = Some(self.spawn_worker(&worker, &dir));
            self.workers.push(worker);
        }
        first..first + n
    }

    fn spawn_worker(&self, wk: &Worker, dir: &std::path::Path) -> Child {
        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        self.w
            .spawn_cmd("greasesnatch")
            .env("SCALEGREASE_CONFIG", &wk.config)
            .env("SCALEGREASE_HOSTNAME", &wk.host)
            .env("RUST_LOG", "info")
            .args(["--watch"])
            .stdin(Stdio::null())
            .stdout(log("stdout.log"))
            .stderr(log("stderr.log"))
            .spawn()
            .unwrap()
    }

    /// What worker `i` printed (stderr), for failure messages.
    pub fn worker_log(&self, i: usize) -> String {
        let host = &self.workers[i].host;
        std::fs::read_to_string(self.w.join(&format!("workers/{host}/stderr.log")))
            .unwrap_or_default()
    }

    /// Every worker's log lines that mention `needle` (a request id), each after its
    /// host, for failure messages.
    pub fn mentions(&self, needle: &str) -> String {
        let mut out = String::new();
        for (i, wk) in self.workers.iter().enumerate() {
            for line in self.worker_log(i).lines().filter(|l| l.contains(needle)) {
                out.push_str(&format!("{}: {line}\n", wk.host));
            }
        }
        out
    }

    /// The worker hosts' logs' last lines, for failure messages.
    pub fn logs(&self) -> String {
        (0..self.workers.len())
            .map(|i| {
                let l = self.worker_log(i);
                let tail: Vec<&str> = l.lines().rev().take(5).collect();
                format!("--- {}\n{}", self.workers[i].host, tail.join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until every worker installed the farm's crontab (so it can match requests).
    pub fn wait_installed(&self) {
        for wk in &self.workers {
            super::wait_for(
                &format!("{} to install the farm's crontab", wk.host),
                Duration::from_secs(60),
                || {
                    std::fs::read_dir(&wk.cron_dir)
                        .ok()?
                        .flatten()
                        .any(|e| e.file_name().to_string_lossy().contains("farm_cron"))
                        .then_some(())
                },
            );
        }
    }

    /// Kills worker `i` as if its host died: SIGKILL to its greasesnatch and to every
    /// process carrying its `SCALEGREASE_HOSTNAME` (its greaseruns and their jobs).
    pub fn kill_worker(&mut self, i: usize) {
        let wk = &mut self.workers[i];
        if let Some(mut c) = wk.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        kill_host(&wk.host);
    }

    /// A request for `job` at `slot` (key form), attempt 1, as greasedispatch makes one.
    pub fn request(&self, job: &str, slot: &str, n: u32) -> Request {
        Request {
            id: request_id(Utc::now(), scalegrease::util::random::u64() as u32 ^ n),
            ..Request::new(job, slot, Kind::Demand, "tester@farm", Utc::now())
        }
    }

    /// Queues `n` requests of `job`, one per minute slot from 2026-01-01T00:00Z on,
    /// through the library (as greasedispatch would, without a process per request),
    /// from 4 threads (4 submitters), in slot order within each.
    pub fn submit_many(&self, job: &str, n: usize) -> Vec<Request> {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let reqs: Vec<Request> = (0..n)
            .map(|i| {
                let slot = (t0 + TimeDelta::minutes(i as i64))
                    .format("%Y-%m-%dT%H:%MZ")
                    .to_string();
                self.request(job, &slot, i as u32)
            })
            .collect();
        std::thread::scope(|sc| {
            for part in reqs.chunks(n.div_ceil(4).max(1)) {
                sc.spawn(move || {
                    for r in part {
                        let got = queue::submit(self.store(), r).expect("submit");
                        assert_eq!(got, queue::Submitted::Queued, "{}", r.slot);
                    }
                });
            }
        });
        reqs
    }

    /// Queues a run of `job` at `slot` with the real `greasedispatch` (this world's
    /// config, so the farm's store) and returns the request id it printed.
    pub fn dispatch(&self, job: &str, slot: &str) -> String {
        let out = self
            .w
            .spawn_cmd("greasedispatch")
            .env("SCALEGREASE_HOSTNAME", "submitter.farm")
            .args([job, "--slot", slot, "--json"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "greasedispatch: {:?}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = v["requests"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(v["requests"][0]["slot"], slot, "{v}");
        id
    }

    /// Every request's state, by id.
    pub fn states(&self) -> BTreeMap<String, RequestState> {
        self.store()
            .list(scalegrease::model::keys::STATES)
            .unwrap()
            .into_iter()
            .filter_map(|e| serde_json::from_slice::<RequestState>(&e.value).ok())
            .map(|s| (s.id.clone(), s))
            .collect()
    }

    /// The requests not succeeded (state, host, reason), the takes in flight and the
    /// pending markers: what a failed drain shows of the requests it waited for.
    pub fn unsettled(&self) -> String {
        let st = self.states();
        let not_ok: Vec<String> = st
            .values()
            .filter(|s| s.phase != scalegrease::model::request::Phase::Succeeded)
            .map(|s| format!("{} {:?} on {:?}: {:?}", s.id, s.phase, s.host, s.reason))
            .collect();
        let takes: Vec<String> = queue::in_flight(self.store())
            .unwrap()
            .iter()
            .map(|t| format!("{} by {} at {}", t.id, t.host, t.at))
            .collect();
        let (pending, _) = queue::pending(self.store()).unwrap();
        let pending: Vec<&str> = pending.iter().map(|r| r.id.as_str()).collect();
        format!(
            "{} states, not succeeded: {not_ok:#?}\ntakes: {takes:#?}\npending: {pending:?}",
            st.len()
        )
    }

    /// Every run record in the store.
    pub fn records(&self) -> Vec<RunRecord> {
        records::list(self.store(), scalegrease::model::keys::RUNS)
            .unwrap()
            .0
    }

    /// The runs jobs logged so far.
    pub fn ran(&self) -> Vec<Ran> {
        std::fs::read_to_string(&self.ran)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some(Ran {
                    slot: f.first()?.to_string(),
                    host: f.get(1)?.to_string(),
                })
            })
            .collect()
    }
}

/// The most runs of each host that were under way at the same moment, from the records'
/// start and end (a record without both counts from its start on, or not at all).
pub fn max_overlap(recs: &[RunRecord]) -> BTreeMap<String, usize> {
    let mut by_host: BTreeMap<String, Vec<(f64, i32)>> = BTreeMap::new();
    let secs = |t: chrono::DateTime<Utc>| t.timestamp_micros() as f64 / 1e6;
    for r in recs {
        let Some(start) = r.start else { continue };
        let ev = by_host.entry(r.host.clone()).or_default();
        ev.push((secs(start), 1));
        ev.push((r.end.map_or(f64::INFINITY, secs), -1));
    }
    by_host
        .into_iter()
        .map(|(h, mut ev)| {
            // At equal times an end comes before a start: back-to-back runs do not overlap.
            ev.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let (mut now, mut max) = (0i32, 0i32);
            for (_, d) in ev {
                now += d;
                max = max.max(now);
            }
            (h, max as usize)
        })
        .collect()
}

/// SIGKILLs every process whose environment has `SCALEGREASE_HOSTNAME=<host>`.
pub fn kill_host(host: &str) {
    let needle = format!("SCALEGREASE_HOSTNAME={host}");
    // A process may fork while we look: repeat until a pass finds nothing.
    for _ in 0..20 {
        let pids = host_pids(&needle);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn host_pids(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            // Zombies have an empty environment; they are dead already.
            env.split(|&b| b == 0).any(|v| v == needle.as_bytes())
        })
        .collect()
}

impl Drop for Farm {
    fn drop(&mut self) {
        for i in 0..self.workers.len() {
            self.kill_worker(i);
        }
    }
}
