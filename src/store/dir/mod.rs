//! The directory store: a root directory on local disk or NFS, shared by CI and workers.
//!
//! A key `a/b/c` is the file `<root>/a/b/c`. Writes go to a dot-named temp file and are
//! renamed into place; `create` hard-links a fully written temp file to the key, which is
//! atomic and exclusive on local disks and on NFS. The root holds a marker file written by
//! `init`; without it every operation refuses, because an unmounted NFS share looks like
//! an empty store and must never wipe a farm's crontabs. A store this user cannot read or
//! write, one mounted read-only and a mount that went away are unavailable as a whole
//! (`faults`); any other file error is an error of one key.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Created, Entry, Store, StoreError, check_key};
use crate::util::fs as ufs;

mod faults;

/// The marker file's name in the store root.
pub const MARKER: &str = ".scalegrease-store";

/// A store in a directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store rooted at `root` (nothing is checked until it is used).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Makes `path`'s parent, then runs `write`. A concurrent [`Store::prune`] removes
    /// directories it finds empty, possibly between the two or during the first (which
    /// then fails with "exists" for a directory already gone): such a failure is retried
    /// (each retry means a pruner raced us; 64 at most).
    fn write_with_parent<T>(
        &self,
        path: &Path,
        key: &str,
        op: &'static str,
        mut write: impl FnMut() -> io::Result<T>,
    ) -> Result<T, StoreError> {
        const MKDIR: &str = "create directory for";
        let raced = |op: &str, e: &io::Error| match e.kind() {
            io::ErrorKind::NotFound => true,
            io::ErrorKind::AlreadyExists => op == MKDIR,
            _ => false,
        };
        let mut attempts = 0;
        loop {
            let parent = path.parent().map_or(Ok(()), fs::create_dir_all);
            let result = match parent {
                Ok(()) => write().map_err(|e| (op, e)),
                Err(e) => Err((MKDIR, e)),
            };
            match result {
                Err((op, e)) if raced(op, &e) && attempts < 64 => {
                    attempts += 1;
                    std::thread::yield_now();
                }
                r => return r.map_err(|(op, e)| self.io(op, key, path, e)),
            }
        }
    }

    fn walk(&self, prefix: &str, with_values: bool) -> Result<Vec<Entry>, StoreError> {
        self.check()?;
        let base = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path(prefix)?
        };
        let mut out = Vec::new();
        match fs::symlink_metadata(&base) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(self.io("list", prefix, &base, e)),
            Ok(m) if m.is_file() => {
                let value = if with_values {
                    self.read(&base, prefix)?.unwrap_or_default()
                } else {
                    Vec::new()
                };
                out.push(Entry {
                    key: prefix.to_string(),
                    value,
                });
                return Ok(out);
            }
            Ok(_) => {}
        }
        let walker = walkdir::WalkDir::new(&base)
            .min_depth(1)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'));
        for item in walker {
            let item = item.map_err(|e| {
                let path = e.path().unwrap_or(&base).to_path_buf();
                let err = e
                    .into_io_error()
                    .unwrap_or_else(|| io::Error::other("file system loop"));
                self.io("list", prefix, &path, err)
            })?;
            if !item.file_type().is_file() {
                continue;
            }
            let rel = item
                .path()
                .strip_prefix(&self.root)
                .expect("walk stays under root");
            let key = rel.to_string_lossy().into_owned();
            let value = if with_values {
                // Deleted between listing and reading (pruned): skip it.
                match self.read(item.path(), &key)? {
                    Some(v) => v,
                    None => continue,
                }
            } else {
                Vec::new()
            };
            out.push(Entry { key, value });
        }
        Ok(out)
    }

    fn read(&self, path: &Path, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        ufs::read_optional(path).map_err(|e| self.io("read", key, path, e))
    }
}

impl Store for DirStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn init(&self) -> Result<(), StoreError> {
        fs::create_dir_all(&self.root).map_err(|e| self.io("create", "root", &self.root, e))?;
        let marker = self.root.join(MARKER);
        if marker.exists() {
            return Ok(());
        }
        let body = serde_json::json!({
            "scalegrease_store": 1,
            "created": chrono::Utc::now().to_rfc3339(),
        });
        ufs::create_exclusive(&marker, body.to_string().as_bytes(), 0o644)
            .map_err(|e| self.io("write marker", MARKER, &marker, e))?;
        Ok(())
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
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::Unmarked {
                location: self.location(),
                marker: MARKER.into(),
            }),
            Err(e) => Err(self.unusable(&marker, e)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key)?;
        self.check()?;
        self.read(&path, key)
    }

    fn put(&self, key: &str, value: &[u8], _ttl: Option<Duration>) -> Result<(), StoreError> {
        let path = self.path(key)?;
        self.check()?;
        self.write_with_parent(&path, key, "write", || {
            ufs::atomic_write(&path, value, 0o644)
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
        if self.write_with_parent(&path, key, "create", || {
            ufs::create_exclusive(&path, value, 0o644)
        })? {
            return Ok(Created::Created);
        }
        Ok(Created::Exists(self.read(&path, key)?.unwrap_or_default()))
    }

    fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path(key)?;
        self.check()?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io("delete", key, &path, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        self.walk(prefix, true)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .walk(prefix, false)?
            .into_iter()
            .map(|e| e.key)
            .collect())
    }

    fn prune(&self, prefix: &str, older_than: Duration) -> Result<usize, StoreError> {
        self.check()?;
        let base = self.path(prefix)?;
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = 0;
        let mut dirs = Vec::new();
        for item in walkdir::WalkDir::new(&base)
            .min_depth(1)
            .into_iter()
            .flatten()
        {
            let stale = item
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| t < cutoff);
            if item.file_type().is_dir() {
                dirs.push(item.path().to_path_buf());
            } else if stale && fs::remove_file(item.path()).is_ok() {
                removed += 1;
            }
        }
        // Deepest first; remove_dir fails (and is ignored) on a directory still in use.
        for d in dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;
