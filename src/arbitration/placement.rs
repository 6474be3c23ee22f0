//! Placement: which workers hold (install and start) each published entry, so that a
//! (job, slot) starts at most `k` greaserun processes however many workers the farm has.
//!
//! Every worker computes the same answer from the same inputs (the live members and the
//! entries' job names), with no coordinator: rendezvous (highest-random-weight) hashing
//! ranks the members for each entry by a fixed hash of (entry, host), and bounded loads
//! keep the farm even: entries are placed one by one in a fixed order (by their own hash,
//! so the order does not depend on how they were listed), each on its `k` best-ranked
//! members that still have room under a capacity of `slack × k × entries ÷ members`
//! (rounded down, but at least the mean rounded up). When a member leaves, only the
//! entries it held, and the few that a moved entry displaces, change holders; entries of
//! other members stay put.
//!
//! Placement only decides who *starts* a slot: the claim stays the final arbiter, so two
//! workers that disagree for a while about who is alive can never both run a slot.
//!
//! The hash is FNV-1a with a splitmix64 finish: fixed, fast and the same on every
//! platform and Rust version (std's hasher makes no such promise).

use std::collections::BTreeMap;

/// The default number of workers that hold each entry (`launch.replicas`).
pub const DEFAULT_REPLICAS: usize = 2;

/// The default load slack: no member holds more than this times the mean.
pub const DEFAULT_SLACK: f64 = 1.25;

/// The rendezvous weight of `host` for `entry`: higher ranks first.
pub fn weight(entry: &str, host: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in entry.bytes().chain([0u8]).chain(host.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// splitmix64's finisher: spreads FNV's low-entropy high bits over the whole word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The members ranked for `entry`, best first (pure rendezvous order, no loads): used
/// for who watches an entry's slots, where evenness does not matter.
pub fn ranked<'a>(entry: &str, hosts: &'a [String]) -> Vec<&'a str> {
    let mut scored: Vec<(u64, &str)> = hosts
        .iter()
        .map(|h| (weight(entry, h), h.as_str()))
        .collect();
    scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().map(|(_, h)| h).collect()
}

/// Who holds each entry: entry (job name) → its holders, best-ranked first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub holders: BTreeMap<String, Vec<String>>,
}

impl Placement {
    /// Whether `host` holds `entry`.
    pub fn holds(&self, entry: &str, host: &str) -> bool {
        self.holders
            .get(entry)
            .is_some_and(|h| h.iter().any(|x| x == host))
    }

    /// How many entries each member holds (members holding none included).
    pub fn loads<'a>(&self, hosts: &'a [String]) -> BTreeMap<&'a str, usize> {
        let mut loads: BTreeMap<&str, usize> = hosts.iter().map(|h| (h.as_str(), 0)).collect();
        for holders in self.holders.values() {
            for h in holders {
                if let Some(n) = loads.get_mut(h.as_str()) {
                    *n += 1;
                }
            }
        }
        loads
    }
}

/// Places every entry on `k` of `hosts` (all of them when there are fewer), each member
/// holding at most `slack × k × entries ÷ members` entries (rounded down, but at least
/// the mean rounded up). Duplicate entries or hosts count once. `k == 0` means every
/// member holds every entry (no placement).
pub fn assign(entries: &[String], hosts: &[String], k: usize, slack: f64) -> Placement {
    let mut hosts: Vec<String> = hosts.to_vec();
    hosts.sort();
    hosts.dedup();
    let mut order: Vec<(u64, &str)> = entries
        .iter()
        .map(|e| (mix(weight(e, "")), e.as_str()))
        .collect();
    order.sort_unstable();
    order.dedup_by(|a, b| a.1 == b.1);
    let mut placement = Placement::default();
    if hosts.is_empty() {
        return placement;
    }
    let k = if k == 0 {
        hosts.len()
    } else {
        k.min(hosts.len())
    };
    let total = (k * order.len()) as f64;
    // Rounded down, so the busiest member stays within `slack` × the mean, but never
    // below the mean rounded up, so every entry still finds its k holders.
    let mean = total / hosts.len() as f64;
    let cap = ((slack.max(1.0) * mean).floor() as usize)
        .max(mean.ceil() as usize)
        .max(1);
    let mut load = vec![0usize; hosts.len()];
    let mut scored: Vec<(u64, usize)> = Vec::with_capacity(hosts.len());
    for (_, entry) in order {
        scored.clear();
        scored.extend(hosts.iter().enumerate().map(|(i, h)| (weight(entry, h), i)));
        scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut chosen = Vec::with_capacity(k);
        for &(_, i) in &scored {
            if load[i] < cap {
                load[i] += 1;
                chosen.push(hosts[i].clone());
                if chosen.len() == k {
                    break;
                }
            }
        }
        placement.holders.insert(entry.to_string(), chosen);
    }
    placement
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn weights_are_fixed_and_spread() {
        // Fixed: the same on every platform and build (workers must agree).
        assert_eq!(weight("job", "host"), weight("job", "host"));
        assert_ne!(weight("job", "host1"), weight("job", "host2"));
        assert_ne!(weight("ab", "c"), weight("a", "bc"));
    }

    #[test]
    fn every_entry_gets_k_distinct_holders_and_loads_stay_bounded() {
        let (entries, hosts) = (names("job", 2000), names("w", 100));
        let p = assign(&entries, &hosts, 2, DEFAULT_SLACK);
        for holders in p.holders.values() {
            assert_eq!(holders.len(), 2);
            assert_ne!(holders[0], holders[1]);
        }
        let loads = p.loads(&hosts);
        let mean = 2.0 * 2000.0 / 100.0;
        let max = *loads.values().max().unwrap() as f64;
        assert!(max <= DEFAULT_SLACK * mean, "max {max}, mean {mean}");
    }

    #[test]
    fn loads_stay_within_the_slack_whatever_the_number_of_members() {
        let entries = names("job", 1000);
        for n in [97, 99, 100, 101, 103] {
            let hosts = names("w", n);
            let loads = assign(&entries, &hosts, 2, DEFAULT_SLACK).loads(&hosts);
            let mean = 2.0 * 1000.0 / n as f64;
            let max = *loads.values().max().unwrap() as f64;
            assert!(
                max <= DEFAULT_SLACK * mean,
                "{n} members: max {max}, mean {mean}"
            );
        }
    }

    #[test]
    fn listing_order_does_not_matter() {
        let (mut entries, mut hosts) = (names("job", 300), names("w", 17));
        let a = assign(&entries, &hosts, 2, DEFAULT_SLACK);
        entries.reverse();
        hosts.reverse();
        assert_eq!(a, assign(&entries, &hosts, 2, DEFAULT_SLACK));
    }

    #[test]
    fn a_leaving_member_moves_little_beyond_its_own_share() {
        let (entries, hosts) = (names("job", 5000), names("w", 50));
        let before = assign(&entries, &hosts, 2, DEFAULT_SLACK);
        let gone = "w7";
        let rest: Vec<String> = hosts.iter().filter(|h| *h != gone).cloned().collect();
        let after = assign(&entries, &rest, 2, DEFAULT_SLACK);
        let own = before
            .holders
            .values()
            .filter(|h| h.iter().any(|x| x == gone))
            .count();
        let moved = entries
            .iter()
            .filter(|e| {
                let b: Vec<&String> = before.holders[*e].iter().filter(|h| *h != gone).collect();
                b.iter().any(|h| !after.holds(e, h))
            })
            .count();
        // Entries that lost a live holder they had, beyond the departed member's own.
        assert!(moved * 4 <= own, "moved {moved} of others for {own} own");
    }

    #[test]
    fn few_members_or_none() {
        let entries = names("job", 3);
        assert!(assign(&entries, &[], 2, DEFAULT_SLACK).holders.is_empty());
        let one = assign(&entries, &names("w", 1), 2, DEFAULT_SLACK);
        assert!(one.holders.values().all(|h| h == &vec!["w0".to_string()]));
        let all = assign(&entries, &names("w", 4), 0, DEFAULT_SLACK);
        assert!(all.holders.values().all(|h| h.len() == 4));
        assert_eq!(ranked("job0", &names("w", 4)).len(), 4);
    }
}
