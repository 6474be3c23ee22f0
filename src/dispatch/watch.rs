//! `greasesnatch --watch`: stay running and apply every change to the bundles as soon as
//! it is published, instead of once a minute from cron.
//!
//! Each round is a full greasesnatch (same lock, same checks, same atomic writes), then a
//! wait for the next change from exactly the version that round read
//! ([`Store::wait_changed`]: an etcd watch, or polling for the directory store), so a
//! change published between the read and the wait is not missed. Every `resync` the
//! round runs regardless, which also repairs local edits. Store and cron-dir failures
//! are reported and retried every second; they never end the watch, and a failed round
//! changes nothing (as a one-shot greasesnatch).

use std::io::Write;
use std::time::Duration;

use super::error::DispatchError;
use super::snatch::{self, Outcome, SnatchOptions, Summary};
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
        let since: Option<Version> = match snatch::snatch_versioned(store, &opts, out) {
            Ok((Outcome::Done(summary), version)) => {
                report(Ok(&summary));
                version
            }
            Ok((Outcome::Busy(_), _)) => None,
            Err(e) => {
                report(Err(&e));
                None
            }
        };
        match since {
            Some(v) => {
                if let Err(e) = store.wait_changed(crate::model::keys::BUNDLES, v, resync) {
                    report(Err(&e.into()));
                    std::thread::sleep(RETRY);
                }
            }
            None => std::thread::sleep(RETRY),
        }
    }
}
