//! The worker's pull round, which greasesnatch runs after installing bundles (once from
//! cron, or in a loop under `--watch`, [`watch`]): take queued requests while this
//! host's guard has room and start each one's installed entry as its user.
//!
//! A round reads the installed greaserun entries ([`installed`]; never the store's
//! bundle text), ends lapsed requests in flight ([`abandon`]), then goes through the
//! pending requests oldest first, reading only as many as it can use ([`scan`]):
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
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

mod abandon;
mod early;
mod expire;
pub mod installed;
mod room;
pub mod scan;
pub mod spawn;
pub mod watch;

use crate::arbitration::queue;
use crate::config::{Funnel, Guard};
use crate::dispatch::snatch::{SnatchOptions, UserCheck};
use crate::model::keys;
use crate::model::request::{Phase, Request, RequestState, Take};
use crate::store::{Store, StoreError};
use expire::{drop_request, expired};
use installed::Installed;
use room::measure_room;
use scan::Seen;
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

impl PullOptions {
    /// Options for worker `host` on `cron_dir` (prefix `sg`) under `cfg`, passing nothing
    /// on: for tests.
    #[cfg(test)]
    pub(crate) fn for_test(cron_dir: PathBuf, host: &str, cfg: &crate::Config) -> PullOptions {
        PullOptions {
            snatch: SnatchOptions::new(cron_dir, "sg"),
            host: host.into(),
            guard: cfg.guard.clone(),
            funnel: cfg.funnel.clone(),
            history_retention: cfg.history.retention,
            pass: PassThrough(vec![]),
            greaserun: None,
        }
    }
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
    round_of(store, opts, children, &mut Seen::new(), None)
}

/// [`round`], remembering markers read in `seen`, over the `queue/` keys when the caller
/// listed them already.
pub fn round_of(
    store: &dyn Store,
    opts: &PullOptions,
    children: &Children,
    seen: &mut Seen,
    queued: Option<Vec<String>>,
) -> Result<Pulled, StoreError> {
    let now = Utc::now();
    let cron_dir = &opts.snatch.cron_dir;
    let installed = seen
        .installed
        .installed(cron_dir, &opts.snatch.prefix)
        .unwrap_or_else(|e| {
            tracing::warn!("cannot read {}: {e}", cron_dir.display());
            Arc::default()
        });
    let mut out = Pulled::default();
    let ended = children.take_ended();
    let mine: Vec<String> = children.alive().into_iter().map(|(_, r)| r).collect();
    out.failed += early::ended_early(store, opts, children, ended, &mine)?;
    early::put_back_unfinished(store, opts, &mut seen.unfinished, &mine)?;
    // Housekeeping: a watching worker looks at the requests in flight every few seconds,
    // not on every change to the queue (each take changes it).
    let mut batches = None;
    if seen.housekeeping_due() {
        let flights = queue::in_flight(store)?;
        (out.abandoned, out.retried) =
            abandon::abandon(store, opts, &installed, &flights, &mine, now)?;
        batches = Some(batch_counts(&flights));
    }
    let listed = match queued {
        Some(keys) => keys,
        None => store.keys(keys::QUEUE)?,
    };
    seen.keep_only(&listed);
    let mut r = Round {
        store,
        opts,
        children,
        installed: &installed,
        now,
        batches,
        room: None,
        users: UserCheck::new(&opts.snatch),
        out,
    };
    let mut skipped = 0;
    for key in &listed {
        let new = !seen.knows(key);
        if new && (skipped >= scan::SCAN_PAST || r.room == Some(0)) {
            break;
        }
        let Some(marker) = seen.marker(store, key)? else {
            continue;
        };
        let step = match marker {
            Ok(req) => r
                .consider(&req)
                .inspect_err(|_| seen.unfinished.push(req))?,
            Err(why) => r.garbled(key, &why)?,
        };
        skipped += usize::from(new && step == Step::Skipped);
    }
    Ok(r.out)
}

/// Takes in flight per backfill batch.
fn batch_counts(flights: &[Take]) -> HashMap<String, u32> {
    let mut batches: HashMap<String, u32> = HashMap::new();
    for t in flights {
        if let Some(b) = &t.batch {
            *batches.entry(b.clone()).or_default() += 1;
        }
    }
    batches
}

/// Takes in flight of backfill batch `b`, listing the takes into `batches` first if no
/// one did this round.
fn in_flight_of(
    store: &dyn Store,
    batches: &mut Option<HashMap<String, u32>>,
    b: &str,
) -> Result<u32, StoreError> {
    if batches.is_none() {
        *batches = Some(batch_counts(&queue::in_flight(store)?));
    }
    Ok(batches
        .as_ref()
        .and_then(|n| n.get(b))
        .copied()
        .unwrap_or(0))
}

/// What a round did with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Taken, or ended (by this worker or, for a take lost, another).
    Done,
    /// Left waiting for another worker or a later round.
    Skipped,
}

/// One round's view of this host and what it did so far.
struct Round<'a> {
    store: &'a dyn Store,
    opts: &'a PullOptions,
    children: &'a Children,
    installed: &'a BTreeMap<String, Installed>,
    now: DateTime<Utc>,
    /// Takes in flight per backfill batch (listed when the first batch request comes,
    /// unless housekeeping listed them).
    batches: Option<HashMap<String, u32>>,
    /// Requests this host may still start (measured at the first runnable request).
    room: Option<u32>,
    users: UserCheck<'a>,
    out: Pulled,
}

impl Round<'_> {
    /// A marker that is not a valid request: refused, nothing runs. Removing the marker
    /// is the exclusive step.
    fn garbled(&mut self, key: &str, why: &str) -> Result<Step, StoreError> {
        if self.store.delete(key)? {
            tracing::warn!("queue entry {key} refused: {why}");
            let id = queue::marker_id(key);
            end(
                self.store,
                self.opts,
                &id,
                Phase::Refused,
                format!("garbled: {why}"),
            )?;
            self.out.refused += 1;
        }
        Ok(Step::Done)
    }

    /// Drops, refuses, leaves or takes and starts `req`.
    fn consider(&mut self, req: &Request) -> Result<Step, StoreError> {
        let (store, opts, out) = (self.store, self.opts, &mut self.out);
        let it = self.installed.get(&req.job);
        if let Some(why) = expired(req, it, self.now) {
            if queue::take(store, req, &opts.host)? {
                drop_request(store, opts, req, &why)?;
                out.dropped += 1;
            }
            return Ok(Step::Done);
        }
        let Some(it) = it else {
            return Ok(Step::Skipped);
        };
        if let Some(t) = req.not_before.filter(|t| *t > self.now) {
            out.next_due = Some(out.next_due.map_or(t, |d| d.min(t)));
            return Ok(Step::Skipped);
        }
        if let Some(b) = &req.batch
            && in_flight_of(store, &mut self.batches, b)? >= req.limit.unwrap_or(1).max(1)
        {
            out.blocked = true;
            return Ok(Step::Skipped);
        }
        let children = self.children;
        let free = *self
            .room
            .get_or_insert_with(|| measure_room(opts, children));
        if free == 0 {
            (out.blocked, out.no_room) = (true, true);
            return Ok(Step::Skipped);
        }
        if let Err(why) = self.users.check(&it.entry.user, &it.project.group) {
            if queue::take(store, req, &opts.host)? {
                let why = format!("user {:?} {why}", it.entry.user);
                tracing::warn!("request {} refused: {why}", req.id);
                end(store, opts, &req.id, Phase::Refused, why)?;
                out.refused += 1;
            }
            return Ok(Step::Done);
        }
        match queue::take_for(store, req, &opts.host)? {
            queue::Took::Won => {}
            queue::Took::Lost => return Ok(Step::Done),
            queue::Took::Full => {
                // The rest of the batch waits too (its order is oldest first).
                if let (Some(b), Some(n)) = (&req.batch, self.batches.as_mut()) {
                    n.insert(b.clone(), u32::MAX);
                }
                out.blocked = true;
                return Ok(Step::Skipped);
            }
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
                self.room = Some(free - 1);
                if let (Some(b), Some(n)) = (&req.batch, self.batches.as_mut()) {
                    *n.entry(b.clone()).or_default() += 1;
                }
            }
            Err(why) => {
                tracing::warn!("request {} failed to start: {why}", req.id);
                end(store, opts, &req.id, Phase::Failed, why)?;
                out.failed += 1;
            }
        }
        Ok(Step::Done)
    }
}

/// Ends request `id` (already won by this worker) in `phase` with `reason`.
pub(super) fn end(
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
