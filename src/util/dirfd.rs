//! Files handled relative to an opened directory, never through a symlink. The cron
//! directory, the directory store and the job log directory are written by root or by
//! several users, and anyone who can write in them could plant a symlink, a directory or
//! a fifo where a file is expected. A [`Dir`] is an open directory descriptor; every name
//! under it is opened with `O_NOFOLLOW` (`openat`, `mkdirat`, `renameat`, `linkat`,
//! `unlinkat`, `fstatat(AT_SYMLINK_NOFOLLOW)`), so a symlink is an error ("is a symlink,
//! not followed"), and an existing file is opened non-blocking and checked to be a
//! regular file before it is read or appended to. Only the configured top directory
//! itself ([`Dir::open`]) may be reached through a symlink: it is the administrator's.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, linkat, unlinkat};

/// What is at a name, as `lstat` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Other,
}

impl Kind {
    /// The kind of file `st` describes.
    pub fn of_stat(st: &FileStat) -> Kind {
        match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFREG => Kind::File,
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFLNK => Kind::Symlink,
            SFlag::S_IFIFO => Kind::Fifo,
            _ => Kind::Other,
        }
    }

    /// "a symlink", "a directory", … for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::File => "a regular file",
            Kind::Dir => "a directory",
            Kind::Symlink => "a symlink",
            Kind::Fifo => "a fifo",
            Kind::Other => "a special file",
        }
    }
}

/// An open directory; every operation is relative to it and follows no symlink.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

fn err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Something other than what belongs at a path was found there and left alone.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The error for finding `kind` at `path` where a regular file (or a directory) belongs.
pub fn unsafe_kind(path: &Path, kind: Kind, want: &str) -> io::Error {
    io::Error::other(Refused(format!(
        "{} is {}, not {want}; not followed",
        path.display(),
        kind.describe()
    )))
}

/// Whether `e` is a refusal of a symlink, directory or fifo found where it does not
/// belong ([`unsafe_kind`]), as opposed to an ordinary I/O error.
pub fn is_refusal(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<Refused>())
}

/// `fd`'s `fstat` when it is a regular file (opened from `path`); anything else is
/// refused ([`unsafe_kind`]).
fn regular(fd: &OwnedFd, path: &Path) -> io::Result<FileStat> {
    let st = fstat(fd.as_fd()).map_err(err)?;
    match Kind::of_stat(&st) {
        Kind::File => Ok(st),
        kind => Err(unsafe_kind(path, kind, "a regular file")),
    }
}

const NOFOLLOW_DIR: OFlag = OFlag::O_DIRECTORY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_RDONLY)
    .union(OFlag::O_CLOEXEC);

impl Dir {
    /// Opens the configured directory `path` (a symlink here is followed: it is the
    /// administrator's choice).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(path, flags, Mode::empty()).map_err(err)?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The path this directory was opened as (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What is at `name` in this directory, not following a symlink; `None` if nothing.
    pub fn kind(&self, name: &OsStr) -> io::Result<Option<Kind>> {
        Ok(self.stat(name)?.map(|s| Kind::of_stat(&s)))
    }

    /// `lstat` of `name`; `None` if nothing is there.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<FileStat>> {
        match fstatat(self.fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(s) => Ok(Some(s)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    fn refuse(&self, name: &OsStr, e: Errno, want: &str) -> io::Error {
        let odd = matches!(
            e,
            Errno::ELOOP | Errno::ENOTDIR | Errno::EISDIR | Errno::ENXIO
        );
        if odd
            && let Ok(Some(kind)) = self.kind(name)
            && (kind != Kind::File || want != "a regular file")
        {
            return unsafe_kind(&self.path.join(name), kind, want);
        }
        err(e)
    }

    /// Opens the subdirectory `name` (one component), refusing a symlink.
    pub fn sub(&self, name: &OsStr) -> io::Result<Dir> {
        let fd = openat(self.fd.as_fd(), name, NOFOLLOW_DIR, Mode::empty())
            .map_err(|e| self.refuse(name, e, "a directory"))?;
        Ok(Dir {
            fd,
            path: self.path.join(name),
        })
    }

    /// Opens the directory at the relative path `rel`, component by component, refusing
    /// symlinks. With `create`, missing directories are made; each new one gets its
    /// parent's permission bits (so a setgid group area or a sticky world-writable area
    /// passes its mode on), or `create`'s bits where the parent is this top directory.
    pub fn descend(&self, rel: &Path, create: Option<u32>) -> io::Result<Dir> {
        // Most directories exist: one call opens them (walked when the kernel says no).
        match open_beneath(self.fd.as_fd(), rel, NOFOLLOW_DIR) {
            Beneath::Open(fd) => {
                return Ok(Dir {
                    fd,
                    path: self.path.join(rel),
                });
            }
            Beneath::Missing if create.is_none() => return Err(err(Errno::ENOENT)),
            Beneath::Missing | Beneath::Walk => {}
        }
        let mut cur = self.sub(OsStr::new("."))?;
        cur.path = self.path.clone();
        let mut top = true;
        for c in rel.components() {
            let Component::Normal(name) = c else {
                return Err(io::Error::other(format!(
                    "{}: not a plain relative path",
                    rel.display()
                )));
            };
            let next = match (cur.sub(name), create) {
                (Err(e), Some(mode)) if e.kind() == io::ErrorKind::NotFound => {
                    let mode = if top { mode } else { cur.mode()? };
                    match mkdirat(cur.fd.as_fd(), name, Mode::from_bits_truncate(0o700)) {
                        Ok(()) => {
                            let d = cur.sub(name)?;
                            fchmod(d.fd.as_fd(), Mode::from_bits_truncate(mode)).map_err(err)?;
                            d
                        }
                        Err(Errno::EEXIST) => cur.sub(name)?,
                        Err(e) => return Err(err(e)),
                    }
                }
                (r, _) => r?,
            };
            cur = next;
            top = false;
        }
        Ok(cur)
    }

    /// Gives this directory `group` (when set) and exactly `mode` (setgid and sticky bits
    /// included, whatever the umask).
    pub fn set_owner_and_mode(&self, group: Option<nix::unistd::Gid>, mode: u32) -> io::Result<()> {
        if group.is_some() {
            nix::unistd::fchown(self.fd.as_fd(), None, group).map_err(err)?;
        }
        fchmod(self.fd.as_fd(), Mode::from_bits_truncate(mode)).map_err(err)
    }

    /// This directory's permission bits (with setgid and sticky).
    pub fn mode(&self) -> io::Result<u32> {
        Ok(fstat(self.fd.as_fd()).map_err(err)?.st_mode & 0o7777)
    }

    /// Opens the existing regular file `name` with `flags` (non-blocking, so a fifo does
    /// not hang us), refusing anything else.
    fn open_file(&self, name: &OsStr, flags: OFlag, mode: u32) -> io::Result<File> {
        let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
        let fd = openat(self.fd.as_fd(), name, flags, Mode::from_bits_truncate(mode))
            .map_err(|e| self.refuse(name, e, "a regular file"))?;
        regular(&fd, &self.path.join(name))?;
        let f = File::from(fd);
        // Back to blocking I/O for the regular file.
        let fl = nix::fcntl::fcntl(f.as_fd(), nix::fcntl::FcntlArg::F_GETFL).map_err(err)?;
        let fl = OFlag::from_bits_truncate(fl) - OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(f.as_fd(), nix::fcntl::FcntlArg::F_SETFL(fl)).map_err(err)?;
        Ok(f)
    }

    /// Opens `name` for appending, creating it with `mode` (before umask) if missing.
    pub fn append(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        self.open_file(
            name,
            OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT,
            mode,
        )
    }

    /// Opens (creating) `name` for writing without truncating it: a lock file.
    pub fn lock_file(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        self.open_file(name, OFlag::O_WRONLY | OFlag::O_CREAT, mode)
    }

    /// Writes a new dot-named temp file for `name` (`O_CREAT|O_EXCL`), fsynced, with
    /// exactly `mode`. Returns its name.
    fn write_temp(&self, name: &OsStr, bytes: &[u8], mode: u32) -> io::Result<PathBuf> {
        let tmp = super::fs::temp_path_for(Path::new(name));
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(
            self.fd.as_fd(),
            &tmp,
            flags,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(err)?;
        let mut f = File::from(fd);
        let written = f
            .write_all(bytes)
            .and_then(|()| fchmod(f.as_fd(), Mode::from_bits_truncate(mode)).map_err(err))
            .and_then(|()| f.sync_all());
        if let Err(e) = written {
            let _ = self.remove(tmp.as_os_str());
            return Err(e);
        }
        Ok(tmp)
    }

    /// Replaces `name` with `bytes` atomically (temp file, fsync, `renameat`, fsync of
    /// the directory). Refuses (and leaves alone) a directory, symlink or fifo at `name`.
    pub fn atomic_write(&self, name: &OsStr, bytes: &[u8], mode: u32) -> io::Result<()> {
        match self.kind(name)? {
            None | Some(Kind::File) => {}
            Some(k) => return Err(unsafe_kind(&self.path.join(name), k, "a regular file")),
        }
        let tmp = self.write_temp(name, bytes, mode)?;
        let renamed = renameat(self.fd.as_fd(), &tmp, self.fd.as_fd(), name).map_err(err);
        if renamed.is_err() {
            let _ = self.remove(tmp.as_os_str());
        }
        renamed?;
        self.sync()
    }

    /// Creates `name` with `bytes` only if nothing is there (a fully written temp file
    /// hard-linked to it, exclusive also on NFS). `Ok(false)` when something existed.
    pub fn create_exclusive(&self, name: &OsStr, bytes: &[u8], mode: u32) -> io::Result<bool> {
        let tmp = self.write_temp(name, bytes, mode)?;
        let linked = linkat(
            self.fd.as_fd(),
            &tmp,
            self.fd.as_fd(),
            name,
            AtFlags::empty(),
        );
        // On NFS a lost reply can report failure for a link that happened: the temp
        // file's link count tells the truth.
        let count = || {
            self.stat(tmp.as_os_str())
                .map(|s| s.map_or(0, |s| s.st_nlink))
        };
        let won = match linked {
            Ok(()) => true,
            Err(Errno::EEXIST) => count()? == 2,
            Err(e) => {
                if count().map(|n| n == 2).unwrap_or(false) {
                    true
                } else {
                    let _ = self.remove(tmp.as_os_str());
                    return Err(err(e));
                }
            }
        };
        self.remove(tmp.as_os_str())?;
        if won {
            self.sync()?;
        }
        Ok(won)
    }

    /// Removes the file (or symlink: the link, never its target) `name`; `false` when
    /// nothing was there. A directory is refused.
    pub fn remove(&self, name: &OsStr) -> io::Result<bool> {
        match unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) => Ok(true),
            Err(Errno::ENOENT) => Ok(false),
            Err(Errno::EISDIR) => Err(unsafe_kind(
                &self.path.join(name),
                Kind::Dir,
                "a regular file",
            )),
            Err(e) => Err(err(e)),
        }
    }

    /// Removes the empty directory `name`.
    pub fn remove_dir(&self, name: &OsStr) -> io::Result<()> {
        unlinkat(self.fd.as_fd(), name, UnlinkatFlags::RemoveDir).map_err(err)
    }

    /// The names in this directory (without `.` and `..`).
    pub fn names(&self) -> io::Result<Vec<std::ffi::OsString>> {
        use std::os::unix::ffi::OsStrExt;
        let fd = openat(self.fd.as_fd(), ".", NOFOLLOW_DIR, Mode::empty()).map_err(err)?;
        let mut d = nix::dir::Dir::from_fd(fd).map_err(err)?;
        let mut out = Vec::new();
        for e in d.iter() {
            let e = e.map_err(err)?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                out.push(OsStr::from_bytes(n).to_os_string());
            }
        }
        Ok(out)
    }

    /// fsyncs the directory, so a rename or link in it is durable.
    pub fn sync(&self) -> io::Result<()> {
        nix::unistd::fsync(self.fd.as_fd()).map_err(err)
    }
}

mod beneath;
mod read;
use beneath::{Beneath, open_beneath};

#[cfg(test)]
mod tests;
