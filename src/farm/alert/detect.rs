//! Noticing events with no scheduler machine: each worker's greasesnatch reads, per
//! published entry, the ledger of a short recent window ([`window`]: an hour, or twice
//! the entry's grace when that is longer) and creates `events/<job>/<slot>/<kind>` for
//! each failed, missing, dropped or abandoned slot, and for the first success after one
//! (recovered). The create is exclusive, so across the whole farm exactly one worker
//! wins each event; the winner alone marks it pending (`alerts/<id>`) for delivery.
//! The store operations per entry are the same each minute however long the history is.
//! The published entries are parsed from the bundles again only when the bundles'
//! [`Store::stamp`] changed ([`PublishedCache`], kept across `--watch` rounds).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::dispatch::sign::TrustedKey;
use crate::farm::alert::event::{Alert, EventKind};
use crate::farm::error::FarmError;
use crate::farm::ledger::{LedgerSlot, SlotState, entry_ledger, grace_of};
use crate::farm::published::{self, Published};
use crate::model::keys;
use crate::model::slot::Slot;
use crate::store::{Created, Store, StoreError, Version};

/// The shortest window a check looks back over.
pub const MIN_WINDOW: Duration = Duration::from_secs(3600);
/// The most output an alert carries.
pub const EXCERPT_BYTES: usize = 2048;

/// What the check and delivery need: the worker's config and name.
#[derive(Debug, Clone)]
pub struct AlertOptions {
    /// The entries of the last bundles read (shared by clones, so kept across rounds).
    pub published: PublishedCache,
    pub config: Config,
    /// This worker (`detected_by`, and the holder of delivery leases).
    pub host: String,
    /// `launch.trusted_keys`: a project's own webhook is used only from a bundle they
    /// signed (any bundle without them).
    pub trusted_keys: Vec<TrustedKey>,
}

/// The published greaserun entries as of the bundles' [`Store::stamp`]: a round whose
/// stamp equals the cached one reuses the entries instead of listing and parsing every
/// bundle; without a trusted stamp (the directory store within 2 s of a change) it reads.
#[derive(Debug, Clone, Default)]
pub struct PublishedCache(Arc<Mutex<Option<Stamped>>>);

/// The entries read at a stamp.
type Stamped = (Version, Arc<Vec<Published>>);

impl PublishedCache {
    /// The published entries now: one stamp request, and the bundles only when it moved.
    pub fn entries(&self, store: &dyn Store) -> Result<Arc<Vec<Published>>, FarmError> {
        // Taken before the listing: a publish in between shows as a new stamp next time.
        let stamp = store.stamp(keys::BUNDLES)?;
        let mut cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(s), Some((v, all))) = (stamp, cached.as_ref())
            && s == *v
        {
            return Ok(all.clone());
        }
        let all = Arc::new(published::all(store)?.0);
        *cached = stamp.map(|s| (s, all.clone()));
        Ok(all)
    }
}

/// What one check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// Entries checked.
    pub entries: usize,
    /// Events this worker created (won).
    pub events: usize,
}

/// The window an entry is checked over: [`MIN_WINDOW`], or twice its grace.
pub fn window(grace: Duration) -> Duration {
    MIN_WINDOW.max(grace * 2)
}

/// One check of every published entry `wanted` accepts (by job name; the placement of
/// entries on workers may restrict it): creates the events the ledger shows and nobody
/// created yet, and queues each one this worker created for delivery.
pub fn check_round(
    store: &dyn Store,
    opts: &AlertOptions,
    now: DateTime<Utc>,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Checked, FarmError> {
    let all = opts.published.entries(store)?;
    let mut out = Checked::default();
    for p in all.iter().filter(|p| wanted(&p.entry.job)) {
        out.entries += 1;
        out.events += check_entry(store, opts, p, now)?;
    }
    Ok(out)
}

/// Checks one entry; returns how many events this worker created.
fn check_entry(
    store: &dyn Store,
    opts: &AlertOptions,
    p: &Published,
    now: DateTime<Utc>,
) -> Result<usize, FarmError> {
    let grace = grace_of(p);
    let window = chrono::TimeDelta::from_std(window(grace)).unwrap_or(chrono::TimeDelta::MAX);
    let since = Slot::at(now - window);
    let slots = entry_ledger(store, &opts.config, p, since, now, grace)?;
    // Whether the newest event so far was a failure (then a success is a recovery);
    // read from before the window only when a success needs it.
    let mut failing: Option<bool> = None;
    let mut made = 0;
    for s in &slots {
        let has = |k: EventKind| s.alerts.iter().any(|a| a.event == k);
        if has(EventKind::Recovered) {
            failing = Some(false);
        } else if s.alerts.iter().any(|a| a.event.is_failure()) {
            failing = Some(true);
        }
        let kind = match s.state {
            SlotState::Failed => EventKind::Failed,
            SlotState::Missing => EventKind::Missing,
            SlotState::Dropped => EventKind::Dropped,
            SlotState::Abandoned => EventKind::Abandoned,
            SlotState::Succeeded => {
                let before = match failing {
                    Some(f) => f,
                    None => failing_before(store, &p.entry.job, since)?,
                };
                failing = Some(before);
                if !before {
                    continue;
                }
                EventKind::Recovered
            }
            _ => continue,
        };
        if has(kind) {
            continue;
        }
        if create(store, opts, p, s, kind, now)? {
            made += 1;
        }
        failing = Some(kind.is_failure());
    }
    Ok(made)
}

/// Whether `job`'s newest event before slot `since` was a failure.
fn failing_before(store: &dyn Store, job: &str, since: Slot) -> Result<bool, StoreError> {
    let prefix = keys::job_prefix(keys::EVENTS, Some(job));
    let newest = store
        .children(&prefix)?
        .iter()
        .filter_map(|s| Slot::from_key(&keys::unsegment(s)))
        .filter(|s| *s < since)
        .max();
    let Some(slot) = newest else {
        return Ok(false);
    };
    let kinds: Vec<EventKind> = store
        .keys(&format!("{prefix}/{}", keys::segment(&slot.key())))?
        .iter()
        .filter_map(|k| EventKind::parse(&keys::unsegment(k.rsplit('/').next()?)))
        .collect();
    Ok(!kinds.contains(&EventKind::Recovered) && kinds.iter().any(|k| k.is_failure()))
}

/// Creates the event (exclusively) and, when this worker won it, its pending marker.
fn create(
    store: &dyn Store,
    opts: &AlertOptions,
    p: &Published,
    s: &LedgerSlot,
    kind: EventKind,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let excerpt = match (&s.run_id, kind) {
        (Some(id), EventKind::Failed | EventKind::Abandoned) => store
            .get(&keys::tail(&s.job, &s.slot, id))?
            .map(|t| excerpt(&t)),
        _ => None,
    };
    let alert = Alert {
        event: kind,
        job: s.job.clone(),
        project: p.project.to_string(),
        slot: s.slot.clone(),
        run: s.run_id.clone(),
        host: s.host.clone(),
        exit_code: s.exit_code,
        reason: s.note.clone(),
        excerpt,
        detected_at: now,
        detected_by: opts.host.clone(),
        attempts: 0,
        next_try: now,
        done: Vec::new(),
        delivered_at: None,
        last_error: None,
        gave_up: None,
    };
    let key = alert.key();
    let keep = Some(opts.config.history.retention);
    let body = serde_json::to_vec(&alert).expect("an alert serialises");
    if store.create(&key, &body, keep)? != Created::Created {
        return Ok(false);
    }
    tracing::info!(job = %s.job, slot = %s.slot, event = %kind, "alert event");
    store.put(&keys::alert(&keys::alert_id(&key)), key.as_bytes(), keep)?;
    Ok(true)
}

/// The last [`EXCERPT_BYTES`] of an output, as text.
pub fn excerpt(tail: &[u8]) -> String {
    let start = tail.len().saturating_sub(EXCERPT_BYTES);
    String::from_utf8_lossy(&tail[start..]).into_owned()
}
