//! Finding the published greaserun entry a `greasedispatch JOB` means, from the bundles
//! in the store (what greaselaunch published; greasesnatch installs the same text on
//! every worker). Each entry is parsed with [`crate::farm::entry`], so its job name is
//! the one greaserun computes. A query is matched as `greasestatus runs` matches jobs:
//! the exact job name first, else the one name that contains it. Two entries with the
//! same job name (two lines, or two projects) are ambiguous: a request names a job, and
//! the worker must know which command that is. An entry that is not a plain greaserun
//! command is found by the query appearing in its command, and refused with why.

use std::collections::{BTreeMap, BTreeSet};

use crate::debugging::status::bundle_map;
use crate::dispatch::bundle::Bundle;
use crate::dispatch::crontab;
use crate::dispatch::project::Project;
use crate::farm::entry::{GreaserunEntry, entries};
use crate::farm::error::FarmError;
use crate::store::Store;
use crate::util::escape::escape;

/// A published greaserun entry and where it is.
#[derive(Debug, Clone)]
pub struct Published {
    pub entry: GreaserunEntry,
    pub project: Project,
    /// The crontab file's name in the bundle (e.g. `nightly.cron`).
    pub crontab: String,
    /// When the bundle was published (its `launched_at`), if it reads as RFC 3339.
    pub launched_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Published {
    /// Where the entry is: `<group:artifact> <file>:<line>`.
    pub fn place(&self) -> String {
        place(&self.project, &self.crontab, self.entry.line)
    }
}

fn place(project: &Project, crontab: &str, line: usize) -> String {
    format!("{project} {}:{line}", escape(crontab))
}

/// An entry of a bundle that is not a greaserun entry: where it is, its command and why.
#[derive(Debug, Clone)]
pub struct Unpublishable {
    pub place: String,
    pub command: String,
    pub why: String,
}

/// Every entry of every valid bundle in the store, split into greaserun entries and the
/// others (unreadable bundles are skipped, as greasesnatch rejects them).
pub fn all(store: &dyn Store) -> Result<(Vec<Published>, Vec<Unpublishable>), FarmError> {
    Ok(of_bundles(&bundle_map(store)?))
}

/// [`all`] over bundles already read (a bundle map, as `bundle_map` returns it).
pub fn of_bundles(bundles: &BTreeMap<Project, Bundle>) -> (Vec<Published>, Vec<Unpublishable>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (project, bundle) in bundles {
        let launched_at = chrono::DateTime::parse_from_rfc3339(&bundle.launched_at)
            .ok()
            .map(|t| t.to_utc());
        for file in &bundle.crontabs {
            let parsed = crontab::parse(&file.content);
            for (raw, e) in parsed.entries().zip(entries(&parsed)) {
                match e {
                    Ok(entry) => ok.push(Published {
                        entry,
                        project: project.clone(),
                        crontab: file.name.clone(),
                        launched_at,
                    }),
                    Err((line, why)) => bad.push(Unpublishable {
                        place: place(project, &file.name, line),
                        command: raw.command.clone(),
                        why,
                    }),
                }
            }
        }
    }
    (ok, bad)
}

/// The one published greaserun entry `query` names: the entry whose job name is
/// `query`, else the one whose job name contains it. Errors: no match
/// ([`FarmError::UnknownJob`], naming up to 10 published jobs), several
/// ([`FarmError::Ambiguous`], each with its place), or only a non-greaserun entry whose
/// command mentions `query` ([`FarmError::NotGreaserun`], with why).
pub fn find(store: &dyn Store, query: &str) -> Result<Published, FarmError> {
    let (ok, bad) = all(store)?;
    let exact: Vec<&Published> = ok.iter().filter(|p| p.entry.job == query).collect();
    let hits = if exact.is_empty() {
        ok.iter().filter(|p| p.entry.job.contains(query)).collect()
    } else {
        exact
    };
    match hits.as_slice() {
        [one] => return Ok((*one).clone()),
        [] => {}
        many => {
            return Err(FarmError::Ambiguous {
                query: query.to_string(),
                candidates: many
                    .iter()
                    .map(|p| format!("{} (at {})", escape(&p.entry.job), p.place()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    if let Some(b) = bad.iter().find(|b| b.command.contains(query)) {
        let others = bad.iter().filter(|b| b.command.contains(query)).count() - 1;
        let place = match others {
            0 => format!("the entry at {}", b.place),
            n => format!("the entry at {} (and {n} more)", b.place),
        };
        return Err(FarmError::NotGreaserun {
            query: query.to_string(),
            place,
            why: b.why.clone(),
        });
    }
    let names: BTreeSet<&str> = ok.iter().map(|p| p.entry.job.as_str()).collect();
    let list = |it: &mut dyn Iterator<Item = &&str>| {
        it.map(|s| escape(s).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(FarmError::UnknownJob {
        query: query.to_string(),
        known: match names.len() {
            0 => {
                "no greaserun entry is published in the store (greaselaunch publishes them)".into()
            }
            n if n <= 10 => format!("published: {}", list(&mut names.iter())),
            n => format!(
                "published: {} and {} more",
                list(&mut names.iter().take(10)),
                n - 10
            ),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::bundle::{Bundle, CrontabFile, key_for};

    fn publish(store: &dyn Store, group: &str, files: &[(&str, &str)]) {
        let p = Project {
            group: group.into(),
            artifact: "jobs".into(),
        };
        let b = Bundle::new(
            &p,
            files
                .iter()
                .map(|(n, c)| CrontabFile {
                    name: n.to_string(),
                    content: c.to_string(),
                })
                .collect(),
            "2026-11-30T00:00:00Z".into(),
            "ci@b".into(),
            None,
        );
        store.put(&key_for(&p), &b.encode(), None).unwrap();
    }

    #[test]
    fn exact_then_unique_part_else_candidates() {
        let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
        publish(
            &*store,
            "g",
            &[(
                "a.cron",
                "0 3 * * * u greaserun --job nightly-etl -r shell g:a\n\
                 0 4 * * * u greaserun --job nightly -r shell g:a\n\
                 0 5 * * * u greaserun --job hourly-x -r shell g:a | tee /tmp/x\n",
            )],
        );
        assert_eq!(find(&*store, "nightly").unwrap().entry.job, "nightly");
        let p = find(&*store, "etl").unwrap();
        assert_eq!(
            (p.entry.job.as_str(), p.place()),
            ("nightly-etl", "g:jobs a.cron:1".into())
        );
        let e = find(&*store, "night").unwrap_err();
        assert!(matches!(e, FarmError::Ambiguous { .. }), "{e}");
        let e = find(&*store, "hourly").unwrap_err().to_string();
        assert!(e.contains("a.cron:3") && e.contains("`|`"), "{e}");
        let e = find(&*store, "weekly").unwrap_err().to_string();
        assert!(e.contains("published: nightly, nightly-etl"), "{e}");
        publish(
            &*store,
            "h",
            &[(
                "b.cron",
                "0 1 * * * v greaserun --job nightly -r shell h:b\n",
            )],
        );
        let e = find(&*store, "nightly").unwrap_err().to_string();
        assert!(
            e.contains("g:jobs a.cron:2") && e.contains("h:jobs b.cron:1"),
            "{e}"
        );
    }
}
