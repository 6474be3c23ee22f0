//! Run records: one small document per run, so anyone can see what ran, where, as whom,
//! with which version and how it ended, without knowing the machine. The record is
//! written as `running` when a run starts and replaced by its final state when it ends;
//! a slot no worker took gets one too (see [`crate::model::funnel::unclaimed`]).
//!
//! Where records live in the store is [`crate::model::keys`]; reading and writing them is
//! `arbitration::records`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::funnel::Decline;
use crate::model::keys;
use crate::model::slot::Slot;

/// How much of a run's output is kept in the store.
pub const TAIL_BYTES: usize = 64 * 1024;

/// The live-output document of a running job, `live/<job>/<slot>/<run id>`:
/// `{"end": <bytes written so far>, "data": "<base64 of the last <= 64 KiB>"}`. greaserun
/// writes it ([`encode_live`]); followers read it ([`decode_live`]).
pub fn encode_live(end: u64, tail: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(tail);
    serde_json::to_vec(&serde_json::json!({"end": end, "data": data})).expect("JSON")
}

/// Reads a live-output document: `(end, last bytes)`; `None` when it is garbled.
pub fn decode_live(bytes: &[u8]) -> Option<(u64, Vec<u8>)> {
    use base64::Engine;
    #[derive(Deserialize)]
    struct Live {
        end: u64,
        data: String,
    }
    let l: Live = serde_json::from_slice(bytes).ok()?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(l.data)
        .ok()?;
    Some((l.end, data))
}

/// The state of a run (or of a slot no run took).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Started and, as far as its heartbeat says, still going.
    Running,
    /// Ended with exit status 0.
    Succeeded,
    /// Ended with another status or a signal, or could not start.
    Failed,
    /// Its host stopped heartbeating without writing an end: the host or greaserun died.
    Abandoned,
    /// No worker claimed the slot within the retention window; the declines say why.
    Dropped,
    /// Not run on purpose: the outputs already existed.
    Skipped,
    /// Workers declined the slot (over their limits) and none has claimed it yet; it
    /// becomes `dropped` when the retention window passes.
    Declined,
    /// Ended on purpose: `greasedispatch --cancel`, or replaced by a newer run
    /// (`--concurrency replace`).
    Cancelled,
}

impl Status {
    /// The lowercase name used in output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Abandoned => "abandoned",
            Status::Dropped => "dropped",
            Status::Skipped => "skipped",
            Status::Declined => "declined",
            Status::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of one job for one slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub job: String,
    /// The slot, in key form (`2026-11-23T03:00Z`).
    pub slot: String,
    pub status: Status,
    pub host: String,
    pub pid: u32,
    pub user: String,
    /// Whether this run held the funnel's claim on its slot (manual runs may not).
    pub claimed: bool,
    pub runner: String,
    pub artifact: String,
    /// The resolved artifact version, once known.
    #[serde(default)]
    pub version: Option<String>,
    /// The job's arguments after slot parameters were filled.
    pub args: Vec<String>,
    /// RFC 3339 (chrono's serde form).
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// The log file the run wrote (on shared storage, typically).
    #[serde(default)]
    pub log_path: Option<String>,
    /// Why it was skipped, failed before running, or dropped.
    #[serde(default)]
    pub reason: Option<String>,
    /// For a dropped slot: the workers' declines.
    #[serde(default)]
    pub declines: Vec<Decline>,
    /// The farm-queue request this run served (`greasedispatch`, a retry, a rescue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Which attempt of the slot this is (1 for the first; absent on records written
    /// before attempts were counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// `user@host` of whoever queued the request, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
}

impl RunRecord {
    /// The one constructor: a record of `job` at `slot` (key form) in `status`, every
    /// other field empty. Callers set what they know with struct update syntax.
    pub fn new(job: &str, slot: &str, status: Status) -> RunRecord {
        RunRecord {
            job: job.to_string(),
            slot: slot.to_string(),
            status,
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
            reason: None,
            declines: vec![],
            request: None,
            attempt: None,
            requested_by: None,
            requested_at: None,
        }
    }

    /// The run id: `<host>-<pid>`, or `dropped` for a dropped slot.
    pub fn id(&self) -> String {
        if self.status == Status::Dropped {
            keys::DROPPED_ID.into()
        } else {
            keys::run_id(&self.host, self.pid)
        }
    }

    /// The slot as a [`Slot`] (`None` if the record is corrupt).
    pub fn slot(&self) -> Option<Slot> {
        Slot::from_key(&self.slot)
    }

    /// The record's key.
    pub fn key(&self) -> String {
        keys::run(&self.job, &self.slot, &self.id())
    }

    /// The key of this run's output tail.
    pub fn tail_key(&self) -> String {
        keys::tail(&self.job, &self.slot, &self.id())
    }

    /// Ends the run at `end`: its final status, how the job ended and why.
    pub fn finish(
        &mut self,
        end: DateTime<Utc>,
        status: Status,
        exit_code: Option<i32>,
        signal: Option<i32>,
        reason: Option<String>,
    ) {
        self.status = status;
        self.end = Some(end);
        self.exit_code = exit_code;
        self.signal = signal;
        self.reason = reason;
        self.duration_s = self
            .start
            .map(|s| end.signed_duration_since(s).as_seconds_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_documents_round_trip_and_garbled_ones_are_none() {
        let doc = encode_live(70_000, b"last \x00 bytes");
        assert_eq!(
            decode_live(&doc),
            Some((70_000, b"last \x00 bytes".to_vec()))
        );
        assert_eq!(decode_live(br#"{"end": 1, "data": "not base64!"}"#), None);
        assert_eq!(decode_live(b"{nope"), None);
    }

    #[test]
    fn times_are_rfc3339_and_ids_name_the_run() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T03:00:01.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut r = RunRecord {
            host: "h".into(),
            pid: 7,
            start: Some(t),
            ..RunRecord::new("j", "2026-11-23T03:00Z", Status::Running)
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.contains("\"start\":\"2026-11-23T03:00:01.500Z\""),
            "{json}"
        );
        assert!(json.contains("\"end\":null"), "{json}");
        assert_eq!(serde_json::from_str::<RunRecord>(&json).unwrap(), r);
        assert_eq!(r.key(), "runs/j/2026-11-23T03:00Z/h-7");
        r.finish(
            t + chrono::TimeDelta::seconds(2),
            Status::Succeeded,
            Some(0),
            None,
            None,
        );
        assert_eq!(r.duration_s, Some(2.0));
        r.status = Status::Dropped;
        assert_eq!(r.id(), "dropped");
    }
}
