//! The slot ledger the pages show, until `farm::ledger` (the ledger helper's branch)
//! lands: the same shape (`LedgerSlot`, `SlotState`) and signature
//! ([`entry_ledger`]), computed here from the entry's schedule and the job's runs since a
//! slot. Every slot the schedule fired at has one state; a slot with no run, claim or
//! decline is `due` until its time plus the grace has passed, then `missing`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::debugging::latest::pick;
use crate::debugging::runs::{Slots, runs_in};
use crate::dispatch::schedule::{Schedule, Zone, entry_zone};
use crate::farm::published::Published;
use crate::model::record::{RunRecord, Status};
use crate::model::slot::Slot;
use crate::store::StoreError;

/// How long after its time a slot nobody claimed counts as missing (the default).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5 * 60);

/// At most this many fire times are listed per ledger (a per-minute job over 7 days).
const MAX_SLOTS: usize = 20_000;

/// A slot's state in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Declined,
    Dropped,
    Abandoned,
    Cancelled,
    Missing,
    Due,
}

impl SlotState {
    /// The lowercase name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotState::Queued => "queued",
            SlotState::Running => "running",
            SlotState::Succeeded => "succeeded",
            SlotState::Failed => "failed",
            SlotState::Skipped => "skipped",
            SlotState::Declined => "declined",
            SlotState::Dropped => "dropped",
            SlotState::Abandoned => "abandoned",
            SlotState::Cancelled => "cancelled",
            SlotState::Missing => "missing",
            SlotState::Due => "due",
        }
    }

    /// Every state, in the legend's order.
    pub const ALL: [SlotState; 11] = [
        SlotState::Succeeded,
        SlotState::Failed,
        SlotState::Missing,
        SlotState::Running,
        SlotState::Queued,
        SlotState::Due,
        SlotState::Skipped,
        SlotState::Declined,
        SlotState::Dropped,
        SlotState::Abandoned,
        SlotState::Cancelled,
    ];

    fn of(s: Status) -> SlotState {
        match s {
            Status::Running => SlotState::Running,
            Status::Succeeded => SlotState::Succeeded,
            Status::Failed => SlotState::Failed,
            Status::Abandoned => SlotState::Abandoned,
            Status::Dropped => SlotState::Dropped,
            Status::Skipped => SlotState::Skipped,
            Status::Declined => SlotState::Declined,
            Status::Cancelled => SlotState::Cancelled,
        }
    }
}

/// One slot of a job's ledger.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerSlot {
    pub job: String,
    /// The slot's key (UTC, minute precision).
    pub slot: String,
    pub state: SlotState,
    pub run_id: Option<String>,
    pub host: Option<String>,
    pub attempt: Option<u32>,
    pub exit_code: Option<i32>,
    pub duration_secs: Option<f64>,
}

/// The ledger of `entry` from slot `since` to `now`, oldest first: every slot its
/// schedule fired at (in its zone), and every other slot that has a run (a manual or
/// queued one), each with the state of the run [`pick`] chooses.
pub fn entry_ledger(
    store: &dyn crate::store::Store,
    cfg: &Config,
    entry: &Published,
    since: Slot,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Vec<LedgerSlot>, StoreError> {
    let job = &entry.entry.job;
    let runs = runs_in(store, cfg, Some(job), Slots::Since(since), now)?;
    let mut by_slot: BTreeMap<String, Vec<&RunRecord>> = BTreeMap::new();
    for r in &runs {
        by_slot.entry(r.slot.clone()).or_default().push(r);
    }
    let mut slots: BTreeMap<String, LedgerSlot> = BTreeMap::new();
    let grace = chrono::TimeDelta::from_std(grace).unwrap_or_default();
    for fire in fire_times(entry, since.time(), now) {
        let state = if fire + grace <= now {
            SlotState::Missing
        } else {
            SlotState::Due
        };
        let key = Slot::at(fire).key();
        slots.insert(key.clone(), empty(job, key, state));
    }
    for (key, rs) in by_slot {
        let Some(r) = pick(&rs) else { continue };
        slots.insert(
            key.clone(),
            LedgerSlot {
                job: job.clone(),
                slot: key,
                state: SlotState::of(r.status),
                run_id: (!r.host.is_empty()).then(|| r.id()),
                host: (!r.host.is_empty()).then(|| r.host.clone()),
                attempt: r.attempt,
                exit_code: r.exit_code,
                duration_secs: r.duration_s,
            },
        );
    }
    Ok(slots.into_values().collect())
}

fn empty(job: &str, slot: String, state: SlotState) -> LedgerSlot {
    LedgerSlot {
        job: job.to_string(),
        slot,
        state,
        run_id: None,
        host: None,
        attempt: None,
        exit_code: None,
        duration_secs: None,
    }
}

/// The entry's zone: its `CRON_TZ`, else this host's.
pub fn zone(entry: &Published) -> Zone {
    entry_zone(entry.entry.cron_tz.as_deref(), Zone::host())
}

/// The times `entry`'s schedule fired at in `(from, to]`, oldest first, at most
/// [`MAX_SLOTS`] (the newest).
fn fire_times(entry: &Published, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let schedule = Schedule::new(&entry.entry.when);
    let zone = zone(entry);
    let mut out = std::collections::VecDeque::new();
    let mut t = from - chrono::TimeDelta::seconds(1);
    while let Some(n) = schedule.next_after(t, zone) {
        let n = n.with_timezone(&Utc);
        if n > to {
            break;
        }
        if out.len() == MAX_SLOTS {
            out.pop_front();
        }
        out.push_back(n);
        t = n;
    }
    out.into()
}

/// The last time `entry`'s schedule fired at or before `at`, looking back at most 8 days
/// (found by widening the look-back, so a per-minute job costs a few steps).
pub fn last_fire(entry: &Published, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = Schedule::new(&entry.entry.when);
    let zone = zone(entry);
    for back in [120, 2 * 3600, 2 * 86400, 8 * 86400] {
        let mut t = at - chrono::TimeDelta::seconds(back);
        let mut last = None;
        while let Some(n) = schedule.next_after(t, zone) {
            let n = n.with_timezone(&Utc);
            if n > at {
                break;
            }
            last = Some(n);
            t = n;
        }
        if last.is_some() {
            return last;
        }
    }
    None
}
