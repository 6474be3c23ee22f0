//! Store benchmark: claim throughput with N concurrent claimer processes, on any store URL
//! (`bench/etcd.sh` runs it against the directory store and a 3-member etcd cluster).
//!
//! `store_bench --store URL [--claimers 8] [--claims 2000] [--race]`
//!
//! Each claimer is a separate process (as each worker host is) with its own store client.
//! Without `--race` every claimer creates its own `claims/bench/<run>/<claimer>-<n>` keys
//! (every claim wins); with `--race` all claimers create the same keys in the same order,
//! as a farm racing for slots does (one winner per key), and the result checks that each
//! key had exactly one winner. Prints one line: claims (attempts) per second, with the
//! median and p99 latency of one claim.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scalegrease::config::StoreConfig;
use scalegrease::store::{self, Created};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--store").ok_or_else(|| anyhow::anyhow!("--store URL is required"))?;
    let claimers: usize = arg(&args, "--claimers").map_or(Ok(8), |s| s.parse())?;
    let claims: usize = arg(&args, "--claims").map_or(Ok(2000), |s| s.parse())?;
    let race = args.iter().any(|a| a == "--race");
    let cfg = StoreConfig::from_url(&url);
    if let Some(id) = arg(&args, "--child") {
        return child(
            &cfg,
            &id,
            &arg(&args, "--run").unwrap_or_default(),
            claims,
            race,
        );
    }
    let s = store::open(&cfg)?;
    s.init()?;
    let run = format!("{:x}", scalegrease::util::random::u64() & 0xffff_ffff);
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let kids: Vec<_> = (0..claimers)
        .map(|i| {
            let mut c = Command::new(&exe);
            c.args(["--store", &url, "--claims", &claims.to_string()])
                .args(["--child", &i.to_string(), "--run", &run])
                .stdout(Stdio::piped());
            if race {
                c.arg("--race");
            }
            c.spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut lat: Vec<Duration> = Vec::new();
    let mut wins = 0usize;
    for k in kids {
        let out = k.wait_with_output()?;
        anyhow::ensure!(out.status.success(), "a claimer failed");
        for line in BufReader::new(&out.stdout[..]).lines() {
            let line = line?;
            let mut it = line.split_whitespace();
            match (it.next(), it.next()) {
                (Some("lat"), Some(ns)) => lat.push(Duration::from_nanos(ns.parse()?)),
                (Some("wins"), Some(n)) => wins += n.parse::<usize>()?,
                _ => {}
            }
        }
    }
    let wall = start.elapsed();
    lat.sort();
    let total = lat.len();
    let pct = |p: f64| lat[((total as f64 * p) as usize).min(total - 1)];
    let expected = if race { claims } else { claims * claimers };
    println!(
        "{url}: {claimers} claimers x {claims} claims{}: {total} claims in {:.2} s = {:.0} claims/s; latency median {:.2} ms, p99 {:.2} ms; winners {wins} (expected {expected})",
        if race {
            " (racing for the same keys)"
        } else {
            ""
        },
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
    anyhow::ensure!(wins == expected, "winners {wins} != {expected}");
    Ok(())
}

fn child(cfg: &StoreConfig, id: &str, run: &str, claims: usize, race: bool) -> anyhow::Result<()> {
    let s = store::open(cfg)?;
    let value = format!(
        "{{\"host\":\"bench-{id}\",\"pid\":{},\"at\":\"{}\"}}",
        std::process::id(),
        chrono::Utc::now().to_rfc3339()
    );
    let mut out = String::new();
    let mut wins = 0;
    for n in 0..claims {
        let key = if race {
            format!("claims/bench-{run}/{n}")
        } else {
            format!("claims/bench-{run}/{id}-{n}")
        };
        let t = Instant::now();
        let r = s.create(&key, value.as_bytes(), Some(Duration::from_secs(3600)))?;
        out.push_str(&format!("lat {}\n", t.elapsed().as_nanos()));
        if r == Created::Created {
            wins += 1;
        }
    }
    println!("{out}wins {wins}");
    Ok(())
}
