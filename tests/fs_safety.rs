//! Root and every user write only where they checked (issue 12, items 4, 5, 6, 7, 11):
//! a symlink, directory or fifo planted in the cron dir, the directory store or the log
//! directory is reported and never followed; the cron dir and the victim files are
//! compared byte for byte (and by mtime) before and after.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, symlink};
use std::path::{Path, PathBuf};

use crate::harness::{World, text};

fn entry(user: &str, what: &str) -> String {
    format!("*/5 * * * * {user} greaserun --runner shell /bin/echo {what}\n")
}

/// name -> (file type, mtime ns, content or link target) of everything in `dir`, dot
/// files included, not following symlinks.
fn snapshot(dir: &Path) -> BTreeMap<String, (String, i64, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let body = if m.file_type().is_symlink() {
                std::fs::read_link(&p)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else if m.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            let ty = format!("{:?}", m.file_type());
            let name = e.file_name().to_string_lossy().into_owned();
            (name, (ty, m.mtime() * 1_000_000_000 + m.mtime_nsec(), body))
        })
        .collect()
}

/// A victim file outside every scalegrease directory: (path, content, mtime ns).
fn victim(w: &World) -> (PathBuf, Vec<u8>, i64) {
    let p = w.write("victim/precious", "precious\n");
    let m = std::fs::metadata(&p).unwrap();
    (
        p,
        b"precious\n".to_vec(),
        m.mtime() * 1_000_000_000 + m.mtime_nsec(),
    )
}

fn assert_untouched(v: &(PathBuf, Vec<u8>, i64)) {
    let m = std::fs::metadata(&v.0).unwrap();
    assert_eq!(
        std::fs::read(&v.0).unwrap(),
        v.1,
        "victim {} written",
        v.0.display()
    );
    assert_eq!(m.mtime() * 1_000_000_000 + m.mtime_nsec(), v.2);
}

/// A world with an initialised store and one launched and installed project.
fn installed() -> (World, PathBuf) {
    let w = World::new();
    w.init_store();
    let p = w.project(
        "p1",
        "com.example",
        "one",
        &[
            ("a.cron", &entry("nobody", "a")),
            ("b.cron", &entry("nobody", "b")),
        ],
    );
    assert!(w.launch(&p, &[]).status.success());
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    (w, p)
}

/// Item 11: a symlink planted at greasesnatch's lock path is refused (74), its target
/// is not written and nothing in the cron dir changes.
#[test]
fn a_symlinked_lock_is_refused() {
    let (w, _) = installed();
    let v = victim(&w);
    let lock = w.cron_dir().join(".sgtest.lock");
    let _ = std::fs::remove_file(&lock);
    symlink(&v.0, &lock).unwrap();
    let before = snapshot(&w.cron_dir());
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(
        err.contains(".sgtest.lock") && err.contains("symlink"),
        "{err}"
    );
    assert_eq!(snapshot(&w.cron_dir()), before);
    assert_untouched(&v);
}

/// Item 11: a directory planted at an installed file's name is reported and left alone;
/// the round goes on for every other file and project.
#[test]
fn a_directory_at_an_installed_name_does_not_abort_the_round() {
    let (w, p) = installed();
    let files = w.cron_files();
    let a = files
        .iter()
        .find(|n| n.ends_with("a_cron"))
        .unwrap()
        .clone();
    let b = files
        .iter()
        .find(|n| n.ends_with("b_cron"))
        .unwrap()
        .clone();
    let planted = w.cron_dir().join(&a);
    std::fs::remove_file(&planted).unwrap();
    std::fs::create_dir(&planted).unwrap();
    std::fs::write(planted.join("inside"), "inside\n").unwrap();
    let p2 = w.project(
        "p2",
        "com.example",
        "two",
        &[("c.cron", &entry("nobody", "c"))],
    );
    assert!(w.launch(&p2, &[]).status.success());
    w.project(
        "p1",
        "com.example",
        "one",
        &[
            ("a.cron", &entry("nobody", "a2")),
            ("b.cron", &entry("nobody", "b2")),
        ],
    );
    assert!(w.launch(&p, &[]).status.success());
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&a) && err.contains("is a directory"), "{err}");
    assert_eq!(
        std::fs::read_to_string(planted.join("inside")).unwrap(),
        "inside\n"
    );
    let b_text = std::fs::read_to_string(w.cron_dir().join(&b)).unwrap();
    assert!(b_text.contains("echo b2"), "{b_text}");
    assert!(w.cron_files().iter().any(|n| n.ends_with("c_cron")));
    // The project goes away: the directory is still left alone, the files go.
    std::fs::remove_dir_all(w.store_dir().unwrap().join("bundles")).unwrap();
    std::fs::create_dir(w.store_dir().unwrap().join("bundles")).unwrap();
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(planted.join("inside").exists());
    assert_eq!(w.cron_files(), vec![a.clone()]);
}

/// The job log files under the world's log dir (not following symlinks).
fn log_files(w: &World) -> Vec<PathBuf> {
    walkdir::WalkDir::new(w.join("logs"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

fn greaserun(w: &World, what: &str) -> std::process::Output {
    w.cmd("greaserun")
        .args(["--runner", "shell", "/bin/echo", "--", "echo", what])
        .output()
        .unwrap()
}

/// Item 5: a symlink planted at the job log's path is refused: the job still runs,
/// greaserun warns that its log is unsafe and logs to stdout only; the target is not
/// written. A symlinked directory on the log path is refused the same way.
#[test]
fn a_symlink_at_the_job_log_is_not_followed() {
    let w = World::new();
    let out = greaserun(&w, "first");
    assert!(out.status.success(), "{:?}", text(&out));
    let logs = log_files(&w);
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = logs[0].clone();
    let v = victim(&w);
    std::fs::remove_file(&log).unwrap();
    symlink(&v.0, &log).unwrap();
    let out = greaserun(&w, "second");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("second"), "{stdout}");
    assert!(
        stderr.contains("unsafe") && stderr.contains("symlink") && stderr.contains("stdout only"),
        "{stderr}"
    );
    assert_untouched(&v);
    assert!(
        std::fs::symlink_metadata(&log)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A symlinked directory on the way: nothing is made or written in its target.
    let other = w.join("victim-dir");
    std::fs::create_dir_all(&other).unwrap();
    let runner_dir = log.ancestors().nth(2).unwrap().to_path_buf();
    std::fs::remove_dir_all(&runner_dir).unwrap();
    symlink(&other, &runner_dir).unwrap();
    let out = greaserun(&w, "third");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("third") && stderr.contains("unsafe"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);
    assert_untouched(&v);
}

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
