//! The directory store's areas and their permissions, so several job users can share one
//! store: `bundles/` is written by CI (greaselaunch) only, mode 0755; `claims/`, `runs/`,
//! `tails/`, `heartbeats/`, `declines/` and `maintenance/` are written by every job user:
//! with a group, owned by it, mode 2775 (setgid: everything made below belongs to the
//! group); without one, mode 1777 (world-writable, sticky: a user can remove only their
//! own files, never another user's claim). A directory made later below an area gets its
//! parent's mode (`util::dirfd::Dir::descend`), files are 0644.
//!
//! Also here: the checks that a missing or symlinked area a worker relies on is
//! "unavailable", never "empty", and pruning that never descends through a symlink.

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use nix::unistd::Gid;

use super::{DirStore, MARKER};
use crate::model::keys;
use crate::store::{Store, StoreError};
use crate::util::dirfd::{Dir, Kind};

/// Mode of an area made outside `init` (an older store), as `mkdir -p` made them.
pub const AREA_MODE: u32 = 0o755;
/// Mode of `bundles/`: CI writes, workers read.
const BUNDLES_MODE: u32 = 0o755;
/// Mode of the shared areas with a group (setgid, group-writable).
const GROUP_MODE: u32 = 0o2775;
/// Mode of the shared areas without a group (sticky, world-writable).
const STICKY_MODE: u32 = 0o1777;

/// The areas every job user writes (the farm queue's too: a job's greaserun writes its
/// request's state and ends its take).
pub const SHARED: [&str; 14] = [
    keys::CLAIMS,
    keys::RUNS,
    keys::TAILS,
    keys::HEARTBEATS,
    keys::DECLINES,
    keys::MAINTENANCE,
    keys::REQUESTS,
    keys::QUEUE,
    keys::TAKEN,
    keys::BATCHES,
    keys::STATES,
    keys::ATTEMPTS,
    keys::CANCELS,
    keys::LIVE,
];

/// How `init` makes the shared areas.
#[derive(Debug, Clone, Default)]
pub struct Areas {
    /// The group of every job user (`--group` / `store.group`); `None`: sticky 1777.
    pub group: Option<Gid>,
}

impl DirStore {
    /// Makes the store: the root, every area with its permissions (areas that exist keep
    /// theirs), then the marker. Safe to run again on an existing store: it adds what is
    /// missing.
    pub fn init_areas(&self, areas: &Areas) -> Result<(), StoreError> {
        let root = &self.root;
        std::fs::create_dir_all(root).map_err(|e| self.io("create", "root", root, e))?;
        let top = Dir::open(root).map_err(|e| self.io("open", "root", root, e))?;
        let shared = match areas.group {
            Some(_) => GROUP_MODE,
            None => STICKY_MODE,
        };
        let all = std::iter::once((keys::BUNDLES, BUNDLES_MODE, None))
            .chain(SHARED.iter().map(|a| (*a, shared, areas.group)));
        for (area, mode, group) in all {
            let path = root.join(area);
            let made = (|| {
                let existed = top.kind(area.as_ref())?.is_some();
                let dir = top.descend(Path::new(area), Some(mode))?;
                if !existed {
                    dir.set_owner_and_mode(group, mode)?;
                }
                Ok::<_, io::Error>(())
            })();
            made.map_err(|e| self.io("create area", area, &path, e))?;
        }
        let marker = root.join(MARKER);
        if top.kind(MARKER.as_ref()).ok().flatten().is_some() {
            return Ok(());
        }
        let body = serde_json::json!({
            "scalegrease_store": 1,
            "created": chrono::Utc::now().to_rfc3339(),
        });
        top.create_exclusive(MARKER.as_ref(), body.to_string().as_bytes(), 0o644)
            .map_err(|e| self.io("write marker", MARKER, &marker, e))?;
        Ok(())
    }

    /// `prefix` does not exist: fine for an area that fills up as jobs run, but
    /// `bundles/` missing means a moved, damaged or half-mounted store, not "no projects".
    pub(super) fn missing_area(&self, prefix: &str, path: &Path) -> Result<(), StoreError> {
        if prefix != keys::BUNDLES {
            return Ok(());
        }
        Err(StoreError::Unavailable {
            location: self.location(),
            reason: format!("{} is missing", path.display()),
            hint: "a store made by `greaselaunch --init-store` always has it: check that the store is mounted and whole, or run `greaselaunch --init-store` again".into(),
        })
    }

    /// `prefix` is neither a file nor a directory (a symlink, a fifo): never followed.
    pub(super) fn odd_area(&self, prefix: &str, path: &Path, m: &std::fs::Metadata) -> StoreError {
        let what = if m.file_type().is_symlink() {
            "a symlink"
        } else {
            "not a directory"
        };
        StoreError::Unavailable {
            location: self.location(),
            reason: format!("{} ({prefix}) is {what}; not followed", path.display()),
            hint: "replace it with the directory itself".into(),
        }
    }
}

/// Whether `name` in `dir` is another user's file in a sticky directory (which this user
/// may not remove).
pub(super) fn foreign_in_sticky(dir: &Dir, name: &std::ffi::OsStr) -> bool {
    let sticky = dir.mode().is_ok_and(|m| m & 0o1000 != 0);
    let me = nix::unistd::Uid::effective().as_raw();
    sticky
        && dir
            .stat(name)
            .ok()
            .flatten()
            .is_some_and(|s| s.st_uid != me)
}

/// Removes the files under `dir` older than `older_than` and then the directories left
/// empty, relative to each opened directory: a symlink is removed itself (when old),
/// never followed; a directory is opened with `O_NOFOLLOW`. Failures (a file of another
/// user in a sticky area, a directory still in use) are skipped. Returns how many files
/// went.
pub(super) fn prune_in(dir: &Dir, older_than: Duration) -> usize {
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    prune_below(dir, cutoff)
}

fn prune_below(dir: &Dir, cutoff: Duration) -> usize {
    let mut removed = 0;
    for name in dir.names().unwrap_or_default() {
        let Ok(Some(st)) = dir.stat(&name) else {
            continue;
        };
        if Kind::of_stat(&st) == Kind::Dir {
            if let Ok(sub) = dir.sub(&name) {
                removed += prune_below(&sub, cutoff);
                // Fails (and is ignored) on a directory still in use.
                let _ = dir.remove_dir(&name);
            }
            continue;
        }
        let mtime = Duration::new(st.st_mtime.max(0) as u64, st.st_mtime_nsec as u32);
        if mtime < cutoff && dir.remove(&name).is_ok() {
            removed += 1;
        }
    }
    removed
}
