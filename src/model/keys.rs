//! The store's whole key layout, in one place. Keys are `/`-separated paths of segments
//! made with [`segment`], so any job name or slot is a valid key part:
//!
//! - `bundles/<group>__<artifact>`: a project's published crontabs (greaselaunch).
//! - `claims/<job>/<slot>`: the funnel's claim on a slot (one winner).
//! - `heartbeats/<job>/<slot>/<run id>`: the winner's last sign of life.
//! - `declines/<job>/<slot>/<host>`: a worker over its limits declining the slot.
//! - `runs/<job>/<slot>/<run id>`: the run record; the run id is `<host>-<pid>`
//!   ([`run_id`]), or `dropped` for a slot no worker took.
//! - `tails/<job>/<slot>/<run id>`: the last 64 KiB of the run's output.
//! - `maintenance/prune/<interval>`: the marker that one process pruned this interval.
//! - `requests/<id>`: a farm-queue request ([`crate::model::request::Request`]), kept.
//! - `queue/<id>`: the pending marker of a request no worker took yet (removed when
//!   taken, cancelled or dropped): listing `queue` is a worker's whole idle cost.
//! - `taken/<id>`: the one worker's take of a request, removed when it ends: what is in
//!   flight.
//! - `states/<id>`: a request's latest phase ([`crate::model::request::RequestState`]).
//! - `attempts/<job>/<slot>/<n>`: the id of the request for attempt n of (job, slot):
//!   an exclusive create, so two submitters never queue the same attempt.
//! - `cancels/<job>/<slot>/<run id>`: asks the running greaserun to end its job.
//! - `live/<job>/<slot>/<run id>`: the running job's latest output, for `--follow`.
//! - `events/<job>/<slot>/<kind>`: an alert event of a slot (failed, missing, ...) and
//!   its delivery: an exclusive create, so the farm reports each event once.
//! - `alerts/<id>`: the pending marker of an event not yet delivered (removed when
//!   delivered or given up): listing `alerts` is a worker's whole idle delivery cost.
//! - `alertleases/<id>/<n>`: one worker's lease on delivery attempt n of an alert.
//!
//! Slots are written in their key form (`2026-11-23T03:00Z`, see
//! [`Slot::key`](crate::model::slot::Slot::key)).

use crate::model::slot::Slot;

/// Bundles, one per project.
pub const BUNDLES: &str = "bundles";
/// Claims, one per (job, slot).
pub const CLAIMS: &str = "claims";
/// Heartbeats, one per (job, slot, run).
pub const HEARTBEATS: &str = "heartbeats";
/// Declines, one per (job, slot, host).
pub const DECLINES: &str = "declines";
/// Run records, one per (job, slot, run).
pub const RUNS: &str = "runs";
/// Output tails, one per (job, slot, run).
pub const TAILS: &str = "tails";
/// Maintenance markers.
pub const MAINTENANCE: &str = "maintenance";
/// The prune markers (under [`MAINTENANCE`]).
pub const PRUNE_MARKERS: &str = "maintenance/prune";
/// Farm-queue requests, one per id (kept for `funnel.retention`).
pub const REQUESTS: &str = "requests";
/// Pending requests, one per id.
pub const QUEUE: &str = "queue";
/// Takes of requests in flight, one per id.
pub const TAKEN: &str = "taken";
/// Request states, one per id.
pub const STATES: &str = "states";
/// Attempt reservations, one per (job, slot, attempt).
pub const ATTEMPTS: &str = "attempts";
/// Cancel markers, one per (job, slot, run).
pub const CANCELS: &str = "cancels";
/// Live output, one per (job, slot, run).
pub const LIVE: &str = "live";
/// Alert events, one per (job, slot, kind).
pub const EVENTS: &str = "events";
/// Pending alerts, one per undelivered event.
pub const ALERTS: &str = "alerts";
/// Delivery leases, one per (alert, attempt).
pub const ALERT_LEASES: &str = "alertleases";
/// The tops whose second segment is a job name.
pub const JOB_TOPS: [&str; 4] = [RUNS, CLAIMS, DECLINES, ATTEMPTS];
/// The run id of a dropped slot's record.
pub const DROPPED_ID: &str = "dropped";

/// The id of one run in record and heartbeat keys: `<host>-<pid>`.
pub fn run_id(host: &str, pid: u32) -> String {
    format!("{host}-{pid}")
}

/// The key of a project's bundle.
pub fn bundle(group: &str, artifact: &str) -> String {
    format!("{BUNDLES}/{}__{}", segment(group), segment(artifact))
}

/// The claim key of (job, slot).
pub fn claim(job: &str, slot: Slot) -> String {
    format!("{CLAIMS}/{}/{}", segment(job), segment(&slot.key()))
}

/// The heartbeat key of one run.
pub fn heartbeat(job: &str, slot: Slot, run_id: &str) -> String {
    format!(
        "{HEARTBEATS}/{}/{}/{}",
        segment(job),
        segment(&slot.key()),
        segment(run_id)
    )
}

/// The decline key of (job, slot, host).
pub fn decline(job: &str, slot: Slot, host: &str) -> String {
    format!(
        "{DECLINES}/{}/{}/{}",
        segment(job),
        segment(&slot.key()),
        segment(host)
    )
}

/// The key of a run record (`slot` in key form, as records hold it).
pub fn run(job: &str, slot: &str, run_id: &str) -> String {
    format!(
        "{RUNS}/{}/{}/{}",
        segment(job),
        segment(slot),
        segment(run_id)
    )
}

/// The key of a run's output tail.
pub fn tail(job: &str, slot: &str, run_id: &str) -> String {
    format!(
        "{TAILS}/{}/{}/{}",
        segment(job),
        segment(slot),
        segment(run_id)
    )
}

/// The prefix of one slot's run records.
pub fn slot_runs(job: &str, slot: Slot) -> String {
    format!("{RUNS}/{}/{}", segment(job), segment(&slot.key()))
}

/// The prefix of one job's keys under `top` (or every job's, without one).
pub fn job_prefix(top: &str, job: Option<&str>) -> String {
    match job {
        Some(j) => format!("{top}/{}", segment(j)),
        None => top.to_string(),
    }
}

/// The job a key under one of [`JOB_TOPS`] belongs to.
pub fn job_of(key: &str) -> Option<String> {
    key.split('/').nth(1).map(unsegment)
}

/// The marker of prune interval `bucket`.
pub fn prune_marker(bucket: u64) -> String {
    format!("{PRUNE_MARKERS}/{bucket}")
}

/// The key of request `id` under `top` ([`REQUESTS`], [`QUEUE`], [`TAKEN`] or
/// [`STATES`]).
pub fn request(top: &str, id: &str) -> String {
    format!("{top}/{}", segment(id))
}

/// The prefix of (job, slot)'s attempt reservations (`slot` in key form).
pub fn slot_attempts(job: &str, slot: &str) -> String {
    format!("{ATTEMPTS}/{}/{}", segment(job), segment(slot))
}

/// The reservation of attempt `n` of (job, slot).
pub fn attempt(job: &str, slot: &str, n: u32) -> String {
    format!("{}/{n}", slot_attempts(job, slot))
}

/// The cancel marker of one run.
pub fn cancel(job: &str, slot: &str, run_id: &str) -> String {
    format!(
        "{CANCELS}/{}/{}/{}",
        segment(job),
        segment(slot),
        segment(run_id)
    )
}

/// `(job, slot, run id)` of a run record key ([`run`]), decoded.
pub fn run_parts(key: &str) -> Option<(String, String, String)> {
    let mut parts = key.split('/');
    if parts.next()? != RUNS {
        return None;
    }
    let (job, slot, id) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((unsegment(job), unsegment(slot), unsegment(id)))
}

/// The live-output key of one run.
pub fn live(job: &str, slot: &str, run_id: &str) -> String {
    format!(
        "{LIVE}/{}/{}/{}",
        segment(job),
        segment(slot),
        segment(run_id)
    )
}

/// The key of (job, slot)'s event of `kind` (`slot` in key form).
pub fn event(job: &str, slot: &str, kind: &str) -> String {
    format!(
        "{EVENTS}/{}/{}/{}",
        segment(job),
        segment(slot),
        segment(kind)
    )
}

/// The pending-alert id of an event key: the key after `events/`, as one segment.
pub fn alert_id(event_key: &str) -> String {
    segment(event_key.strip_prefix("events/").unwrap_or(event_key))
}

/// The pending marker of alert `id` (an [`alert_id`]).
pub fn alert(id: &str) -> String {
    format!("{ALERTS}/{id}")
}

/// The lease key of delivery attempt `n` of alert `id`.
pub fn alert_lease(id: &str, n: u32) -> String {
    format!("{ALERT_LEASES}/{id}/{n}")
}

/// Makes a key segment from any text: keeps `[A-Za-z0-9._:@+=,-]`, percent-encodes the
/// rest, and never starts with a dot (so directory-store temp files cannot collide).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, b) in text.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b"_:@+=,-".contains(&b) || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// Reverses [`segment`]: decodes `%XX` escapes (an invalid escape is kept as written).
pub fn unsegment(seg: &str) -> String {
    let text = crate::util::url::percent_decode(seg);
    if text == "\0" { String::new() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        assert_eq!(claim("a/b", slot), "claims/a%2Fb/2026-11-23T03:00Z");
        assert_eq!(
            heartbeat("j", slot, &run_id("h", 7)),
            "heartbeats/j/2026-11-23T03:00Z/h-7"
        );
        assert_eq!(decline("j", slot, "h"), "declines/j/2026-11-23T03:00Z/h");
        assert_eq!(run("j", &slot.key(), "h-7"), "runs/j/2026-11-23T03:00Z/h-7");
        assert_eq!(
            tail("j", &slot.key(), "h-7"),
            "tails/j/2026-11-23T03:00Z/h-7"
        );
        assert_eq!(slot_runs("j", slot), "runs/j/2026-11-23T03:00Z");
        assert_eq!(job_prefix(RUNS, None), "runs");
        assert_eq!(job_of(&job_prefix(CLAIMS, Some("a b"))).unwrap(), "a b");
        assert_eq!(bundle("com.ex", "jobs"), "bundles/com.ex__jobs");
        assert_eq!(
            request(QUEUE, "20261130T184512Z-00003f9a"),
            "queue/20261130T184512Z-00003f9a"
        );
        assert_eq!(
            attempt("j", &slot.key(), 2),
            "attempts/j/2026-11-23T03:00Z/2"
        );
        assert_eq!(
            cancel("j", &slot.key(), "h-7"),
            "cancels/j/2026-11-23T03:00Z/h-7"
        );
        let ev = event("a/b", &slot.key(), "failed");
        assert_eq!(ev, "events/a%2Fb/2026-11-23T03:00Z/failed");
        assert_eq!(alert_id(&ev), "a%252Fb%2F2026-11-23T03:00Z%2Ffailed");
        assert_eq!(alert_lease("x", 2), "alertleases/x/2");
        assert_eq!(alert("x"), "alerts/x");
        assert_eq!(
            live("j", &slot.key(), "h-7"),
            "live/j/2026-11-23T03:00Z/h-7"
        );
    }
}
