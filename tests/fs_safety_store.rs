//! Store-side file safety (issue 12, items 4, 6, 7 and fifos): a symlinked store area is
//! neither pruned nor written, a missing or symlinked bundles/ changes nothing, a symlinked
//! bundle keeps its project's files, greaselaunch and symlinked crontabs, fifos. Helpers in
//! fs_safety.rs.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, symlink};
use std::path::{Path, PathBuf};

use crate::fs_safety::*;
use crate::harness::{World, text};

/// A victim directory with an old file in it: (dir, snapshot).
fn victim_dir(w: &World, name: &str) -> PathBuf {
    let d = w.join(&format!("victims/{name}"));
    std::fs::create_dir_all(d.join("job")).unwrap();
    for f in ["old", "job/old"] {
        let p = d.join(f);
        std::fs::write(&p, "old and precious\n").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(30 * 86400);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    d
}

fn tree(dir: &Path) -> BTreeMap<String, (String, i64, Vec<u8>)> {
    let mut all = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .flatten()
    {
        let rel = e
            .path()
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let parent = e.path().parent().unwrap();
        let snap = snapshot(parent);
        let name = e.file_name().to_string_lossy().into_owned();
        all.insert(rel, snap[&name].clone());
    }
    all
}

/// Item 4: with `heartbeats/` and `tails/` made symlinks to other directories, greaserun
/// (root's) neither prunes nor writes there: the victims are unchanged byte for byte and
/// by mtime, the job still runs.
#[test]
fn a_symlinked_store_area_is_neither_pruned_nor_written() {
    let w = World::new();
    w.init_store();
    let store = w.store_dir().unwrap();
    let mut victims = Vec::new();
    for area in ["heartbeats", "tails", "runs"] {
        let v = victim_dir(&w, area);
        std::fs::remove_dir(store.join(area)).unwrap();
        symlink(&v, store.join(area)).unwrap();
        victims.push((v.clone(), tree(&v)));
    }
    let out = greaserun(&w, "ran");
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("ran"), "{stdout} {stderr}");
    assert!(stderr.contains("symlink"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Pruning ran (maintenance/ is real) and refused to enter the symlinks.
    assert!(stderr.contains("not pruning"), "{stderr}");
    for (v, before) in &victims {
        assert_eq!(&tree(v), before, "{} changed", v.display());
    }
}

/// Item 6: a missing `bundles/` (moved away) or one that is a symlink is "store
/// unavailable" (69), not "no projects": the cron dir is unchanged byte for byte.
#[test]
fn a_missing_or_symlinked_bundles_area_changes_nothing() {
    let (w, _) = installed();
    let store = w.store_dir().unwrap();
    let moved = w.join("elsewhere");
    std::fs::rename(store.join("bundles"), &moved).unwrap();
    let before = snapshot(&w.cron_dir());
    assert_eq!(w.cron_files().len(), 2);
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("bundles is missing"), "{err}");
    assert_eq!(snapshot(&w.cron_dir()), before);
    symlink(&moved, store.join("bundles")).unwrap();
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("is a symlink"), "{err}");
    assert_eq!(snapshot(&w.cron_dir()), before);
}

/// Item 7: a bundle file that is a symlink is reported and its project's installed files
/// stay byte for byte; another project is still installed.
#[test]
fn a_symlinked_bundle_keeps_its_projects_files() {
    let (w, _) = installed();
    let bundles = w.store_dir().unwrap().join("bundles");
    let key = std::fs::read_dir(&bundles)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let copy = w.join("bundle-copy");
    std::fs::rename(&key, &copy).unwrap();
    symlink(&copy, &key).unwrap();
    let p2 = w.project(
        "p2",
        "com.example",
        "two",
        &[("c.cron", &entry("nobody", "c"))],
    );
    assert!(w.launch(&p2, &[]).status.success());
    let before = snapshot(&w.cron_dir());
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "a rejected bundle: {err}");
    assert!(
        err.contains("symlink") && err.contains(&key.display().to_string()),
        "{err}"
    );
    assert!(err.contains("rejected com.example:one"), "{err}");
    assert!(
        err.contains("is not a regular file and was not read"),
        "{err}"
    );
    let after = snapshot(&w.cron_dir());
    for (name, was) in &before {
        assert_eq!(after.get(name), Some(was), "{name} changed");
    }
    assert!(w.cron_files().iter().any(|n| n.ends_with("c_cron")));
}

/// Item 7: greaselaunch reads a crontab file that is a symlink in the project (the CI's
/// own checkout) as the file it points to, and refuses a dangling one (66): a project
/// whose only crontab is a symlink never becomes "no crontab files".
#[test]
fn greaselaunch_follows_a_symlinked_crontab_and_refuses_a_dangling_one() {
    let w = World::new();
    w.init_store();
    let shared = w.write("shared/nightly.cron", &entry("nobody", "linked"));
    let p = w.project("p1", "com.example", "one", &[]);
    let link = p.join("src/main/cron/nightly.cron");
    symlink(&shared, &link).unwrap();
    let out = w.launch(&p, &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(w.snatch(&[]).status.success());
    let files = w.cron_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let installed = std::fs::read_to_string(w.cron_dir().join(&files[0])).unwrap();
    assert!(installed.contains("echo linked"), "{installed}");
    std::fs::remove_file(&shared).unwrap();
    let out = w.launch(&p, &[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(66), "{err}");
    assert!(err.contains("nightly.cron"), "{err}");
}

/// Items 5, 7, 11 with fifos: a fifo at the job log, at a bundle's name or at an installed
/// file's name never hangs a run and is never written.
#[test]
fn fifos_are_reported_not_opened_for_writing() {
    let (w, _) = installed();
    let fifo = |p: &Path| {
        nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    };
    // At an installed file's name: left alone, the rest of the round goes on.
    let name = w.cron_files()[0].clone();
    let installed_path = w.cron_dir().join(&name);
    std::fs::remove_file(&installed_path).unwrap();
    fifo(&installed_path);
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("is a fifo") && err.contains(&name), "{err}");
    assert!(
        std::fs::symlink_metadata(&installed_path)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // At a bundle: rejected, its project's files kept.
    let bundles = w.store_dir().unwrap().join("bundles");
    let key = std::fs::read_dir(&bundles)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&key).unwrap();
    fifo(&key);
    let before = snapshot(&w.cron_dir());
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rejected com.example:one"), "{err}");
    assert_eq!(snapshot(&w.cron_dir()), before);
    // At the job log.
    let w = World::new();
    assert!(greaserun(&w, "first").status.success());
    let log = log_files(&w).pop().unwrap();
    std::fs::remove_file(&log).unwrap();
    fifo(&log);
    let out = greaserun(&w, "second");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("second") && stderr.contains("is a fifo"),
        "{stderr}"
    );
}
