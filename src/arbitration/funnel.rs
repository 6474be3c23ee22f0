//! The funnel: every worker holds every crontab, so every worker starts every job; the
//! funnel lets exactly one of them run each (job, slot), with no scheduler machine.
//!
//! - A claim is an exclusive create of `claims/<job>/<slot>` ([`Store::create`]: one
//!   winner across hosts, also on NFS). Losers print who won and exit 0.
//! - The winner refreshes `heartbeats/<job>/<slot>/<run id>` every
//!   `funnel.heartbeat_interval` while the job runs. A claim whose heartbeat is older than
//!   `funnel.abandon_after` and that has no final record is `abandoned`; nothing reruns it
//!   by itself.
//! - A worker over its guard limits does not claim; it writes
//!   `declines/<job>/<slot>/<host>` with the reason, so a slot nobody took shows as
//!   `dropped` with the declines that explain it.
//! - Claims and declines are kept for `funnel.retention` and pruned by whichever command
//!   passes by (at most about once a minute per store, see [`maybe_prune`]); pruning turns
//!   an unclaimed, declined slot into a persistent `dropped` record.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::arbitration::slot::Slot;
use crate::config::{Config, Funnel};
use crate::debugging::records::{self, RunRecord, Status};
use crate::store::{Created, Store, StoreError, segment};

/// Who is claiming: this process on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub host: String,
    pub pid: u32,
    pub user: String,
}

impl Claimant {
    /// This process, with host name `host` (see [`Config::hostname`]).
    pub fn me(host: String) -> Claimant {
        Claimant {
            host,
            pid: std::process::id(),
            user: crate::util::host::user_name(),
        }
    }

    /// The run id used in record and heartbeat keys: `<host>-<pid>`.
    pub fn run_id(&self) -> String {
        format!("{}-{}", self.host, self.pid)
    }
}

/// The value of a claim key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimInfo {
    pub job: String,
    pub slot: String,
    pub host: String,
    pub pid: u32,
    pub user: String,
    #[serde(with = "crate::debugging::records::rfc3339")]
    pub at: DateTime<Utc>,
}

impl ClaimInfo {
    /// The run id of the claim's winner.
    pub fn run_id(&self) -> String {
        format!("{}-{}", self.host, self.pid)
    }
}

/// The value of a heartbeat key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub host: String,
    pub pid: u32,
    #[serde(with = "crate::debugging::records::rfc3339")]
    pub at: DateTime<Utc>,
}

/// A worker's refusal to claim a slot (it was over its guard limits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decline {
    pub job: String,
    pub slot: String,
    pub host: String,
    #[serde(with = "crate::debugging::records::rfc3339")]
    pub at: DateTime<Utc>,
    /// Which limit, e.g. `load 3.2 > 2.0`.
    pub reason: String,
}

/// The result of a claim attempt.
#[derive(Debug)]
pub enum Claim {
    /// We hold the slot; the heartbeat runs until the value is dropped or finished.
    Won(Heartbeat),
    /// Someone else does.
    Taken(ClaimInfo),
}

/// The claim key of (job, slot).
pub fn claim_key(job: &str, slot: Slot) -> String {
    format!("claims/{}/{}", segment(job), segment(&slot.key()))
}

/// The heartbeat key of one run.
pub fn heartbeat_key(job: &str, slot: Slot, run_id: &str) -> String {
    format!(
        "heartbeats/{}/{}/{}",
        segment(job),
        segment(&slot.key()),
        segment(run_id)
    )
}

/// The decline key of (job, slot, host).
pub fn decline_key(job: &str, slot: Slot, host: &str) -> String {
    format!(
        "declines/{}/{}/{}",
        segment(job),
        segment(&slot.key()),
        segment(host)
    )
}

/// A job's name when `--job` is not given: stable across runs and versions, readable,
/// and the same on every worker: `<runner>:<group>:<artifact>` for Maven coordinates
/// (`<runner>:<file name>` for a local path), then, when there are arguments, `:` and a
/// short readable form of them and 8 hex digits of their SHA-256 (arguments are taken as
/// written, before slot parameters are filled).
pub fn job_name(runner: &str, artifact: &str, args: &[String]) -> String {
    let art = artifact_identity(artifact);
    let mut name = format!("{}:{art}", runner.to_ascii_lowercase());
    if !args.is_empty() {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for a in args {
            h.update(a.as_bytes());
            h.update([0]);
        }
        let digest = hex::encode(h.finalize());
        let mut words = String::new();
        for c in args.join(" ").chars() {
            let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            let c = if keep { c } else { '_' };
            if !(c == '_' && words.ends_with('_')) {
                words.push(c);
            }
            if words.len() >= 32 {
                break;
            }
        }
        let words = words.trim_matches('_');
        name.push(':');
        if !words.is_empty() {
            name.push_str(words);
            name.push('~');
        }
        name.push_str(&digest[..8]);
    }
    name
}

/// `group:artifact` of Maven coordinates (version and the rest dropped), or the file name
/// of a local path.
fn artifact_identity(artifact: &str) -> String {
    let is_path = artifact.contains('/') || std::path::Path::new(artifact).exists();
    let parts: Vec<&str> = artifact.split(':').collect();
    if !is_path && parts.len() >= 2 {
        return format!("{}:{}", parts[0], parts[1]);
    }
    std::path::Path::new(artifact)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| artifact.to_string())
}

/// Claims (job, slot) for `me`. On a win the heartbeat starts at once (its first beat is
/// written by the heartbeat thread, off the job's start path).
pub fn claim(
    store: &Arc<dyn Store>,
    cfg: &Funnel,
    job: &str,
    slot: Slot,
    me: &Claimant,
) -> Result<Claim, StoreError> {
    let info = ClaimInfo {
        job: job.to_string(),
        slot: slot.key(),
        host: me.host.clone(),
        pid: me.pid,
        user: me.user.clone(),
        at: Utc::now(),
    };
    let key = claim_key(job, slot);
    let taken = |other: Vec<u8>| {
        Claim::Taken(serde_json::from_slice(&other).unwrap_or(ClaimInfo {
            host: "an unknown host (unreadable claim)".into(),
            pid: 0,
            user: String::new(),
            at: Utc::now(),
            ..info.clone()
        }))
    };
    // Most losers arrive after the winner: a read tells them without writing anything.
    if let Some(other) = store.get(&key)? {
        return Ok(taken(other));
    }
    let body = serde_json::to_vec(&info).expect("claims serialise");
    match store.create(&key, &body, Some(cfg.retention))? {
        Created::Created => Ok(Claim::Won(Heartbeat::start(
            store.clone(),
            heartbeat_key(job, slot, &me.run_id()),
            me,
            cfg,
        ))),
        Created::Exists(other) => Ok(taken(other)),
    }
}

/// Records that `me` declined (job, slot) and why.
pub fn decline(
    store: &dyn Store,
    cfg: &Funnel,
    job: &str,
    slot: Slot,
    me: &Claimant,
    reason: &str,
) -> Result<(), StoreError> {
    let d = Decline {
        job: job.to_string(),
        slot: slot.key(),
        host: me.host.clone(),
        at: Utc::now(),
        reason: reason.to_string(),
    };
    let body = serde_json::to_vec(&d).expect("declines serialise");
    store.put(
        &decline_key(job, slot, &me.host),
        &body,
        Some(cfg.retention),
    )
}

/// The running winner's heartbeat: a thread that rewrites the heartbeat key every
/// `heartbeat_interval` with [`Store::beat`] (on etcd a lease keep-alive, so the key
/// vanishes soon after its writer dies). Store errors are reported once and retried at the next beat;
/// they never stop the job. Dropping the value stops the thread.
#[derive(Debug)]
pub struct Heartbeat {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    /// Starts the thread, which writes the first beat at once.
    pub fn start(store: Arc<dyn Store>, key: String, me: &Claimant, cfg: &Funnel) -> Heartbeat {
        let ttl = cfg.abandon_after.max(cfg.heartbeat_interval * 2);
        let (host, pid) = (me.host.clone(), me.pid);
        let beat = move |store: &dyn Store| {
            let b = Beat {
                host: host.clone(),
                pid,
                at: Utc::now(),
            };
            store.beat(&key, &serde_json::to_vec(&b).expect("beats serialise"), ttl)
        };
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let interval = cfg.heartbeat_interval.max(Duration::from_millis(10));
        let thread = std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || {
                let (lock, cv) = &*stop2;
                let mut warned = false;
                let mut first = true;
                let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if *stopped {
                        return;
                    }
                    if !first {
                        let (s, _) = cv
                            .wait_timeout(stopped, interval)
                            .unwrap_or_else(|e| e.into_inner());
                        stopped = s;
                        if *stopped {
                            return;
                        }
                    }
                    first = false;
                    match beat(&*store) {
                        Ok(()) => warned = false,
                        Err(e) if !warned => {
                            tracing::warn!("heartbeat not written (will retry): {e}");
                            warned = true;
                        }
                        Err(_) => {}
                    }
                }
            })
            .expect("spawning the heartbeat thread");
        Heartbeat {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the heartbeat (the key stays, showing the last beat).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Whether a heartbeat (or, without one, a start time) is recent enough that its run
/// counts as alive at `now`.
pub fn alive(last: Option<DateTime<Utc>>, cfg: &Funnel, now: DateTime<Utc>) -> bool {
    let limit = chrono::TimeDelta::from_std(cfg.abandon_after).unwrap_or(chrono::TimeDelta::MAX);
    last.is_some_and(|t| now.signed_duration_since(t) <= limit)
}

/// What a prune removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub claims: usize,
    pub declines: usize,
    pub dropped_recorded: usize,
    pub records: usize,
}

/// Prunes claims and declines older than `funnel.retention` and records older than
/// `history.retention`, at most once per interval per store (min(retention / 4, 1 min)):
/// the first process to create the interval's marker does it. Errors are returned for
/// the caller to report as a warning; pruning never stops a run.
pub fn maybe_prune(store: &dyn Store, cfg: &Config) -> Result<Option<Pruned>, StoreError> {
    let every = (cfg.funnel.retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let bucket = Utc::now().timestamp() as u64 / every.as_secs().max(1);
    let marker = format!("maintenance/prune/{bucket}");
    if store.get(&marker)?.is_some() {
        return Ok(None);
    }
    match store.create(&marker, b"", Some(cfg.funnel.retention))? {
        Created::Exists(_) => Ok(None),
        Created::Created => prune(store, cfg, Utc::now()).map(Some),
    }
}

/// Prunes as of `now` (see [`maybe_prune`]). A claim whose run still heartbeats is kept
/// however old, so a long job's slot cannot be claimed twice. A declined slot with no
/// claim and no record becomes a `dropped` record before its declines go.
pub fn prune(store: &dyn Store, cfg: &Config, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
    let f = &cfg.funnel;
    let keep = chrono::TimeDelta::from_std(f.retention).unwrap_or(chrono::TimeDelta::MAX);
    let old = |t: DateTime<Utc>| now.signed_duration_since(t) > keep;
    let mut out = Pruned::default();

    for e in store.list("claims")? {
        let Ok(c) = serde_json::from_slice::<ClaimInfo>(&e.value) else {
            continue;
        };
        let Some(slot) = Slot::from_key(&c.slot) else {
            continue;
        };
        if !old(c.at) {
            continue;
        }
        let hb = heartbeat_key(&c.job, slot, &c.run_id());
        let beat = store
            .get(&hb)?
            .and_then(|b| serde_json::from_slice::<Beat>(&b).ok());
        if alive(beat.map(|b| b.at), f, now) {
            continue;
        }
        store.delete(&e.key)?;
        store.delete(&hb)?;
        out.claims += 1;
    }

    let mut groups: std::collections::BTreeMap<(String, String), Vec<(String, Decline)>> =
        Default::default();
    for e in store.list("declines")? {
        if let Ok(d) = serde_json::from_slice::<Decline>(&e.value) {
            groups
                .entry((d.job.clone(), d.slot.clone()))
                .or_default()
                .push((e.key, d));
        }
    }
    for ((job, slot_key), declines) in groups {
        if !declines.iter().all(|(_, d)| old(d.at)) {
            continue;
        }
        let Some(slot) = Slot::from_key(&slot_key) else {
            continue;
        };
        let claimed = store.get(&claim_key(&job, slot))?.is_some();
        let (recs, _) = records::list(store, &records::slot_prefix(&job, slot))?;
        if !claimed && recs.is_empty() {
            let rec = dropped_record(
                &job,
                slot,
                declines.iter().map(|(_, d)| d.clone()).collect(),
            );
            records::write(store, &rec, cfg.history.retention)?;
            out.dropped_recorded += 1;
        }
        for (key, _) in &declines {
            store.delete(key)?;
            out.declines += 1;
        }
    }

    out.records += store.prune("runs", cfg.history.retention)?;
    store.prune("tails", cfg.history.retention)?;
    store.prune("heartbeats", f.retention + f.abandon_after)?;
    store.prune("maintenance", f.retention)?;
    Ok(out)
}

/// The record of a slot no worker took.
pub fn dropped_record(job: &str, slot: Slot, declines: Vec<Decline>) -> RunRecord {
    let reasons: Vec<String> = declines
        .iter()
        .map(|d| format!("{}: {}", d.host, d.reason))
        .collect();
    RunRecord {
        job: job.to_string(),
        slot: slot.key(),
        status: Status::Dropped,
        host: String::new(),
        pid: 0,
        user: String::new(),
        claimed: false,
        runner: String::new(),
        artifact: String::new(),
        version: None,
        args: vec![],
        start: None,
        end: None,
        exit_code: None,
        signal: None,
        duration_s: None,
        log_path: None,
        reason: Some(format!(
            "no worker claimed the slot; {} declined: {}",
            declines.len(),
            reasons.join("; ")
        )),
        declines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dir::DirStore;

    fn setup() -> (tempfile::TempDir, Arc<dyn Store>, Config) {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path().join("store"));
        s.init().unwrap();
        let mut cfg = Config::default();
        cfg.funnel.heartbeat_interval = Duration::from_millis(20);
        (d, Arc::new(s), cfg)
    }

    fn me(host: &str) -> Claimant {
        Claimant {
            host: host.into(),
            pid: 7,
            user: "u".into(),
        }
    }

    #[test]
    fn job_names_are_stable_and_readable() {
        let a = job_name(
            "Shell",
            "com.ex:etl:1.2:jar",
            &["run".into(), "{date}".into()],
        );
        let b = job_name(
            "shell",
            "com.ex:etl:LATEST",
            &["run".into(), "{date}".into()],
        );
        assert_eq!(a, b);
        assert!(a.starts_with("shell:com.ex:etl:run_date~"), "{a}");
        assert_ne!(
            a,
            job_name("shell", "com.ex:etl", &["run".into(), "{hour}".into()])
        );
        assert_eq!(job_name("java", "/tmp/x/job.jar", &[]), "java:job.jar");
        // Argument boundaries count.
        assert_ne!(
            job_name("shell", "a:b", &["a b".into()]),
            job_name("shell", "a:b", &["a".into(), "b".into()])
        );
    }

    #[test]
    fn one_winner_among_threads() {
        let (_d, store, cfg) = setup();
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        let wins: Vec<bool> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..8)
                .map(|i| {
                    let store = store.clone();
                    let cfg = cfg.funnel.clone();
                    sc.spawn(move || {
                        matches!(
                            claim(&store, &cfg, "j", slot, &me(&format!("h{i}"))).unwrap(),
                            Claim::Won(_)
                        )
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(wins.iter().filter(|w| **w).count(), 1);
        match claim(&store, &cfg.funnel, "j", slot, &me("late")).unwrap() {
            Claim::Taken(c) => assert!(c.host.starts_with('h')),
            Claim::Won(_) => panic!("second win"),
        }
    }

    #[test]
    fn heartbeat_refreshes_until_stopped() {
        let (_d, store, cfg) = setup();
        let slot = Slot::now();
        let Claim::Won(hb) = claim(&store, &cfg.funnel, "j", slot, &me("h")).unwrap() else {
            panic!("lost")
        };
        let key = heartbeat_key("j", slot, "h-7");
        let beat = || {
            store
                .get(&key)
                .unwrap()
                .map(|b| serde_json::from_slice::<Beat>(&b).unwrap())
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let first = loop {
            if let Some(b) = beat() {
                break b;
            }
            assert!(std::time::Instant::now() < deadline, "no first beat");
            std::thread::sleep(Duration::from_millis(5));
        };
        loop {
            if beat().unwrap().at > first.at {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no second beat");
            std::thread::sleep(Duration::from_millis(5));
        }
        hb.stop();
    }

    #[test]
    fn prune_keeps_live_claims_and_records_dropped_slots() {
        let (_d, store, mut cfg) = setup();
        cfg.funnel.retention = Duration::from_secs(60);
        let s1 = Slot::parse("2026-11-23T03:00Z").unwrap();
        let s2 = s1.offset_secs(60);
        let s3 = s1.offset_secs(120);
        let Claim::Won(hb) = claim(&store, &cfg.funnel, "j", s1, &me("a")).unwrap() else {
            panic!()
        };
        drop(hb); // s1: old, no heartbeat refresh after now + abandon_after
        let live = claim(&store, &cfg.funnel, "j", s2, &me("b")).unwrap();
        decline(&*store, &cfg.funnel, "j", s3, &me("c"), "load 3.2 > 2.0").unwrap();
        decline(&*store, &cfg.funnel, "j", s3, &me("d"), "running 16 >= 16").unwrap();

        // Within retention nothing goes.
        let p = prune(&*store, &cfg, Utc::now()).unwrap();
        assert_eq!(p, Pruned::default());

        // Past retention, s2's heartbeat is still fresh as far as `now` is concerned only
        // if it is within abandon_after: move `now` so s1/s2 claims are old but fake a
        // fresh beat for s2.
        let later = Utc::now() + chrono::TimeDelta::seconds(120);
        let beat = Beat {
            host: "b".into(),
            pid: 7,
            at: later,
        };
        store
            .put(
                &heartbeat_key("j", s2, "b-7"),
                &serde_json::to_vec(&beat).unwrap(),
                None,
            )
            .unwrap();
        drop(live);
        store
            .put(
                &heartbeat_key("j", s2, "b-7"),
                &serde_json::to_vec(&beat).unwrap(),
                None,
            )
            .unwrap();
        let p = prune(&*store, &cfg, later).unwrap();
        assert_eq!((p.claims, p.declines, p.dropped_recorded), (1, 2, 1));
        assert!(store.get(&claim_key("j", s1)).unwrap().is_none());
        assert!(store.get(&claim_key("j", s2)).unwrap().is_some());
        let (recs, _) = records::list(&*store, &records::slot_prefix("j", s3)).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].status, Status::Dropped);
        assert_eq!(recs[0].declines.len(), 2);
        assert!(recs[0].reason.as_ref().unwrap().contains("load 3.2 > 2.0"));
    }

    #[test]
    fn maybe_prune_runs_once_per_interval() {
        let (_d, store, cfg) = setup();
        let first = maybe_prune(&*store, &cfg).unwrap();
        let second = maybe_prune(&*store, &cfg).unwrap();
        // Both calls can straddle an interval boundary; at most one per bucket prunes.
        assert!(first.is_some() || second.is_some());
        let buckets = store.keys("maintenance/prune").unwrap().len();
        assert_eq!(
            buckets,
            usize::from(first.is_some()) + usize::from(second.is_some())
        );
    }
}
