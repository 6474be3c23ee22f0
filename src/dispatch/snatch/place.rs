//! Placement in greasesnatch (`launch.replicas` > 0): each round beats this worker's
//! membership, reads the live members ([`membership`]), and ranks them for every
//! greaserun entry of every bundle in the store ([`placement::assign`]). A worker still
//! installs every verified bundle, but the greaserun entries it does not hold are
//! written commented out, [`HELD_ELSEWHERE`] then the line unchanged, so cron never
//! starts them here while the farm queue's pull ([`uncomment_held`]) still serves them.
//! Environment lines, comments and other entries stay as they are; a plain command
//! (no claim to arbitrate) is installed on every worker as before.
//!
//! Every worker computes the same placement from the same bundles and members, so each
//! entry is uncommented on `k` live workers; while two workers disagree about who is
//! alive (for about one round), an entry may be held by one more or one less, and the
//! claim still lets only one of them run a slot.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;

use crate::arbitration::membership::{self, Member};
use crate::arbitration::{guard, placement};
use crate::dispatch::crontab::{self, Crontab};
use crate::store::{Store, StoreError};

/// The marker that opens an entry held by other workers.
pub const HELD_ELSEWHERE: &str = "#held-elsewhere: ";

/// Names the greaserun entries of a crontab: `(1-based line, job name)` each, as
/// greaserun names its job (supplied by the farm scope, which parses greaserun's
/// arguments).
pub type JobsOf = fn(&Crontab) -> Vec<(usize, String)>;

/// How this worker takes part in placement.
#[derive(Clone)]
pub struct PlacementOptions {
    /// This worker's name in `members/` and in the placement.
    pub host: String,
    /// `launch.replicas` (at least 1 here; 0 means no placement at all).
    pub replicas: usize,
    /// `launch.member_ttl`.
    pub member_ttl: Duration,
    /// The guard's limits, for the headroom a beat reports.
    pub guard: crate::config::Guard,
    pub jobs_of: JobsOf,
}

// Without `jobs_of`, whose address changes from run to run (the options' digest is
// part of a round's record).
impl std::fmt::Debug for PlacementOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacementOptions")
            .field("host", &self.host)
            .field("replicas", &self.replicas)
            .field("member_ttl", &self.member_ttl)
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl PlacementOptions {
    /// How often a staying-up greasesnatch beats: a third of the TTL, so a live member
    /// never looks dead for one late beat.
    pub fn beat_every(&self) -> Duration {
        self.member_ttl / 3
    }
}

/// Beats this worker's membership (not with `dry_run`: a dry run joins nothing) and
/// returns the live members' hosts, this one included, sorted. Beats of members long
/// dead are removed on the way.
pub fn join(
    store: &dyn Store,
    p: &PlacementOptions,
    dry_run: bool,
) -> Result<Vec<String>, StoreError> {
    if !dry_run {
        let headroom = guard::measure()
            .map(|m| guard::headroom(&m, &p.guard))
            .unwrap_or(0.0);
        membership::beat(store, &Member::now(&p.host, headroom), p.member_ttl)?;
    }
    let members = membership::all(store)?;
    if !dry_run {
        membership::prune(store, &members, p.member_ttl)?;
    }
    let mut hosts = membership::live(&members, Utc::now(), p.member_ttl);
    if let Err(i) = hosts.binary_search(&p.host) {
        hosts.insert(i, p.host.clone());
    }
    Ok(hosts)
}

/// The placement of every greaserun entry of `crontabs` (every bundle's texts) on
/// `hosts`.
pub fn place(crontabs: &[&str], hosts: &[String], p: &PlacementOptions) -> placement::Placement {
    let mut jobs: Vec<String> = crontabs
        .iter()
        .flat_map(|t| (p.jobs_of)(&crontab::parse(t)))
        .map(|(_, job)| job)
        .collect();
    jobs.sort();
    jobs.dedup();
    placement::assign(&jobs, hosts, p.replicas, placement::DEFAULT_SLACK)
}

/// Comments out, in every installed file's content (header line, then the crontab),
/// the greaserun entries `host` does not hold; returns how many entries it holds.
pub fn apply(
    desired: &mut BTreeMap<String, Vec<u8>>,
    placed: &placement::Placement,
    p: &PlacementOptions,
) -> usize {
    let mut held = 0;
    for content in desired.values_mut() {
        let text = String::from_utf8_lossy(content).into_owned();
        let Some((header, body)) = text.split_once('\n') else {
            continue;
        };
        let mut others = Vec::new();
        for (line, job) in (p.jobs_of)(&crontab::parse(body)) {
            if placed.holds(&job, &p.host) {
                held += 1;
            } else {
                others.push(line);
            }
        }
        if others.is_empty() {
            continue;
        }
        let body: Vec<String> = body
            .split('\n')
            .enumerate()
            .map(|(i, l)| match others.contains(&(i + 1)) {
                true => format!("{HELD_ELSEWHERE}{l}"),
                false => l.to_string(),
            })
            .collect();
        *content = format!("{header}\n{}", body.join("\n")).into_bytes();
    }
    held
}

/// An installed file's text with the entries held elsewhere uncommented: what the farm
/// queue serves, and what greasestatus compares with the bundle.
pub fn uncomment_held(text: &str) -> Cow<'_, str> {
    if !text.contains(HELD_ELSEWHERE) {
        return Cow::Borrowed(text);
    }
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_prefix(HELD_ELSEWHERE).unwrap_or(l))
        .collect();
    Cow::Owned(lines.join("\n"))
}

/// Refuses a crontab with a line that opens with [`HELD_ELSEWHERE`]: greasesnatch
/// reserves it, since the farm queue reads such a line as an installed entry.
pub fn check_reserved(name: &str, text: &str) -> Result<(), String> {
    match text
        .split('\n')
        .position(|l| l.starts_with(HELD_ELSEWHERE.trim_end()))
    {
        Some(i) => Err(format!(
            "{name}:{}: a line may not start with {:?}, which greasesnatch reserves for entries held by other workers",
            i + 1,
            HELD_ELSEWHERE.trim_end()
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs named by their `--job` word, for tests (the farm scope parses greaserun's
    /// arguments in the real tools).
    fn jobs(c: &Crontab) -> Vec<(usize, String)> {
        c.entries()
            .filter_map(|e| {
                let mut w = e.command.split_whitespace();
                w.find(|x| *x == "--job")?;
                Some((e.line, w.next()?.to_string()))
            })
            .collect()
    }

    fn opts(host: &str) -> PlacementOptions {
        PlacementOptions {
            host: host.into(),
            replicas: 1,
            member_ttl: Duration::from_secs(90),
            guard: Default::default(),
            jobs_of: jobs,
        }
    }

    #[test]
    fn entries_held_elsewhere_are_commented_and_read_back() {
        let crontab = "TZ=UTC\n# a comment\n0 3 * * * u greaserun --job a x\n\
                       0 4 * * * u greaserun --job b x\n0 5 * * * u /bin/plain\n";
        let hosts = vec!["w1".to_string(), "w2".to_string()];
        let placed = place(&[crontab], &hosts, &opts("w1"));
        let mut texts = Vec::new();
        for h in &hosts {
            let content = format!("# header\n{crontab}");
            let mut desired = BTreeMap::from([("f".to_string(), content.clone().into_bytes())]);
            let held = apply(&mut desired, &placed, &opts(h));
            let text = String::from_utf8(desired.remove("f").unwrap()).unwrap();
            assert_eq!(uncomment_held(&text), content);
            assert_eq!(text.matches(HELD_ELSEWHERE).count(), 2 - held);
            assert!(text.contains("\nTZ=UTC\n# a comment\n") && text.contains("\n0 5 * * * u"));
            texts.push(text);
        }
        // With k = 1 each entry is uncommented on exactly one of the two.
        for job in ["--job a", "--job b"] {
            let live = texts
                .iter()
                .filter(|t| t.lines().any(|l| l.contains(job) && !l.starts_with('#')))
                .count();
            assert_eq!(live, 1, "{job}");
        }
        assert!(check_reserved("c", "#held-elsewhere: 0 3 * * * root x\n").is_err());
        assert!(check_reserved("c", "# held-elsewhere\n").is_ok());
    }
}
