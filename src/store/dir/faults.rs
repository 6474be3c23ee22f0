//! Which file-system errors mean "the store cannot be used" rather than "this key failed",
//! and what the user can do about each: a store this user may not read or write, or one
//! mounted read-only, is unavailable (exit 69) like an unmounted share, with the path, the
//! OS error once, and the remedy in the message.

use std::io;
use std::path::Path;

use nix::errno::Errno;

use super::DirStore;
use crate::store::{Store, StoreError};

/// What to do when the store's file system is gone or stale.
pub(super) const MOUNT_HINT: &str = "check that it is mounted";

/// What to do about an error that makes the whole store unusable; `None` for an error of
/// one file.
fn hint(e: &io::Error) -> Option<String> {
    match Errno::from_raw(e.raw_os_error()?) {
        Errno::EACCES | Errno::EPERM => Some(format!(
            "check that user {} may read and write the store and everything in it, or run as the user that owns it",
            crate::util::host::user_name()
        )),
        Errno::EROFS => Some(
            "it is mounted read-only: remount it read-write, or use another store with --store"
                .into(),
        ),
        Errno::ESTALE | Errno::EIO | Errno::ETIMEDOUT => Some(MOUNT_HINT.into()),
        _ => None,
    }
}

impl DirStore {
    /// The error for `op` on `key` (the file or directory `path`) failing with `e`:
    /// unavailable when `e` is the store's fault, else an error of that key.
    pub(super) fn io(&self, op: &'static str, key: &str, path: &Path, e: io::Error) -> StoreError {
        match hint(&e) {
            Some(hint) => StoreError::Unavailable {
                location: self.location(),
                reason: format!("cannot {op} {}: {e}", path.display()),
                hint,
            },
            None => StoreError::Io {
                location: self.location(),
                op,
                key: key.to_string(),
                error: e,
            },
        }
    }

    /// The store as a whole cannot be used: `e` on `path` (its root or marker).
    pub(super) fn unusable(&self, path: &Path, e: io::Error) -> StoreError {
        StoreError::Unavailable {
            location: self.location(),
            reason: format!("{}: {e}", path.display()),
            hint: hint(&e).unwrap_or_else(|| MOUNT_HINT.into()),
        }
    }
}
