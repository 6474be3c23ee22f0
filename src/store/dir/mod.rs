//! The directory store: a root directory on local disk or NFS, shared by CI and workers.
//!
//! A key `a/b/c` is the file `<root>/a/b/c`. Writes go to a dot-named temp file and are
//! renamed into place; `create` hard-links a fully written temp file to the key, which is
//! atomic and exclusive on local disks and on NFS. The root holds a marker file written by
//! `init`; without it every operation refuses, because an unmounted NFS share looks like
//! an empty store and must never wipe a farm's crontabs. Writes look at the marker first;
//! reads look at it when they find nothing, and otherwise trust a marker seen less than
//! a second ago, so reading what exists costs no extra system call. A store this user
//! cannot read or write, one mounted read-only and a mount that went away are
//! unavailable as a whole (`faults`); any other file error is an error of one key.
//!
//! Every user of a farm writes here, so nothing below the root is followed: each key's
//! directories are opened (and made) one by one with `O_NOFOLLOW`, files are written,
//! linked and removed relative to them (`util::dirfd`), and pruning never descends
//! through a symlink. A symlink, directory or fifo where a key's file belongs is reported
//! and skipped for that key. `init` makes every area with the permissions a store shared
//! by several job users needs (`areas`); a missing or symlinked `bundles/` is
//! "unavailable", never "no projects".

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Created, Entry, Store, StoreError, Version, check_key};
use crate::util::dirfd::{self, Dir};

mod areas;
mod faults;
mod walk;

pub use areas::{AREA_MODE, Areas};

pub use super::MARKER;

/// How long reads that find what they look for trust a marker seen (a read that finds
/// nothing, and every write, looks at it again).
const MARKER_TRUSTED: Duration = Duration::from_secs(1);

/// A store in a directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
    /// When the marker was last seen (shared by clones).
    marked: Arc<Mutex<Option<Instant>>>,
}

impl DirStore {
    /// A store rooted at `root` (nothing is checked until it is used).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirStore {
            root: root.into(),
            marked: Arc::default(),
        }
    }

    /// [`Store::check`], unless the marker was seen less than [`MARKER_TRUSTED`] ago:
    /// for reads, which look again when they find nothing.
    pub(super) fn check_recent(&self) -> Result<(), StoreError> {
        let seen = *self.marked.lock().expect("marker time");
        if seen.is_some_and(|t| t.elapsed() < MARKER_TRUSTED) {
            return Ok(());
        }
        self.check()
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// `key`'s directory (relative to the root) and file name.
    fn split(key: &str) -> (PathBuf, OsString) {
        let p = Path::new(key);
        let parent = p.parent().unwrap_or(Path::new("")).to_path_buf();
        (parent, p.file_name().unwrap_or_default().to_os_string())
    }

    /// The directory holding `key`'s file, opened without following symlinks below the
    /// root; made (each new directory with its parent's mode) when `create`. `None` when
    /// it does not exist and `create` is off.
    fn parent_dir(&self, key: &str, create: bool) -> io::Result<Option<(Dir, OsString)>> {
        let (parent, name) = Self::split(key);
        let top = Dir::open(&self.root)?;
        match top.descend(&parent, create.then_some(AREA_MODE)) {
            Ok(d) => Ok(Some((d, name))),
            Err(e) if !create && e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens (making) `key`'s directory, then runs `write` in it. A concurrent
    /// [`Store::prune`] removes directories it finds empty, possibly between the two:
    /// such a failure ("not found") is retried (each retry means a pruner raced us; 64
    /// at most).
    fn write_with_parent<T>(
        &self,
        path: &Path,
        key: &str,
        op: &'static str,
        mut write: impl FnMut(&Dir, &OsStr) -> io::Result<T>,
    ) -> Result<T, StoreError> {
        let mut attempts = 0;
        loop {
            let result = self.parent_dir(key, true).and_then(|d| {
                let (dir, name) = d.expect("made");
                write(&dir, &name)
            });
            match result {
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 64 => {
                    attempts += 1;
                    std::thread::yield_now();
                }
                r => return r.map_err(|e| self.io(op, key, path, e)),
            }
        }
    }
}

impl Store for DirStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn stamp(&self, prefix: &str) -> Result<Option<Version>, StoreError> {
        use std::os::unix::fs::MetadataExt;
        let path = self.path(prefix)?;
        self.check_recent()?;
        let m = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.check()?;
                return Ok(Some(Version(0)));
            }
            Err(e) => return Err(self.io("stat", prefix, &path, e)),
        };
        let settled = m
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= crate::store::STAMP_SETTLE);
        let parts = [
            m.ino(),
            m.nlink(),
            m.size(),
            m.mtime() as u64,
            m.mtime_nsec() as u64,
            m.ctime() as u64,
            m.ctime_nsec() as u64,
        ];
        let digest = parts.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, p| {
            (h ^ p).wrapping_mul(0x100_0000_01b3)
        });
        Ok(settled.then_some(Version(digest)))
    }

    fn init(&self) -> Result<(), StoreError> {
        self.init_areas(&Areas::default())
    }

    fn check(&self) -> Result<(), StoreError> {
        match fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(StoreError::Unavailable {
                    location: self.location(),
                    reason: "not a directory".into(),
                    hint: faults::MOUNT_HINT.into(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Unmarked {
                    location: self.location(),
                    marker: MARKER.into(),
                });
            }
            Err(e) => return Err(self.unusable(&self.root, e)),
        }
        let marker = self.root.join(MARKER);
        match fs::metadata(&marker) {
            Ok(_) => {
                *self.marked.lock().expect("marker time") = Some(Instant::now());
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::Unmarked {
                location: self.location(),
                marker: MARKER.into(),
            }),
            Err(e) => Err(self.unusable(&marker, e)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.path(key)?;
        self.check_recent()?;
        let found = self.read(key)?;
        if found.is_none() {
            self.check()?;
        }
        Ok(found)
    }

    fn put(&self, key: &str, value: &[u8], _ttl: Option<Duration>) -> Result<(), StoreError> {
        let path = self.path(key)?;
        self.check()?;
        self.write_with_parent(&path, key, "write", |dir, name| {
            dir.atomic_write(name, value, FILE_MODE)
        })
    }

    fn create(
        &self,
        key: &str,
        value: &[u8],
        _ttl: Option<Duration>,
    ) -> Result<Created, StoreError> {
        let path = self.path(key)?;
        self.check()?;
        if self.write_with_parent(&path, key, "create", |dir, name| {
            dir.create_exclusive(name, value, FILE_MODE)
        })? {
            return Ok(Created::Created);
        }
        Ok(Created::Exists(self.read(key)?.unwrap_or_default()))
    }

    /// In a sticky area (a store shared without a group) a file of another user cannot
    /// be removed: it is left to its owner's own pruning and `Ok(false)` returned, so one
    /// such entry does not stop a prune of everything after it.
    fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path(key)?;
        self.check()?;
        let removed = self.parent_dir(key, false).and_then(|d| {
            let Some((dir, name)) = d else {
                return Ok(false);
            };
            match dir.remove(&name) {
                Err(e)
                    if e.raw_os_error() == Some(nix::libc::EPERM)
                        && areas::foreign_in_sticky(&dir, &name) =>
                {
                    tracing::debug!(
                        "{} belongs to another user in a sticky area: left to its owner",
                        path.display()
                    );
                    Ok(false)
                }
                r => r,
            }
        });
        removed.map_err(|e| self.io("delete", key, &path, e))
    }

    fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        self.walk(prefix, true, None)
    }

    fn list_range(&self, prefix: &str, depth: usize, from: &str) -> Result<Vec<Entry>, StoreError> {
        self.walk(prefix, true, Some((depth, from)))
    }

    /// One directory read: `prefix`'s own entries, dot-named ones left out.
    fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let base = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path(prefix)?
        };
        self.check_recent()?;
        match fs::symlink_metadata(&base) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.check()?;
                return self.missing_area(prefix, &base).map(|()| Vec::new());
            }
            Err(e) => return Err(self.io("list", prefix, &base, e)),
            Ok(m) if m.is_file() => return Ok(Vec::new()),
            Ok(m) if !m.is_dir() => return Err(self.odd_area(prefix, &base, &m)),
            Ok(_) => {}
        }
        let dir = fs::read_dir(&base).map_err(|e| self.io("list", prefix, &base, e))?;
        let mut out = Vec::new();
        for item in dir {
            let item = item.map_err(|e| self.io("list", prefix, &base, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .walk(prefix, false, None)?
            .into_iter()
            .map(|e| e.key)
            .collect())
    }

    fn prune(&self, prefix: &str, older_than: Duration) -> Result<usize, StoreError> {
        self.check()?;
        let base = self.path(prefix)?;
        let dir = match Dir::open(&self.root).and_then(|t| t.descend(Path::new(prefix), None)) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) if dirfd::is_refusal(&e) => {
                tracing::warn!("not pruning {}: {e}", base.display());
                return Ok(0);
            }
            Err(e) => return Err(self.io("prune", prefix, &base, e)),
        };
        Ok(areas::prune_in(&dir, older_than))
    }
}

/// Mode of every file the store writes: readable by every user of the store.
pub const FILE_MODE: u32 = 0o644;

#[cfg(test)]
mod tests;
