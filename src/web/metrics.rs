//! `/metrics` in the Prometheus text format (version 0.0.4), over a window of the last
//! [`WINDOW`] of history: per job the last success and last failure (unix seconds, of
//! the run's end), runs by state, a histogram of run durations and the missing slots
//! (since the bundle was published); the queue's pending and in-flight requests (from the
//! farm page's snapshot while it is fresh); and each live worker's headroom and last
//! beat, from its membership beat (`arbitration::membership`). Each job's window is
//! read once, for its runs and its ledger.

use std::collections::btree_map::Entry::Vacant;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::arbitration::membership::{self, Member};
use crate::config::Config;
use crate::debugging::queue;
use crate::debugging::runs::{Slots, runs_in};
use crate::farm::ledger::{SlotState, grace_of, ledger_of};
use crate::model::keys;
use crate::model::record::{RunRecord, Status};
use crate::model::slot::Slot;
use crate::store::Store;
use crate::web::catalog::Catalog;
use crate::web::error::WebError;
use crate::web::view::read_each;

/// How far back the metrics look.
pub const WINDOW: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// The duration histogram's upper bounds, in seconds.
const BUCKETS: [f64; 8] = [
    1.0,
    10.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4.0 * 3600.0,
    24.0 * 3600.0,
];

/// The metrics text as of `now`, for the `published` entries and every other job with
/// history in the window; the queue's size (pending, in flight) is `queue` when the
/// caller has it (the farm snapshot), else read. Each job's window is read once (one
/// range per key prefix), for its runs and its ledger alike.
pub fn render(
    store: &dyn Store,
    cfg: &Config,
    published: &Catalog,
    queue: Option<(usize, usize)>,
    now: DateTime<Utc>,
) -> Result<String, WebError> {
    let since = Slot::at(now - WINDOW);
    let mut by_job: BTreeMap<String, Vec<RunRecord>> = BTreeMap::new();
    let mut missing = BTreeMap::new();
    let read = read_each(&published.entries, |p| {
        let rs = runs_in(store, cfg, Some(&p.entry.job), Slots::Since(since), now)?;
        let n = ledger_of(store, p, since, now, grace_of(p), &rs)?
            .iter()
            .filter(|s| s.state == SlotState::Missing)
            .count();
        Ok::<_, WebError>((rs, n))
    })?;
    for (p, (rs, n)) in published.entries.iter().zip(read) {
        missing.insert(p.entry.job.clone(), n);
        by_job.entry(p.entry.job.clone()).or_insert(rs);
    }
    // Jobs with history and no published entry (any more): their runs only.
    let mut others = BTreeSet::new();
    for top in [keys::RUNS, keys::CLAIMS, keys::DECLINES] {
        others.extend(store.children(top)?.iter().map(|s| keys::unsegment(s)));
    }
    for job in others {
        if let Vacant(v) = by_job.entry(job) {
            let rs = runs_in(store, cfg, Some(v.key()), Slots::Since(since), now)?;
            if !rs.is_empty() {
                v.insert(rs);
            }
        }
    }
    let mut o = String::new();
    family(
        &mut o,
        "scalegrease_job_last_success_timestamp_seconds",
        "gauge",
        "End of the job's latest succeeded run in the window (unix seconds).",
    );
    for (job, rs) in &by_job {
        if let Some(t) = last_end(rs, Status::Succeeded) {
            let _ = writeln!(
                o,
                "scalegrease_job_last_success_timestamp_seconds{{job=\"{}\"}} {t}",
                label(job)
            );
        }
    }
    family(
        &mut o,
        "scalegrease_job_last_failure_timestamp_seconds",
        "gauge",
        "End of the job's latest failed run in the window (unix seconds).",
    );
    for (job, rs) in &by_job {
        if let Some(t) = last_end(rs, Status::Failed) {
            let _ = writeln!(
                o,
                "scalegrease_job_last_failure_timestamp_seconds{{job=\"{}\"}} {t}",
                label(job)
            );
        }
    }
    family(
        &mut o,
        "scalegrease_job_runs",
        "gauge",
        "Runs in the window by state.",
    );
    for (job, rs) in &by_job {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in rs {
            *counts.entry(r.status.as_str()).or_default() += 1;
        }
        for (state, n) in counts {
            let _ = writeln!(
                o,
                "scalegrease_job_runs{{job=\"{}\",state=\"{state}\"}} {n}",
                label(job)
            );
        }
    }
    family(
        &mut o,
        "scalegrease_job_duration_seconds",
        "histogram",
        "Durations of the job's ended runs in the window.",
    );
    for (job, rs) in &by_job {
        let ds: Vec<f64> = rs.iter().filter_map(|r| r.duration_s).collect();
        let j = label(job);
        for b in BUCKETS {
            let n = ds.iter().filter(|d| **d <= b).count();
            let _ = writeln!(
                o,
                "scalegrease_job_duration_seconds_bucket{{job=\"{j}\",le=\"{b}\"}} {n}"
            );
        }
        let _ = writeln!(
            o,
            "scalegrease_job_duration_seconds_bucket{{job=\"{j}\",le=\"+Inf\"}} {}",
            ds.len()
        );
        let _ = writeln!(
            o,
            "scalegrease_job_duration_seconds_sum{{job=\"{j}\"}} {}",
            ds.iter().sum::<f64>()
        );
        let _ = writeln!(
            o,
            "scalegrease_job_duration_seconds_count{{job=\"{j}\"}} {}",
            ds.len()
        );
    }
    family(
        &mut o,
        "scalegrease_job_missing_slots",
        "gauge",
        "Slots in the window that no worker claimed by their time plus the grace.",
    );
    for (job, n) in &missing {
        let _ = writeln!(
            o,
            "scalegrease_job_missing_slots{{job=\"{}\"}} {n}",
            label(job)
        );
    }
    let (pending, in_flight) = match queue {
        Some(q) => q,
        None => {
            let q = queue::queue(store, None)?;
            (q.pending.len(), q.in_flight.len())
        }
    };
    family(
        &mut o,
        "scalegrease_queue_pending",
        "gauge",
        "Farm-queue requests waiting for a worker.",
    );
    let _ = writeln!(o, "scalegrease_queue_pending {pending}");
    family(
        &mut o,
        "scalegrease_queue_in_flight",
        "gauge",
        "Farm-queue requests a worker has taken.",
    );
    let _ = writeln!(o, "scalegrease_queue_in_flight {in_flight}");
    worker_headroom(&mut o, store, cfg, now)?;
    Ok(o)
}

/// Each live worker's headroom and last beat, from its membership beat (workers whose
/// beat is older than `launch.member_ttl` are left out).
fn worker_headroom(
    o: &mut String,
    store: &dyn Store,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<(), WebError> {
    let ttl = cfg.launch.member_ttl;
    let live: Vec<Member> = membership::all(store)?
        .into_iter()
        .filter(|m| m.live_at(now, ttl))
        .collect();
    family(
        o,
        "scalegrease_worker_headroom",
        "gauge",
        "A live worker's guard room at its last beat, from 0 (full) to 1 (idle).",
    );
    for m in &live {
        let _ = writeln!(
            o,
            "scalegrease_worker_headroom{{host=\"{}\"}} {}",
            label(&m.host),
            m.headroom
        );
    }
    family(
        o,
        "scalegrease_worker_last_beat_timestamp_seconds",
        "gauge",
        "When a live worker last beat (unix seconds, its own clock).",
    );
    for m in &live {
        let _ = writeln!(
            o,
            "scalegrease_worker_last_beat_timestamp_seconds{{host=\"{}\"}} {}",
            label(&m.host),
            m.time.timestamp()
        );
    }
    Ok(())
}

/// The `# HELP` and `# TYPE` lines of a metric family.
fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The end (unix seconds) of the latest run of `rs` with `status`.
fn last_end(rs: &[RunRecord], status: Status) -> Option<i64> {
    rs.iter()
        .filter(|r| r.status == status)
        .filter_map(|r| r.end.or(r.start))
        .max()
        .map(|t| t.timestamp())
}

/// `s` as a label value: `\`, `"` and newlines escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
