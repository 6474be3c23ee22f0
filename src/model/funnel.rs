//! The funnel's records: who claims a slot ([`Claimant`]), the claim itself
//! ([`ClaimInfo`]), the winner's heartbeat ([`Beat`]) and a worker's refusal
//! ([`Decline`]), with the pure rules over them: whether a run still counts as alive,
//! and what a slot nobody claimed shows as.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::keys;
use crate::model::record::{RunRecord, Status};
use crate::model::slot::Slot;

/// Who is claiming: one process on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub host: String,
    pub pid: u32,
    pub user: String,
    /// The farm-queue request this process serves, if any.
    pub request: Option<String>,
}

impl Claimant {
    /// The run id used in record and heartbeat keys: `<host>-<pid>`.
    pub fn run_id(&self) -> String {
        keys::run_id(&self.host, self.pid)
    }

    /// The claim this claimant makes on (job, slot) at `at`.
    pub fn claim(&self, job: &str, slot: Slot, at: DateTime<Utc>) -> ClaimInfo {
        ClaimInfo {
            job: job.to_string(),
            slot: slot.key(),
            host: self.host.clone(),
            pid: self.pid,
            user: self.user.clone(),
            at,
            request: self.request.clone(),
        }
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
    pub at: DateTime<Utc>,
    /// The farm-queue request the claim was made for (absent for a scheduled run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

impl ClaimInfo {
    /// The run id of the claim's winner.
    pub fn run_id(&self) -> String {
        keys::run_id(&self.host, self.pid)
    }

    /// What a slot claimed but with no run record shows as: `running` while the winner's
    /// heartbeat is fresh, else `abandoned`.
    pub fn record(&self, status: Status) -> RunRecord {
        RunRecord {
            host: self.host.clone(),
            pid: self.pid,
            user: self.user.clone(),
            claimed: true,
            start: Some(self.at),
            reason: Some("claimed; no run record written".into()),
            ..RunRecord::new(&self.job, &self.slot, status)
        }
    }
}

/// The value of a heartbeat key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub host: String,
    pub pid: u32,
    pub at: DateTime<Utc>,
}

/// A worker's refusal to claim a slot (it was over its guard limits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decline {
    pub job: String,
    pub slot: String,
    pub host: String,
    pub at: DateTime<Utc>,
    /// Which limit, e.g. `load 3.2 > 2.0`.
    pub reason: String,
}

/// Whether a heartbeat (or, without one, a start time) is recent enough that its run
/// counts as alive at `now`, given `funnel.abandon_after`.
pub fn alive(last: Option<DateTime<Utc>>, abandon_after: Duration, now: DateTime<Utc>) -> bool {
    let limit = chrono::TimeDelta::from_std(abandon_after).unwrap_or(chrono::TimeDelta::MAX);
    last.is_some_and(|t| now.signed_duration_since(t) <= limit)
}

/// The record of a slot no worker claimed, from its declines: `declined` while its
/// latest decline is within `retention` (`funnel.retention`) of `now`, `dropped` after.
pub fn unclaimed(
    job: &str,
    slot: Slot,
    declines: Vec<Decline>,
    retention: Duration,
    now: DateTime<Utc>,
) -> RunRecord {
    let keep = chrono::TimeDelta::from_std(retention).unwrap_or(chrono::TimeDelta::MAX);
    let latest = declines.iter().map(|d| d.at).max().unwrap_or(now);
    let status = if now.signed_duration_since(latest) <= keep {
        Status::Declined
    } else {
        Status::Dropped
    };
    let reasons: Vec<String> = declines
        .iter()
        .map(|d| format!("{}: {}", d.host, d.reason))
        .collect();
    RunRecord {
        reason: Some(format!(
            "no worker claimed the slot; {} declined: {}",
            declines.len(),
            reasons.join("; ")
        )),
        declines,
        ..RunRecord::new(job, &slot.key(), status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declined_slot_is_dropped_once_retention_passes() {
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        let at = slot.time();
        let d = |host: &str| Decline {
            job: "j".into(),
            slot: slot.key(),
            host: host.into(),
            at,
            reason: "load 3.2 > 2.0".into(),
        };
        let ret = Duration::from_secs(60);
        let r = unclaimed("j", slot, vec![d("a"), d("b")], ret, at);
        assert_eq!(r.status, Status::Declined);
        assert!(
            r.reason
                .unwrap()
                .contains("2 declined: a: load 3.2 > 2.0; b:")
        );
        let later = at + chrono::TimeDelta::seconds(61);
        let r = unclaimed("j", slot, vec![d("a")], ret, later);
        assert_eq!((r.status, r.id().as_str()), (Status::Dropped, "dropped"));
        assert!(alive(Some(at), ret, later - chrono::TimeDelta::seconds(1)));
        assert!(!alive(Some(at), ret, later));
        assert!(!alive(None, ret, at));
    }
}
