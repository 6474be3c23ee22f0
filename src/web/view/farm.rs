//! The farm view (`/`, `/api/farm`): every published greaserun entry with its project,
//! schedule, next fire time and latest run, failing and missing first, and the queue's
//! size. Each job costs a few reads of its newest slot, never its older history; the
//! bundles are parsed once per change ([`crate::web::catalog`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::debugging::latest::latest_of;
use crate::debugging::queue;
use crate::dispatch::bundle::Bundle;
use crate::dispatch::schedule::Schedule;
use crate::farm::ledger::{grace_of, zone_of};
use crate::farm::published::Published;
use crate::model::record::{RunRecord, Status};
use crate::model::slot::Slot;
use crate::store::Store;
use crate::web::catalog::Catalog;
use crate::web::error::WebError;
use crate::web::view::{job_href, read_each};

/// The farm at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct FarmView {
    pub at: DateTime<Utc>,
    /// Failing and missing first, then running, then the rest; by job name within each.
    pub jobs: Vec<JobRow>,
    /// Requests waiting for a worker.
    pub queue_pending: usize,
    /// Requests a worker has taken and not finished.
    pub queue_in_flight: usize,
}

/// One published entry and how it is doing.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub job: String,
    /// `group:artifact`.
    pub project: String,
    /// The crontab file in the bundle, and the entry's line in it.
    pub crontab: String,
    pub line: usize,
    /// The schedule as written, and the zone it fires in.
    pub schedule: String,
    pub zone: String,
    /// The next fire time (RFC 3339 in the entry's zone); none for `@reboot`.
    pub next: Option<String>,
    /// `failed`, `missing`, `abandoned`, `dropped`, `running`, `succeeded`, ... of the
    /// latest slot; `never` when nothing ran and nothing is due yet.
    pub state: String,
    /// The newest slot that should have run by now (time plus grace) and has no run.
    pub missing_slot: Option<String>,
    /// The latest run, with its status as `greasestatus runs --latest` shows it.
    pub last: Option<RunRecord>,
    pub revision: Option<String>,
    pub launched_by: Option<String>,
    pub launched_at: Option<String>,
    /// The job page's path.
    pub href: String,
}

impl JobRow {
    /// Sort rank: failing and missing 0, running or declined 1, others 2, never run 3.
    fn rank(&self) -> u8 {
        match self.state.as_str() {
            "failed" | "missing" | "abandoned" | "dropped" => 0,
            "running" | "declined" => 1,
            "never" => 3,
            _ => 2,
        }
    }

    /// Whether the row is shown as a problem.
    pub fn bad(&self) -> bool {
        self.rank() == 0
    }
}

/// The farm view as of `now`.
pub fn farm(
    store: &dyn Store,
    cfg: &Config,
    published: &Catalog,
    now: DateTime<Utc>,
) -> Result<FarmView, WebError> {
    let mut jobs = read_each(&published.entries, |p| {
        row(store, cfg, p, published.bundle(p), now)
    })?;
    jobs.sort_by(|a, b| a.rank().cmp(&b.rank()).then_with(|| a.job.cmp(&b.job)));
    let q = queue::queue(store, None)?;
    Ok(FarmView {
        at: now,
        jobs,
        queue_pending: q.pending.len(),
        queue_in_flight: q.in_flight.len(),
    })
}

/// One entry's row: its latest run, next fire time and whether its newest due slot (since
/// the bundle was published) is missing.
pub fn row(
    store: &dyn Store,
    cfg: &Config,
    p: &Published,
    bundle: Option<&Bundle>,
    now: DateTime<Utc>,
) -> Result<JobRow, WebError> {
    let job = &p.entry.job;
    let last = latest_of(store, cfg, job, now)?;
    let zone = zone_of(p);
    let schedule = Schedule::new(&p.entry.when);
    let grace = chrono::TimeDelta::from_std(grace_of(p)).unwrap_or_default();
    // Slots from before the bundle was published were not expected of anyone.
    let since = p.launched_at;
    let due = last_fire(p, now - grace)
        .filter(|t| since.is_none_or(|s| *t >= s))
        .map(Slot::at);
    let newest = last.as_ref().and_then(RunRecord::slot);
    let missing_slot = match (due, newest) {
        (Some(d), Some(n)) if n >= d => None,
        (Some(d), _) => Some(d.key()),
        (None, _) => None,
    };
    let state = match (&last, &missing_slot) {
        (Some(r), _)
            if matches!(
                r.status,
                Status::Failed | Status::Abandoned | Status::Dropped
            ) =>
        {
            r.status.as_str().to_string()
        }
        (_, Some(_)) => "missing".to_string(),
        (Some(r), None) => r.status.as_str().to_string(),
        (None, None) => "never".to_string(),
    };
    Ok(JobRow {
        job: job.clone(),
        project: p.project.to_string(),
        crontab: p.crontab.clone(),
        line: p.entry.line,
        schedule: p.entry.when.text(),
        zone: zone.name(),
        next: schedule.next_after(now, zone).map(|t| t.to_rfc3339()),
        state,
        missing_slot,
        last,
        revision: bundle.and_then(|b| b.revision.clone()),
        launched_by: bundle.map(|b| b.launched_by.clone()),
        launched_at: bundle.map(|b| b.launched_at.clone()),
        href: job_href(job),
    })
}

/// The last time `entry`'s schedule fired at or before `at`, looking back at most 8 days
/// (found by widening the look-back, so a per-minute job costs a few steps).
pub fn last_fire(entry: &Published, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = Schedule::new(&entry.entry.when);
    let zone = zone_of(entry);
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
