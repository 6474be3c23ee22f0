//! Which pending requests a pull round reads. The round lists `queue/` keys only (one
//! keys-only range read; request ids sort by submission time, so the listing is oldest
//! first) and reads a marker's value only when it comes to it, so a round's store cost
//! does not grow with the backlog:
//! - a marker read once is remembered ([`Seen`]; markers are never rewritten with
//!   another request), so under `--watch` each marker is read at most once per worker;
//! - the round stops reading new markers once this host has no room left (what it could
//!   take is taken), and after [`SCAN_PAST`] new markers it had to skip (another host's
//!   job, a `not_before` ahead, a backfill batch at its limit, no room). Markers it read
//!   and ended (taken, dropped, refused) do not count: they are progress.
//!
//! Requests further back wait for a later round (under `--watch`, the next one, which
//! reads [`SCAN_PAST`] further) or for another worker.
//!
//! [`Seen`] is all a watching worker carries from one round to the next: besides the
//! markers, the installed entries as last parsed ([`super::installed::Cache`]) and when
//! it last looked at the requests in flight (housekeeping: at most every
//! [`HOUSEKEEPING`], not on every change to the queue).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::installed::Cache;
use crate::arbitration::queue;
use crate::model::request::Request;
use crate::store::{Store, StoreError};

/// The most new markers one round reads and skips.
pub const SCAN_PAST: usize = 64;

/// The shortest time between two looks of a watching worker at the requests in flight
/// (lapsed takes and runs are judged against `funnel.abandon_after`, minutes).
pub const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// What a worker remembers between rounds: the markers it has read, by key (the request,
/// or why it is not a valid one), the installed entries, and its last housekeeping.
#[derive(Debug, Default)]
pub struct Seen {
    markers: HashMap<String, Result<Request, String>>,
    pub(super) installed: Cache,
    housekept: Option<Instant>,
    /// Requests whose consideration failed on the store, possibly after this worker
    /// took them ([`super::early::put_back_unfinished`]).
    pub(super) unfinished: Vec<Request>,
}

impl Seen {
    /// An empty memory (a round from cron reads what it comes to afresh).
    pub fn new() -> Seen {
        Seen::default()
    }

    /// Forgets markers no longer listed (taken, ended or withdrawn).
    pub(super) fn keep_only(&mut self, listed: &[String]) {
        if !self.markers.is_empty() {
            let listed: HashSet<&str> = listed.iter().map(String::as_str).collect();
            self.markers.retain(|k, _| listed.contains(k.as_str()));
        }
    }

    /// Whether this round looks at the requests in flight (always, for a fresh memory);
    /// if so, from now on the next is [`HOUSEKEEPING`] away.
    pub(super) fn housekeeping_due(&mut self) -> bool {
        let due = self.housekept.is_none_or(|t| t.elapsed() >= HOUSEKEEPING);
        if due {
            self.housekept = Some(Instant::now());
        }
        due
    }

    /// Whether marker `key` was read already.
    pub(super) fn knows(&self, key: &str) -> bool {
        self.markers.contains_key(key)
    }

    /// Marker `key`, remembered or read now; `None` when it is gone.
    pub(super) fn marker(
        &mut self,
        store: &dyn Store,
        key: &str,
    ) -> Result<Option<Result<Request, String>>, StoreError> {
        if let Some(m) = self.markers.get(key) {
            return Ok(Some(m.clone()));
        }
        let Some(m) = queue::read_marker(store, key)? else {
            return Ok(None);
        };
        self.markers.insert(key.to_string(), m.clone());
        Ok(Some(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::pull::spawn::Children;
    use crate::farm::pull::{PullOptions, round_of};
    use crate::model::keys;
    use crate::model::request::{Kind, request_id};
    use chrono::Utc;

    #[test]
    fn a_round_reads_a_bounded_part_of_a_backlog_it_cannot_run() {
        let (d, store, cfg) = crate::arbitration::claim::tests::setup();
        let cron_dir = d.path().join("cron.d");
        std::fs::create_dir(&cron_dir).unwrap();
        let opts = PullOptions::for_test(cron_dir, "w1", &cfg);
        let n = 2 * SCAN_PAST + 10;
        for i in 0..n as u32 {
            let r = Request {
                id: request_id(Utc::now(), i),
                ..Request::new(
                    "elsewhere",
                    "2026-11-23T03:00Z",
                    Kind::Demand,
                    "u@h",
                    Utc::now(),
                )
            };
            let r = Request {
                slot: format!("2026-11-23T03:{:02}Z", i % 60),
                attempt: 1 + i / 60,
                ..r
            };
            assert_eq!(
                queue::submit(&*store, &r).unwrap(),
                queue::Submitted::Queued
            );
        }
        // A job this worker has no entry for: each round reads SCAN_PAST markers further.
        let (children, mut seen) = (Children::new(false), Seen::new());
        for (round, want) in [(1, SCAN_PAST), (2, 2 * SCAN_PAST), (3, n), (4, n)] {
            let pulled = round_of(&*store, &opts, &children, &mut seen, None).unwrap();
            assert!(!pulled.any(), "{pulled:?}");
            assert_eq!(seen.markers.len(), want, "markers read after round {round}");
        }
        // Markers taken elsewhere are forgotten.
        let (listed, _) = store.keys_versioned(keys::QUEUE).unwrap();
        for key in &listed[..10] {
            store.delete(key).unwrap();
        }
        round_of(&*store, &opts, &children, &mut seen, None).unwrap();
        assert_eq!(seen.markers.len(), n - 10);
    }
}
