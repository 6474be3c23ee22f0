//! greasesnatch's work: make the cron directory hold exactly the crontabs of the bundles
//! in the store, trusting nothing in the store.
//!
//! 1. Take an exclusive lock (`<cron dir>/.<prefix>.lock`; a dot name cron ignores),
//!    opened with `O_NOFOLLOW`: a symlink planted there is refused (exit 74).
//! 2. Read all bundles. A store that is unreachable, unmarked or unreadable stops here:
//!    nothing in the cron directory changes.
//! 3. Per bundle: check the digest (and, with `launch.trusted_keys`, the signature and
//!    that it is not older than the installed one: [`super::verify`]), validate every
//!    line again, and apply the worker's run-as (by uid) and content policy (`users`,
//!    `crontab::policy`).
//!    A bundle that fails any check is rejected as a whole and its project's installed
//!    files stay as they are. Two projects that would install under the same names are
//!    both rejected.
//! 4. Install one file per crontab, `<prefix>__<group>__<artifact>__<name>` (characters
//!    outside `[A-Za-z0-9_-]` become `_`), mode 0644, written to a dot-named temp file,
//!    fsynced and renamed; an unchanged file is not written (cron re-reads on mtime).
//!    Files with the prefix whose project is no longer in the store are removed. Files
//!    without the prefix are never touched. Every file is handled relative to the opened
//!    cron directory without following symlinks (`util::dirfd`); a directory, symlink or
//!    fifo at an installed file's name is reported and left alone for that file only.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::Path;

mod accept;
mod installed;
mod options;
pub mod place;
pub mod skip;
mod summary;
mod users;

use accept::accept;
pub use installed::{header, installed_content, parse_header};
pub use options::{SnatchOptions, lock_path};
pub use place::{PlacementOptions, uncomment_held};
pub use summary::{Outcome, Summary};
pub use users::UserCheck;

use super::bundle::{self, Bundle};
use super::error::DispatchError;
use super::verify;
use crate::store::{Store, Version};
use crate::util::dirfd::{self, Dir};

/// Mode of installed files: root-owned, not group- or other-writable, no execute bit.
pub const MODE: u32 = 0o644;

fn cron_err(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> DispatchError {
    let path = path.to_path_buf();
    move |source| DispatchError::CronDir {
        path,
        op,
        cause: source,
    }
}

/// Runs greasesnatch once. The plan (with `dry_run`) and the reasons for rejections go to
/// `out`; the caller prints the summary. With nothing changed since the last full round
/// it reads no bundle ([`skip`]).
pub fn snatch(
    store: &dyn Store,
    opts: &SnatchOptions,
    out: &mut dyn Write,
) -> Result<Outcome, DispatchError> {
    round(store, opts, out, false).map(|r| r.outcome)
}

/// A full [`snatch`] (bundles always read), also returning the [`Version`] of the
/// bundles it read (`None` when busy), so `--watch` can wait for the next change from
/// exactly there.
pub fn snatch_versioned(
    store: &dyn Store,
    opts: &SnatchOptions,
    out: &mut dyn Write,
) -> Result<(Outcome, Option<Version>), DispatchError> {
    round(store, opts, out, true).map(|r| (r.outcome, r.version))
}

/// What one round did, read and placed by.
#[derive(Debug)]
pub struct Round {
    pub outcome: Outcome,
    /// The bundles' listing version (`None`: busy, or no bundle read).
    pub version: Option<Version>,
    /// The live members placed by (`None`: busy, or no placement).
    pub members: Option<Vec<String>>,
    /// The bundles' [`Store::stamp`] taken before reading them (`None`: none trusted).
    pub stamp: Option<Version>,
}

/// One round: with `full`, the bundles are read even when nothing changed.
pub fn round(
    store: &dyn Store,
    opts: &SnatchOptions,
    out: &mut dyn Write,
    full: bool,
) -> Result<Round, DispatchError> {
    let dir = &opts.cron_dir;
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(cron_err(dir, "use it")(std::io::Error::other(
                "not a directory",
            )));
        }
        Err(e) => return Err(cron_err(dir, "open it")(e)),
    }
    let cron = Dir::open(dir).map_err(cron_err(dir, "open it"))?;
    let _lock = if opts.dry_run {
        None
    } else {
        let path = lock_path(opts);
        // O_NOFOLLOW: a symlink planted here is refused, its target never written.
        let f = cron
            .lock_file(path.file_name().unwrap_or_default(), 0o600)
            .map_err(cron_err(&path, "open the lock file"))?;
        if opts.wait {
            f.lock().map_err(cron_err(&path, "lock"))?;
        } else {
            match f.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    return Ok(Round {
                        outcome: Outcome::Busy(path),
                        version: None,
                        members: None,
                        stamp: None,
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(cron_err(&path, "lock")(e)),
            }
        }
        Some(f)
    };
    // Everything is read and decided before the first change.
    let members = match &opts.placement {
        Some(p) if p.replicas > 0 => Some(place::join(store, p, opts.dry_run)?),
        _ => None,
    };
    let stamp = store.stamp(crate::model::keys::BUNDLES)?;
    let basis = stamp.map(|stamp| skip::Basis::new(stamp, members.as_deref(), opts));
    if let Some(b) = basis.as_ref().filter(|_| !full && !opts.dry_run)
        && let Some(unchanged) = skip::unchanged(opts, b)
    {
        let summary = Summary {
            unchanged,
            ..Summary::default()
        };
        let (outcome, version) = (Outcome::Done(summary), None);
        return Ok(Round {
            outcome,
            version,
            members,
            stamp,
        });
    }
    let (entries, version) = store.list_versioned(crate::model::keys::BUNDLES)?;
    let mut texts: Vec<String> = Vec::new();
    let mut summary = Summary::default();
    let mut desired: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut keep_prefixes: BTreeSet<String> = BTreeSet::new();
    let mut users = UserCheck::new(opts);
    // The replay state matters only with trusted keys: read (through the opened cron dir,
    // so a symlink at its name is not followed) and written only then.
    let authenticated = !opts.trusted_keys.is_empty();
    let state_path = verify::state_path(dir, &opts.prefix);
    let state_name = state_path.file_name().expect("a file name");
    let state_text = match authenticated {
        true => cron.read(state_name).ok().flatten().unwrap_or_default(),
        false => Vec::new(),
    };
    let mut state = verify::State::parse(&String::from_utf8_lossy(&state_text));
    let (mut accepted, mut bundles) = (Vec::new(), Vec::<Bundle>::new());
    for entry in &entries {
        let fallback = bundle::project_of_key(&entry.key);
        let label = fallback
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_else(|| entry.key.clone());
        let decoded = Bundle::decode(&entry.key, &entry.value);
        if let Ok(b) = &decoded {
            texts.extend(b.crontabs.iter().map(|c| c.content.clone()));
        }
        let files = decoded
            .and_then(|b| verify::check(&b, &opts.trusted_keys, &state).map(|()| b))
            .and_then(|b| Ok((accept(&b, opts, &mut users)?, b)));
        match files {
            Ok((files, b)) => {
                accepted.push((b.project(), files));
                bundles.push(b);
            }
            Err(why) => {
                if let Some(p) = &fallback {
                    keep_prefixes.insert(bundle::installed_prefix(&opts.prefix, p));
                }
                summary.rejected.push((label, why));
            }
        }
    }
    for (p, why) in verify::take_collisions(&opts.prefix, &mut accepted) {
        keep_prefixes.insert(bundle::installed_prefix(&opts.prefix, &p));
        summary.rejected.push((p.to_string(), why));
    }
    // With trusted keys, only a signed bundle speaks for a project: one whose bundle is
    // gone from the store keeps its files (remove a project with a signed empty bundle).
    let mut signed_for: BTreeSet<String> = BTreeSet::new();
    let by_project: BTreeMap<String, &Bundle> = bundles
        .iter()
        .map(|b| (b.project().to_string(), b))
        .collect();
    for (p, files) in accepted {
        signed_for.insert(bundle::installed_prefix(&opts.prefix, &p));
        if authenticated && let Some(b) = by_project.get(&p.to_string()) {
            state.record(b);
        }
        desired.extend(files);
    }
    if let (Some(p), Some(hosts)) = (&opts.placement, &members) {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        place::apply(&mut desired, &place::place(&texts, hosts, p), p);
    }
    let own = format!("{}__", bundle::sanitize(&opts.prefix));
    let own_temp = format!(".{own}");
    let mut existing = BTreeSet::new();
    let mut temps = Vec::new();
    for item in fs::read_dir(dir).map_err(cron_err(dir, "list it"))? {
        let item = item.map_err(cron_err(dir, "list it"))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with(&own) {
            existing.insert(name);
        } else if name.starts_with(&own_temp) && name.contains(".tmp-") {
            temps.push(name);
        }
    }
    let root = crate::util::host::is_root();
    let mut writes = Vec::new();
    let mut skipped = BTreeSet::new();
    for (name, content) in &desired {
        if !existing.contains(name) {
            writes.push((name, content, "install"));
            continue;
        }
        let stat = cron
            .stat(OsStr::new(name))
            .map_err(cron_err(&dir.join(name), "inspect"))?;
        if let Some(kind) = stat.as_ref().map(dirfd::Kind::of_stat)
            && kind != dirfd::Kind::File
        {
            warn_skip(&dir.join(name), kind);
            skipped.insert(name.clone());
            continue;
        }
        let same = stat.is_some_and(|m| {
            m.st_size == content.len() as i64
                && m.st_mode & 0o7777 == MODE
                && (!root || (m.st_uid == 0 && m.st_gid == 0))
        }) && cron.read(OsStr::new(name)).ok().flatten().as_deref()
            == Some(content.as_slice());
        if same {
            summary.unchanged += 1;
        } else {
            writes.push((name, content, "update"));
        }
    }
    let mut unsigned_gone: BTreeSet<&str> = BTreeSet::new();
    let removes: Vec<&String> = existing
        .iter()
        .filter(|n| {
            let orphan = authenticated && !has_prefix_in(n, &signed_for);
            if orphan && !desired.contains_key(*n) {
                unsigned_gone.insert(n.rsplit_once("__").map_or(n.as_str(), |(p, _)| p));
            }
            !desired.contains_key(*n)
                && !has_prefix_in(n, &keep_prefixes)
                && !skipped.contains(*n)
                && !orphan
        })
        .collect();
    let clean = summary.rejected.is_empty() && skipped.is_empty() && unsigned_gone.is_empty();
    for gone in unsigned_gone {
        tracing::warn!(
            "{}: no signed bundle in the store for the project of {gone}__*; its installed files are kept (with launch.trusted_keys a project is removed by a signed empty bundle: greaselaunch --allow-empty --signing-key)",
            dir.display()
        );
    }
    for (project, why) in &summary.rejected {
        let _ = writeln!(
            out,
            "rejected {project}: {why}; its installed files are kept"
        );
    }
    for (name, content, action) in &writes {
        if opts.dry_run {
            let _ = writeln!(out, "would {action} {}", dir.join(name).display());
        } else {
            let path = dir.join(name);
            match cron.atomic_write(OsStr::new(name), content, MODE) {
                Ok(()) => {}
                Err(e) => match cron.kind(OsStr::new(name.as_str())) {
                    Ok(Some(kind)) if kind != dirfd::Kind::File => {
                        warn_skip(&path, kind);
                        continue;
                    }
                    _ => return Err(cron_err(&path, "write")(e)),
                },
            }
        }
        match *action {
            "install" => summary.installed += 1,
            _ => summary.updated += 1,
        }
    }
    for name in &removes {
        let path = dir.join(name);
        if opts.dry_run {
            let _ = writeln!(out, "would remove {}", path.display());
        } else {
            match cron.kind(OsStr::new(name.as_str())) {
                Ok(Some(kind)) if kind == dirfd::Kind::Dir => {
                    warn_skip(&path, kind);
                    continue;
                }
                _ => {}
            }
            // unlinkat: a symlink is removed itself, never its target.
            cron.remove(OsStr::new(name.as_str()))
                .map_err(cron_err(&path, "remove"))?;
        }
        summary.removed += 1;
    }
    if !opts.dry_run && authenticated {
        let text = state.render();
        if state_text != text.as_bytes() {
            cron.atomic_write(state_name, text.as_bytes(), MODE)
                .map_err(cron_err(&state_path, "write"))?;
        }
    }
    if !opts.dry_run {
        for t in temps {
            let _ = cron.remove(OsStr::new(&t));
        }
        match basis.filter(|_| clean) {
            Some(b) => skip::record(opts, &b),
            None => skip::forget(opts),
        }
    }
    Ok(Round {
        outcome: Outcome::Done(summary),
        version: Some(version),
        members,
        stamp,
    })
}

/// Reports `kind` found at the installed file `path`: that file is left as it is this
/// round (never followed, never removed), the other files and projects go on.
fn warn_skip(path: &Path, kind: dirfd::Kind) {
    tracing::warn!(
        "{} is {}, not a regular file: left alone, not followed; remove it so greasesnatch can install there",
        path.display(),
        kind.describe()
    );
}

/// Whether an installed file `name` starts with one of the project prefixes in `set`
/// (`<prefix>__<group>__<artifact>__`): each `__` in the name ends a candidate, looked up
/// in the set, so the check costs the name's length, not the number of projects.
fn has_prefix_in(name: &str, set: &BTreeSet<String>) -> bool {
    name.match_indices("__")
        .any(|(i, _)| set.contains(&name[..i + 2]))
}
