//! Root and every user write only where they checked (issue 12, items 4, 5, 6, 7, 11):
//! a symlink, directory or fifo planted in the cron dir, the directory store or the log
//! directory is reported and never followed; the cron dir and the victim files are
//! compared byte for byte (and by mtime) before and after.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use crate::harness::{World, text};

pub(crate) fn entry(user: &str, what: &str) -> String {
    format!("*/5 * * * * {user} greaserun --runner shell /bin/echo {what}\n")
}

/// name -> (file type, mtime ns, content or link target) of everything in `dir`, dot
/// files included, not following symlinks.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, (String, i64, Vec<u8>)> {
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
pub(crate) fn victim(w: &World) -> (PathBuf, Vec<u8>, i64) {
    let p = w.write("victim/precious", "precious\n");
    let m = std::fs::metadata(&p).unwrap();
    (
        p,
        b"precious\n".to_vec(),
        m.mtime() * 1_000_000_000 + m.mtime_nsec(),
    )
}

pub(crate) fn assert_untouched(v: &(PathBuf, Vec<u8>, i64)) {
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
pub(crate) fn installed() -> (World, PathBuf) {
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
pub(crate) fn log_files(w: &World) -> Vec<PathBuf> {
    walkdir::WalkDir::new(w.join("logs"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

pub(crate) fn greaserun(w: &World, what: &str) -> std::process::Output {
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
