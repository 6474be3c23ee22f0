//! Run records: one small JSON document per run in the store, so anyone can see what ran,
//! where, as whom, with which version and how it ended, without knowing the machine.
//!
//! Keys (each segment made with [`crate::store::segment`]):
//! - `runs/<job>/<slot>/<run id>`: the [`RunRecord`]; the run id is `<host>-<pid>`, or
//!   `dropped` for a slot no worker took. Written as `running` when a run starts and
//!   replaced by its final state when it ends.
//! - `tails/<job>/<slot>/<run id>`: the last 64 KiB of the run's output, raw, kept apart
//!   so listing history never reads output.
//!
//! Both live for `history.retention` (default 30 days).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::arbitration::funnel::Decline;
use crate::arbitration::slot::Slot;
use crate::store::{Store, StoreError, segment};

/// How much of a run's output is kept in the store.
pub const TAIL_BYTES: usize = 64 * 1024;

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
}

impl Status {
    /// Whether the run has ended (its record will not change).
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Running | Status::Declined)
    }

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
    #[serde(default, with = "rfc3339::option")]
    pub start: Option<DateTime<Utc>>,
    #[serde(default, with = "rfc3339::option")]
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
}

impl RunRecord {
    /// The run id: `<host>-<pid>`, or `dropped` for a dropped slot.
    pub fn id(&self) -> String {
        if self.status == Status::Dropped {
            "dropped".into()
        } else {
            format!("{}-{}", self.host, self.pid)
        }
    }

    /// The slot as a [`Slot`] (`None` if the record is corrupt).
    pub fn slot(&self) -> Option<Slot> {
        Slot::from_key(&self.slot)
    }

    /// The record's key.
    pub fn key(&self) -> String {
        run_key("runs", &self.job, &self.slot, &self.id())
    }

    /// The key of this run's output tail.
    pub fn tail_key(&self) -> String {
        run_key("tails", &self.job, &self.slot, &self.id())
    }
}

fn run_key(top: &str, job: &str, slot: &str, id: &str) -> String {
    format!("{top}/{}/{}/{}", segment(job), segment(slot), segment(id))
}

/// The key prefix of one job's records (or all jobs').
pub fn prefix(job: Option<&str>) -> String {
    match job {
        Some(j) => format!("runs/{}", segment(j)),
        None => "runs".into(),
    }
}

/// The key prefix of one slot's records.
pub fn slot_prefix(job: &str, slot: Slot) -> String {
    format!("runs/{}/{}", segment(job), segment(&slot.key()))
}

/// Writes (or replaces) a record, kept for `retention`.
pub fn write(store: &dyn Store, rec: &RunRecord, retention: Duration) -> Result<(), StoreError> {
    let body = serde_json::to_vec(rec).expect("a record always serialises");
    store.put(&rec.key(), &body, Some(retention))
}

/// Writes the run's output tail (only its last [`TAIL_BYTES`] are kept).
pub fn write_tail(
    store: &dyn Store,
    rec: &RunRecord,
    tail: &[u8],
    retention: Duration,
) -> Result<(), StoreError> {
    let start = tail.len().saturating_sub(TAIL_BYTES);
    store.put(&rec.tail_key(), &tail[start..], Some(retention))
}

/// Reads a run's output tail.
pub fn read_tail(store: &dyn Store, rec: &RunRecord) -> Result<Option<Vec<u8>>, StoreError> {
    store.get(&rec.tail_key())
}

/// Every record under `prefix` (see [`prefix`], [`slot_prefix`]); unreadable ones are
/// skipped (and counted in the second value) rather than hiding the rest.
pub fn list(store: &dyn Store, prefix: &str) -> Result<(Vec<RunRecord>, usize), StoreError> {
    let mut out = Vec::new();
    let mut bad = 0;
    for e in store.list(prefix)? {
        match serde_json::from_slice::<RunRecord>(&e.value) {
            Ok(r) => out.push(r),
            Err(_) => bad += 1,
        }
    }
    Ok((out, bad))
}

/// Whether the slot has a succeeded run (backfill's test when no output pattern is given).
pub fn succeeded(store: &dyn Store, job: &str, slot: Slot) -> Result<bool, StoreError> {
    let (recs, _) = list(store, &slot_prefix(job, slot))?;
    Ok(recs.iter().any(|r| r.status == Status::Succeeded))
}

/// Serde for times as RFC 3339 strings (chrono's own serde support is not enabled).
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same for `Option<DateTime<Utc>>` (null when absent).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| {
                    DateTime::parse_from_rfc3339(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dir::DirStore;

    pub(crate) fn sample(job: &str, slot: Slot, host: &str) -> RunRecord {
        RunRecord {
            job: job.into(),
            slot: slot.key(),
            status: Status::Running,
            host: host.into(),
            pid: 42,
            user: "u".into(),
            claimed: true,
            runner: "shell".into(),
            artifact: "/x.jar".into(),
            version: None,
            args: vec!["echo".into(), "hi there".into()],
            start: Some(Utc::now()),
            end: None,
            exit_code: None,
            signal: None,
            duration_s: None,
            log_path: None,
            reason: None,
            declines: vec![],
        }
    }

    #[test]
    fn round_trip_and_tail_cap() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path());
        s.init().unwrap();
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        let mut r = sample("shell:job/x", slot, "w1.example");
        write(&s, &r, Duration::from_secs(60)).unwrap();
        r.status = Status::Succeeded;
        r.exit_code = Some(0);
        write(&s, &r, Duration::from_secs(60)).unwrap();
        let big = vec![b'x'; TAIL_BYTES + 10];
        write_tail(&s, &r, &big, Duration::from_secs(60)).unwrap();
        let (all, bad) = list(&s, &prefix(Some("shell:job/x"))).unwrap();
        assert_eq!((all.len(), bad), (1, 0));
        assert_eq!(all[0], r);
        assert_eq!(read_tail(&s, &r).unwrap().unwrap().len(), TAIL_BYTES);
        assert!(succeeded(&s, "shell:job/x", slot).unwrap());
        assert!(!succeeded(&s, "shell:job/x", slot.offset_secs(60)).unwrap());
    }
}
