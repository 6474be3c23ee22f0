//! Membership: which workers are alive, for [`super::placement`]. Every greasesnatch
//! round beats `members/<host>` ([`crate::model::keys::member`]) with a [`Member`]
//! record (host, time, headroom, version) and a TTL: on etcd the key hangs on a lease
//! and vanishes within the TTL of its writer's last beat; on the directory store it
//! stays, and its `time` stops advancing. A member is live while its beat is younger
//! than the TTL (`launch.member_ttl`), whichever the backend, so every worker that reads
//! the members at about the same time counts the same ones live. Reading them is one
//! listing of `members` per round.
//!
//! Beats of dead members are removed by [`prune`] (a directory store never expires
//! them); a member that beats again is live again at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::keys;
use crate::store::{Store, StoreError};

/// One worker's membership beat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The worker's host name (`SCALEGREASE_HOSTNAME`, `common.hostname` or the host's).
    pub host: String,
    /// When it beat (the worker's clock).
    pub time: DateTime<Utc>,
    /// Its guard's room at that time, from 0 (full) to 1 (idle): shown, not placed by.
    pub headroom: f64,
    /// The scalegrease version it runs.
    pub version: String,
}

impl Member {
    /// This build's beat for `host` now.
    pub fn now(host: &str, headroom: f64) -> Member {
        Member {
            host: host.to_string(),
            time: Utc::now(),
            headroom,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Whether the beat is younger than `ttl` at `now` (a beat from a clock ahead of
    /// `now` counts as fresh).
    pub fn live_at(&self, now: DateTime<Utc>, ttl: Duration) -> bool {
        (now - self.time).to_std().map_or(true, |age| age < ttl)
    }
}

/// Writes `member`'s beat, kept (etcd: leased) for `ttl`.
pub fn beat(store: &dyn Store, member: &Member, ttl: Duration) -> Result<(), StoreError> {
    let value = serde_json::to_vec(member).expect("a member serialises");
    store.beat(&keys::member(&member.host), &value, ttl)
}

/// Every member's last beat (unreadable ones skipped), by host.
pub fn all(store: &dyn Store) -> Result<Vec<Member>, StoreError> {
    let mut out: Vec<Member> = store
        .list(keys::MEMBERS)?
        .iter()
        .filter_map(|e| serde_json::from_slice(&e.value).ok())
        .collect();
    out.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(out)
}

/// The hosts of the members live at `now`, sorted.
pub fn live(members: &[Member], now: DateTime<Utc>, ttl: Duration) -> Vec<String> {
    let mut hosts: Vec<String> = members
        .iter()
        .filter(|m| m.live_at(now, ttl))
        .map(|m| m.host.clone())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Removes the beats of members dead for more than `ttl` beyond their TTL (the
/// directory store keeps them forever otherwise); returns how many.
pub fn prune(store: &dyn Store, members: &[Member], ttl: Duration) -> Result<usize, StoreError> {
    prune_at(store, members, ttl, Utc::now())
}

/// [`prune`] as of `now` (the farm-scale simulation runs on simulated time).
pub fn prune_at(
    store: &dyn Store,
    members: &[Member],
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for m in members.iter().filter(|m| !m.live_at(now, ttl * 2)) {
        if store.delete(&keys::member(&m.host))? {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dir::DirStore;

    #[test]
    fn live_members_are_those_that_beat_within_the_ttl() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path());
        s.init().unwrap();
        let ttl = Duration::from_secs(90);
        let mut old = Member::now("old", 0.5);
        old.time -= chrono::Duration::seconds(91);
        let mut ancient = Member::now("ancient", 0.5);
        ancient.time -= chrono::Duration::seconds(200);
        for m in [Member::now("b", 1.0), Member::now("a", 0.0), old, ancient] {
            beat(&s, &m, ttl).unwrap();
        }
        s.put(&keys::member("garbled"), b"{", None).unwrap();
        let all = all(&s).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(live(&all, Utc::now(), ttl), ["a", "b"]);
        assert_eq!(prune(&s, &all, ttl).unwrap(), 1);
        assert_eq!(super::all(&s).unwrap().len(), 3);
    }
}
