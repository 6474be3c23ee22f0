//! The greaserun entries installed on this worker: the files greasesnatch wrote in the
//! cron directory (`<prefix>__*`, each opening with the header naming its project),
//! parsed as [`crate::farm::entry`] parses published entries. The worker runs only
//! these: what greasesnatch verified and installed here, never the store's bundle text.
//! Entries that placement left to other workers (commented out with `#held-elsewhere: `)
//! count as installed: cron does not start them here, but the queue may.
//! A job name that two installed entries share is ambiguous and left out (a request
//! names a job, so the worker must know which command that is).
//!
//! A watching worker keeps what it read in a [`Cache`]: the files are parsed again only
//! when one of them changed (its inode, size, modification or change time), so a round
//! woken by the queue costs one `lstat` per installed file, not a parse of every entry.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::dispatch::bundle;
use crate::dispatch::crontab;
use crate::dispatch::project::Project;
use crate::dispatch::snatch::{parse_header, uncomment_held};
use crate::farm::entry::{GreaserunEntry, entries};
use crate::util::dirfd::Dir;

/// An installed greaserun entry and the project whose bundle installed it.
#[derive(Debug, Clone)]
pub struct Installed {
    pub entry: GreaserunEntry,
    pub project: Project,
    /// The installed file's name in the cron directory.
    pub file: String,
}

/// The installed greaserun entries of `cron_dir` by job name. Files without
/// greasesnatch's header, unreadable files, symlinks and entries that are not greaserun
/// commands are skipped; a job installed twice is left out with a warning.
pub fn installed(cron_dir: &Path, prefix: &str) -> std::io::Result<BTreeMap<String, Installed>> {
    let dir = Dir::open(cron_dir)?;
    let names = own_files(&dir, prefix)?;
    Ok(read_files(&dir, names, cron_dir))
}

/// The installed entries as last read, and the identity of each file they came from.
#[derive(Debug, Default)]
pub struct Cache {
    stamps: Vec<(String, Stamp)>,
    entries: Arc<BTreeMap<String, Installed>>,
}

/// What tells a file changed: device, inode, size, modification and change time.
type Stamp = (u64, u64, i64, i64, i64, i64, i64);

impl Cache {
    /// [`installed`], parsing the files again only when one of them changed (or was
    /// added or removed) since the last call.
    pub fn installed(
        &mut self,
        cron_dir: &Path,
        prefix: &str,
    ) -> std::io::Result<Arc<BTreeMap<String, Installed>>> {
        let dir = Dir::open(cron_dir)?;
        let names = own_files(&dir, prefix)?;
        // Stamped before reading: a file changed after its stamp is read again next time.
        let mut stamps = Vec::with_capacity(names.len());
        for n in &names {
            if let Some(s) = dir.stat(std::ffi::OsStr::new(n))? {
                let stamp = (
                    s.st_dev,
                    s.st_ino,
                    s.st_size,
                    s.st_mtime,
                    s.st_mtime_nsec,
                    s.st_ctime,
                    s.st_ctime_nsec,
                );
                stamps.push((n.clone(), stamp));
            }
        }
        if stamps != self.stamps || self.stamps.is_empty() {
            self.entries = Arc::new(read_files(&dir, names, cron_dir));
            self.stamps = stamps;
        }
        Ok(Arc::clone(&self.entries))
    }
}

/// The names of greasesnatch's files in `dir` (prefix `<prefix>__`), sorted.
fn own_files(dir: &Dir, prefix: &str) -> std::io::Result<Vec<String>> {
    let own = format!("{}__", bundle::sanitize(prefix));
    let mut names: Vec<String> = dir
        .names()?
        .into_iter()
        .filter_map(|n| n.into_string().ok())
        .filter(|n| n.starts_with(&own))
        .collect();
    names.sort();
    Ok(names)
}

/// Reads and parses the files `names` of `dir` (relative to the opened directory, never
/// following a symlink, as greasesnatch).
fn read_files(dir: &Dir, names: Vec<String>, cron_dir: &Path) -> BTreeMap<String, Installed> {
    let mut out: BTreeMap<String, Installed> = BTreeMap::new();
    let mut twice: Vec<String> = Vec::new();
    for file in names {
        let Ok(Some(bytes)) = dir.read(std::ffi::OsStr::new(&file)) else {
            continue;
        };
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let Some((project, _)) = parse_header(&text) else {
            continue;
        };
        let text = uncomment_held(&text);
        for entry in entries(&crontab::parse(&text)).into_iter().flatten() {
            let job = entry.job.clone();
            let it = Installed {
                entry,
                project: project.clone(),
                file: file.clone(),
            };
            if out.insert(job.clone(), it).is_some() {
                twice.push(job);
            }
        }
    }
    for job in twice {
        if out.remove(&job).is_some() {
            tracing::warn!(
                "job {job:?} is installed by more than one entry in {}: the queue's requests for it are left to other workers",
                cron_dir.display()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::snatch::installed_content;

    #[test]
    fn installed_entries_by_job_without_ambiguous_or_foreign_ones() {
        let d = tempfile::tempdir().unwrap();
        let p = Project {
            group: "g".into(),
            artifact: "a".into(),
        };
        let one = "#held-elsewhere: 0 3 * * * u greaserun --job one -r shell g:a\n\
                   0 4 * * * u greaserun --job twice -r shell g:a\n\
                   0 5 * * * u /bin/echo not greaserun\n";
        let two = "0 6 * * * v greaserun --job twice -r shell g:b\n";
        std::fs::write(
            d.path().join("p__g__a__one"),
            installed_content(&p, "one", one),
        )
        .unwrap();
        std::fs::write(
            d.path().join("p__g__a__two"),
            installed_content(&p, "two", two),
        )
        .unwrap();
        // Without greasesnatch's header, or without the prefix: not installed by it.
        std::fs::write(
            d.path().join("p__g__a__bare"),
            "0 3 * * * u greaserun --job bare -r shell g:a\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("other"),
            installed_content(&p, "x", "0 3 * * * u greaserun --job other -r shell g:a\n"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            d.path().join("p__g__a__one"),
            d.path().join("p__g__a__link"),
        )
        .unwrap();
        let got = installed(d.path(), "p").unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["one"]);
        let it = &got["one"];
        assert_eq!(
            (it.entry.user.as_str(), it.file.as_str()),
            ("u", "p__g__a__one")
        );
        assert_eq!(it.project, p);
    }

    #[test]
    fn the_cache_parses_again_only_when_a_file_changed() {
        let d = tempfile::tempdir().unwrap();
        let p = Project {
            group: "g".into(),
            artifact: "a".into(),
        };
        let write = |name: &str, jobs: &[&str]| {
            let text: String = jobs
                .iter()
                .map(|j| format!("0 3 * * * u greaserun --job {j} -r shell g:a\n"))
                .collect();
            let tmp = d.path().join(".tmp");
            std::fs::write(&tmp, installed_content(&p, "x", &text)).unwrap();
            std::fs::rename(&tmp, d.path().join(name)).unwrap();
        };
        write("p__g__a__one", &["one"]);
        let mut cache = Cache::default();
        let first = cache.installed(d.path(), "p").unwrap();
        assert_eq!(first.keys().collect::<Vec<_>>(), ["one"]);
        let again = cache.installed(d.path(), "p").unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "nothing changed: not parsed again"
        );
        write("p__g__a__one", &["one", "two"]);
        let changed = cache.installed(d.path(), "p").unwrap();
        assert_eq!(changed.keys().collect::<Vec<_>>(), ["one", "two"]);
        write("p__g__a__three", &["three"]);
        std::fs::remove_file(d.path().join("p__g__a__one")).unwrap();
        let got = cache.installed(d.path(), "p").unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["three"]);
        let fresh = installed(d.path(), "p").unwrap();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            fresh.keys().collect::<Vec<_>>()
        );
    }
}
