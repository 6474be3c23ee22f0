//! Reading the directory store: a key's file, and the walk under a prefix behind
//! `list` and `list_range` (directories opened without following symlinks; a symlink,
//! fifo or other special file where a key's file belongs is reported and given with an
//! empty value, which its reader rejects, so only that key is skipped).

use std::fs;
use std::io;
use std::path::Path;

use super::DirStore;
use crate::store::{Entry, Store, StoreError};
use crate::util::dirfd::{self, Dir};

impl DirStore {
    /// Every file under `prefix` (with its value when `with_values`); with `range`
    /// `(depth, from)`, a directory or file at that depth below `prefix` named before
    /// `from` is skipped unopened ([`Store::list_range`]).
    pub(super) fn walk(
        &self,
        prefix: &str,
        with_values: bool,
        range: Option<(usize, &str)>,
    ) -> Result<Vec<Entry>, StoreError> {
        let base = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path(prefix)?
        };
        self.check_recent()?;
        let mut out = Vec::new();
        match fs::symlink_metadata(&base) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.check()?;
                return self.missing_area(prefix, &base).map(|()| out);
            }
            Err(e) => return Err(self.io("list", prefix, &base, e)),
            Ok(m) if m.is_file() && range.is_some() => return Ok(out),
            Ok(m) if m.is_file() => {
                let value = if with_values {
                    self.read(prefix)?.unwrap_or_default()
                } else {
                    Vec::new()
                };
                out.push(Entry {
                    key: prefix.to_string(),
                    value,
                });
                return Ok(out);
            }
            Ok(m) if !m.is_dir() => return Err(self.odd_area(prefix, &base, &m)),
            Ok(_) => {}
        }
        // The root, opened once for every file the walk reads below it.
        let top = if with_values {
            Some(Dir::open(&self.root).map_err(|e| self.io("list", prefix, &self.root, e))?)
        } else {
            None
        };
        let walker = walkdir::WalkDir::new(&base)
            .min_depth(1)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(move |e| {
                let name = e.file_name().to_string_lossy();
                let before = range
                    .is_some_and(|(depth, from)| e.depth() == depth + 1 && name.as_ref() < from);
                !name.starts_with('.') && !before
            });
        for item in walker {
            let item = item.map_err(|e| {
                let path = e.path().unwrap_or(&base).to_path_buf();
                let err = e
                    .into_io_error()
                    .unwrap_or_else(|| io::Error::other("file system loop"));
                self.io("list", prefix, &path, err)
            })?;
            let ty = item.file_type();
            if ty.is_dir() || range.is_some_and(|(depth, _)| item.depth() <= depth) {
                continue;
            }
            let rel = item
                .path()
                .strip_prefix(&self.root)
                .expect("walk stays under root");
            let key = rel.to_string_lossy().into_owned();
            if !ty.is_file() {
                // Reported and given with an empty value, which its reader rejects, so
                // that key alone is skipped and what depends on it is kept.
                let kind = if ty.is_symlink() {
                    "a symlink"
                } else {
                    "not a regular file"
                };
                tracing::warn!(
                    "store entry {} is {kind}: not followed, skipped",
                    item.path().display()
                );
                out.push(Entry {
                    key,
                    value: Vec::new(),
                });
                continue;
            }
            let value = if let Some(top) = &top {
                // Deleted between listing and reading (pruned): skip it.
                match top.read_at(rel) {
                    Ok(Some(v)) => v,
                    Ok(None) => continue,
                    Err(e) if dirfd::is_refusal(&e) => {
                        // Swapped for a symlink or fifo since it was listed.
                        tracing::warn!("store entry {e}; skipped");
                        out.push(Entry {
                            key,
                            value: Vec::new(),
                        });
                        continue;
                    }
                    Err(e) => return Err(self.io("read", &key, item.path(), e)),
                }
            } else {
                Vec::new()
            };
            out.push(Entry { key, value });
        }
        Ok(out)
    }

    /// Reads `key`'s file without following a symlink on the way; `None` if missing.
    pub(super) fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.root.join(key);
        self.read_io(key)
            .map_err(|e| self.io("read", key, &path, e))
    }

    pub(super) fn read_io(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        Dir::open(&self.root)?.read_at(Path::new(key))
    }
}
