//! Reading a regular file below a [`Dir`]: by name in the directory, or by a relative
//! path resolved in one call ([`super::beneath`]), opened non-blocking so a fifo cannot
//! hang the reader, checked to be a regular file, and read in one read sized by its
//! `fstat`.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

use super::{Beneath, Dir, open_beneath, regular};

impl Dir {
    /// Reads the regular file `name`; `None` when nothing is there.
    pub fn read(&self, name: &OsStr) -> io::Result<Option<Vec<u8>>> {
        let fd = match openat(self.fd.as_fd(), name, READ_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(self.refuse(name, e, "a regular file")),
        };
        read_regular(fd, &self.path.join(name)).map(Some)
    }

    /// Reads the regular file at the relative path `rel` below this directory, through
    /// no symlink; `None` when nothing is there (a missing directory on the way
    /// included).
    pub fn read_at(&self, rel: &Path) -> io::Result<Option<Vec<u8>>> {
        match open_beneath(self.fd.as_fd(), rel, READ_FLAGS) {
            Beneath::Open(fd) => return read_regular(fd, &self.path.join(rel)).map(Some),
            Beneath::Missing => return Ok(None),
            Beneath::Walk => {}
        }
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(io::Error::other(format!(
                "{}: not a file's relative path",
                rel.display()
            )));
        };
        match self.descend(parent, None) {
            Ok(d) => d.read(name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// How a file is opened for reading: non-blocking, so a fifo does not hang us (for a
/// regular file the flag changes nothing), and never through a symlink.
const READ_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Reads all of `fd` (opened from `path`) when it is a regular file, sized by its
/// `fstat` (one read, and one more to see the end).
fn read_regular(fd: OwnedFd, path: &Path) -> io::Result<Vec<u8>> {
    let st = regular(&fd, path)?;
    let mut f = File::from(fd);
    let mut buf = vec![0; usize::try_from(st.st_size).unwrap_or(0) + 1];
    let mut n = 0;
    loop {
        if n == buf.len() {
            buf.resize(2 * n, 0);
        }
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}
