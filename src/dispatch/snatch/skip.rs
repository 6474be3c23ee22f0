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

#[cfg(test)]
mod tests {
    use super::super::{Outcome, PlacementOptions, snatch};
    use super::*;
    use crate::dispatch::bundle::{Bundle, CrontabFile, key_for};
    use crate::dispatch::crontab::Crontab;
    use crate::dispatch::project::Project;
    use crate::store::Store;
    use crate::store::dir::DirStore;
    use crate::store::spy::Spy;

    fn jobs(c: &Crontab) -> Vec<(usize, String)> {
        c.entries().map(|e| (e.line, e.command.clone())).collect()
    }

    #[test]
    fn a_round_with_nothing_changed_makes_three_requests_whatever_the_bundles() {
        let d = tempfile::tempdir().unwrap();
        let dir = DirStore::new(d.path().join("store"));
        let store = Spy::new(&dir);
        store.init().unwrap();
        for i in 0..50 {
            let project = Project {
                group: "g".into(),
                artifact: format!("a{i}"),
            };
            let content = format!("0 3 * * * nobody greaserun --job j{i} x\n");
            let crontabs = vec![CrontabFile {
                name: "c".into(),
                content,
            }];
            let b = Bundle::new(
                &project,
                crontabs,
                "2026-01-01T00:00:00Z".into(),
                "t@h".into(),
                None,
            );
            dir.put(&key_for(&project), &b.encode(), None).unwrap();
        }
        let cron = d.path().join("cron.d");
        std::fs::create_dir(&cron).unwrap();
        let opts = SnatchOptions {
            placement: Some(PlacementOptions {
                host: "w1".into(),
                replicas: 2,
                member_ttl: Duration::from_secs(90),
                guard: Default::default(),
                jobs_of: jobs,
            }),
            ..SnatchOptions::new(cron.clone(), "sg")
        };
        // The directory's stamp is trusted 2 s after its last change: round until the
        // round is recorded.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !path(&opts).exists() {
            assert!(std::time::Instant::now() < deadline, "no round recorded");
            snatch(&store, &opts, &mut Vec::new()).unwrap();
            std::thread::sleep(Duration::from_millis(200));
        }
        store.take_log();
        let Outcome::Done(s) = snatch(&store, &opts, &mut Vec::new()).unwrap() else {
            panic!("busy")
        };
        assert_eq!(s.unchanged, 50);
        let ops: Vec<String> = store
            .take_log()
            .into_iter()
            .filter(|o| o != "check ")
            .collect();
        // The beat, the member list, the bundles' stamp: no bundle read.
        assert_eq!(ops, ["beat members/w1", "list members", "stamp bundles"]);
    }
}
