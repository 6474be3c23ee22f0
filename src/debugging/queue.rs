//! `greasestatus queue`: the farm queue as it is now, from any host that reaches the
//! store. The requests waiting for a worker (id, job, slot, attempt, kind, who queued
//! them and when, not-before and deadline), the ones in flight (the host that took
//! each and its phase: taken, running) and pending markers that are not valid requests
//! (which a worker will record refused). Read-only: two range reads (`queue/`, `taken/`)
//! and, per request in flight, its request and state.

use chrono::{DateTime, Local, Utc};
use serde::Serialize;

use crate::arbitration::queue;
use crate::debugging::table::layout;
use crate::model::request::{Kind, Phase, Request, Take};
use crate::model::slot::Slot;
use crate::store::{Store, StoreError};

/// A request some worker took and has not ended: its take, and what its request and
/// state say (absent when unreadable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InFlight {
    #[serde(flatten)]
    pub take: Take,
    pub phase: Option<Phase>,
    /// When the state last changed.
    pub since: Option<DateTime<Utc>>,
    /// The run record's key, once greaserun started.
    pub run: Option<String>,
    pub attempt: Option<u32>,
    pub kind: Option<Kind>,
    pub requested_by: Option<String>,
}

/// A pending marker that does not parse as a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Garbled {
    pub key: String,
    pub why: String,
}

/// The whole queue view (`--json` prints it as one object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueView {
    /// Waiting for a worker, oldest first.
    pub pending: Vec<Request>,
    /// Taken and not ended, oldest take first.
    pub in_flight: Vec<InFlight>,
    pub garbled: Vec<Garbled>,
}

/// Reads the queue; with `job`, only requests whose job name contains it.
pub fn queue(store: &dyn Store, job: Option<&str>) -> Result<QueueView, StoreError> {
    let wanted = |j: &str| job.is_none_or(|q| j.contains(q));
    let (mut pending, bad) = queue::pending(store)?;
    pending.retain(|r| wanted(&r.job));
    pending.sort_by(|a, b| a.id.cmp(&b.id));
    let mut in_flight = Vec::new();
    for take in queue::in_flight(store)? {
        if !wanted(&take.job) {
            continue;
        }
        let req = queue::get(store, &take.id)?;
        let st = queue::state(store, &take.id)?;
        in_flight.push(InFlight {
            phase: st.as_ref().map(|s| s.phase),
            since: st.as_ref().map(|s| s.at),
            run: st.and_then(|s| s.run),
            attempt: req.as_ref().map(|r| r.attempt),
            kind: req.as_ref().map(|r| r.kind),
            requested_by: req.map(|r| r.requested_by),
            take,
        });
    }
    in_flight.sort_by(|a, b| a.take.at.cmp(&b.take.at).then(a.take.id.cmp(&b.take.id)));
    let garbled = bad
        .into_iter()
        .map(|g| Garbled {
            key: g.key,
            why: g.why,
        })
        .collect();
    Ok(QueueView {
        pending,
        in_flight,
        garbled,
    })
}

/// A time as a table shows it: local, to the second, with its offset.
fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn opt_local(t: Option<DateTime<Utc>>) -> String {
    t.map(local).unwrap_or_else(|| "-".into())
}

/// A slot in key form as a table shows it (local time), or as stored if it is not one.
fn slot(key: &str) -> String {
    Slot::from_key(key).map_or_else(|| key.to_string(), |s| s.to_string())
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The view as text: a line of counts, then a table of the pending requests, a table of
/// those in flight, and one line per garbled marker. Every cell is escaped.
pub fn text(v: &QueueView) -> String {
    let mut out = format!(
        "{} queued, {} in flight{}\n",
        v.pending.len(),
        v.in_flight.len(),
        if v.garbled.is_empty() {
            String::new()
        } else {
            format!(", {} garbled", v.garbled.len())
        }
    );
    if !v.pending.is_empty() {
        let mut rows = vec![
            [
                "QUEUED",
                "JOB",
                "SLOT",
                "ATTEMPT",
                "KIND",
                "REQUESTED BY",
                "AT",
                "NOT BEFORE",
                "DEADLINE",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for r in &v.pending {
            rows.push(vec![
                r.id.clone(),
                r.job.clone(),
                slot(&r.slot),
                r.attempt.to_string(),
                r.kind.to_string(),
                r.requested_by.clone(),
                local(r.requested_at),
                opt_local(r.not_before),
                opt_local(r.deadline),
            ]);
        }
        out.push('\n');
        out.push_str(&layout(&rows));
    }
    if !v.in_flight.is_empty() {
        let mut rows = vec![
            [
                "IN FLIGHT",
                "JOB",
                "SLOT",
                "ATTEMPT",
                "KIND",
                "REQUESTED BY",
                "HOST",
                "PHASE",
                "SINCE",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for f in &v.in_flight {
            rows.push(vec![
                f.take.id.clone(),
                f.take.job.clone(),
                slot(&f.take.slot),
                opt(f.attempt),
                opt(f.kind),
                opt(f.requested_by.as_deref()),
                f.take.host.clone(),
                opt(f.phase),
                local(f.since.unwrap_or(f.take.at)),
            ]);
        }
        out.push('\n');
        out.push_str(&layout(&rows));
    }
    for g in &v.garbled {
        let line = format!("garbled marker {}: {}", g.key, g.why);
        out.push_str(&crate::util::escape::escape(&line));
        out.push('\n');
    }
    out
}

/// The view as pretty JSON: `{"pending": [requests], "in_flight": [takes with phase,
/// since, run, attempt, kind, requested_by], "garbled": [{"key", "why"}]}`.
pub fn json(v: &QueueView) -> String {
    serde_json::to_string_pretty(v).expect("the queue view serialises")
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
