//! Unit tests of directory-relative file operations: what they refuse (symlinks,
//! directories, FIFOs at a name) and what they write atomically.

use super::*;
use std::os::unix::fs::symlink;

#[test]
fn writes_replace_and_refuse_symlinks_dirs_and_fifos() {
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let d = Dir::open(t.path()).unwrap();
    d.atomic_write(OsStr::new("f"), b"one", 0o644).unwrap();
    d.atomic_write(OsStr::new("f"), b"two", 0o600).unwrap();
    assert_eq!(d.read(OsStr::new("f")).unwrap().unwrap(), b"two");
    symlink(&victim, t.path().join("link")).unwrap();
    let e = d.atomic_write(OsStr::new("link"), b"x", 0o644).unwrap_err();
    assert!(e.to_string().contains("is a symlink"), "{e}");
    assert!(d.read(OsStr::new("link")).is_err());
    assert!(d.append(OsStr::new("link"), 0o644).is_err());
    assert!(d.lock_file(OsStr::new("link"), 0o644).is_err());
    nix::unistd::mkfifo(&t.path().join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    let e = d.append(OsStr::new("fifo"), 0o644).unwrap_err();
    assert!(e.to_string().contains("is a fifo"), "{e}");
    std::fs::create_dir(t.path().join("dir")).unwrap();
    let e = d.atomic_write(OsStr::new("dir"), b"x", 0o644).unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
    assert!(d.remove(OsStr::new("link")).unwrap());
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    assert!(d.create_exclusive(OsStr::new("c"), b"1", 0o644).unwrap());
    assert!(!d.create_exclusive(OsStr::new("c"), b"2", 0o644).unwrap());
    let mut names = d.names().unwrap();
    names.sort();
    assert_eq!(names, ["c", "dir", "f", "fifo", "victim"]);
}

#[test]
fn descend_refuses_symlinked_components_and_passes_modes_on() {
    let t = tempfile::tempdir().unwrap();
    let d = Dir::open(t.path()).unwrap();
    let area = d.descend(Path::new("area"), Some(0o1777)).unwrap();
    assert_eq!(area.mode().unwrap(), 0o1777);
    let sub = d.descend(Path::new("area/a/b"), Some(0o755)).unwrap();
    assert_eq!(sub.mode().unwrap(), 0o1777);
    let other = tempfile::tempdir().unwrap();
    symlink(other.path(), t.path().join("area/s")).unwrap();
    let e = d.descend(Path::new("area/s/x"), Some(0o755)).unwrap_err();
    assert!(e.to_string().contains("is a symlink"), "{e}");
    assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 0);
}

#[test]
fn read_at_reads_below_and_refuses_symlinks_fifos_and_escapes_on_the_way() {
    let t = tempfile::tempdir().unwrap();
    let d = Dir::open(t.path()).unwrap();
    d.descend(Path::new("a/b"), Some(0o755)).unwrap();
    std::fs::write(t.path().join("a/b/f"), b"value").unwrap();
    assert_eq!(d.read_at(Path::new("a/b/f")).unwrap().unwrap(), b"value");
    let big = vec![7u8; 200_000];
    std::fs::write(t.path().join("a/b/big"), &big).unwrap();
    assert_eq!(d.read_at(Path::new("a/b/big")).unwrap().unwrap(), big);
    std::fs::write(t.path().join("a/b/empty"), b"").unwrap();
    assert_eq!(d.read_at(Path::new("a/b/empty")).unwrap().unwrap(), b"");
    // Nothing there, or a directory on the way missing: nothing, no error.
    assert_eq!(d.read_at(Path::new("a/b/none")).unwrap(), None);
    assert_eq!(d.read_at(Path::new("a/none/f")).unwrap(), None);
    // A symlinked directory on the way or at the end is named, never followed.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("f"), b"secret").unwrap();
    symlink(other.path(), t.path().join("a/s")).unwrap();
    let e = d.read_at(Path::new("a/s/f")).unwrap_err();
    assert!(e.to_string().contains("a/s is a symlink"), "{e}");
    symlink(other.path().join("f"), t.path().join("a/b/l")).unwrap();
    let e = d.read_at(Path::new("a/b/l")).unwrap_err();
    assert!(e.to_string().contains("a/b/l is a symlink"), "{e}");
    // A fifo is refused without hanging; `..` never leaves the directory.
    nix::unistd::mkfifo(&t.path().join("a/b/p"), Mode::from_bits_truncate(0o644)).unwrap();
    let e = d.read_at(Path::new("a/b/p")).unwrap_err();
    assert!(e.to_string().contains("is a fifo"), "{e}");
    let e = d.read_at(Path::new("a/../../etc/passwd")).unwrap_err();
    assert!(e.to_string().contains("not a plain relative path"), "{e}");
    // A directory where the file belongs is refused too.
    let e = d.read_at(Path::new("a/b")).unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
}
