//! The simulated farm: a discrete-event loop over simulated milliseconds. What is real:
//! placement (`arbitration::placement::assign`), the claim (`arbitration::claim::claim`,
//! with its heartbeat thread), the start delay (`arbitration::delay::weighted`) and every
//! store request (the counting fake, or a real etcd cluster), and membership
//! (`arbitration::membership`: the beat, the member list, pruning long-dead beats and
//! who is live, on simulated time). What is simulated: time, cron (each hourly entry
//! fires at its minute), the rest of greasesnatch's round (once a minute per worker at
//! its own offset: after the membership calls, the bundles' `Store::stamp`, and one
//! listing of `bundles` standing for the full round when the live members or the stamp
//! changed or the last full round is `skip::RESYNC` old; entries are re-placed only when
//! the live members changed), and the job itself (it takes no time once claimed). On
//! the fake store a beat's TTL runs on simulated time, as an etcd lease would.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use scalegrease::arbitration::claim::{Claim, claim};
use scalegrease::arbitration::delay;
use scalegrease::arbitration::membership::{self, Member};
use scalegrease::arbitration::placement::{self, Placement};
use scalegrease::config::Funnel;
use scalegrease::dispatch::snatch::skip::RESYNC;
use scalegrease::model::funnel::Claimant;
use scalegrease::model::keys;
use scalegrease::model::slot::Slot;
use scalegrease::store::{Store, Version};

use super::store::{Clock, Counting, Counts};

const MIN: i64 = 60_000;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Params {
    pub workers: usize,
    pub entries: usize,
    pub hours: i64,
    /// `launch.replicas`; 0: every worker holds every entry (today).
    pub k: usize,
    pub slack: f64,
    /// The fraction of workers that die, each at a uniform random time.
    pub deaths: f64,
    /// The fraction of the dead that come back, after 10 to 120 minutes.
    pub returns: f64,
    pub member_ttl_ms: i64,
    pub max_delay: Duration,
    pub seed: u64,
    /// Prefixed to every job name (a real store keeps claims of earlier runs).
    pub tag: String,
}

/// What happened (see `main` for how it is printed).
#[derive(Debug, Default)]
pub struct Outcome {
    pub slots: u64,
    pub duplicates: u64,
    /// Lost with every worker that held the entry dead at the slot (or dying in its delay).
    pub lost_all_down: u64,
    /// Lost although no worker's view held the entry (views disagreeing): must be 0.
    pub lost_unheld: u64,
    pub starts: u64,
    pub errors: u64,
    /// Requests of greaserun (claims, heartbeats) and of greasesnatch (members, bundles).
    pub run_counts: Counts,
    pub snatch_counts: Counts,
    pub worker_minutes: u64,
    /// Slot to winning start, ms (simulated delay plus the real claim's wall time).
    pub latency_ms: Vec<f64>,
    /// Entries per worker, max / mean: at the start, and the worst over every view.
    pub load_start: (usize, f64),
    pub load_worst: (usize, f64),
    /// Membership changes seen, the entries held by a leaving or joining worker (before
    /// or after), and the other entries whose holders changed all the same (bounded-load
    /// spill: the farm reshuffling beyond the changed worker's share).
    pub changes: u64,
    pub own_moved: u64,
    pub others_moved: u64,
    pub died: usize,
    pub returned: usize,
    pub views: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Die(usize),
    Return(usize),
    Snatch(usize),
    Fire(i64),
    Start { w: usize, e: usize, s: usize },
}

struct Worker {
    host: String,
    me: Claimant,
    alive: bool,
    view: usize,
    /// The bundles' stamp and the time of this worker's last full round.
    stamp: Option<Version>,
    last_full: i64,
}

struct View {
    hosts: Vec<String>,
    placement: Option<Placement>,
}

#[derive(Default)]
struct SlotRun {
    slot_ms: i64,
    chosen: u32,
    alive_chosen: u32,
    wins: u32,
}

/// A seeded splitmix64 stream (deaths, returns and round offsets are reproducible; the
/// start delays come from the real `delay::weighted`, which is not seeded).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: i64) -> i64 {
        (self.next() % n.max(1) as u64) as i64
    }
}

pub struct Sim {
    p: Params,
    store: Arc<dyn Store>,
    counting: Arc<Counting>,
    raw: Arc<dyn Store>,
    clock: Clock,
    funnel: Funnel,
    epoch: DateTime<Utc>,
    entries: Vec<String>,
    by_minute: Vec<Vec<usize>>,
    workers: Vec<Worker>,
    index: HashMap<String, usize>,
    views: Vec<View>,
    view_ids: HashMap<Vec<String>, usize>,
    view_count: BTreeMap<usize, usize>,
    seen: HashSet<(usize, usize)>,
    slots: Vec<SlotRun>,
    heap: BinaryHeap<Reverse<(i64, u64, Ev)>>,
    seq: u64,
    out: Outcome,
}

impl Sim {
    /// A farm of `p.workers` on `raw` (counted through `counting`), every worker alive and
    /// beating, each holding its share of the full membership's placement.
    pub fn new(p: Params, raw: Arc<dyn Store>, clock: Clock) -> anyhow::Result<Sim> {
        let counting = Arc::new(Counting::new(raw.clone()));
        let store: Arc<dyn Store> = counting.clone();
        let entries: Vec<String> = (0..p.entries)
            .map(|j| format!("{}job{j:06}", p.tag))
            .collect();
        let mut by_minute = vec![Vec::new(); 60];
        for (j, e) in entries.iter().enumerate() {
            by_minute[(placement::weight(e, "@minute") % 60) as usize].push(j);
        }
        for old in raw.keys(keys::MEMBERS)? {
            raw.delete(&old)?;
        }
        let workers: Vec<Worker> = (0..p.workers)
            .map(|i| {
                let host = format!("w{i:05}");
                let me = Claimant {
                    host: host.clone(),
                    pid: 1,
                    user: "sim".into(),
                    request: None,
                };
                Worker {
                    host,
                    me,
                    alive: true,
                    view: 0,
                    stamp: None,
                    last_full: i64::MIN / 2,
                }
            })
            .collect();
        let index = workers
            .iter()
            .enumerate()
            .map(|(i, w)| (w.host.clone(), i))
            .collect();
        let mut sim = Sim {
            store,
            counting,
            raw,
            clock,
            funnel: scalegrease::Config::default().funnel,
            epoch: DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")?.with_timezone(&Utc),
            entries,
            by_minute,
            workers,
            index,
            views: Vec::new(),
            view_ids: HashMap::new(),
            view_count: BTreeMap::new(),
            seen: HashSet::new(),
            slots: Vec::new(),
            heap: BinaryHeap::new(),
            seq: 0,
            out: Outcome::default(),
            p,
        };
        let all: Vec<String> = sim.workers.iter().map(|w| w.host.clone()).collect();
        for h in all.iter().filter(|_| sim.p.k > 0) {
            membership::beat(&*sim.raw, &sim.member(h, 0), sim.ttl())?;
        }
        let v = sim.view(all);
        sim.view_count.insert(v, sim.workers.len());
        sim.out.load_start = sim.load(v);
        sim.out.load_worst = sim.out.load_start;
        sim.schedule()?;
        Ok(sim)
    }

    fn push(&mut self, t: i64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((t, self.seq, ev)));
    }

    fn schedule(&mut self) -> anyhow::Result<()> {
        let mut rng = Rng(self.p.seed);
        let end = self.p.hours * 60 * MIN;
        for w in 0..self.workers.len() {
            let offset = rng.below(MIN);
            self.push(offset, Ev::Snatch(w));
        }
        for m in 0..self.p.hours * 60 {
            self.push(m * MIN, Ev::Fire(m));
        }
        let n = (self.workers.len() as f64 * self.p.deaths).round() as usize;
        let mut order: Vec<usize> = (0..self.workers.len()).collect();
        for i in 0..n.min(order.len()) {
            let j = i + rng.below((order.len() - i) as i64) as usize;
            order.swap(i, j);
            let t = rng.below(end);
            self.push(t, Ev::Die(order[i]));
            self.out.died += 1;
            if (rng.next() % 10_000) as f64 / 10_000.0 < self.p.returns {
                let back = t + (10 + rng.below(111)) * MIN;
                if back < end {
                    self.push(back, Ev::Return(order[i]));
                    self.out.returned += 1;
                }
            }
        }
        Ok(())
    }

    /// Runs the simulated hours (and every start they caused) to the end.
    pub fn run(mut self) -> anyhow::Result<Outcome> {
        let end = self.p.hours * 60 * MIN;
        self.counting.take();
        while let Some(Reverse((t, _, ev))) = self.heap.pop() {
            self.clock.set(t);
            match ev {
                Ev::Snatch(w) if t < end => {
                    self.push(t + MIN, Ev::Snatch(w));
                    if self.workers[w].alive {
                        self.snatch(w, t)?;
                        merge(&mut self.out.snatch_counts, self.counting.take());
                    }
                }
                Ev::Snatch(_) => {}
                Ev::Fire(m) => self.fire(m),
                Ev::Start { w, e, s } => {
                    self.start(w, e, s, t);
                    merge(&mut self.out.run_counts, self.counting.take());
                }
                Ev::Die(w) => self.workers[w].alive = false,
                Ev::Return(w) => self.workers[w].alive = true,
            }
        }
        for s in &self.slots {
            self.out.slots += 1;
            match s.wins {
                0 if s.chosen == 0 => self.out.lost_unheld += 1,
                0 => self.out.lost_all_down += 1,
                1 => {}
                _ => self.out.duplicates += 1,
            }
        }
        self.out.views = self.views.len();
        Ok(self.out)
    }

    fn ttl(&self) -> Duration {
        Duration::from_millis(self.p.member_ttl_ms as u64)
    }

    /// `host`'s beat at simulated time `t` (headroom 1: the simulated jobs take no time).
    fn member(&self, host: &str, t: i64) -> Member {
        Member {
            time: self.epoch + TimeDelta::milliseconds(t),
            ..Member::now(host, 1.0)
        }
    }

    /// One greasesnatch round of worker `w`, as `dispatch::snatch::round` makes its
    /// requests: with placement the membership calls of `place::join` ([`Sim::join`]),
    /// then the bundles' stamp; a full round (one listing of
    /// `bundles`) when the members or the stamp changed or the last full round is
    /// [`RESYNC`] old, and a new placement when the live members changed.
    fn snatch(&mut self, w: usize, t: i64) -> anyhow::Result<()> {
        self.out.worker_minutes += 1;
        // Today's farm (k = 0) has no placement: no beat, no member list.
        let hosts = if self.p.k == 0 {
            None
        } else {
            Some(self.join(w, t)?)
        };
        let stamp = self.store.stamp(keys::BUNDLES)?;
        let changed = hosts
            .as_ref()
            .filter(|h| **h != self.views[self.workers[w].view].hosts);
        let wk = &mut self.workers[w];
        if changed.is_some()
            || stamp.is_none()
            || stamp != wk.stamp
            || t - wk.last_full >= RESYNC.as_millis() as i64
        {
            self.store.list(keys::BUNDLES)?;
            wk.stamp = stamp;
            wk.last_full = t;
        }
        if let Some(hosts) = changed.cloned() {
            let (old, new) = (self.workers[w].view, self.view(hosts));
            self.workers[w].view = new;
            *self.view_count.entry(old).or_default() -= 1;
            if self.view_count[&old] == 0 {
                self.view_count.remove(&old);
            }
            *self.view_count.entry(new).or_default() += 1;
            if self.seen.insert((old, new)) {
                self.moved(old, new);
            }
        }
        Ok(())
    }

    /// `place::join` on simulated time: worker `w` beats, reads the members, prunes the
    /// long dead and returns the live hosts, itself included.
    fn join(&self, w: usize, t: i64) -> anyhow::Result<Vec<String>> {
        let host = &self.workers[w].host;
        let (now, ttl) = (self.epoch + TimeDelta::milliseconds(t), self.ttl());
        membership::beat(&*self.store, &self.member(host, t), ttl)?;
        let members = membership::all(&*self.store)?;
        membership::prune_at(&*self.store, &members, ttl, now)?;
        let mut hosts = membership::live(&members, now, ttl);
        if let Err(i) = hosts.binary_search(host) {
            hosts.insert(i, host.clone());
        }
        Ok(hosts)
    }

    /// The id of the view with these members, placing the entries on first sight.
    fn view(&mut self, hosts: Vec<String>) -> usize {
        if let Some(&id) = self.view_ids.get(&hosts) {
            return id;
        }
        let placement = (self.p.k > 0)
            .then(|| placement::assign(&self.entries, &hosts, self.p.k, self.p.slack));
        let id = self.views.len();
        self.view_ids.insert(hosts.clone(), id);
        self.views.push(View { hosts, placement });
        let load = self.load(id);
        if load.0 as f64 / load.1.max(1e-9)
            > self.out.load_worst.0 as f64 / self.out.load_worst.1.max(1e-9)
        {
            self.out.load_worst = load;
        }
        id
    }

    /// Entries per member of view `v`: max and mean.
    fn load(&self, v: usize) -> (usize, f64) {
        let view = &self.views[v];
        let Some(p) = &view.placement else {
            return (self.entries.len(), self.entries.len() as f64);
        };
        let loads = p.loads(&view.hosts);
        let max = loads.values().copied().max().unwrap_or(0);
        let sum: usize = loads.values().sum();
        (max, sum as f64 / view.hosts.len().max(1) as f64)
    }

    /// Counts, for a change of view, the entries a leaving or joining member holds in
    /// either view, and the other entries whose holders changed.
    fn moved(&mut self, old: usize, new: usize) {
        let (Some(a), Some(b)) = (&self.views[old].placement, &self.views[new].placement) else {
            return;
        };
        let (oh, nh) = (&self.views[old].hosts, &self.views[new].hosts);
        let stays = |h: &String| nh.binary_search(h).is_ok() && oh.binary_search(h).is_ok();
        self.out.changes += 1;
        for e in &self.entries {
            let (before, after) = (&a.holders[e], &b.holders[e]);
            let churn = before.iter().any(|h| !stays(h)) || after.iter().any(|h| !stays(h));
            if churn {
                self.out.own_moved += 1;
            } else if before != after {
                self.out.others_moved += 1;
            }
        }
    }

    /// Cron fires minute `m`: every live worker whose view holds an entry due now starts
    /// a greaserun for it after its random delay.
    fn fire(&mut self, m: i64) {
        let t = m * MIN;
        let due = self.by_minute[(m % 60) as usize].clone();
        for e in due {
            let s = self.slots.len();
            let mut run = SlotRun {
                slot_ms: t,
                ..SlotRun::default()
            };
            let mut starters = Vec::new();
            if self.p.k == 0 {
                run.chosen = self.workers.len() as u32;
                starters.extend((0..self.workers.len()).filter(|&w| self.workers[w].alive));
            } else {
                for &v in self.view_count.keys() {
                    let p = self.views[v].placement.as_ref().expect("k > 0 places");
                    for h in &p.holders[&self.entries[e]] {
                        let w = self.index[h];
                        if self.workers[w].view == v {
                            run.chosen += 1;
                            if self.workers[w].alive {
                                starters.push(w);
                            }
                        }
                    }
                }
            }
            run.alive_chosen = starters.len() as u32;
            self.slots.push(run);
            for w in starters {
                let d = delay::weighted(self.p.max_delay, 1.0).as_millis() as i64;
                self.push(t + d, Ev::Start { w, e, s });
            }
        }
    }

    /// Worker `w`'s greaserun for entry `e`'s slot `s`, through the real claim.
    fn start(&mut self, w: usize, e: usize, s: usize, t: i64) {
        if !self.workers[w].alive {
            return;
        }
        self.out.starts += 1;
        let slot_ms = self.slots[s].slot_ms;
        let slot = Slot::at(self.epoch + TimeDelta::milliseconds(slot_ms));
        let clock = Instant::now();
        match claim(
            &self.store,
            &self.funnel,
            &self.entries[e],
            slot,
            &self.workers[w].me,
        ) {
            Ok(Claim::Won(hb)) => {
                let wall = clock.elapsed().as_secs_f64() * 1e3;
                hb.stop();
                self.slots[s].wins += 1;
                self.out.latency_ms.push((t - slot_ms) as f64 + wall);
            }
            Ok(Claim::Taken(_)) => {}
            Err(_) => self.out.errors += 1,
        }
    }
}

fn merge(into: &mut Counts, from: Counts) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}
