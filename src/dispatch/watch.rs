//! `greasesnatch --watch`: stay running and apply every change to the bundles as soon as
//! it is published, instead of once a minute from cron.
//!
//! Each round is a full greasesnatch (same lock, same checks, same atomic writes), then a
//! wait for the next change from exactly the version that round read
//! ([`Store::wait_changed`]: an etcd watch; on the directory store one stat of the
//! bundles directory a second, [`Store::stamp`]), so a change published between the
//! read and the wait is not missed. Every `resync` the
//! round runs regardless, which also repairs local edits. Store and cron-dir failures
//! are reported and retried every second; they never end the watch, and a failed round
//! changes nothing (as a one-shot greasesnatch).
//!
//! With placement (`launch.replicas` > 0) the wait wakes every third of
//! `launch.member_ttl` to beat this worker's membership and read the live members; a
//! round runs when they changed, so a dead worker's entries move here within about
//! `launch.member_ttl` and a third (2 minutes by default) of its last beat.

use std::io::Write;
use std::time::{Duration, Instant};

use super::error::DispatchError;
use super::snatch::{self, Outcome, SnatchOptions, Summary, place};
use crate::store::{Store, Version};

/// How often a round runs even when nothing changed.
pub const RESYNC: Duration = Duration::from_secs(300);
/// The pause before retrying after a failure.
pub const RETRY: Duration = Duration::from_secs(1);

/// Runs rounds forever (the process ends by signal; every file write is atomic, so
/// stopping at any point is safe). `report` gets each round's result. The lock is waited
/// for (`opts.wait` is forced), so a concurrent one-shot greasesnatch delays a round
/// rather than skipping it.
pub fn watch(
    store: &dyn Store,
    opts: &SnatchOptions,
    resync: Duration,
    out: &mut dyn Write,
    mut report: impl FnMut(Result<&Summary, &DispatchError>),
) -> ! {
    let opts = SnatchOptions {
        wait: true,
        dry_run: false,
        ..opts.clone()
    };
    loop {
        let (since, members, stamp) = match snatch::round(store, &opts, out, true) {
            Ok(r) => {
                if let Outcome::Done(summary) = &r.outcome {
                    report(Ok(summary));
                }
                (r.version, r.members, r.stamp)
            }
            Err(e) => {
                report(Err(&e));
                (None, None, None)
            }
        };
        let Some(v) = since else {
            std::thread::sleep(RETRY);
            continue;
        };
        let until = Instant::now() + resync;
        // With placement, wake every beat to beat and to notice members joining or
        // leaving; a round runs only when the live members changed.
        let step = opts.placement.as_ref().map_or(resync, |p| p.beat_every());
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match wait(store, v, stamp, left.min(step)) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    report(Err(&e.into()));
                    std::thread::sleep(RETRY);
                    break;
                }
            }
            if let Some(p) = opts.placement.as_ref().filter(|p| p.replicas > 0) {
                match place::join(store, p, false) {
                    Ok(now) if Some(&now) == members.as_ref() => {}
                    Ok(_) => break,
                    Err(e) => {
                        report(Err(&e.into()));
                        std::thread::sleep(RETRY);
                        break;
                    }
                }
            }
        }
    }
}

/// Waits up to `timeout` for the bundles to change since the round that read them at
/// `since` (stamped `stamp`): the backend's push where it has one (etcd), else one
/// [`Store::stamp`] a second (the directory store: one stat, not a listing), else the
/// backend's polling [`Store::wait_changed`].
fn wait(
    store: &dyn Store,
    since: Version,
    stamp: Option<Version>,
    timeout: Duration,
) -> Result<bool, crate::store::StoreError> {
    let bundles = crate::model::keys::BUNDLES;
    let Some(stamp) = stamp.filter(|_| !store.pushes_changes()) else {
        return store.wait_changed(bundles, since, timeout);
    };
    let until = Instant::now() + timeout;
    loop {
        // No trusted stamp now (it changed within the last seconds) counts as a change.
        if store.stamp(bundles)? != Some(stamp) {
            return Ok(true);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        std::thread::sleep(left.min(crate::store::POLL_INTERVAL));
    }
}
