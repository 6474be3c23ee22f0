//! What greasedispatch reports, as documents: the requests a submission queued and the
//! outcome of a cancel. `greasedispatch --json` prints them, and any other front (the
//! status web page's Run now) returns the same shapes, so the JSON is defined once.

use serde::Serialize;

use crate::arbitration::queue::Cancelled;
use crate::farm::submit::Submission;
use crate::model::request::{Kind, RequestState};

/// `{"job", "entry", "requests": [...], "batch", "left": [{"slot", "why"}]}`.
#[derive(Debug, Clone, Serialize)]
pub struct SubmitReport {
    pub job: String,
    /// Where the published entry is (`group:artifact file:line`).
    pub entry: String,
    pub requests: Vec<QueuedRequest>,
    /// The backfill batch id, if a backfill queued any.
    pub batch: Option<String>,
    /// Slots of a backfill window not queued, and why.
    pub left: Vec<LeftSlot>,
}

/// One queued request: `{"id", "job", "slot", "attempt", "kind", "batch", "state"}`.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedRequest {
    pub id: String,
    pub job: String,
    /// The slot's key form (`2026-11-23T03:00Z`).
    pub slot: String,
    pub attempt: u32,
    pub kind: Kind,
    pub batch: Option<String>,
    /// Always `queued`: what a fresh request is.
    pub state: &'static str,
}

/// A backfill slot not queued: `{"slot", "why"}`.
#[derive(Debug, Clone, Serialize)]
pub struct LeftSlot {
    pub slot: String,
    pub why: String,
}

impl SubmitReport {
    /// The report of `done`, a submission of `job` whose entry is at `entry`.
    pub fn new(job: &str, entry: String, done: &Submission) -> SubmitReport {
        SubmitReport {
            job: job.to_string(),
            entry,
            requests: done
                .requests
                .iter()
                .map(|r| QueuedRequest {
                    id: r.id.clone(),
                    job: r.job.clone(),
                    slot: r.slot.clone(),
                    attempt: r.attempt,
                    kind: r.kind,
                    batch: r.batch.clone(),
                    state: "queued",
                })
                .collect(),
            batch: done.batch.clone(),
            left: done
                .left
                .iter()
                .map(|(slot, why)| LeftSlot {
                    slot: slot.key(),
                    why: why.clone(),
                })
                .collect(),
        }
    }
}

/// `{"id", "outcome", "state", "host", "reason"}`: outcome is `withdrawn`, `asked` or
/// `already_ended`; state the request's phase then (`cancelled` when withdrawn).
#[derive(Debug, Clone, Serialize)]
pub struct CancelReport {
    pub id: String,
    pub outcome: &'static str,
    pub state: String,
    pub host: Option<String>,
    pub reason: Option<String>,
    /// One line for people.
    #[serde(skip)]
    pub text: String,
}

impl CancelReport {
    /// The report of cancelling request `id` with `outcome` (never `Unknown`:
    /// [`crate::farm::follow::cancel`] maps that to an error).
    pub fn new(id: &str, outcome: &Cancelled) -> CancelReport {
        let (word, st, text) = match outcome {
            Cancelled::Withdrawn | Cancelled::Unknown => (
                "withdrawn",
                None,
                format!("request {id} withdrawn: it was still queued, nothing ran"),
            ),
            Cancelled::Asked(st) => (
                "asked",
                Some(st),
                format!(
                    "request {id} is {}: asked {} to end it",
                    st.phase,
                    st.host.as_deref().unwrap_or("the host running it")
                ),
            ),
            Cancelled::AlreadyEnded(st) => (
                "already_ended",
                Some(st),
                format!("request {id} had already ended: {}", ended(st)),
            ),
        };
        CancelReport {
            id: id.to_string(),
            outcome: word,
            state: st.map_or("cancelled".to_string(), |s| s.phase.as_str().to_string()),
            host: st.and_then(|s| s.host.clone()),
            reason: st.and_then(|s| s.reason.clone()),
            text,
        }
    }
}

/// How a request ended, for people: `succeeded on w1 (exit 0)`, `refused: <reason>`.
pub fn ended(st: &RequestState) -> String {
    let mut s = st.phase.to_string();
    if let Some(h) = &st.host {
        s.push_str(&format!(" on {h}"));
    }
    if let Some(c) = st.exit_code {
        s.push_str(&format!(" (exit {c})"));
    }
    if let Some(r) = &st.reason {
        s.push_str(&format!(": {r}"));
    }
    s
}
