//! `greasesnatch --watch`'s pull loop: pull rounds forever, each followed by a wait for
//! the queue's keys to change from the version listed before the round (an etcd watch
//! returns within milliseconds of a submit; the directory store's keys are re-listed
//! every second), or for
//! the earliest `not_before` of a waiting request, at most [`IDLE`], so deadlines and
//! abandoned requests are noticed without any change. While a request waits for room,
//! the wait is at most [`BLOCKED`], and ends as soon as one of this worker's jobs ends
//! (which does not change the queue).
//!
//! Every worker is woken by every change to the queue. After a change, each waits a
//! random part of [`STAGGER`] before it lists the queue: of the workers woken by one
//! submission the first usually takes it before most others list, and those find it
//! gone without reading it or racing for its take (fewer store operations per request,
//! and less work competing with the winner's take on a busy host).
//! Children are reaped on threads. Store failures are reported and retried every
//! [`RETRY`]; they never end the loop.

use std::time::Duration;

use chrono::Utc;

use super::scan::Seen;
use super::spawn::Children;
use super::{PullOptions, Pulled, round_of};
use crate::model::keys;
use crate::store::{Store, StoreError};
use crate::util::random;

/// The longest wait between rounds with nothing queued.
pub const IDLE: Duration = Duration::from_secs(10);
/// The longest wait while a request waits for room here.
pub const BLOCKED: Duration = Duration::from_secs(1);
/// The longest random pause between a reported change to the queue and the round that
/// looks at it.
pub const STAGGER: Duration = Duration::from_millis(100);
/// The pause before retrying after a store failure.
pub const RETRY: Duration = Duration::from_secs(1);

/// Runs pull rounds forever; `report` gets each round's result.
pub fn watch(
    store: &dyn Store,
    opts: &PullOptions,
    mut report: impl FnMut(Result<&Pulled, &StoreError>),
) -> ! {
    let children = Children::new(true);
    let mut seen = Seen::new();
    loop {
        // The queue's keys are listed once: the round works on the very snapshot the
        // wait starts from, so a request queued after it wakes the wait.
        let pulled = store.keys_versioned(keys::QUEUE).and_then(|(queued, v)| {
            round_of(store, opts, &children, &mut seen, Some(queued)).map(|p| (p, v))
        });
        let (pulled, version) = match pulled {
            Ok(x) => x,
            Err(e) => {
                report(Err(&e));
                std::thread::sleep(RETRY);
                continue;
            }
        };
        report(Ok(&pulled));
        // Out of room while own jobs run: a job ending here makes room, sooner than
        // any change to the queue would tell.
        if pulled.no_room && !children.alive().is_empty() {
            children.wait_ended(BLOCKED);
            continue;
        }
        let mut timeout = if pulled.blocked { BLOCKED } else { IDLE };
        if let Some(due) = pulled.next_due {
            let until = (due - Utc::now()).to_std().unwrap_or_default();
            timeout = timeout.min(until);
        }
        let timeout = timeout.max(Duration::from_millis(50));
        match store.wait_keys_changed(keys::QUEUE, version, timeout) {
            Ok(true) => std::thread::sleep(STAGGER.mul_f64(random::unit())),
            Ok(false) => {}
            Err(e) => {
                report(Err(&e));
                std::thread::sleep(RETRY);
            }
        }
    }
}
