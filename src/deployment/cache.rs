//! The local artifact cache: a Maven-layout directory (`maven.cache_dir`, by default the
//! user's `~/.m2/repository`, so Maven and greaserun share it). A file at its final path
//! is complete and verified: greaserun only ever renames a verified download into place,
//! and Maven does the same. Per-artifact lock files (`.<file>.lock`, std `File::lock`)
//! make concurrent greaseruns on one host download a file once; they are never removed
//! (removing a lock file races with its next user).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use super::DeployError;
use super::metadata::build_of;
use super::spec::{Coordinates, VersionKind, version_kind};
use super::version::MavenVersion;

/// The cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// A held per-artifact lock; released on drop.
pub struct Lock {
    _file: File,
}

impl Cache {
    /// A cache rooted at `root` (created when first written to).
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of a repository-relative path.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Takes the exclusive lock of the file at `path`, waiting for another process that
    /// holds it (and is downloading that file). Creates the directory.
    pub fn lock(&self, path: &Path) -> Result<Lock, DeployError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| DeployError::io("create cache directory", dir, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let lock_path = dir.join(format!(".{name}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| DeployError::io("open lock file", &lock_path, e))?;
        file.lock()
            .map_err(|e| DeployError::io("lock", &lock_path, e))?;
        remove_stale_temps(dir, &name);
        Ok(Lock { _file: file })
    }

    /// The newest cached build of snapshot `base` (e.g. `1.0-SNAPSHOT`) of `c`'s classifier
    /// and packaging, as a file version: the highest timestamp and build number among
    /// timestamped files, else the plain `base` file (written by `mvn install`).
    pub fn newest_snapshot_build(&self, c: &Coordinates, base: &str) -> Option<String> {
        let dir = self.path(&c.version_dir(base));
        let mut best: Option<((String, u64), String)> = None;
        let mut plain = false;
        for fv in self.file_versions(c, &dir) {
            if fv == base {
                plain = true;
            } else if let Some(key) = build_of(base, &fv)
                && best.as_ref().is_none_or(|(k, _)| key > *k)
            {
                best = Some((key, fv));
            }
        }
        best.map(|(_, fv)| fv)
            .or_else(|| plain.then(|| base.to_string()))
    }

    /// The newest cached version of `c` (any classifier-and-packaging match counts) and its
    /// file version: by Maven's ordering over the version directories, releases only when
    /// `release_only`.
    pub fn newest_version(&self, c: &Coordinates, release_only: bool) -> Option<(String, String)> {
        let dir = self.path(&c.artifact_dir());
        let mut found: Vec<(MavenVersion, String)> = Vec::new();
        for entry in fs::read_dir(&dir).ok()?.flatten() {
            let Some(v) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if v.starts_with('.') || !entry.path().is_dir() {
                continue;
            }
            let file_version = match version_kind(&v) {
                VersionKind::Snapshot if release_only => None,
                VersionKind::Snapshot => self.newest_snapshot_build(c, &v),
                VersionKind::Fixed => self.path(&c.file_path(&v, &v)).is_file().then(|| v.clone()),
                _ => None,
            };
            if let Some(fv) = file_version {
                found.push((MavenVersion::parse(&v), fv));
            }
        }
        found
            .into_iter()
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(v, fv)| (v.as_str().to_string(), fv))
    }

    /// The file versions present in `dir` for `c`'s classifier and packaging.
    fn file_versions(&self, c: &Coordinates, dir: &Path) -> Vec<String> {
        let prefix = format!("{}-", c.artifact);
        // The file name at an empty version is the prefix, then the suffix.
        let suffix = c.file_name("")[prefix.len()..].to_string();
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let fv = name.strip_prefix(&prefix)?.strip_suffix(&suffix)?;
                // Without a classifier, `job-1.0-sources.jar` would pass as version
                // `1.0-sources`: a file name must round-trip.
                (c.file_name(fv) == name && e.path().is_file()).then(|| fv.to_string())
            })
            .collect()
    }
}

/// Removes temp files of `name` left by downloads that were killed: only the lock holder
/// writes them, and we hold the lock.
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix))
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The directory version of a file version: `1.0-20261123.063745-1` lives in
/// `1.0-SNAPSHOT`; anything else in its own directory.
pub fn base_version(file_version: &str) -> String {
    if super::metadata::timestamp_of(file_version).is_some()
        && let Some((rest, _build)) = file_version.rsplit_once('-')
        && let Some((stem, _ts)) = rest.rsplit_once('-')
    {
        return format!("{stem}-SNAPSHOT");
    }
    file_version.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"x").unwrap();
    }

    #[test]
    fn newest_cached_versions() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let d = "com/example/job";
        touch(r, &format!("{d}/1.9/job-1.9-jar-with-dependencies.jar"));
        touch(r, &format!("{d}/1.10/job-1.10-jar-with-dependencies.jar"));
        touch(r, &format!("{d}/1.11/job-1.11.pom"));
        touch(
            r,
            &format!("{d}/2.0-SNAPSHOT/job-2.0-20261123.063745-1-jar-with-dependencies.jar"),
        );
        touch(
            r,
            &format!("{d}/2.0-SNAPSHOT/job-2.0-20261123.070000-2-jar-with-dependencies.jar"),
        );
        touch(
            r,
            &format!("{d}/2.0-SNAPSHOT/job-2.0-20261124.000000-3.jar"),
        );
        touch(
            r,
            &format!("{d}/2.0-SNAPSHOT/job-2.0-SNAPSHOT-jar-with-dependencies.jar"),
        );
        let cache = Cache::new(r);
        let c = Coordinates::parse("com.example:job").unwrap();
        assert_eq!(
            cache.newest_version(&c, true),
            Some(("1.10".into(), "1.10".into()))
        );
        assert_eq!(
            cache.newest_version(&c, false),
            Some(("2.0-SNAPSHOT".into(), "2.0-20261123.070000-2".into()))
        );
        let main = Coordinates::parse("com.example:job:2.0-SNAPSHOT:jar:").unwrap();
        assert_eq!(
            cache
                .newest_snapshot_build(&main, "2.0-SNAPSHOT")
                .as_deref(),
            Some("2.0-20261124.000000-3")
        );
        touch(
            r,
            &format!("{d}/3.0-SNAPSHOT/job-3.0-SNAPSHOT-jar-with-dependencies.jar"),
        );
        assert_eq!(
            cache.newest_snapshot_build(&c, "3.0-SNAPSHOT").as_deref(),
            Some("3.0-SNAPSHOT")
        );
        assert_eq!(
            cache.newest_version(&Coordinates::parse("x:y").unwrap(), false),
            None
        );
    }

    #[test]
    fn base_versions() {
        assert_eq!(base_version("1.0-20261123.063745-1"), "1.0-SNAPSHOT");
        assert_eq!(base_version("1.0"), "1.0");
        assert_eq!(base_version("1.0-SNAPSHOT"), "1.0-SNAPSHOT");
    }

    #[test]
    fn lock_is_exclusive_across_handles() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let target = dir.path().join("g/a/1/a-1.jar");
        let held = cache.lock(&target).unwrap();
        let lock_path = dir.path().join("g/a/1/.a-1.jar.lock");
        let other = File::open(&lock_path).unwrap();
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
        drop(other);
        // A killed download's temp file goes when the lock is next taken.
        let stale = dir.path().join("g/a/1/.a-1.jar.tmp-999-abc");
        fs::write(&stale, b"partial").unwrap();
        let _held = cache.lock(&target).unwrap();
        assert!(!stale.exists());
    }
}
