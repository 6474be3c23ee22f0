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
use crate::arbitration::placement;
use crate::debugging::status::bundle_map;
use crate::dispatch::crontab::Crontab;
use crate::dispatch::snatch::place::{self, PlacementOptions};
use crate::farm::entry::entries;
use crate::store::{Store, StoreError};
use crate::util::escape::escape;

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

/// A filter of entries by job name.
pub type JobFilter = Box<dyn Fn(&str) -> bool>;

/// Which entries (by job) this worker checks in the alert round for missing slots:
/// those for which it ranks among the first `replicas + 1` live members (pure
/// rendezvous order, [`placement::ranked`]), so an entry is still checked when all its
/// `replicas` holders died; every entry with `replicas` 0. One read of the members.
pub fn checked_here(
    store: &dyn Store,
    host: &str,
    replicas: usize,
    member_ttl: Duration,
) -> Result<JobFilter, StoreError> {
    if replicas == 0 {
        return Ok(Box::new(|_| true));
    }
    let mut live = membership::live(&membership::all(store)?, Utc::now(), member_ttl);
    if let Err(i) = live.binary_search_by(|h| h.as_str().cmp(host)) {
        live.insert(i, host.to_string());
    }
    let host = host.to_string();
    Ok(Box::new(move |job: &str| {
        placement::ranked(job, &live)
            .iter()
            .take(replicas + 1)
            .any(|h| *h == host)
    }))
}

/// [`Holders`] as text: the members (host, live, entries held, headroom, last beat),
/// then each entry's holders.
pub fn text(h: &Holders) -> String {
    let live = h.members.iter().filter(|m| m.live).count();
    let mut out = format!(
        "{live} live member(s) of {}, launch.replicas {}{}\n",
        h.members.len(),
        h.replicas,
        if h.replicas == 0 {
            " (every worker holds every entry)"
        } else {
            ""
        }
    );
    out += &format!(
        "{:<24} {:<5} {:>6} {:>8}  BEAT\n",
        "HOST", "LIVE", "HOLDS", "HEADROOM"
    );
    for m in &h.members {
        out += &format!(
            "{:<24} {:<5} {:>6} {:>8.2}  {}\n",
            escape(&m.member.host),
            if m.live { "yes" } else { "no" },
            m.holds,
            m.member.headroom,
            m.member
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    out += &format!("\n{:<32} HOLDERS\n", "JOB");
    for e in &h.entries {
        let holders: Vec<String> = e.holders.iter().map(|x| escape(x).into_owned()).collect();
        out += &format!("{:<32} {}\n", escape(&e.job), holders.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dir::DirStore;

    #[test]
    fn holders_of_published_entries_on_live_members() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path());
        s.init().unwrap();
        let ttl = Duration::from_secs(90);
        for h in ["a", "b", "c"] {
            membership::beat(&s, &Member::now(h, 1.0), ttl).unwrap();
        }
        use crate::dispatch::bundle::{Bundle, CrontabFile, key_for};
        let b = Bundle::new(
            &crate::dispatch::project::Project {
                group: "g".into(),
                artifact: "x".into(),
            },
            vec![CrontabFile {
                name: "c.cron".into(),
                content: "0 3 * * * u greaserun --job one -r shell g:x\n\
                          0 4 * * * u greaserun --job two -r shell g:x\n"
                    .into(),
            }],
            "2026-01-01T00:00:00Z".into(),
            "u@h".into(),
            None,
        );
        s.put(&key_for(&b.project()), &b.encode(), None).unwrap();
        let h = holders(&s, 2, ttl, None).unwrap();
        assert_eq!(h.members.len(), 3);
        assert_eq!(h.entries.len(), 2);
        assert!(h.entries.iter().all(|e| e.holders.len() == 2));
        assert_eq!(h.members.iter().map(|m| m.holds).sum::<usize>(), 4);
        assert_eq!(holders(&s, 2, ttl, Some("tw")).unwrap().entries.len(), 1);
        assert!(text(&h).contains("3 live member(s) of 3, launch.replicas 2"));
        // Each entry is checked by 3 (k + 1) of the 3 members; with k = 1 by 2 of them.
        for (k, n) in [(2, 3), (1, 2)] {
            let checks: Vec<_> = ["a", "b", "c"]
                .iter()
                .map(|m| checked_here(&s, m, k, ttl).unwrap())
                .collect();
            assert!(
                ["one", "two"]
                    .iter()
                    .all(|j| checks.iter().filter(|c| c(j)).count() == n)
            );
        }
    }
}
