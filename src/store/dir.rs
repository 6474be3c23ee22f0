//! The directory store: a root directory on local disk or NFS, shared by CI and workers.
//!
//! A key `a/b/c` is the file `<root>/a/b/c`. Writes go to a dot-named temp file and are
//! renamed into place; `create` hard-links a fully written temp file to the key, which is
//! atomic and exclusive on local disks and on NFS. The root holds a marker file written by
//! `init`; without it every operation refuses, because an unmounted NFS share looks like
//! an empty store and must never wipe a farm's crontabs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Created, Entry, Store, StoreError, check_key};
use crate::util::fs as ufs;

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

    fn io(&self, op: &'static str, key: &str, source: io::Error) -> StoreError {
        if matches!(
            source.raw_os_error(),
            Some(libc_codes::ESTALE | libc_codes::EIO | libc_codes::ETIMEDOUT)
        ) {
            return StoreError::Unavailable {
                location: self.location(),
                reason: format!("{op} {key}: {source}"),
            };
        }
        StoreError::Io {
            location: self.location(),
            op,
            key: key.to_string(),
            source,
        }
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
                r => return r.map_err(|(op, e)| self.io(op, key, e)),
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
            Err(e) => return Err(self.io("list", prefix, e)),
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
                let err = e
                    .into_io_error()
                    .unwrap_or_else(|| io::Error::other("file system loop"));
                self.io("list", prefix, err)
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
        ufs::read_optional(path).map_err(|e| self.io("read", key, e))
    }
}

/// The errno values that mean "the file system behind the store is gone", not "this file".
mod libc_codes {
    pub const EIO: i32 = 5;
    pub const ETIMEDOUT: i32 = 110;
    pub const ESTALE: i32 = 116;
}

impl Store for DirStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn init(&self) -> Result<(), StoreError> {
        fs::create_dir_all(&self.root).map_err(|e| self.io("create", "root", e))?;
        let marker = self.root.join(MARKER);
        if marker.exists() {
            return Ok(());
        }
        let body = serde_json::json!({
            "scalegrease_store": 1,
            "created": chrono::Utc::now().to_rfc3339(),
        });
        ufs::create_exclusive(&marker, body.to_string().as_bytes(), 0o644)
            .map_err(|e| self.io("write marker", MARKER, e))?;
        Ok(())
    }

    fn check(&self) -> Result<(), StoreError> {
        match fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(StoreError::Unavailable {
                    location: self.location(),
                    reason: "not a directory".into(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Unmarked {
                    location: self.location(),
                    marker: MARKER.into(),
                });
            }
            Err(e) => {
                return Err(StoreError::Unavailable {
                    location: self.location(),
                    reason: e.to_string(),
                });
            }
        }
        match fs::metadata(self.root.join(MARKER)) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::Unmarked {
                location: self.location(),
                marker: MARKER.into(),
            }),
            Err(e) => Err(StoreError::Unavailable {
                location: self.location(),
                reason: e.to_string(),
            }),
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
            Err(e) => Err(self.io("delete", key, e)),
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
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, DirStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = DirStore::new(dir.path().join("store"));
        (dir, s)
    }

    #[test]
    fn refuses_without_marker() {
        let (_d, s) = store();
        assert!(matches!(
            s.list("bundles"),
            Err(StoreError::Unmarked { .. })
        ));
        fs::create_dir_all(s.root()).unwrap();
        assert!(matches!(
            s.put("a", b"x", None),
            Err(StoreError::Unmarked { .. })
        ));
        s.init().unwrap();
        s.put("a", b"x", None).unwrap();
        s.init().unwrap();
        assert_eq!(s.get("a").unwrap().unwrap(), b"x");
    }

    #[test]
    fn put_get_list_delete() {
        let (_d, s) = store();
        s.init().unwrap();
        s.put("bundles/p2", b"two", None).unwrap();
        s.put("bundles/p1", b"one", None).unwrap();
        s.put("claims/j/s", b"c", None).unwrap();
        let l = s.list("bundles").unwrap();
        assert_eq!(
            l.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["bundles/p1", "bundles/p2"]
        );
        assert_eq!(l[0].value, b"one");
        assert_eq!(s.keys("claims").unwrap(), ["claims/j/s"]);
        assert!(s.delete("bundles/p1").unwrap());
        assert!(!s.delete("bundles/p1").unwrap());
        assert!(s.list("nothing").unwrap().is_empty());
    }

    #[test]
    fn create_is_exclusive() {
        let (_d, s) = store();
        s.init().unwrap();
        assert_eq!(
            s.create("claims/j/1", b"me", None).unwrap(),
            Created::Created
        );
        assert_eq!(
            s.create("claims/j/1", b"you", None).unwrap(),
            Created::Exists(b"me".to_vec())
        );
    }

    #[test]
    fn prune_removes_old_entries_only() {
        let (_d, s) = store();
        s.init().unwrap();
        s.put("claims/j/1", b"x", None).unwrap();
        assert_eq!(s.prune("claims", Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(s.prune("claims", Duration::ZERO).unwrap(), 1);
        assert!(s.list("claims").unwrap().is_empty());
        assert!(s.check().is_ok());
    }

    #[test]
    fn writes_survive_a_concurrent_prune_removing_their_directories() {
        let (_d, s) = store();
        s.init().unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|sc| {
            sc.spawn(|| {
                // Old entries only: here that removes just the empty directories.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    s.prune("hb", Duration::from_secs(3600)).unwrap();
                }
            });
            let results: Vec<_> = (0..200)
                .map(|i| {
                    let dir = format!("hb/{i}");
                    let put = s.put(&format!("{dir}/put"), b"x", None);
                    let _ = s.delete(&format!("{dir}/put"));
                    let create = s.create(&format!("{dir}/create"), b"x", None);
                    let _ = s.delete(&format!("{dir}/create"));
                    (
                        put.err().map(|e| e.to_string()),
                        create.err().map(|e| e.to_string()),
                    )
                })
                .collect();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let failed: Vec<_> = results
                .iter()
                .filter(|(p, c)| p.is_some() || c.is_some())
                .collect();
            assert!(failed.is_empty(), "{failed:?}");
        });
    }

    #[test]
    fn rejects_bad_keys() {
        let (_d, s) = store();
        s.init().unwrap();
        assert!(matches!(s.get("../x"), Err(StoreError::BadKey { .. })));
        assert!(matches!(s.get("a//b"), Err(StoreError::BadKey { .. })));
    }
}
