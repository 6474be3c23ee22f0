//! Path helpers for crash-safe writes in this user's own directories (the Maven cache):
//! a dot-named temp path beside the target, and an fsync of the directory after a rename.
//! Directories other users can write (the cron directory, the directory store, the job
//! log directory) go through [`super::dirfd`], which follows no symlink.

use std::fs::File;
use std::io;
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

/// fsyncs the directory holding `path`, so a rename or link in it is durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}
