//! Funnel benchmarks (run by `bench/funnel`; method and figures in `BENCHMARKS.md`).
//!
//! - `claims --store DIR --claimers 8 --slots N`: claim throughput on the directory store.
//!   Every claimer tries every slot, as every worker of a farm does, so each slot gets
//!   `claimers` attempts and one winner; also a run where each claimer has its own slots.
//! - `dron --store DIR|URL --workers 20 --instances 10000 --rate 30`: the Dron evaluation
//!   load. Worker processes (each its own `SCALEGREASE_HOSTNAME`) all see every job
//!   instance at its scheduled time (instance i at t0 + i/rate) and pass it through the
//!   same [`Session`] greaserun uses (claim, heartbeat, run record); the winner starts the
//!   job (`/bin/true`). Reports duplicates, lost instances and the latency from scheduled
//!   start to job process start. `--store` may be any store setting, e.g. an etcd URL
//!   (bench/etcd.sh; build with `--features etcd`); a directory is emptied first.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use scalegrease::Config;
use scalegrease::arbitration::claim::{self as funnel, Claim};
use scalegrease::arbitration::heartbeat::Heartbeat;
use scalegrease::arbitration::options::{JobSpec, SlotOptions};
use scalegrease::arbitration::records;
use scalegrease::arbitration::session::Session;
use scalegrease::model::funnel::Claimant;
use scalegrease::model::keys;
use scalegrease::model::record::Status;
use scalegrease::model::slot::Slot;
use scalegrease::run::{Execute, FarmRun, JobEnd, run_slots};
use scalegrease::store::{Created, Store, dir::DirStore};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("");
    match mode {
        "claims" => claims(&args),
        "dron" => dron(&args),
        "dron-worker" => dron_worker(&args),
        _ => {
            eprintln!(
                "usage: funnel_bench claims --store DIR [--claimers 8] [--slots 2000]\n       funnel_bench dron --store DIR [--workers 20] [--instances 10000] [--rate 30]"
            );
            std::process::exit(2);
        }
    }
}

/// Any store setting: a directory or a URL (etcd needs `--features etcd`).
fn open_store(setting: &str) -> Box<dyn Store> {
    scalegrease::store::open(&scalegrease::config::StoreConfig::from_url(setting))
        .unwrap_or_else(|e| panic!("open store {setting}: {e}"))
}

fn fresh_store(path: &str) -> DirStore {
    let p = Path::new(path);
    if p.exists() {
        std::fs::remove_dir_all(p).expect("removing the old bench store");
    }
    let s = DirStore::new(p);
    s.init().expect("store init");
    s
}

fn claims(args: &[String]) {
    let store_path = arg(args, "--store", ".work/bench-claims");
    let claimers: usize = arg(args, "--claimers", "8").parse().unwrap();
    let slots: usize = arg(args, "--slots", "2000").parse().unwrap();
    let base = Slot::parse("2026-01-01T00:00Z").unwrap();
    let cfg = Config::default().funnel;
    let runs = [
        (
            "Store::create, contended (every claimer tries every slot)",
            true,
            false,
        ),
        (
            "Store::create, disjoint (each claimer its own slots)",
            false,
            false,
        ),
        (
            "funnel::claim, contended (read first, create, heartbeat start)",
            true,
            true,
        ),
    ];
    for (label, shared, full) in runs {
        let store: Arc<dyn Store> = Arc::new(fresh_store(&store_path));
        let start = Instant::now();
        let (wins, beats): (usize, Vec<Heartbeat>) = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..claimers)
                .map(|c| {
                    let (store, cfg) = (store.clone(), cfg.clone());
                    sc.spawn(move || {
                        let me = Claimant {
                            host: format!("claimer{c}"),
                            pid: c as u32,
                            user: "bench".into(),
                            request: None,
                        };
                        let mut wins = 0;
                        let mut beats = Vec::new();
                        for i in 0..slots {
                            let n = if shared { i } else { c * slots + i };
                            let slot = base.offset_secs(60 * n as i64);
                            if full {
                                if let Claim::Won(hb) =
                                    funnel::claim(&store, &cfg, "bench-job", slot, &me).unwrap()
                                {
                                    wins += 1;
                                    beats.push(hb);
                                }
                            } else {
                                let key = keys::claim("bench-job", slot);
                                let body = format!("{{\"host\":\"{}\"}}", me.host);
                                if store.create(&key, body.as_bytes(), None).unwrap()
                                    == Created::Created
                                {
                                    wins += 1;
                                }
                            }
                        }
                        (wins, beats)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).fold(
                (0, Vec::new()),
                |(w, mut b), (w2, b2)| {
                    b.extend(b2);
                    (w + w2, b)
                },
            )
        });
        let took = start.elapsed().as_secs_f64();
        drop(beats);
        let attempts = claimers * slots;
        let decided = if shared { slots } else { claimers * slots };
        assert_eq!(wins, decided, "every slot has exactly one winner");
        println!(
            "claims {label}: {claimers} claimers, {attempts} attempts, {decided} slots in {took:.2}s: {:.0} attempts/s, {:.0} slots decided/s",
            attempts as f64 / took,
            decided as f64 / took
        );
    }
}

fn dron(args: &[String]) {
    let store_path = arg(args, "--store", ".work/bench-dron");
    let workers: usize = arg(args, "--workers", "20").parse().unwrap();
    let instances: usize = arg(args, "--instances", "10000").parse().unwrap();
    let rate: f64 = arg(args, "--rate", "30").parse().unwrap();
    let out = if store_path.contains("://") {
        // Not a directory: a fresh prefix is the caller's business.
        let s = open_store(&store_path);
        s.init().expect("store init");
        PathBuf::from(arg(args, "--out", ".work/bench-dron-url-latency"))
    } else {
        fresh_store(&store_path);
        PathBuf::from(format!("{store_path}-latency"))
    };
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let t0 = Utc::now() + chrono::TimeDelta::seconds(2);
    let me = std::env::current_exe().unwrap();
    let started = Instant::now();
    let mut children: Vec<_> = (0..workers)
        .map(|w| {
            Command::new(&me)
                .args([
                    "dron-worker",
                    "--store",
                    &store_path,
                    "--t0",
                    &t0.timestamp_millis().to_string(),
                    "--instances",
                    &instances.to_string(),
                    "--rate",
                    &rate.to_string(),
                    "--out",
                    &out.join(format!("w{w:02}")).display().to_string(),
                ])
                .env("SCALEGREASE_HOSTNAME", format!("worker{w:02}.farm"))
                .spawn()
                .expect("spawning a worker")
        })
        .collect();
    for c in &mut children {
        assert!(c.wait().unwrap().success(), "a worker failed");
    }
    let wall = started.elapsed().as_secs_f64();

    let mut lat: Vec<f64> = Vec::new();
    for w in 0..workers {
        let text = std::fs::read_to_string(out.join(format!("w{w:02}"))).unwrap_or_default();
        lat.extend(
            text.lines()
                .filter_map(|l| l.split(' ').nth(1)?.parse::<f64>().ok()),
        );
    }
    let store = open_store(&store_path);
    let (recs, bad) = records::list(&*store, "runs").unwrap();
    let mut per: std::collections::HashMap<String, usize> = Default::default();
    for r in &recs {
        if r.claimed && r.status == Status::Succeeded {
            *per.entry(r.job.clone()).or_default() += 1;
        }
    }
    let dup = per.values().filter(|n| **n > 1).count();
    let lost = (0..instances)
        .filter(|i| !per.contains_key(&format!("dron-{i:05}")))
        .count();
    lat.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize] * 1000.0;
    println!(
        "dron: {instances} instances at {rate}/s over {workers} worker processes in {wall:.1}s: {} runs started, {} records ({bad} unreadable), {dup} duplicates, {lost} lost",
        lat.len(),
        recs.len()
    );
    println!(
        "dron: scheduled start -> job process start: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        q(0.5),
        q(0.99),
        q(1.0)
    );
}

/// The Dron job: starts `/bin/true` and notes the latency from its scheduled start.
struct TrueJob {
    i: usize,
    at: DateTime<Utc>,
    lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Execute for TrueJob {
    fn execute(
        &mut self,
        _job: &str,
        _slot: Slot,
        _args: Vec<String>,
        _watch: &mut dyn scalegrease::execution::Watch,
    ) -> Result<JobEnd, scalegrease::Error> {
        let mut child = Command::new("/bin/true").spawn().expect("spawn job");
        let started = Utc::now();
        let lat = (started - self.at).as_seconds_f64();
        self.lines
            .lock()
            .unwrap()
            .push(format!("{} {lat:.6}", self.i));
        let st = child.wait().unwrap();
        Ok(JobEnd {
            code: st.code().unwrap_or(1),
            exit_code: st.code(),
            ..Default::default()
        })
    }
}

fn dron_worker(args: &[String]) {
    let store_path = arg(args, "--store", "");
    let t0 = DateTime::from_timestamp_millis(arg(args, "--t0", "0").parse().unwrap()).unwrap();
    let instances: usize = arg(args, "--instances", "0").parse().unwrap();
    let rate: f64 = arg(args, "--rate", "30").parse().unwrap();
    let out = arg(args, "--out", "");
    let mut cfg = Config::default();
    cfg.guard.max_delay_s = 0.0;
    let cfg = Arc::new(cfg);
    let store: Arc<dyn Store> = Arc::from(open_store(&store_path));
    let host = cfg.hostname();
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut handles = Vec::new();
    for i in 0..instances {
        let at = t0 + chrono::TimeDelta::microseconds((i as f64 * 1e6 / rate) as i64);
        if let Ok(wait) = (at - Utc::now()).to_std() {
            std::thread::sleep(wait);
        }
        let (cfg, store, host, lines) = (cfg.clone(), store.clone(), host.clone(), lines.clone());
        handles.push(std::thread::spawn(move || {
            let opts = SlotOptions {
                job: Some(format!("dron-{i:05}")),
                slot: Some(Slot::at(at)),
                ..Default::default()
            };
            let spec = JobSpec {
                runner: "shell".into(),
                artifact: "/bin/true".into(),
                args: vec!["/bin/true".into()],
            };
            let session = Session::new(&cfg, None, opts, spec, false, at)
                .expect("session")
                .with_store(store)
                .with_claimant(funnel::me(host));
            let code = run_slots(&session, &mut TrueJob { i, at, lines }, &FarmRun::default()).ok();
            assert_eq!(code, Some(0));
        }));
        // Reap finished handlers now and then so threads do not pile up.
        if handles.len() > 256 {
            let (done, pending): (Vec<_>, Vec<_>) =
                handles.into_iter().partition(|h| h.is_finished());
            for h in done {
                h.join().unwrap();
            }
            handles = pending;
        }
    }
    for h in handles {
        h.join().unwrap();
    }
    let mut f = std::fs::File::create(out).unwrap();
    for l in lines.lock().unwrap().iter() {
        writeln!(f, "{l}").unwrap();
    }
}
