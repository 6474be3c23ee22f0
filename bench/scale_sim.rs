//! Farm-scale simulation (issue 11; `bench/scale.sh` runs it, method and figures in
//! BENCHMARKS.md "Farm scale"): W workers × J hourly entries over simulated hours, a
//! fraction of the workers dying at random times and some coming back, through the
//! library's placement, claim and start-delay code against a counting store.
//!
//! `scale_sim [--workers 1000] [--entries 10000] [--hours 24] [--replicas 2] [--slack 1.25]
//!  [--deaths 0.1] [--returns 0.5] [--member-ttl 90] [--max-delay 60] [--seed 1]
//!  [--lag-ms 5] [--store URL]`
//!
//! `--replicas 0` is today's farm (every worker holds every entry). Without `--store` the
//! store is an in-memory fake on simulated time, where a new claim becomes visible to
//! other workers `--lag-ms` after its create (the race window in which several workers
//! write); with `--store` (e.g. a real etcd cluster) every request goes to that store and
//! the race window is the real one (the simulation issues requests one at a time). What
//! is simulated and what is real: see `sim.rs`. Prints a report and one `RESULT` line of
//! `key=value` pairs for scripts and tests.

#[path = "scale_sim/sim.rs"]
mod sim;
#[path = "scale_sim/store.rs"]
mod store;

use std::sync::Arc;
use std::time::{Duration, Instant};

use scalegrease::config::StoreConfig;
use scalegrease::store::Store;

use sim::{Outcome, Params, Sim};
use store::{Clock, Counts, Fake};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => {
            let v = args
                .get(i + 1)
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?;
            v.parse().map_err(|e| anyhow::anyhow!("{name} {v:?}: {e}"))
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url: String = arg(&args, "--store", String::new())?;
    let lag_ms: i64 = arg(&args, "--lag-ms", 5)?;
    let p = Params {
        workers: arg(&args, "--workers", 1000)?,
        entries: arg(&args, "--entries", 10_000)?,
        hours: arg(&args, "--hours", 24)?,
        k: arg(&args, "--replicas", 2)?,
        slack: arg(&args, "--slack", 1.25)?,
        deaths: arg(&args, "--deaths", 0.1)?,
        returns: arg(&args, "--returns", 0.5)?,
        member_ttl_ms: arg::<i64>(&args, "--member-ttl", 90)? * 1000,
        max_delay: Duration::from_secs_f64(arg(&args, "--max-delay", 60.0)?),
        seed: arg(&args, "--seed", 1)?,
        tag: if url.is_empty() {
            String::new()
        } else {
            format!("{:x}-", scalegrease::util::random::u64() & 0xffff_ffff)
        },
    };
    let clock = Clock::default();
    let (raw, race): (Arc<dyn Store>, String) = if url.is_empty() {
        let race = format!("claim visible to others {lag_ms} ms after its create");
        (Arc::new(Fake::new(clock.clone(), lag_ms)), race)
    } else {
        let s: Arc<dyn Store> = Arc::from(scalegrease::store::open(&StoreConfig::from_url(&url))?);
        s.init()?;
        (s, "real store, requests one at a time".into())
    };
    let wall = Instant::now();
    let location = raw.location();
    let o = Sim::new(p.clone(), raw, clock)?.run()?;
    report(&p, &o, &format!("{location} ({race})"), wall.elapsed());
    anyhow::ensure!(o.errors == 0, "{} store errors", o.errors);
    Ok(())
}

fn sum(c: &Counts, kind: &str, area: Option<&str>) -> u64 {
    c.iter()
        .filter(|((k, a), _)| *k == kind && area.is_none_or(|x| x == a))
        .map(|(_, n)| n)
        .sum()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn report(p: &Params, o: &Outcome, store: &str, wall: Duration) {
    let slots = o.slots.max(1) as f64;
    let per_slot = |kind, area| sum(&o.run_counts, kind, area) as f64 / slots;
    let (reads, writes) = (per_slot("read", None), per_slot("write", None));
    let creates = per_slot("write", Some("claims"));
    let beats = per_slot("write", Some("heartbeats"));
    let wm = o.worker_minutes.max(1) as f64;
    let snatch =
        (sum(&o.snatch_counts, "read", None) + sum(&o.snatch_counts, "write", None)) as f64 / wm;
    let run = (sum(&o.run_counts, "read", None) + sum(&o.run_counts, "write", None)) as f64
        / (p.workers as f64 * p.hours as f64 * 60.0);
    let mut lat = o.latency_ms.clone();
    lat.sort_by(f64::total_cmp);
    let (p50, p99) = (pct(&lat, 0.5), pct(&lat, 0.99));
    let ratio = |(max, mean): (usize, f64)| max as f64 / mean.max(1e-9);
    let k = if p.k == 0 {
        "all (today)".to_string()
    } else {
        p.k.to_string()
    };
    println!(
        "scale_sim: {} workers x {} hourly entries, {} h simulated, k = {k} (slack {}), {} died ({} came back), member TTL {} s, store {store}",
        p.workers,
        p.entries,
        p.hours,
        p.slack,
        o.died,
        o.returned,
        p.member_ttl_ms / 1000
    );
    println!(
        "slots {}: duplicates {}, lost {} (every holder down {}, held by nobody {})",
        o.slots,
        o.duplicates,
        o.lost_all_down + o.lost_unheld,
        o.lost_all_down,
        o.lost_unheld
    );
    println!(
        "per slot: greaserun starts {:.2}; store requests {:.2} = reads {reads:.2} + writes {writes:.2} (claim creates {creates:.3}, heartbeat beats {beats:.2})",
        o.starts as f64 / slots,
        reads + writes,
    );
    println!(
        "entries per worker, max/mean: {}/{:.1} = {:.3} at the start; worst of {} views {}/{:.1} = {:.3}",
        o.load_start.0,
        o.load_start.1,
        ratio(o.load_start),
        o.views,
        o.load_worst.0,
        o.load_worst.1,
        ratio(o.load_worst)
    );
    println!(
        "membership changes {}: entries held by the leaving/joining workers {}, other entries whose holders changed {} ({:.1}% of the former)",
        o.changes,
        o.own_moved,
        o.others_moved,
        100.0 * o.others_moved as f64 / o.own_moved.max(1) as f64
    );
    println!("slot to winning start: p50 {p50:.0} ms, p99 {p99:.0} ms");
    let by: Vec<String> = o
        .snatch_counts
        .iter()
        .map(|((kind, area), n)| format!("{kind} {area} {:.3}", *n as f64 / wm))
        .collect();
    println!(
        "greasesnatch requests per worker-minute by kind: {}",
        by.join(", ")
    );
    println!(
        "store requests per worker-minute: greasesnatch {snatch:.2}, greaserun {run:.2}; wall {:.1} s",
        wall.as_secs_f64()
    );
    println!(
        "RESULT workers={} entries={} hours={} k={} slots={} duplicates={} lost_all_down={} lost_unheld={} starts_per_slot={:.3} reads_per_slot={reads:.3} writes_per_slot={writes:.3} creates_per_slot={creates:.4} load_max_mean={:.3} load_worst={:.3} changes={} own_moved={} others_moved={} p50_ms={p50:.0} p99_ms={p99:.0} snatch_req_per_worker_min={snatch:.3} run_req_per_worker_min={run:.3} errors={}",
        p.workers,
        p.entries,
        p.hours,
        p.k,
        o.slots,
        o.duplicates,
        o.lost_all_down,
        o.lost_unheld,
        o.starts as f64 / slots,
        ratio(o.load_start),
        ratio(o.load_worst),
        o.changes,
        o.own_moved,
        o.others_moved,
        o.errors
    );
}
