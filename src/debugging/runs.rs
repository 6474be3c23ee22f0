//! The status views over the store: `greasestatus runs` (history, newest first, with each
//! run's status) and `greasestatus log` (one run's output, wherever it ran). The binary
//! only parses arguments and prints what these functions return.
//!
//! A run's shown status combines its record with the funnel's keys: a `running` record
//! (or a claim with no record yet) whose heartbeat is older than `funnel.abandon_after`
//! is `abandoned`; a slot with declines and no claim is `declined`, then `dropped` once
//! `funnel.retention` has passed without a claim.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use chrono::{DateTime, Utc};

use crate::arbitration::funnel::{self, Beat, ClaimInfo, Decline};
use crate::arbitration::slot::Slot;
use crate::config::Config;
use crate::debugging::records::{self, RunRecord, Status, TAIL_BYTES};
use crate::store::{Store, StoreError, segment};

/// Why a view could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no runs of job {job:?}{at} in the store (`greasestatus runs` lists jobs and slots)")]
    NoRun { job: String, at: String },
    #[error("{query:?} matches several jobs: {candidates} (give more of the name)")]
    Ambiguous { query: String, candidates: String },
    #[error("no job in the store matches {query:?} ({known})")]
    UnknownJob { query: String, known: String },
    #[error("invalid --since {0:?}: use a time (2026-11-23T03:00) or an age (90m, 2d)")]
    Since(String),
}

impl ViewError {
    /// The documented exit code: 1 for a job or run the store does not know, 2 for a bad
    /// `--since`, the store's own code otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ViewError::Store(e) => e.exit_code(),
            ViewError::NoRun { .. }
            | ViewError::Ambiguous { .. }
            | ViewError::UnknownJob { .. } => crate::exit::FAILURE,
            ViewError::Since(_) => crate::exit::USAGE,
        }
    }
}

/// Reads `--since`: a slot time, or an age before `now` (`90m`, `2h`, `7d`).
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<Slot, ViewError> {
    if let Ok(s) = Slot::parse(text) {
        return Ok(s);
    }
    let age = crate::util::duration::parse(text).map_err(|_| ViewError::Since(text.into()))?;
    let age = chrono::TimeDelta::from_std(age).map_err(|_| ViewError::Since(text.into()))?;
    Ok(Slot::at(now - age))
}

/// The job a user means: `query` itself when the store has runs, claims or declines of
/// that name, else the one known job whose name contains `query` (so `hello-job` finds
/// `java:com.example:hello-job:date-1d~47fa4f31`). No match is [`ViewError::UnknownJob`],
/// naming the jobs the store knows;
/// several are [`ViewError::Ambiguous`], listing them.
pub fn find_job(store: &dyn Store, query: &str) -> Result<String, ViewError> {
    const TOPS: [&str; 3] = ["runs", "claims", "declines"];
    for top in TOPS {
        if !store.keys(&format!("{top}/{}", segment(query)))?.is_empty() {
            return Ok(query.to_string());
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for top in TOPS {
        for key in store.keys(top)? {
            if let Some(seg) = key.split('/').nth(1) {
                names.insert(crate::store::unsegment(seg));
            }
        }
    }
    let hits: Vec<&String> = names.iter().filter(|n| n.contains(query)).collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(ViewError::UnknownJob {
            query: query.to_string(),
            known: match names.len() {
                0 => "the store has no runs, claims or declines yet".into(),
                n if n <= 10 => format!("known: {}", join(names.iter())),
                n => format!("known: {} and {} more", join(names.iter().take(10)), n - 10),
            },
        }),
        many => Err(ViewError::Ambiguous {
            query: query.to_string(),
            candidates: many
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Every run (and every slot no run took) of `job`, or of all jobs, from slot `since`
/// on, newest first, each with its status as of `now`.
pub fn runs(
    store: &dyn Store,
    cfg: &Config,
    job: Option<&str>,
    since: Option<Slot>,
    now: DateTime<Utc>,
) -> Result<Vec<RunRecord>, StoreError> {
    let sub = |top: &str| match job {
        Some(j) => format!("{top}/{}", segment(j)),
        None => top.to_string(),
    };
    let keep = |slot: &str| match (since, Slot::from_key(slot)) {
        (Some(since), Some(s)) => s >= since,
        (Some(_), None) => false,
        (None, _) => true,
    };
    let beats: HashMap<String, DateTime<Utc>> = store
        .list(&sub("heartbeats"))?
        .into_iter()
        .filter_map(|e| Some((e.key, serde_json::from_slice::<Beat>(&e.value).ok()?.at)))
        .collect();
    let beat_of = |job: &str, slot: &str, run_id: &str| {
        Slot::from_key(slot)
            .and_then(|s| beats.get(&funnel::heartbeat_key(job, s, run_id)).copied())
    };

    let mut by_slot: BTreeMap<(String, String), Vec<RunRecord>> = BTreeMap::new();
    let (recs, _) = records::list(store, &sub("runs"))?;
    for r in recs.into_iter().filter(|r| keep(&r.slot)) {
        by_slot
            .entry((r.job.clone(), r.slot.clone()))
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for mut r in by_slot.values().flatten().cloned() {
        if r.status == Status::Running {
            let last = beat_of(&r.job, &r.slot, &r.id()).or(r.start);
            if !funnel::alive(last, &cfg.funnel, now) {
                r.status = Status::Abandoned;
            }
        }
        out.push(r);
    }

    let mut claimed: std::collections::HashSet<(String, String)> = Default::default();
    for e in store.list(&sub("claims"))? {
        let Ok(c) = serde_json::from_slice::<ClaimInfo>(&e.value) else {
            continue;
        };
        let key = (c.job.clone(), c.slot.clone());
        claimed.insert(key.clone());
        let recorded = by_slot
            .get(&key)
            .is_some_and(|rs| rs.iter().any(|r| r.claimed));
        if recorded || !keep(&c.slot) {
            continue;
        }
        // Claimed, but the winner has not written (or never wrote) its record.
        let last = beat_of(&c.job, &c.slot, &c.run_id()).or(Some(c.at));
        let status = if funnel::alive(last, &cfg.funnel, now) {
            Status::Running
        } else {
            Status::Abandoned
        };
        out.push(claim_record(&c, status));
    }

    let mut declined: BTreeMap<(String, String), Vec<Decline>> = BTreeMap::new();
    for e in store.list(&sub("declines"))? {
        if let Ok(d) = serde_json::from_slice::<Decline>(&e.value) {
            declined
                .entry((d.job.clone(), d.slot.clone()))
                .or_default()
                .push(d);
        }
    }
    let retention =
        chrono::TimeDelta::from_std(cfg.funnel.retention).unwrap_or(chrono::TimeDelta::MAX);
    for ((job, slot), declines) in declined {
        if claimed.contains(&(job.clone(), slot.clone()))
            || by_slot.contains_key(&(job.clone(), slot.clone()))
            || !keep(&slot)
        {
            continue;
        }
        let Some(s) = Slot::from_key(&slot) else {
            continue;
        };
        let latest = declines.iter().map(|d| d.at).max().unwrap_or(now);
        let mut r = funnel::dropped_record(&job, s, declines);
        if now.signed_duration_since(latest) <= retention {
            r.status = Status::Declined;
        }
        out.push(r);
    }

    out.sort_by(|a, b| {
        b.slot
            .cmp(&a.slot)
            .then_with(|| b.start.cmp(&a.start))
            .then_with(|| a.job.cmp(&b.job))
    });
    Ok(out)
}

fn claim_record(c: &ClaimInfo, status: Status) -> RunRecord {
    RunRecord {
        job: c.job.clone(),
        slot: c.slot.clone(),
        status,
        host: c.host.clone(),
        pid: c.pid,
        user: c.user.clone(),
        claimed: true,
        runner: String::new(),
        artifact: String::new(),
        version: None,
        args: vec![],
        start: Some(c.at),
        end: None,
        exit_code: None,
        signal: None,
        duration_s: None,
        log_path: None,
        reason: Some("claimed; no run record written".into()),
        declines: vec![],
    }
}

/// The runs as a table, one line each: slot (local time), status, host, duration, exit,
/// version, job, and a note (why it was skipped, dropped or failed to start).
pub fn table(runs: &[RunRecord]) -> String {
    let mut rows = vec![[
        "SLOT".to_string(),
        "STATUS".into(),
        "HOST".into(),
        "DURATION".into(),
        "EXIT".into(),
        "VERSION".into(),
        "JOB".into(),
        "NOTE".into(),
    ]];
    for r in runs {
        let slot = r.slot().map(|s| s.to_string()).unwrap_or(r.slot.clone());
        let exit = match (r.exit_code, r.signal) {
            (_, Some(sig)) => format!("signal {sig}"),
            (Some(c), None) => c.to_string(),
            (None, None) => "-".into(),
        };
        let dur = r
            .duration_s
            .map(|d| format!("{d:.1}s"))
            .unwrap_or_else(|| "-".into());
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        rows.push([
            slot,
            r.status.to_string(),
            dash(&r.host),
            dur,
            exit,
            dash(r.version.as_deref().unwrap_or("")),
            r.job.clone(),
            r.reason.clone().unwrap_or_default(),
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The runs as a JSON array of records (status as shown), newest first.
pub fn json(runs: &[RunRecord]) -> String {
    serde_json::to_string_pretty(runs).expect("records serialise")
}

/// Where a shown log came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// The run's whole output, kept in the store (it was under 64 KiB).
    Store,
    /// The run's lines from its log file (shared log directory).
    File(String),
    /// Only the last 64 KiB, from the store: the log file was not readable here.
    Tail { unreadable: Option<String> },
    /// Nothing ran (dropped, declined, skipped, or no output kept).
    None,
}

/// One run's log.
#[derive(Debug, Clone)]
pub struct LogView {
    /// The run, with its status as shown by [`runs`].
    pub run: RunRecord,
    pub source: LogSource,
    pub text: Vec<u8>,
}

impl LogView {
    /// The one-line header printed before the log (to stderr by the binary).
    pub fn header(&self) -> String {
        let slot = self
            .run
            .slot()
            .map(|s| s.to_string())
            .unwrap_or(self.run.slot.clone());
        let host = if self.run.host.is_empty() {
            "no host".to_string()
        } else {
            format!("{} (pid {})", self.run.host, self.run.pid)
        };
        let from = match &self.source {
            LogSource::Store => "output from the store".to_string(),
            LogSource::File(p) => format!("from {p}"),
            LogSource::Tail {
                unreadable: Some(p),
            } => {
                format!("last 64 KiB from the store ({p} is not readable here)")
            }
            LogSource::Tail { unreadable: None } => "last 64 KiB from the store".to_string(),
            LogSource::None => self.run.reason.clone().unwrap_or("no output kept".into()),
        };
        format!(
            "{} slot {slot}: {} on {host}: {from}",
            self.run.job, self.run.status
        )
    }
}

fn join<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// The log of `job`'s run at `slot` (the latest run by default). The whole output comes
/// from the store when it fit in 64 KiB; otherwise the run's lines from its log file on
/// shared storage; otherwise the stored last 64 KiB.
pub fn log(
    store: &dyn Store,
    cfg: &Config,
    job: &str,
    slot: Option<Slot>,
    now: DateTime<Utc>,
) -> Result<LogView, ViewError> {
    let all = runs(store, cfg, Some(job), slot, now)?;
    let candidates: Vec<&RunRecord> = all
        .iter()
        .filter(|r| slot.is_none_or(|s| r.slot == s.key()))
        .collect();
    // Prefer a run that ran (or the claim's winner) over a drop or a manual duplicate.
    let run = candidates
        .iter()
        .find(|r| r.claimed && !r.host.is_empty())
        .or_else(|| candidates.iter().find(|r| !r.host.is_empty()))
        .or_else(|| candidates.first())
        .copied()
        .cloned()
        .ok_or_else(|| ViewError::NoRun {
            job: job.to_string(),
            at: slot.map(|s| format!(" at slot {s}")).unwrap_or_default(),
        })?;
    if run.host.is_empty() || run.status == Status::Skipped {
        return Ok(LogView {
            run,
            source: LogSource::None,
            text: vec![],
        });
    }
    let tail = records::read_tail(store, &run)?;
    if let Some(t) = &tail
        && t.len() < TAIL_BYTES
    {
        return Ok(LogView {
            run,
            source: LogSource::Store,
            text: t.clone(),
        });
    }
    if let Some(p) = &run.log_path
        && let Some(text) = lines_of_pid(p, run.pid)
    {
        return Ok(LogView {
            source: LogSource::File(p.clone()),
            run,
            text,
        });
    }
    Ok(LogView {
        source: match tail {
            Some(_) => LogSource::Tail {
                unreadable: run.log_path.clone(),
            },
            None => LogSource::None,
        },
        text: tail.unwrap_or_default(),
        run,
    })
}

/// The lines of a log file written by process `pid` (lines start with `[<pid>]`), or
/// `None` when the file cannot be read or has none.
fn lines_of_pid(path: &str, pid: u32) -> Option<Vec<u8>> {
    let f = std::fs::File::open(path).ok()?;
    let prefix = format!("[{pid}]");
    let mut out = Vec::new();
    for line in std::io::BufReader::new(f).split(b'\n') {
        let line = line.ok()?;
        if line.starts_with(prefix.as_bytes()) {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitration::funnel::{Claim, Claimant, claim, decline};
    use crate::store::dir::DirStore;
    use std::sync::Arc;
    use std::time::Duration;

    fn me(h: &str) -> Claimant {
        Claimant {
            host: h.into(),
            pid: 9,
            user: "u".into(),
        }
    }

    #[test]
    fn statuses_from_records_claims_and_declines() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path());
        s.init().unwrap();
        let store: Arc<dyn Store> = Arc::new(s);
        let mut cfg = Config::default();
        cfg.funnel.retention = Duration::from_secs(600);
        cfg.funnel.abandon_after = Duration::from_secs(60);
        let s1 = Slot::parse("2026-11-23T03:00Z").unwrap();
        let s2 = s1.offset_secs(60);
        let s3 = s1.offset_secs(120);

        // s1: claimed and finished.
        let Claim::Won(hb) = claim(&store, &cfg.funnel, "j", s1, &me("a")).unwrap() else {
            panic!()
        };
        drop(hb);
        let mut r = funnel::dropped_record("j", s1, vec![]);
        r.status = Status::Succeeded;
        r.host = "a".into();
        r.pid = 9;
        r.claimed = true;
        r.reason = None;
        r.exit_code = Some(0);
        records::write(&*store, &r, Duration::from_secs(3600)).unwrap();
        records::write_tail(&*store, &r, b"hello\n", Duration::from_secs(3600)).unwrap();
        // s2: claimed, no record.
        let Claim::Won(hb) = claim(&store, &cfg.funnel, "j", s2, &me("b")).unwrap() else {
            panic!()
        };
        drop(hb);
        // s3: declined by two hosts.
        decline(&*store, &cfg.funnel, "j", s3, &me("c"), "load 3.2 > 2.0").unwrap();
        decline(
            &*store,
            &cfg.funnel,
            "j",
            s3,
            &me("d"),
            "memory 100 MiB < 256 MiB",
        )
        .unwrap();

        let now = Utc::now();
        let v = runs(&*store, &cfg, Some("j"), None, now).unwrap();
        let st: Vec<_> = v.iter().map(|r| (r.slot.clone(), r.status)).collect();
        assert_eq!(
            st,
            [
                (s3.key(), Status::Declined),
                (s2.key(), Status::Running),
                (s1.key(), Status::Succeeded)
            ]
        );
        let later = now + chrono::TimeDelta::seconds(3600);
        let v = runs(&*store, &cfg, None, Some(s2), later).unwrap();
        let st: Vec<_> = v.iter().map(|r| r.status).collect();
        assert_eq!(st, [Status::Dropped, Status::Abandoned]);
        assert!(v[0].reason.as_ref().unwrap().contains("c: load 3.2 > 2.0"));
        assert!(table(&v).contains("dropped"));
        assert!(json(&v).contains("\"abandoned\""));

        let l = log(&*store, &cfg, "j", Some(s1), now).unwrap();
        assert_eq!(l.source, LogSource::Store);
        assert_eq!(l.text, b"hello\n");
        assert!(
            l.header().contains("succeeded on a (pid 9)"),
            "{}",
            l.header()
        );
        let l = log(&*store, &cfg, "j", None, now).unwrap();
        assert_eq!(l.source, LogSource::None); // the latest slot was only declined
        assert!(matches!(
            log(&*store, &cfg, "nope", None, now),
            Err(ViewError::NoRun { .. })
        ));
    }

    #[test]
    fn a_long_output_comes_from_the_log_file_or_else_the_tail() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path().join("store"));
        s.init().unwrap();
        let cfg = Config::default();
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        let logf = d.path().join("2026-11-23.log");
        std::fs::write(
            &logf,
            "[9] 03:00:01 OUT:job mine\n[77] 03:00:01 OUT:job other\n[9] 03:00:02 INFO:greaserun done\n",
        )
        .unwrap();
        let mut r = funnel::dropped_record("j", slot, vec![]);
        r.status = Status::Succeeded;
        r.host = "a".into();
        r.pid = 9;
        r.claimed = true;
        r.log_path = Some(logf.display().to_string());
        records::write(&s, &r, Duration::from_secs(60)).unwrap();
        records::write_tail(&s, &r, &vec![b'x'; TAIL_BYTES], Duration::from_secs(60)).unwrap();
        let l = log(&s, &cfg, "j", None, Utc::now()).unwrap();
        assert_eq!(l.source, LogSource::File(logf.display().to_string()));
        assert_eq!(
            String::from_utf8(l.text).unwrap(),
            "[9] 03:00:01 OUT:job mine\n[9] 03:00:02 INFO:greaserun done\n"
        );
        std::fs::remove_file(&logf).unwrap();
        let l = log(&s, &cfg, "j", None, Utc::now()).unwrap();
        assert!(matches!(
            l.source,
            LogSource::Tail {
                unreadable: Some(_)
            }
        ));
        assert_eq!(l.text.len(), TAIL_BYTES);
        assert!(
            l.header().contains("is not readable here"),
            "{}",
            l.header()
        );
    }

    #[test]
    fn since_takes_times_and_ages() {
        let now = Utc::now();
        assert_eq!(
            parse_since("2h", now).unwrap(),
            Slot::at(now - chrono::TimeDelta::hours(2))
        );
        assert_eq!(
            parse_since("2026-11-23T03:00Z", now).unwrap().key(),
            "2026-11-23T03:00Z"
        );
        assert!(parse_since("soon", now).is_err());
    }
}
