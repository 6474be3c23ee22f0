//! greasestatus's views of scheduled dispatch: the crontabs installed on this worker
//! (grouped by project, with each entry's next fire time), the bundles in the store, and
//! the next fire times of a schedule. The text views escape control characters in what
//! comes from the store or the cron dir ([`crate::util::escape`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::dispatch::bundle::{self, Bundle};
use crate::dispatch::crontab;
use crate::dispatch::error::DispatchError;
use crate::dispatch::project::Project;
use crate::dispatch::schedule::{Schedule, Zone, entry_zone};
use crate::dispatch::snatch;
use crate::store::{Store, StoreError};
use crate::util::escape::escape as esc;

/// One entry of an installed crontab.
#[derive(Debug, Clone, Serialize)]
pub struct EntryStatus {
    pub line: usize,
    pub schedule: String,
    pub user: String,
    pub command: String,
    /// The zone the schedule is evaluated in (`local` or a `CRON_TZ`).
    pub zone: String,
    /// RFC 3339; `None` for `@reboot` or a schedule that never fires.
    pub next: Option<String>,
}

/// One installed crontab file.
#[derive(Debug, Clone, Serialize)]
pub struct CrontabStatus {
    pub name: String,
    pub file: String,
    /// How the file compares with the store: `current` (it is what the project's bundle
    /// holds), `stale` (the bundle differs: greasesnatch has not run since the launch,
    /// or rejected the bundle), `orphan` (no bundle for the project), or `unknown` (the
    /// store could not be read).
    pub state: &'static str,
    pub entries: Vec<EntryStatus>,
}

/// Compares an installed file with what greasesnatch would install from `bundles`.
fn sync_state(
    bundles: Option<&BTreeMap<Project, Bundle>>,
    project: &Project,
    name: &str,
    text: &str,
) -> &'static str {
    let Some(bundles) = bundles else {
        return "unknown";
    };
    let Some(b) = bundles.get(project) else {
        return "orphan";
    };
    let current = b.crontabs.iter().any(|c| {
        c.name == name
            && snatch::installed_content(project, &c.name, &c.content)
                == snatch::uncomment_held(text)
    });
    if current { "current" } else { "stale" }
}

/// One project's installed crontabs, with what the store says about its bundle.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectStatus {
    pub group: String,
    pub artifact: String,
    pub revision: Option<String>,
    pub launched_at: Option<String>,
    pub launched_by: Option<String>,
    pub crontabs: Vec<CrontabStatus>,
}

fn rfc3339<Tz: chrono::TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads the installed scalegrease crontabs of `cron_dir` (files starting with
/// `<prefix>__`), grouped by project, each entry with its next fire time after `at`.
pub fn installed(
    cron_dir: &Path,
    prefix: &str,
    bundles: Option<&BTreeMap<Project, Bundle>>,
    at: DateTime<Utc>,
    host: Zone,
) -> Result<Vec<ProjectStatus>, DispatchError> {
    let own = format!("{}__", bundle::sanitize(prefix));
    let err = |op, source| DispatchError::CronDir {
        path: cron_dir.to_path_buf(),
        op,
        cause: source,
    };
    let mut names: Vec<String> = std::fs::read_dir(cron_dir)
        .map_err(|e| err("list it", e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&own))
        .collect();
    names.sort();
    let mut by_project: BTreeMap<Project, Vec<CrontabStatus>> = BTreeMap::new();
    for file in names {
        let text = match std::fs::read_to_string(cron_dir.join(&file)) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(err("read a file in it", e)),
        };
        let (project, name) = snatch::parse_header(&text).unwrap_or_else(|| {
            (
                Project {
                    group: "?".into(),
                    artifact: "?".into(),
                },
                file.clone(),
            )
        });
        let parsed = crontab::parse(&text);
        let entries = parsed
            .entries()
            .map(|e| {
                let zone = entry_zone(e.cron_tz.as_deref(), host);
                EntryStatus {
                    line: e.line,
                    schedule: e.when.text(),
                    user: e.user.clone(),
                    command: e.command.clone(),
                    zone: zone.name(),
                    next: Schedule::new(&e.when)
                        .next_after(at, zone)
                        .map(|t| rfc3339(&t)),
                }
            })
            .collect();
        let state = sync_state(bundles, &project, &name, &text);
        by_project.entry(project).or_default().push(CrontabStatus {
            name,
            file,
            state,
            entries,
        });
    }
    Ok(by_project
        .into_iter()
        .map(|(p, crontabs)| {
            let b = bundles.and_then(|m| m.get(&p));
            ProjectStatus {
                revision: b.and_then(|b| b.revision.clone()),
                launched_at: b.map(|b| b.launched_at.clone()),
                launched_by: b.map(|b| b.launched_by.clone()),
                group: p.group,
                artifact: p.artifact,
                crontabs,
            }
        })
        .collect())
}

/// A bundle as `greasestatus projects` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BundleStatus {
    pub key: String,
    pub group: Option<String>,
    pub artifact: Option<String>,
    pub crontabs: Option<usize>,
    pub revision: Option<String>,
    pub launched_at: Option<String>,
    pub launched_by: Option<String>,
    pub digest: Option<String>,
    /// Why the bundle would be rejected by greasesnatch (unreadable, digest mismatch).
    pub problem: Option<String>,
}

/// Reads every bundle in the store; unreadable ones are reported, not fatal.
pub fn bundles(store: &dyn Store) -> Result<Vec<BundleStatus>, StoreError> {
    Ok(store
        .list(crate::model::keys::BUNDLES)?
        .into_iter()
        .map(|e| match Bundle::decode(&e.key, &e.value) {
            Ok(b) => BundleStatus {
                key: e.key,
                group: Some(b.group_id),
                artifact: Some(b.artifact_id),
                crontabs: Some(b.crontabs.len()),
                revision: b.revision,
                launched_at: Some(b.launched_at),
                launched_by: Some(b.launched_by),
                digest: Some(b.digest),
                problem: None,
            },
            Err(why) => {
                let p = bundle::project_of_key(&e.key);
                BundleStatus {
                    key: e.key,
                    group: p.as_ref().map(|p| p.group.clone()),
                    artifact: p.map(|p| p.artifact),
                    crontabs: None,
                    revision: None,
                    launched_at: None,
                    launched_by: None,
                    digest: None,
                    problem: Some(why),
                }
            }
        })
        .collect())
}

/// The valid bundles by project (for [`installed`]).
pub fn bundle_map(store: &dyn Store) -> Result<BTreeMap<Project, Bundle>, StoreError> {
    Ok(store
        .list(crate::model::keys::BUNDLES)?
        .into_iter()
        .filter_map(|e| Bundle::decode(&e.key, &e.value).ok())
        .map(|b| (b.project(), b))
        .collect())
}

/// A field from the store or the cron dir, `-` when absent, control characters escaped.
fn or_dash(v: &Option<String>) -> Cow<'_, str> {
    esc(v.as_deref().unwrap_or("-"))
}

/// The default view as text.
pub fn print_installed(out: &mut dyn Write, projects: &[ProjectStatus]) -> io::Result<()> {
    if projects.is_empty() {
        writeln!(out, "no scalegrease crontabs installed")?;
    }
    for p in projects {
        writeln!(
            out,
            "{}:{}  revision {}  launched {} by {}",
            p.group,
            p.artifact,
            or_dash(&p.revision),
            or_dash(&p.launched_at),
            or_dash(&p.launched_by)
        )?;
        for c in &p.crontabs {
            let note = match c.state {
                "stale" => {
                    "  [stale: the store's bundle differs; greasesnatch has not installed it]"
                }
                "orphan" => "  [orphan: no bundle in the store; greasesnatch will remove it]",
                _ => "",
            };
            writeln!(out, "  {} ({}){note}", esc(&c.name), esc(&c.file))?;
            for e in &c.entries {
                writeln!(
                    out,
                    "    next {:<25}  {}  {}  {}",
                    e.next.as_deref().unwrap_or("never"),
                    esc(&e.schedule),
                    esc(&e.user),
                    esc(&e.command)
                )?;
            }
        }
    }
    Ok(())
}

/// `greasestatus projects` as text.
pub fn print_bundles(out: &mut dyn Write, bundles: &[BundleStatus]) -> io::Result<()> {
    if bundles.is_empty() {
        writeln!(out, "no bundles in the store")?;
    }
    for b in bundles {
        match &b.problem {
            None => writeln!(
                out,
                "{}:{}  {} crontab(s)  revision {}  launched {} by {}",
                or_dash(&b.group),
                or_dash(&b.artifact),
                b.crontabs.unwrap_or(0),
                or_dash(&b.revision),
                or_dash(&b.launched_at),
                or_dash(&b.launched_by)
            )?,
            Some(why) => writeln!(out, "{}  INVALID: {}", esc(&b.key), esc(why))?,
        }
    }
    Ok(())
}

/// The next `count` fire times of a schedule (`5 fields` or an `@` nickname).
pub fn next_times(
    expr: &str,
    count: usize,
    at: DateTime<Utc>,
    zone: Zone,
) -> Result<Vec<String>, DispatchError> {
    let s = Schedule::parse_firing(expr).map_err(|why| DispatchError::Schedule {
        expr: expr.to_string(),
        why,
    })?;
    Ok(s.upcoming(at, zone, count).iter().map(rfc3339).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_view_escapes_store_fields() {
        let b = BundleStatus {
            key: "bundles/x".into(),
            group: Some("com.ex".into()),
            artifact: Some("jobs\u{1b}[2J".into()),
            crontabs: Some(1),
            revision: Some("r\nFAKE".into()),
            launched_at: None,
            launched_by: Some("ci\u{9b}31m".into()),
            digest: None,
            problem: None,
        };
        let mut out = Vec::new();
        print_bundles(&mut out, &[b]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "com.ex:jobs\\u{1b}[2J  1 crontab(s)  revision r\\nFAKE  launched - by ci\\u{9b}31m\n"
        );
    }

    #[test]
    fn installed_text_view() {
        let entry = |schedule: &str, next: Option<&str>| EntryStatus {
            line: 2,
            schedule: schedule.into(),
            user: "batch".into(),
            command: "greaserun --runner shell /opt/x.sh".into(),
            zone: "Europe/Stockholm".into(),
            next: next.map(String::from),
        };
        let p = ProjectStatus {
            group: "com.example".into(),
            artifact: "jobs".into(),
            revision: Some("3f2a9c1".into()),
            launched_at: Some("2026-11-23T06:00:00Z".into()),
            launched_by: Some("ci@build1".into()),
            crontabs: vec![
                CrontabStatus {
                    name: "nightly.cron".into(),
                    file: "scalegrease__com_example__jobs__nightly_cron".into(),
                    state: "current",
                    entries: vec![
                        entry("30 2 * * *", Some("2026-11-24T02:30:00+01:00")),
                        entry("@reboot", None),
                    ],
                },
                CrontabStatus {
                    name: "old.cron".into(),
                    file: "scalegrease__com_example__jobs__old_cron".into(),
                    state: "stale",
                    entries: vec![entry("@hourly", Some("2026-11-23T08:00:00+01:00"))],
                },
            ],
        };
        let mut out = Vec::new();
        print_installed(&mut out, &[p]).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn next_in_a_zone() {
        let z = Zone::named("Europe/Stockholm").unwrap();
        let at = "2026-03-28T23:00:00Z".parse().unwrap();
        assert_eq!(
            next_times("30 2 * * *", 2, at, z).unwrap(),
            ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]
        );
        assert!(next_times("61 * * * *", 1, at, z).is_err());
        assert!(next_times("@reboot", 3, at, z).unwrap().is_empty());
    }
}
