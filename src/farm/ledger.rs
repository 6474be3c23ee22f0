//! The slot ledger: for each published entry, every slot its schedule says should have
//! fired (the bundle's crontab in its zone, with the next-fire code of
//! `dispatch::schedule`), each with one [`SlotState`], plus any other slot the job ran
//! in (a manual run, a backfill, a farm-queue request). A slot nobody claimed is `due`
//! until its time plus the entry's grace (greaserun's `--missing-after`, default 5
//! minutes) has passed, then `missing`: the one state the run history cannot show, since
//! it only holds what happened.
//!
//! States come from `debugging::runs` (a running record whose heartbeat lapsed is
//! abandoned, declines become dropped, ...), so the ledger and `greasestatus runs`
//! agree. Per entry it reads one range of each of `runs/`, `claims/`, `declines/`,
//! `heartbeats/`, `attempts/` and `events/` from the `since` slot, never older history.

pub mod view;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::arbitration::records;
use crate::config::Config;
use crate::debugging::latest::pick;
use crate::debugging::runs::{Slots, runs_in};
use crate::dispatch::schedule::{Schedule, Zone, entry_zone};
use crate::farm::alert::{AlertView, event};
use crate::farm::error::FarmError;
use crate::farm::published::{self, Published};
use crate::model::keys;
use crate::model::record::{RunRecord, Status};
use crate::model::slot::Slot;
use crate::store::{Store, StoreError};

/// The most slots one entry's ledger lists (the newest are kept): a minutely entry over
/// 30 days.
pub const MAX_SLOTS: usize = 50_000;

/// One slot's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotState {
    /// A farm-queue request for it waits for a worker.
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Not run on purpose: its outputs existed.
    Skipped,
    /// Workers declined it (guard) and none claimed it yet.
    Declined,
    /// Declined, and no worker claimed it within `funnel.retention`.
    Dropped,
    /// Its host stopped heartbeating without writing an end.
    Abandoned,
    Cancelled,
    /// Its time plus the grace has passed and no worker claimed it.
    Missing,
    /// Its time has come but the grace has not passed yet; nothing claimed it so far.
    Due,
}

impl SlotState {
    /// The lowercase name used in output and JSON.
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

    /// The state a run record's status shows as.
    pub fn of(status: Status) -> SlotState {
        match status {
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

impl std::fmt::Display for SlotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One slot of one entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerSlot {
    pub job: String,
    /// The slot, in key form (`2026-11-23T03:00Z`).
    pub slot: String,
    pub state: SlotState,
    /// Whether the entry's schedule fires at this slot (false: a manual run, a backfill
    /// or a queued request at another time).
    pub scheduled: bool,
    /// The run shown (`<host>-<pid>`), when one took the slot.
    pub run_id: Option<String>,
    pub host: Option<String>,
    pub attempt: Option<u32>,
    pub exit_code: Option<i32>,
    pub duration_secs: Option<f64>,
    /// Why it was skipped, dropped, cancelled or failed to start, or the queued request.
    pub note: Option<String>,
    /// Its alert events and their delivery.
    pub alerts: Vec<AlertView>,
}

impl LedgerSlot {
    /// The slot as a [`Slot`].
    pub fn slot(&self) -> Option<Slot> {
        Slot::from_key(&self.slot)
    }
}

/// One published entry and its ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobLedger {
    pub job: String,
    /// `group:artifact`.
    pub project: String,
    /// The crontab file's name in the bundle and the entry's line in it.
    pub crontab: String,
    pub line: usize,
    /// The entry's schedule as written (`30 2 * * *`, `@daily`).
    pub schedule: String,
    /// The zone its schedule is read in.
    pub zone: String,
    /// How long after its time an unclaimed slot is missing.
    pub grace_secs: u64,
    /// Oldest first.
    pub slots: Vec<LedgerSlot>,
}

/// The grace of an entry: its greaserun `--missing-after` (default 5 minutes).
pub fn grace_of(entry: &Published) -> Duration {
    entry.entry.args.missing_after
}

/// The zone an entry's schedule fires in: its `CRON_TZ`, else this host's.
pub fn zone_of(entry: &Published) -> Zone {
    entry_zone(entry.entry.cron_tz.as_deref(), Zone::host())
}

/// The slots `schedule` fires at from `since` (inclusive) to `now` (inclusive), oldest
/// first, at most [`MAX_SLOTS`] (the newest).
pub fn fire_slots(schedule: &Schedule, zone: Zone, since: Slot, now: DateTime<Utc>) -> Vec<Slot> {
    let mut out = std::collections::VecDeque::new();
    let mut t = since.time() - chrono::TimeDelta::seconds(1);
    while let Some(next) = schedule.next_after(t, zone) {
        let next = next.with_timezone(&Utc);
        if next > now {
            break;
        }
        if out.len() == MAX_SLOTS {
            out.pop_front();
        }
        out.push_back(Slot::at(next));
        t = next;
    }
    out.into()
}

/// The ledger of one published entry from slot `since` to `now`, oldest first: every
/// slot its schedule fires at, and every other slot the job has a run, claim, decline or
/// pending request in. A scheduled slot with nothing is `due` until `grace` after its
/// time, then `missing`; one before the bundle was published is left out. Reads one range per key prefix, never older history.
pub fn entry_ledger(
    store: &dyn Store,
    cfg: &Config,
    entry: &Published,
    since: Slot,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Vec<LedgerSlot>, FarmError> {
    let runs = runs_in(store, cfg, Some(&entry.entry.job), Slots::Since(since), now)?;
    ledger_of(store, entry, since, now, grace, &runs)
}

/// [`entry_ledger`] over the job's runs from `since` on, already read (as
/// `debugging::runs::runs_in` gives them): for a caller that uses them too.
pub fn ledger_of(
    store: &dyn Store,
    entry: &Published,
    since: Slot,
    now: DateTime<Utc>,
    grace: Duration,
    runs: &[RunRecord],
) -> Result<Vec<LedgerSlot>, FarmError> {
    let job = entry.entry.job.as_str();
    let fires = fire_slots(
        &Schedule::new(&entry.entry.when),
        zone_of(entry),
        since,
        now,
    );
    let mut by_slot: BTreeMap<String, Vec<RunRecord>> = BTreeMap::new();
    for r in runs {
        by_slot.entry(r.slot.clone()).or_default().push(r.clone());
    }
    let queued = pending_requests(store, job, since)?;
    let mut alerts = event::views(store, job, since)?;

    let mut slots: BTreeMap<String, bool> = fires.iter().map(|s| (s.key(), true)).collect();
    for s in by_slot.keys().chain(queued.keys()) {
        slots.entry(s.clone()).or_insert(false);
    }
    let grace = chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX);
    let mut out = Vec::with_capacity(slots.len());
    for (key, scheduled) in slots {
        let Some(slot) = Slot::from_key(&key) else {
            continue;
        };
        let shown = by_slot.get(&key).and_then(|rs| newest_attempt(rs));
        let pending = queued
            .get(&key)
            .filter(|(n, _)| shown.as_ref().is_none_or(|r| r.attempt.unwrap_or(1) < *n));
        // Before the bundle was published, nothing was expected of the slot.
        if shown.is_none() && pending.is_none() && entry.launched_at > Some(slot.time()) {
            continue;
        }
        let mut ls = LedgerSlot {
            job: job.to_string(),
            slot: key.clone(),
            state: SlotState::Due,
            scheduled,
            run_id: None,
            host: None,
            attempt: None,
            exit_code: None,
            duration_secs: None,
            note: None,
            alerts: alerts.remove(&key).unwrap_or_default(),
        };
        match (pending, shown) {
            (Some((n, id)), _) => {
                ls.state = SlotState::Queued;
                ls.attempt = Some(*n);
                ls.note = Some(format!("request {id}"));
            }
            (None, Some(r)) => {
                ls.state = SlotState::of(r.status);
                ls.run_id = (!r.host.is_empty()).then(|| r.id());
                ls.host = (!r.host.is_empty()).then(|| r.host.clone());
                ls.attempt = r.attempt;
                ls.exit_code = r.exit_code;
                ls.duration_secs = r.duration_s;
                ls.note = r.reason.clone();
            }
            (None, None) if now.signed_duration_since(slot.time()) > grace => {
                ls.state = SlotState::Missing;
            }
            (None, None) => {}
        }
        out.push(ls);
    }
    Ok(out)
}

/// Among a slot's records, the one of its latest attempt that [`pick`] chooses.
fn newest_attempt(recs: &[RunRecord]) -> Option<RunRecord> {
    let top = recs.iter().map(|r| r.attempt.unwrap_or(1)).max()?;
    let here: Vec<&RunRecord> = recs
        .iter()
        .filter(|r| r.attempt.unwrap_or(1) == top)
        .collect();
    pick(&here)
}

/// The job's slots (from `since`) whose latest attempt reservation is a request still
/// waiting or in flight: slot key → (attempt, request id). One range read, plus one
/// read per reserved slot's newest attempt.
fn pending_requests(
    store: &dyn Store,
    job: &str,
    since: Slot,
) -> Result<HashMap<String, (u32, String)>, StoreError> {
    let mut newest: HashMap<String, (u32, String)> = HashMap::new();
    for e in records::slot_range(store, keys::ATTEMPTS, Some(job), since)? {
        let mut parts = e.key.rsplit('/');
        let (Some(n), Some(slot)) = (parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(n), slot) = (n.parse::<u32>(), keys::unsegment(slot)) else {
            continue;
        };
        let id = String::from_utf8_lossy(&e.value).trim().to_string();
        if newest.get(&slot).is_none_or(|(m, _)| *m < n) {
            newest.insert(slot, (n, id));
        }
    }
    let mut out = HashMap::new();
    for (slot, (n, id)) in newest {
        let waiting = store.get(&keys::request(keys::QUEUE, &id))?.is_some()
            || store.get(&keys::request(keys::TAKEN, &id))?.is_some();
        if waiting {
            out.insert(slot, (n, id));
        }
    }
    Ok(out)
}

/// The ledger of every published entry (of `job` only: its exact name, else the entries
/// whose name contains it), from slot `since` to `now`, each with its own grace; sorted
/// by job. An unknown `job` is [`FarmError::UnknownJob`].
pub fn ledger(
    store: &dyn Store,
    cfg: &Config,
    job: Option<&str>,
    since: Slot,
    now: DateTime<Utc>,
) -> Result<Vec<JobLedger>, FarmError> {
    let (all, _) = published::all(store)?;
    let picked: Vec<&Published> = match job {
        None => all.iter().collect(),
        Some(q) => {
            let exact: Vec<&Published> = all.iter().filter(|p| p.entry.job == q).collect();
            if exact.is_empty() {
                all.iter().filter(|p| p.entry.job.contains(q)).collect()
            } else {
                exact
            }
        }
    };
    if let (Some(q), true) = (job, picked.is_empty()) {
        // The one place that words an unknown job with the published names.
        return Err(published::find(store, q)
            .err()
            .unwrap_or(FarmError::UnknownJob {
                query: q.to_string(),
                known: String::new(),
            }));
    }
    let mut out = Vec::with_capacity(picked.len());
    for p in picked {
        let grace = grace_of(p);
        out.push(JobLedger {
            job: p.entry.job.clone(),
            project: p.project.to_string(),
            crontab: p.crontab.clone(),
            line: p.entry.line,
            schedule: p.entry.when.text(),
            zone: zone_of(p).name(),
            grace_secs: grace.as_secs(),
            slots: entry_ledger(store, cfg, p, since, now, grace)?,
        });
    }
    out.sort_by(|a, b| a.job.cmp(&b.job).then_with(|| a.project.cmp(&b.project)));
    Ok(out)
}

#[cfg(test)]
#[path = "ledger/tests.rs"]
pub(crate) mod tests;
