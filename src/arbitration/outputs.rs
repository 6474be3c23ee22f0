//! Whether a slot's outputs or inputs exist: `--skip-if-exists` (do not recompute),
//! `--backfill` (which slots are missing) and `--wait-for` (start once inputs appear).
//!
//! A pattern is filled from the slot ([`crate::model::params::fill_pattern`]: `{date}`
//! placeholders and strftime `%` codes) and names a path on a local or shared file
//! system. After filling it may use glob characters (`*`, `?`, `[...]`) in its file-name
//! segments; it then exists when anything matches.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::model::params::{self, ParamError};
use crate::model::slot::Slot;

/// Whether every pattern exists for `slot` (true for no patterns). Returns the first
/// missing path (filled) when one is missing.
pub fn missing(patterns: &[String], slot: Slot) -> Result<Option<String>, ParamError> {
    for p in patterns {
        let filled = params::fill_pattern(p, slot)?;
        if !exists(&filled) {
            return Ok(Some(filled));
        }
    }
    Ok(None)
}

/// Whether a filled pattern matches an existing path.
pub fn exists(pattern: &str) -> bool {
    if !pattern.contains(['*', '?', '[']) {
        return Path::new(pattern).exists();
    }
    let mut found = vec![PathBuf::new()];
    let absolute = pattern.starts_with('/');
    if absolute {
        found = vec![PathBuf::from("/")];
    }
    for seg in pattern.split('/').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        let glob = seg.contains(['*', '?', '[']);
        let matcher = glob.then(|| globset::Glob::new(seg).map(|g| g.compile_matcher()));
        for base in &found {
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            match &matcher {
                None => {
                    let p = base.join(seg);
                    if p.symlink_metadata().is_ok() {
                        next.push(p);
                    }
                }
                Some(Err(_)) => {
                    let p = base.join(seg);
                    if p.exists() {
                        next.push(p);
                    }
                }
                Some(Ok(m)) => {
                    let Ok(rd) = std::fs::read_dir(dir) else {
                        continue;
                    };
                    for e in rd.flatten() {
                        let name = e.file_name();
                        let hidden = name.to_string_lossy().starts_with('.');
                        if m.is_match(&name) && (!hidden || seg.starts_with('.')) {
                            next.push(base.join(name));
                        }
                    }
                }
            }
        }
        if next.is_empty() {
            return false;
        }
        found = next;
    }
    true
}

/// Waits until every pattern exists for `slot`, polling with backoff (1 s doubling to
/// 30 s, never past the deadline). `Ok(Err(path))` on timeout, or as soon as `stop`
/// says so (checked at least once a second), names a missing path.
pub fn wait_for(
    patterns: &[String],
    slot: Slot,
    timeout: Duration,
    stop: &dyn Fn() -> bool,
) -> Result<Result<(), String>, ParamError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(250);
    loop {
        let Some(path) = missing(patterns, slot)? else {
            return Ok(Ok(()));
        };
        let now = Instant::now();
        if now >= deadline {
            return Ok(Err(path));
        }
        // Sleep in steps of a second at most, so `stop` (a cancel) is seen promptly.
        let until = now + pause.min(deadline - now);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if stop() {
                return Ok(Err(path));
            }
            std::thread::sleep(left.min(Duration::from_secs(1)));
        }
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_glob_patterns() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().display().to_string();
        std::fs::create_dir_all(d.path().join("out/2026-03-01")).unwrap();
        std::fs::write(d.path().join("out/2026-03-01/part-0001"), "x").unwrap();
        let s = Slot::parse("2026-03-01T05:00").unwrap();
        let pats = |p: &str| vec![format!("{root}/{p}")];
        assert_eq!(missing(&pats("out/{date}/part-0001"), s).unwrap(), None);
        assert_eq!(missing(&pats("out/%Y-%m-%d/part-*"), s).unwrap(), None);
        assert_eq!(missing(&pats("o*/{date}/part-000[0-9]"), s).unwrap(), None);
        let miss = missing(&pats("out/{date-1d}/part-*"), s).unwrap().unwrap();
        assert!(miss.ends_with("out/2026-02-28/part-*"), "{miss}");
        assert!(missing(&[], s).unwrap().is_none());
    }

    #[test]
    fn wait_for_times_out_or_sees_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("in");
        let s = Slot::now();
        let pat = vec![p.display().to_string()];
        assert!(
            wait_for(&pat, s, Duration::ZERO, &|| false)
                .unwrap()
                .is_err()
        );
        let p2 = p.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::write(p2, "x").unwrap();
        });
        assert!(
            wait_for(&pat, s, Duration::from_secs(60), &|| false)
                .unwrap()
                .is_ok()
        );
        t.join().unwrap();
    }
}
