//! Opening a path below a [`Dir`] in one system call: `openat2(2)` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` resolves `a/b/c` refusing a symlink (or a
//! `..`) anywhere on the way, where walking it component by component costs an `openat`
//! and a `close` per component. The kernel only says "no" (`ELOOP`, `EXDEV`,
//! `ENOTDIR`, ...): the caller then walks the path component by component, which names
//! what it refused. A kernel without `openat2` (before Linux 5.6, or a sandbox that
//! filters it out) is noticed once; every later call walks.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};

/// Set once `openat2` answered "no such system call".
static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// What [`open_beneath`] found.
pub(super) enum Beneath {
    /// Opened.
    Open(OwnedFd),
    /// Nothing there (or a directory on the way is missing).
    Missing,
    /// Refused or not known: walk the path component by component.
    Walk,
}

/// Opens `rel` below `dir` with `flags` (`O_NOFOLLOW` and `O_CLOEXEC` added), following
/// no symlink and never leaving `dir`.
pub(super) fn open_beneath(dir: BorrowedFd, rel: &Path, flags: OFlag) -> Beneath {
    if rel.as_os_str().is_empty() || UNSUPPORTED.load(Ordering::Relaxed) {
        return Beneath::Walk;
    }
    let how = OpenHow::new()
        .flags(flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    match openat2(dir, rel, how) {
        Ok(fd) => Beneath::Open(fd),
        Err(Errno::ENOENT) => Beneath::Missing,
        Err(Errno::ENOSYS) => {
            UNSUPPORTED.store(true, Ordering::Relaxed);
            Beneath::Walk
        }
        Err(_) => Beneath::Walk,
    }
}
