//! The worker's pull round, which greasesnatch runs after installing bundles (once from
//! cron, or in a loop under `--watch`, [`watch`]): take queued requests while this
//! host's guard has room and start each one's installed entry as its user.
//!
//! A round reads the installed greaserun entries ([`installed`]; never the store's
//! bundle text), ends lapsed requests in flight ([`abandon`]), then goes through the
//! pending requests oldest first:
//! - a garbled marker is ended `refused` with the parse error, never run;
//! - past its `deadline`, or a rescue whose entry fired again since its slot: `dropped`
//!   (with a dropped run record when the slot has none);
//! - a job not installed here is left for other workers; one with `not_before` ahead,
//!   or whose backfill batch already has `limit` takes in flight, waits;
//! - with room (`guard.max_running` minus greaserun jobs running here and this worker's
//!   children still starting, and load and memory within `guard.*`), a user the
//!   worker's policy does not allow (`launch.allowed_users`, `launch.allow_root`) is
//!   `refused` with why; any other request is taken (one winner farm-wide) and started
//!   ([`spawn`]); a start that fails is `failed` with the OS error.
//!
//! Every end other than a run's own is written only after winning the request (its take
//! or its marker), so two workers never both end or both start one request.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

mod abandon;
pub mod installed;
pub mod spawn;
pub mod watch;

use crate::arbitration::{guard, queue, records};
use crate::config::{Funnel, Guard};
use crate::dispatch::schedule::{Schedule, Zone, entry_zone};
use crate::dispatch::snatch::{SnatchOptions, UserCheck};
use crate::model::keys;
use crate::model::record::{RunRecord, Status};
use crate::model::request::{Kind, Phase, Request, RequestState};
use crate::model::slot::Slot;
use crate::store::{Store, StoreError};
use installed::Installed;
use spawn::{Children, PassThrough};

/// The worker's validated options for pull rounds.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The cron directory, prefix and user policy greasesnatch installs with.
    pub snatch: SnatchOptions,
    /// This worker's name (takes and states).
    pub host: String,
    pub guard: Guard,
    pub funnel: Funnel,
    /// `history.retention`, for the records a round writes.
    pub history_retention: Duration,
    /// Passed on to every job unless its crontab sets them.
    pub pass: PassThrough,
    /// The greaserun binary whose running jobs count against `guard.max_running`
    /// (`None`: only this worker's own children count).
    pub greaserun: Option<PathBuf>,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pulled {
    /// Requests taken and started here.
    pub taken: usize,
    /// Requests ended refused (garbled, or a user this worker does not allow).
    pub refused: usize,
    /// Requests ended dropped (deadline passed).
    pub dropped: usize,
    /// Requests ended failed because their entry could not be started, or its command
    /// ended before greaserun served the request.
    pub failed: usize,
    /// Requests in flight ended abandoned.
    pub abandoned: usize,
    /// Retries queued for abandoned requests.
    pub retried: usize,
    /// The earliest `not_before` of a request left waiting (the watch wakes up then).
    #[serde(skip)]
    pub next_due: Option<DateTime<Utc>>,
    /// A request runnable here waits for its batch's limit, or for room.
    #[serde(skip)]
    pub blocked: bool,
    /// A request runnable here waits for room (a job ending here makes some).
    #[serde(skip)]
    pub no_room: bool,
}

impl std::fmt::Display for Pulled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} taken, {} refused, {} dropped, {} failed to start, {} abandoned",
            self.taken, self.refused, self.dropped, self.failed, self.abandoned
        )
    }
}

impl Pulled {
    /// Whether the round changed anything.
    pub fn any(&self) -> bool {
        self.taken + self.refused + self.dropped + self.failed + self.abandoned > 0
    }
}

/// Runs one pull round (see the module documentation).
pub fn round(
    store: &dyn Store,
    opts: &PullOptions,
    children: &Children,
) -> Result<Pulled, StoreError> {
    round_of(store, opts, children, None)
}

/// [`round`], over the `queue/` entries when the caller listed them already.
pub fn round_of(
    store: &dyn Store,
    opts: &PullOptions,
    children: &Children,
    queued: Option<Vec<crate::store::Entry>>,
) -> Result<Pulled, StoreError> {
    let now = Utc::now();
    let cron_dir = &opts.snatch.cron_dir;
    let installed = installed::installed(cron_dir, &opts.snatch.prefix).unwrap_or_else(|e| {
        tracing::warn!("cannot read {}: {e}", cron_dir.display());
        BTreeMap::new()
    });
    let mut out = Pulled::default();
    out.failed += abandon::ended_early(store, opts, children.take_ended())?;
    let flights = queue::in_flight(store)?;
    let mine: Vec<String> = children.alive().into_iter().map(|(_, r)| r).collect();
    (out.abandoned, out.retried) = abandon::abandon(store, opts, &installed, &flights, &mine, now)?;
    let (pending, garbled) = match queued {
        Some(entries) => queue::pending_of(entries),
        None => queue::pending(store)?,
    };
    for g in garbled {
        // Removing the marker is the exclusive step.
        if store.delete(&g.key)? {
            let id = keys::unsegment(g.key.rsplit('/').next().unwrap_or_default());
            tracing::warn!("queue entry {} refused: {}", g.key, g.why);
            end(
                store,
                opts,
                &id,
                Phase::Refused,
                format!("garbled: {}", g.why),
            )?;
            out.refused += 1;
        }
    }
    let mut batches: HashMap<String, u32> = HashMap::new();
    for t in &flights {
        if let Some(b) = &t.batch {
            *batches.entry(b.clone()).or_default() += 1;
        }
    }
    let mut room: Option<u32> = None;
    let mut users = UserCheck::new(&opts.snatch);
    for req in pending {
        let it = installed.get(&req.job);
        if let Some(why) = expired(&req, it, now) {
            if queue::take(store, &req, &opts.host)? {
                drop_request(store, opts, &req, &why)?;
                out.dropped += 1;
            }
            continue;
        }
        let Some(it) = it else { continue };
        if let Some(t) = req.not_before.filter(|t| *t > now) {
            out.next_due = Some(out.next_due.map_or(t, |d| d.min(t)));
            continue;
        }
        if let Some(b) = &req.batch
            && batches.get(b).copied().unwrap_or(0) >= req.limit.unwrap_or(1).max(1)
        {
            out.blocked = true;
            continue;
        }
        let free = *room.get_or_insert_with(|| measure_room(opts, children));
        if free == 0 {
            (out.blocked, out.no_room) = (true, true);
            continue;
        }
        if let Err(why) = users.check(&it.entry.user, &it.project.group) {
            if queue::take(store, &req, &opts.host)? {
                let why = format!("user {:?} {why}", it.entry.user);
                tracing::warn!("request {} refused: {why}", req.id);
                end(store, opts, &req.id, Phase::Refused, why)?;
                out.refused += 1;
            }
            continue;
        }
        if !queue::take(store, &req, &opts.host)? {
            continue;
        }
        match spawn::spawn(it, &req.id, &opts.pass, children) {
            Ok(pid) => {
                tracing::info!(
                    "request {} ({} slot {} attempt {}) started as {} (pid {pid})",
                    req.id,
                    req.job,
                    req.slot,
                    req.attempt,
                    it.entry.user
                );
                out.taken += 1;
                room = Some(free - 1);
                if let Some(b) = &req.batch {
                    *batches.entry(b.clone()).or_default() += 1;
                }
            }
            Err(why) => {
                tracing::warn!("request {} failed to start: {why}", req.id);
                end(store, opts, &req.id, Phase::Failed, why)?;
                out.failed += 1;
            }
        }
    }
    Ok(out)
}

/// Why `req` can no longer start at `now`: its deadline passed, or (a rescue) its
/// entry's next fire after the slot has come, so the next slot's run is due instead.
fn expired(req: &Request, it: Option<&Installed>, now: DateTime<Utc>) -> Option<String> {
    if let Some(d) = req.deadline.filter(|d| *d < now) {
        return Some(format!(
            "not started by its deadline {} (no worker had room)",
            d.to_rfc3339()
        ));
    }
    if req.kind != Kind::Rescue {
        return None;
    }
    let it = it?;
    let slot = Slot::from_key(&req.slot)?;
    let zone = entry_zone(it.entry.cron_tz.as_deref(), Zone::host());
    let next = Schedule::new(&it.entry.when).next_after(slot.time(), zone)?;
    (next.with_timezone(&Utc) <= now).then(|| {
        format!(
            "not started before the entry's next slot {} (no worker had room)",
            next.to_rfc3339()
        )
    })
}

/// How many requests this host may start now: `guard.max_running` minus greaserun jobs
/// running here and this worker's own children; 0 when load or memory is over its limit
/// or the host cannot be measured.
fn measure_room(opts: &PullOptions, children: &Children) -> u32 {
    let own: Vec<u32> = children.alive().into_iter().map(|(p, _)| p).collect();
    let exe = opts
        .greaserun
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
    let m = guard::measure_of(&exe, &own).map(|mut m| {
        if opts.greaserun.is_none() {
            m.running = 0;
        }
        m.running += own.len() as u32;
        m
    });
    match guard::judge(m, &opts.guard, &opts.host) {
        Ok(m) => opts.guard.max_running.saturating_sub(m.running),
        Err(guard::GuardError::Refused(r)) => {
            let why: Vec<String> = r.exceeded.iter().map(ToString::to_string).collect();
            tracing::info!("no room for queued requests here: {}", why.join(", "));
            0
        }
        Err(e) => {
            tracing::info!("no room for queued requests here: {e}");
            0
        }
    }
}

/// Ends request `id` (already won by this worker) in `phase` with `reason`.
fn end(
    store: &dyn Store,
    opts: &PullOptions,
    id: &str,
    phase: Phase,
    reason: String,
) -> Result<(), StoreError> {
    queue::finish(
        store,
        &RequestState {
            host: Some(opts.host.clone()),
            reason: Some(reason),
            ..RequestState::new(id, phase)
        },
    )
}

/// Ends `req` (taken by this worker) dropped, with a dropped run record for its slot
/// when the slot has no record.
fn drop_request(
    store: &dyn Store,
    opts: &PullOptions,
    req: &Request,
    why: &str,
) -> Result<(), StoreError> {
    tracing::warn!("request {} dropped: {why}", req.id);
    end(store, opts, &req.id, Phase::Dropped, why.to_string())?;
    let Some(slot) = Slot::from_key(&req.slot) else {
        return Ok(());
    };
    let (recs, _) = records::list(store, &keys::slot_runs(&req.job, slot))?;
    if recs.is_empty() {
        let rec = RunRecord {
            reason: Some(format!("request {} ({}) {why}", req.id, req.kind)),
            request: Some(req.id.clone()),
            attempt: Some(req.attempt),
            requested_by: Some(req.requested_by.clone()),
            requested_at: Some(req.requested_at),
            ..RunRecord::new(&req.job, &req.slot, Status::Dropped)
        };
        records::write(store, &rec, opts.history_retention)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::request::request_id;

    fn installed(line: &str) -> Installed {
        let entry = crate::farm::entry::entries(&crate::dispatch::crontab::parse(line))
            .remove(0)
            .unwrap();
        Installed {
            entry,
            project: crate::dispatch::project::Project {
                group: "g".into(),
                artifact: "a".into(),
            },
            file: "f".into(),
        }
    }

    fn req(kind: Kind, slot: &str) -> Request {
        Request {
            id: request_id(Utc::now(), 1),
            ..Request::new("j", slot, kind, "u@h", Utc::now())
        }
    }

    #[test]
    fn late_requests_and_overtaken_rescues_expire() {
        let it = installed("CRON_TZ=UTC\n0 * * * * u greaserun --job j -r shell g:a\n");
        let slot = "2026-11-23T03:00Z";
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
        // A rescue of the 03:00 slot may start until the entry fires again at 04:00.
        let r = req(Kind::Rescue, slot);
        assert_eq!(expired(&r, Some(&it), at("2026-11-23T03:30:00Z")), None);
        let why = expired(&r, Some(&it), at("2026-11-23T04:00:01Z")).unwrap();
        assert!(why.contains("next slot 2026-11-23T04:00:00"), "{why}");
        // Without the entry installed here the schedule is unknown: only the deadline.
        assert_eq!(expired(&r, None, at("2026-11-23T05:00:00Z")), None);
        // A demand never expires by schedule, only by its deadline.
        let mut d = req(Kind::Demand, slot);
        assert_eq!(expired(&d, Some(&it), at("2026-11-24T00:00:00Z")), None);
        d.deadline = Some(at("2026-11-23T03:10:00Z"));
        assert_eq!(expired(&d, Some(&it), at("2026-11-23T03:09:00Z")), None);
        let why = expired(&d, Some(&it), at("2026-11-23T03:11:00Z")).unwrap();
        assert!(why.contains("deadline"), "{why}");
    }
}
