//! Alert events as the store keeps them: `events/<job>/<slot>/<kind>` holds one
//! [`Alert`] (what happened, to which run, and how its delivery went), created once
//! farm-wide by the worker that noticed it; `alerts/<id>` marks it pending until it is
//! delivered or given up. [`views`] reads a job's events from a slot on (one range read),
//! for the ledger.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::arbitration::records;
use crate::model::keys;
use crate::model::slot::Slot;
use crate::store::{Store, StoreError};

/// What an alert reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The slot's run failed.
    Failed,
    /// No worker claimed the slot within its grace (`--missing-after`).
    Missing,
    /// Workers declined the slot and none claimed it within `funnel.retention`.
    Dropped,
    /// The run's host stopped heartbeating without writing an end.
    Abandoned,
    /// The first success after a failed, missing, dropped or abandoned slot.
    Recovered,
}

impl EventKind {
    /// Every kind, in the order documented.
    pub const ALL: [EventKind; 5] = [
        EventKind::Failed,
        EventKind::Missing,
        EventKind::Dropped,
        EventKind::Abandoned,
        EventKind::Recovered,
    ];

    /// The lowercase name used in keys, config (`alerts.on`) and bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Failed => "failed",
            EventKind::Missing => "missing",
            EventKind::Dropped => "dropped",
            EventKind::Abandoned => "abandoned",
            EventKind::Recovered => "recovered",
        }
    }

    /// Reads a kind by its name.
    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether this kind is a failure (a later success is then a recovery).
    pub fn is_failure(self) -> bool {
        self != EventKind::Recovered
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event and its delivery, the value of `events/<job>/<slot>/<kind>`; also the JSON
/// body of a webhook (format `json`) and the stdin of an alert command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub event: EventKind,
    pub job: String,
    /// `group:artifact` of the bundle the entry is published in.
    pub project: String,
    /// The slot, in key form (`2026-11-23T03:00Z`).
    pub slot: String,
    /// The run's id (`<host>-<pid>`), when a run took the slot.
    #[serde(default)]
    pub run: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Why, in words (a drop's declines, a failure's reason).
    #[serde(default)]
    pub reason: Option<String>,
    /// The end of the run's output (at most 2 KiB, lossy UTF-8).
    #[serde(default)]
    pub excerpt: Option<String>,
    /// When and by which worker the event was noticed.
    pub detected_at: DateTime<Utc>,
    pub detected_by: String,
    /// Delivery attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the next delivery attempt is due.
    pub next_try: DateTime<Utc>,
    /// The routes already delivered (`webhook`, `project`, `command`), so a retry sends
    /// only what failed.
    #[serde(default)]
    pub done: Vec<String>,
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Set when delivery stopped without success (retries ran out, or no route), with why.
    #[serde(default)]
    pub gave_up: Option<String>,
}

impl Alert {
    /// The key this event lives under.
    pub fn key(&self) -> String {
        keys::event(&self.job, &self.slot, self.event.as_str())
    }

    /// How the ledger shows it.
    pub fn view(&self) -> AlertView {
        let delivery = match (&self.delivered_at, &self.gave_up) {
            (Some(at), _) => format!("delivered {}", at.format("%Y-%m-%d %H:%M:%SZ")),
            (None, Some(why)) => format!("not delivered: {why}"),
            (None, None) if self.attempts == 0 => "pending".into(),
            (None, None) => format!(
                "retrying ({}): {}",
                self.attempts,
                self.last_error.as_deref().unwrap_or("?")
            ),
        };
        AlertView {
            event: self.event,
            delivery,
            attempts: self.attempts,
            delivered_at: self.delivered_at,
            last_error: self.last_error.clone(),
        }
    }
}

/// An event of a ledger slot and how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub event: EventKind,
    /// `pending`, `delivered <time>`, `retrying (<attempts>): <error>` or
    /// `not delivered: <why>`.
    pub delivery: String,
    pub attempts: u32,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// `job`'s events from slot `since` on, by slot key (one range read).
pub fn read(store: &dyn Store, job: &str, since: Slot) -> Result<Vec<Alert>, StoreError> {
    Ok(records::slot_range(store, keys::EVENTS, Some(job), since)?
        .into_iter()
        .filter_map(|e| serde_json::from_slice::<Alert>(&e.value).ok())
        .collect())
}

/// `job`'s events from slot `since` on, as the ledger shows them, by slot key.
pub fn views(
    store: &dyn Store,
    job: &str,
    since: Slot,
) -> Result<BTreeMap<String, Vec<AlertView>>, StoreError> {
    let mut out: BTreeMap<String, Vec<AlertView>> = BTreeMap::new();
    for a in read(store, job, since)? {
        out.entry(a.slot.clone()).or_default().push(a.view());
    }
    Ok(out)
}
