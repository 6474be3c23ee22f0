//! Which workers hold each published greaserun entry under placement
//! (`launch.replicas`, see `dispatch::snatch::place`): the same computation every
//! greasesnatch makes (every bundle's entries, named as greaserun names its job, placed
//! on the live members), done from the store by `greasestatus holders`. Also the job
//! namer greasesnatch places by ([`jobs_of`]), which lives here because naming a job
//! parses greaserun's arguments.

use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use crate::arbitration::membership::{self, Member};
use crate::debugging::status::bundle_map;
use crate::dispatch::crontab::Crontab;
use crate::dispatch::snatch::place::{self, PlacementOptions};
use crate::farm::entry::entries;
use crate::store::{Store, StoreError};

/// The greaserun entries of `crontab` as `(line, job name)`: placement's
/// [`place::JobsOf`].
pub fn jobs_of(crontab: &Crontab) -> Vec<(usize, String)> {
    entries(crontab)
        .into_iter()
        .flatten()
        .map(|e| (e.line, e.job))
        .collect()
}

/// The farm's placement now, as `greasestatus holders` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Holders {
    /// `launch.replicas` (0: every worker holds every entry).
    pub replicas: usize,
    /// Every member's last beat, with whether it is live now.
    pub members: Vec<MemberStatus>,
    /// Each entry (job) and its holders, best-ranked first.
    pub entries: Vec<EntryHolders>,
}

/// One member's last beat.
#[derive(Debug, Clone, Serialize)]
pub struct MemberStatus {
    #[serde(flatten)]
    pub member: Member,
    pub live: bool,
    /// How many entries it holds.
    pub holds: usize,
}

/// One entry's holders.
#[derive(Debug, Clone, Serialize)]
pub struct EntryHolders {
    pub job: String,
    pub holders: Vec<String>,
}

/// The placement of every published entry whose job name contains `job` (all without
/// one) on the members live now: two store reads (members, bundles).
pub fn holders(
    store: &dyn Store,
    replicas: usize,
    member_ttl: Duration,
    job: Option<&str>,
) -> Result<Holders, StoreError> {
    let all = membership::all(store)?;
    let live = membership::live(&all, Utc::now(), member_ttl);
    let bundles = bundle_map(store)?;
    let texts: Vec<&str> = bundles
        .values()
        .flat_map(|b| b.crontabs.iter().map(|c| c.content.as_str()))
        .collect();
    let p = PlacementOptions {
        host: String::new(),
        replicas,
        member_ttl,
        guard: Default::default(),
        jobs_of,
    };
    let placed = place::place(&texts, &live, &p);
    let loads = placed.loads(&live);
    let members = all
        .into_iter()
        .map(|m| MemberStatus {
            live: live.contains(&m.host),
            holds: loads.get(m.host.as_str()).copied().unwrap_or(0),
            member: m,
        })
        .collect();
    let entries = placed
        .holders
        .into_iter()
        .filter(|(j, _)| job.is_none_or(|q| j.contains(q)))
        .map(|(job, holders)| EntryHolders { job, holders })
        .collect();
    Ok(Holders {
        replicas,
        members,
        entries,
    })
}
