//! The ledger check's cost per round (BENCHMARKS.md, "Ledger check"): one published
//! project of 10 entries firing every 5 minutes, each with its last hour of runs, and N
//! older runs, on the directory store. Counts the store
//! operations of one alert round (check and delivery: what every worker does each
//! minute) through `store::spy::Spy`, and times it: with the bundles read
//! (a one-shot greasesnatch, or a changed stamp) and with the entries cached across
//! rounds as `greasesnatch --watch` keeps them (`alert::detect::PublishedCache`).
//!
//! `cargo run --release --example ledger_check [N ...]` (default: 10 10000).

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use scalegrease::arbitration::records;
use scalegrease::config::Config;
use scalegrease::dispatch::bundle::{Bundle, CrontabFile, key_for};
use scalegrease::dispatch::project::Project;
use scalegrease::farm::alert::{self, AlertOptions};
use scalegrease::model::keys;
use scalegrease::model::record::{RunRecord, Status};
use scalegrease::model::slot::Slot;
use scalegrease::store::Store;
use scalegrease::store::dir::DirStore;
use scalegrease::store::spy::Spy;

const JOBS: usize = 10;
/// Slots per job that cover the check's window (an hour of 5-minute slots, and one).
const RECENT: usize = 13;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("N is a number of runs"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10, 10_000]
    } else {
        sizes
    };
    println!(
        "older_runs  round                          ops_per_round  entries_returned  round_ms_median  ops"
    );
    for n in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = DirStore::new(dir.path());
        store.init().expect("init");
        let now = Utc::now();
        fill(&store, n, now);
        // The directory store trusts the bundles' stamp once bundles/ is 2 s old.
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.stamp(keys::BUNDLES).expect("stamp").is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let counting = Spy::new(&store);
        // Every round creates nothing (every slot succeeded). A fresh cache is a one-shot
        // greasesnatch's round (the bundles read); a kept one, `--watch`'s next rounds.
        for (name, fresh) in [
            ("bundles read (one-shot)", true),
            ("cached (--watch)", false),
        ] {
            let opts = AlertOptions {
                published: Default::default(),
                config: Config::default(),
                host: "bench".into(),
                trusted_keys: Vec::new(),
            };
            if !fresh {
                alert::round(&counting, &opts, Utc::now(), &|_| true).expect("round");
            }
            let mut times = Vec::new();
            let mut ops = None;
            for _ in 0..5 {
                let opts = if fresh {
                    AlertOptions {
                        published: Default::default(),
                        ..opts.clone()
                    }
                } else {
                    opts.clone()
                };
                counting.reset();
                let t = Instant::now();
                alert::round(&counting, &opts, Utc::now(), &|_| true).expect("round");
                times.push(t.elapsed());
                ops = Some((counting.total(), counting.entries(), counting.ops()));
            }
            times.sort();
            let (total, entries, by_kind) = ops.expect("rounds ran");
            println!(
                "{n:>10}  {name:<29}  {total:>13}  {entries:>16}  {:>15.1}  {by_kind:?}",
                ms(times[times.len() / 2])
            );
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Publishes the project (60 days ago) and writes succeeded runs: every job's slots of
/// the last hour (what the check reads), then `n` older ones spread over the jobs, each
/// job's at its 5-minute slots further back.
fn fill(store: &dyn Store, n: usize, now: chrono::DateTime<Utc>) {
    let p = Project {
        group: "bench".into(),
        artifact: "jobs".into(),
    };
    let crontab: String = std::iter::once("CRON_TZ=UTC\n".to_string())
        .chain(
            (0..JOBS).map(|i| format!("*/5 * * * * nobody greaserun --job job-{i} -r shell g:a\n")),
        )
        .collect();
    let launched = (now - TimeDelta::days(60)).to_rfc3339();
    let b = Bundle::new(
        &p,
        vec![CrontabFile {
            name: "bench.cron".into(),
            content: crontab,
        }],
        launched,
        "bench@host".into(),
        None,
    );
    store.put(&key_for(&p), &b.encode(), None).expect("publish");
    let newest = Slot::at(now);
    let newest = newest.offset_secs(-60 * (newest.time().timestamp() / 60 % 5));
    let keep = Duration::from_secs(90 * 86400);
    for i in 0..RECENT * JOBS + n {
        let job = format!("job-{}", i % JOBS);
        let slot = newest.offset_secs(-300 * (i / JOBS) as i64);
        let r = RunRecord {
            host: "w1".into(),
            pid: 1,
            claimed: true,
            exit_code: Some(0),
            ..RunRecord::new(&job, &slot.key(), Status::Succeeded)
        };
        records::write(store, &r, keep).expect("record");
    }
}
