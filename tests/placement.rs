//! Placement (#11) through the real binaries: 30 workers (distinct
//! `SCALEGREASE_HOSTNAME` and cron directories) run one-shot greasesnatch rounds on one
//! store with `launch.replicas` = 2. Each greaserun entry ends up uncommented on
//! exactly 2 live workers, the very ones `arbitration::placement::assign` names for the
//! live members; 5 workers stop beating, and once their beats are older than
//! `launch.member_ttl` their entries are on 2 live workers again, while entries none of
//! whose holders died stay put except for the bounded-load spill (at most a quarter of
//! the dead workers' own share). Then a 200-slot run-through starts each (job, slot)
//! from exactly the workers whose files hold it uncommented, and every slot runs once.
//! `placement_etcd.rs` runs the same on the 3-member etcd cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scalegrease::arbitration::placement::{self, DEFAULT_SLACK};

use crate::harness::{World, bin_path, text, wait_for};

const K: usize = 2;
const WORKERS: usize = 30;
const JOBS: usize = 100;
const TTL_S: u64 = 8;

fn job(i: usize) -> String {
    format!("j{i:03}")
}

/// The farm: its world, worker hosts, and the log every run appends to.
pub struct Placed {
    w: World,
    hosts: Vec<String>,
    ran: std::path::PathBuf,
}

impl Placed {
    /// Publishes one project of `JOBS` greaserun entries (root, shell runner, logging
    /// `<job> <slot> <host>` to `ran.log`) with placement on.
    pub fn new(mut w: World) -> Placed {
        w.configure(|c| {
            c["launch"]["allow_root"] = true.into();
            c["launch"]["replicas"] = K.into();
            c["launch"]["member_ttl"] = format!("{TTL_S}s").into();
        });
        drop(w.store()); // initialised
        let jar = w.empty_jar();
        let ran = w.join("ran.log");
        let mut crontab = String::from("TZ=UTC\n");
        for i in 0..JOBS {
            crontab += &format!(
                "0 0 1 1 * root {} --job {} --runner shell {} -- sh -c 'echo {} {} $SCALEGREASE_HOSTNAME >> {}'\n",
                bin_path("greaserun").display(),
                job(i),
                jar.display(),
                job(i),
                crate::harness::farm::SLOT,
                ran.display()
            );
        }
        let p = w.project("place", "com.example", "place", &[("place.cron", &crontab)]);
        let out = w.launch(&p, &[]);
        assert!(out.status.success(), "publish: {:?}", text(&out));
        let hosts: Vec<String> = (0..WORKERS).map(|i| format!("w{i:02}.place")).collect();
        for h in &hosts {
            std::fs::create_dir_all(w.join(&format!("workers/{h}"))).unwrap();
        }
        Placed { w, hosts, ran }
    }

    fn cron_dir(&self, host: &str) -> std::path::PathBuf {
        self.w.join(&format!("workers/{host}"))
    }

    /// One greasesnatch round (no pull) on each of `hosts`, all at once.
    fn round(&self, hosts: &[String]) {
        let children: Vec<_> = hosts
            .iter()
            .map(|h| {
                self.w
                    .spawn_cmd("greasesnatch")
                    .env("SCALEGREASE_HOSTNAME", h)
                    .arg("--no-pull")
                    .arg("--cron-dir")
                    .arg(self.cron_dir(h))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "greasesnatch: {:?}", text(&out));
        }
    }

    /// The uncommented entry lines of `host`'s installed files, by job.
    fn held(&self, host: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(self.cron_dir(host)).unwrap() {
            let e = e.unwrap();
            if !e.file_name().to_string_lossy().starts_with("sgtest__") {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).unwrap();
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                if let Some(rest) = line.split("--job ").nth(1) {
                    let job = rest.split_whitespace().next().unwrap().to_string();
                    out.insert(job, line.to_string());
                }
            }
        }
        out
    }

    /// Who holds each job, as the files of `hosts` say.
    fn holders(&self, hosts: &[String]) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for h in hosts {
            for job in self.held(h).into_keys() {
                out.entry(job).or_default().insert(h.clone());
            }
        }
        out
    }

    /// Rounds on `hosts` until their files place every job exactly as
    /// `placement::assign` does for them; returns that placement.
    fn converge(&self, hosts: &[String], what: &str) -> BTreeMap<String, BTreeSet<String>> {
        let jobs: Vec<String> = (0..JOBS).map(job).collect();
        let want: BTreeMap<String, BTreeSet<String>> =
            placement::assign(&jobs, hosts, K, DEFAULT_SLACK)
                .holders
                .into_iter()
                .map(|(j, h)| (j, h.into_iter().collect()))
                .collect();
        let mut last = BTreeMap::new();
        let found = crate::harness::try_wait_for(Duration::from_secs(120), || {
            self.round(hosts);
            last = self.holders(hosts);
            (last == want).then_some(())
        });
        assert!(
            found.is_some(),
            "{what}: files never matched the placement; last seen: {last:?}"
        );
        for (j, h) in &want {
            assert_eq!(h.len(), K, "{j} on {h:?}");
        }
        want
    }

    /// Runs each `(job, slot)` from every worker of `hosts` holding the job, through the
    /// installed line's own command (with `--slot`), all holders at once.
    fn run_through(&self, hosts: &[String], runs: &[(String, String)]) -> usize {
        let lines: Vec<(String, BTreeMap<String, String>)> =
            hosts.iter().map(|h| (h.clone(), self.held(h))).collect();
        let mut started = 0;
        for batch in runs.chunks(10) {
            let mut children = Vec::new();
            for (job, slot) in batch {
                for (host, held) in &lines {
                    let Some(line) = held.get(job) else { continue };
                    let command: Vec<&str> = line.splitn(7, ' ').collect();
                    let argv = shlex::split(command[6]).unwrap();
                    let mut c = Command::new(&argv[0]);
                    c.current_dir(self.w.join("work"))
                        .env("SCALEGREASE_CONFIG", self.w.config_path())
                        .env("SCALEGREASE_HOSTNAME", host)
                        .env("TZ", "UTC")
                        .args(["--slot", slot])
                        .args(&argv[1..])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped());
                    children.push(c.spawn().unwrap());
                    started += 1;
                }
            }
            for c in children {
                c.wait_with_output().unwrap();
            }
        }
        started
    }
}

/// The whole scenario on `w`'s store.
pub fn placement_on(w: World) {
    let farm = Placed::new(w);
    let all = farm.hosts.clone();
    let before = farm.converge(&all, "30 workers");
    // greasestatus shows the same holders from the store.
    let out = farm
        .w
        .cmd("greasestatus")
        .args(["holders", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown: BTreeMap<String, BTreeSet<String>> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let h = e["holders"].as_array().unwrap();
            let h = h.iter().map(|x| x.as_str().unwrap().to_string()).collect();
            (e["job"].as_str().unwrap().to_string(), h)
        })
        .collect();
    assert_eq!(shown, before, "greasestatus holders");
    // Five workers stop beating (their greasesnatch no longer runs).
    let dead: Vec<String> = [3, 10, 17, 22, 28]
        .iter()
        .map(|&i| all[i].clone())
        .collect();
    let live: Vec<String> = all.iter().filter(|h| !dead.contains(h)).cloned().collect();
    let stopped = Instant::now();
    let after = farm.converge(&live, "25 live workers");
    eprintln!(
        "the dead workers' entries were on {K} live workers again {:.1}s after their last beat (member_ttl {TTL_S}s)",
        stopped.elapsed().as_secs_f64()
    );
    let own = before
        .values()
        .filter(|h| h.iter().any(|x| dead.contains(x)))
        .count();
    let moved = before
        .iter()
        .filter(|(j, h)| !h.iter().any(|x| dead.contains(x)) && after[*j] != **h)
        .count();
    eprintln!("{own} entries had a dead holder; {moved} others moved (bounded-load spill)");
    assert!(own > 0 && moved * 4 <= own, "moved {moved} for {own}");
    // 200 (job, slot)s: 4 jobs × 50 minutes, each started by its holders' own lines.
    let runs: Vec<(String, String)> = (0..4)
        .flat_map(|j| {
            (0..50).map(move |m| {
                (
                    job(j * 7),
                    format!("2026-01-01T{:02}:{:02}", m / 60, m % 60),
                )
            })
        })
        .collect();
    let started = farm.run_through(&live, &runs);
    assert_eq!(
        started,
        runs.len() * K,
        "each (job, slot) started on its {K} holders"
    );
    let log = std::fs::read_to_string(&farm.ran).unwrap_or_default();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for line in log.lines() {
        let mut f = line.split_whitespace();
        let (j, s) = (f.next().unwrap().to_string(), f.next().unwrap().to_string());
        *seen.entry((j, s)).or_default() += 1;
    }
    assert_eq!(seen.len(), runs.len(), "every slot ran: {log}");
    assert!(seen.values().all(|&n| n == 1), "a slot ran twice: {log}");
}

#[test]
fn each_entry_is_held_by_k_live_workers_and_each_slot_runs_once() {
    placement_on(World::new());
}

#[test]
fn a_round_with_nothing_changed_reads_no_bundle() {
    let p = Placed::new(World::new());
    let host = &p.hosts[..1];
    let record = p.cron_dir(&host[0]).join(".sgtest.round");
    // The directory store's stamp is trusted once `bundles/` has not changed for 2 s.
    wait_for("a round to be recorded", Duration::from_secs(30), || {
        p.round(host);
        record.exists().then_some(())
    });
    // Garble the bundle in place (no rename: the directory's stamp stays): a round that
    // read it would reject it; one with nothing changed reads nothing and succeeds.
    let bundles = p.w.store_dir().unwrap().join("bundles");
    std::fs::write(bundles.join("com.example__place"), b"garbled").unwrap();
    let held = p.held(&host[0]);
    let snatch = || {
        p.w.cmd("greasesnatch")
            .env("SCALEGREASE_HOSTNAME", &host[0])
            .args(["--no-pull", "--cron-dir"])
            .arg(p.cron_dir(&host[0]))
            .output()
            .unwrap()
    };
    let out = snatch();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out)
            .0
            .contains("0 installed, 0 updated, 0 removed, 1 unchanged")
    );
    // Any change to the directory (here a file added and removed) is seen at once.
    std::fs::write(bundles.join("x"), b"").unwrap();
    std::fs::remove_file(bundles.join("x")).unwrap();
    let out = snatch();
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(text(&out).1.contains("rejected"), "{:?}", text(&out));
    assert_eq!(
        p.held(&host[0]),
        held,
        "the rejected project's files are kept"
    );
}
