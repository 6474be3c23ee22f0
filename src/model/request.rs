//! The farm queue's records: a request to run one published job for one slot
//! ([`Request`]), a worker's take of it ([`Take`]), and the request's state as it moves
//! from queued to an end ([`RequestState`]). Types and pure rules only; the store
//! operations are `arbitration::queue`, the front (`greasedispatch`) is `dispatch`.
//!
//! A request names a job and a slot, never a command: the worker runs the entry of the
//! published (verified) bundle whose greaserun computes that job name, so a forged
//! request can at most ask for a run of a published job.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a request was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `greasedispatch JOB`: a run on demand.
    Demand,
    /// `greasedispatch JOB --backfill`: one missing slot of a window.
    Backfill,
    /// A failed attempt queued again by its `--retries` policy.
    Retry,
    /// A scheduled slot the guard declined where cron started it.
    Rescue,
}

impl Kind {
    /// The lowercase name used in output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Demand => "demand",
            Kind::Backfill => "backfill",
            Kind::Retry => "retry",
            Kind::Rescue => "rescue",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One queued run: the value of `requests/<id>` (immutable once written) and of the
/// pending marker `queue/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `<YYYYMMDDTHHMMSS>Z-<8 hex>`: sorts by submission time ([`request_id`]).
    pub id: String,
    /// The job's name, as greaserun computes it for the published entry.
    pub job: String,
    /// The slot, in key form (`2026-11-23T03:00Z`).
    pub slot: String,
    /// 1 for the slot's first run (which also takes the slot's funnel claim), n for the
    /// n-th attempt (`--rerun`, retries).
    pub attempt: u32,
    pub kind: Kind,
    /// `user@host` of whoever queued it (for retries and rescues: the run that did).
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// Not taken before this time (a retry's backoff).
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
    /// Not started after this time: past it the request is recorded dropped (a rescue's
    /// deadline).
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// Requests queued together (one backfill), sharing `limit`.
    #[serde(default)]
    pub batch: Option<String>,
    /// At most this many requests of `batch` run at once, farm-wide (backfill; default 1).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl Request {
    /// The one constructor: attempt 1 of (job, slot) (`slot` in key form) as `kind`,
    /// queued by `by` at `at`, with a fresh id; callers set the rest with struct update
    /// syntax.
    pub fn new(job: &str, slot: &str, kind: Kind, by: &str, at: DateTime<Utc>) -> Request {
        Request {
            id: request_id(at, crate::util::random::u64() as u32),
            job: job.to_string(),
            slot: slot.to_string(),
            attempt: 1,
            kind,
            requested_by: by.to_string(),
            requested_at: at,
            not_before: None,
            deadline: None,
            batch: None,
            limit: None,
        }
    }

    /// Attempt `attempt` of this request's (job, slot) as a retry queued by `by` at `at`,
    /// not taken before `at + wait`; it stays in the same batch, under the same limit.
    pub fn retry(&self, attempt: u32, by: &str, at: DateTime<Utc>, wait: Duration) -> Request {
        Request {
            attempt,
            not_before: Some(at + chrono::TimeDelta::from_std(wait).unwrap_or_default()),
            batch: self.batch.clone(),
            limit: self.limit,
            ..Request::new(&self.job, &self.slot, Kind::Retry, by, at)
        }
    }
}

/// A worker's take of a request: the value of `taken/<id>` (one winner, by
/// [`crate::store::Store::create`]); removed when the request reaches an end, so
/// `taken/` lists what is in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Take {
    pub id: String,
    pub job: String,
    pub slot: String,
    pub host: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub batch: Option<String>,
    /// The batch's run token it holds (`batches/<batch>/<token>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<u32>,
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Waiting for a worker with room.
    Queued,
    /// A worker took it and started greaserun.
    Taken,
    /// greaserun holds it and the job runs.
    Running,
    Succeeded,
    Failed,
    /// Withdrawn or ended by `greasedispatch --cancel` (or replaced by a newer run).
    Cancelled,
    /// A worker would not run it: forged or garbled, a user the worker does not allow,
    /// the job not published, or the slot already run elsewhere; `reason` says which.
    Refused,
    /// Its deadline passed before any worker had room.
    Dropped,
    /// Its host stopped heartbeating before writing an end.
    Abandoned,
    /// Not run on purpose: its outputs existed, or `--concurrency forbid` found the
    /// previous run alive.
    Skipped,
}

impl Phase {
    /// Whether the request has ended (nothing more will happen to it).
    pub fn is_final(self) -> bool {
        !matches!(self, Phase::Queued | Phase::Taken | Phase::Running)
    }

    /// The lowercase name used in output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Taken => "taken",
            Phase::Running => "running",
            Phase::Succeeded => "succeeded",
            Phase::Failed => "failed",
            Phase::Cancelled => "cancelled",
            Phase::Refused => "refused",
            Phase::Dropped => "dropped",
            Phase::Abandoned => "abandoned",
            Phase::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of `states/<id>`: the request's latest phase, rewritten at each step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestState {
    pub id: String,
    pub phase: Phase,
    pub at: DateTime<Utc>,
    /// The host that took or ran it.
    #[serde(default)]
    pub host: Option<String>,
    /// The run's record key (`runs/<job>/<slot>/<run id>`) once greaserun started.
    #[serde(default)]
    pub run: Option<String>,
    /// The job's exit code, once ended.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Why it was refused, dropped, cancelled or skipped.
    #[serde(default)]
    pub reason: Option<String>,
}

impl RequestState {
    /// A state of `id` in `phase` now, every other field empty.
    pub fn new(id: &str, phase: Phase) -> RequestState {
        RequestState {
            id: id.to_string(),
            phase,
            at: Utc::now(),
            host: None,
            run: None,
            exit_code: None,
            reason: None,
        }
    }
}

/// A new request id at `at`: `<YYYYMMDDTHHMMSS>Z-<8 hex of random>`, so ids sort by
/// submission time and two submitters never pick the same one.
pub fn request_id(at: DateTime<Utc>, random: u32) -> String {
    format!("{}-{random:08x}", at.format("%Y%m%dT%H%M%SZ"))
}

/// Whether `id` has the form [`request_id`] makes (a worker rejects any other: it is a
/// key segment and shows in tables).
pub fn check_request_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 25
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_check() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T18:45:12Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = request_id(t, 0x3f9a);
        assert_eq!(id, "20261130T184512Z-00003f9a");
        assert!(check_request_id(&id));
        let later = request_id(t + chrono::TimeDelta::seconds(1), 0);
        assert!(later > id);
        for bad in [
            "",
            "x",
            "20261130T184512Z-00003f9A",
            "../20261130T184512Z-0000",
        ] {
            assert!(!check_request_id(bad), "{bad}");
        }
        assert!(Phase::Cancelled.is_final() && !Phase::Running.is_final());
    }
}
