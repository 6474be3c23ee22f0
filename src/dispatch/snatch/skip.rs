//! A one-shot greasesnatch with nothing changed reads no bundle: after a full round it
//! records, in `<cron dir>/.<prefix>.round` (a dot name cron ignores), what that round
//! depended on: the store's [`Store::stamp`] of `bundles` (etcd: one range of one key;
//! the directory store: one stat), the live members it placed by, a digest of its
//! options and build, and the size, times, mode and owner of every file it owns in the
//! cron directory. The next round, under the lock, compares: all equal, and the record
//! younger than [`RESYNC`], and it is done without listing a bundle. Anything different
//! (a publish, a member joining or leaving, a changed config, a local edit), a round
//! that rejected a bundle or skipped a file, or a store that has no trusted stamp now,
//! runs the full round.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::SnatchOptions;
use crate::dispatch::bundle;
use crate::store::Version;

/// A full round runs at least this often even when nothing changed (it also repairs
/// what no stamp sees, e.g. a user account created since).
pub const RESYNC: Duration = Duration::from_secs(300);

/// What a full round depended on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    stamp: u64,
    members: u64,
    options: u64,
}

impl Basis {
    /// The basis of a round that read the bundles at `stamp` and placed by `members`.
    pub fn new(stamp: Version, members: Option<&[String]>, opts: &SnatchOptions) -> Basis {
        let options = SnatchOptions {
            dry_run: false,
            wait: false,
            ..opts.clone()
        };
        Basis {
            stamp: stamp.0,
            members: digest(&members),
            options: digest(&(format!("{options:?}"), env!("CARGO_PKG_VERSION"))),
        }
    }
}

fn digest(v: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// The record's path.
pub fn path(opts: &SnatchOptions) -> PathBuf {
    opts.cron_dir
        .join(format!(".{}.round", bundle::sanitize(&opts.prefix)))
}

/// The files greasesnatch owns in `dir` and a digest of their metadata.
fn files(dir: &Path, prefix: &str) -> std::io::Result<(usize, u64)> {
    let own = format!("{}__", bundle::sanitize(prefix));
    let mut seen = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&own) {
            continue;
        }
        // Not followed: a symlink's own metadata.
        let m = item.metadata()?;
        seen.push((
            name,
            m.ino(),
            m.size(),
            m.mode(),
            m.uid(),
            m.gid(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        ));
    }
    seen.sort();
    Ok((seen.len(), digest(&seen)))
}

fn render(basis: &Basis, files: u64, at: u64) -> String {
    format!(
        "stamp {}\nmembers {}\noptions {}\nfiles {files}\nat {at}\n",
        basis.stamp, basis.members, basis.options
    )
}

/// After a full round that changed what it had to and rejected nothing: records its
/// basis. Failing to is only logged (the next round is then a full one).
pub fn record(opts: &SnatchOptions, basis: &Basis) {
    let at = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let result = files(&opts.cron_dir, &opts.prefix).and_then(|(_, f)| {
        let dir = crate::util::dirfd::Dir::open(&opts.cron_dir)?;
        let p = path(opts);
        dir.atomic_write(
            p.file_name().unwrap_or_default(),
            render(basis, f, at).as_bytes(),
            0o600,
        )
    });
    if let Err(e) = result {
        tracing::debug!("cannot record the round in {}: {e}", path(opts).display());
    }
}

/// Forgets the record (a round that could not finish cleanly).
pub fn forget(opts: &SnatchOptions) {
    if let Ok(dir) = crate::util::dirfd::Dir::open(&opts.cron_dir) {
        let p = path(opts);
        let _ = dir.remove(p.file_name().unwrap_or_default());
    }
}

/// Whether the last full round's record still holds for `basis`: `Some(n)` with the
/// number of files owned (all unchanged), else `None`.
pub fn unchanged(opts: &SnatchOptions, basis: &Basis) -> Option<usize> {
    let dir = crate::util::dirfd::Dir::open(&opts.cron_dir).ok()?;
    let p = path(opts);
    let text = dir.read(p.file_name()?).ok()??;
    let text = String::from_utf8(text).ok()?;
    let at: u64 = text.lines().last()?.strip_prefix("at ")?.parse().ok()?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs();
    if now < at || now - at >= RESYNC.as_secs() {
        return None;
    }
    let (n, f) = files(&opts.cron_dir, &opts.prefix).ok()?;
    (render(basis, f, at) == text).then_some(n)
}
