//! Crash-safe file writes by path. Everything that another process may read while we
//! write it goes through here or through [`super::dirfd`]: write a dot-named temp file in
//! the same directory, fsync it, set its mode, rename it over the target, fsync the
//! directory. Readers see the old file or the new one, never half of one. Directories
//! other users can write (the cron directory, the directory store, the job log
//! directory) use [`super::dirfd`] instead, which follows no symlink; these path-based
//! functions serve this user's own directories (the Maven cache).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A temp path beside `target`, dot-named (cron, globbing and our own listings skip it)
/// and unique per process and call.
pub fn temp_path_for(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = format!(
        ".{name}.tmp-{}-{:x}",
        std::process::id(),
        super::random::u64() & 0xffff_ffff
    );
    target.with_file_name(unique)
}

/// Writes `bytes` to `target` atomically with permission bits `mode`.
pub fn atomic_write(target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = temp_path_for(target);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, target)?;
        sync_dir(target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `target` with `bytes` only if it does not exist, atomically, also on NFS: the
/// content is written to a temp file which is then hard-linked to the target (link(2)
/// fails with `EEXIST` on every file system, including NFS, unlike `O_EXCL` on old
/// clients). Returns `Ok(false)` when the target already existed.
pub fn create_exclusive(target: &Path, bytes: &[u8], mode: u32) -> io::Result<bool> {
    let tmp = temp_path_for(target);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    let written = f.write_all(bytes).and_then(|_| f.sync_all());
    drop(f);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let linked = fs::hard_link(&tmp, target);
    // On NFS a lost reply can report failure for a link that happened: the temp file's
    // link count tells the truth.
    let won = match linked {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => link_count(&tmp)? == 2,
        Err(e) => {
            let ok = link_count(&tmp).map(|n| n == 2).unwrap_or(false);
            if !ok {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            true
        }
    };
    fs::remove_file(&tmp)?;
    if won {
        sync_dir(target)?;
    }
    Ok(won)
}

fn link_count(path: &Path) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(fs::metadata(path)?.nlink())
}

/// fsyncs the directory holding `path`, so a rename or link in it is durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}

/// Reads a file, mapping "not found" to `None`.
pub fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        atomic_write(&p, b"one", 0o644).unwrap();
        atomic_write(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn create_exclusive_has_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("claim");
        assert!(create_exclusive(&p, b"first", 0o644).unwrap());
        assert!(!create_exclusive(&p, b"second", 0o644).unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"first");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
