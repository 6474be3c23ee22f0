//! greasesnatch: install, update, remove, leave unchanged files and foreign files alone,
//! and keep every installed file through store faults, bad bundles and concurrent runs.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::harness::etcd::{self as backends, Backend};
use crate::harness::{World, text};

pub(crate) fn entry(user: &str, what: &str) -> String {
    format!("*/5 * * * * {user} greaserun --runner shell /bin/echo {what}\n")
}

/// name -> (inode, mtime ns, content) of every file in the cron dir.
pub(crate) fn snapshot(w: &World) -> BTreeMap<String, (u64, i64, String)> {
    w.cron_files()
        .into_iter()
        .map(|n| {
            let p = w.cron_dir().join(&n);
            let m = std::fs::metadata(&p).unwrap();
            let c = std::fs::read_to_string(&p).unwrap();
            (n, (m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec(), c))
        })
        .collect()
}

pub(crate) fn summary(out: &std::process::Output) -> String {
    text(out)
        .0
        .lines()
        .find(|l| l.starts_with("greasesnatch: "))
        .unwrap_or_default()
        .to_string()
}

/// A world with foreign files in its cron dir and two launched projects.
pub(crate) fn two_projects() -> (World, PathBuf, PathBuf) {
    two_projects_on(Backend::Dir).expect("the directory store always runs")
}

/// [`two_projects`] on a store of backend `b`; `None` when `b` cannot run here.
pub(crate) fn two_projects_on(b: Backend) -> Option<(World, PathBuf, PathBuf)> {
    let w = backends::world_on(b)?;
    w.init_store();
    for f in [
        "foreign",
        "sgtest",
        "sgtestx__y",
        ".hidden",
        "sgtest_single_underscore",
    ] {
        w.write(&format!("cron.d/{f}"), &format!("# {f}, not ours\n"));
    }
    let p1 = w.project(
        "p1",
        "com.example",
        "one",
        &[
            ("a.cron", &entry("nobody", "a")),
            ("b.cron", &entry("nobody", "b")),
        ],
    );
    let p2 = w.project(
        "p2",
        "com.example",
        "two",
        &[("c.cron", &entry("nobody", "c"))],
    );
    for p in [&p1, &p2] {
        assert!(w.launch(p, &[]).status.success());
    }
    Some((w, p1, p2))
}

pub(crate) const FOREIGN: [&str; 4] = [
    "foreign",
    "sgtest",
    "sgtest_single_underscore",
    "sgtestx__y",
];

pub(crate) fn assert_foreign_intact(w: &World) {
    for f in FOREIGN.iter().chain([&".hidden"]) {
        let c = std::fs::read_to_string(w.cron_dir().join(f)).unwrap();
        assert_eq!(c, format!("# {f}, not ours\n"));
    }
}

#[test]
fn installs_updates_removes_and_leaves_the_rest_untouched() {
    for b in Backend::ALL {
        if let Some((w, p1, p2)) = two_projects_on(b) {
            eprintln!("--- backend {b:?}");
            lifecycle(w, p1, p2);
        }
    }
}

pub(crate) fn lifecycle(w: World, p1: PathBuf, p2: PathBuf) {
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        summary(&out),
        "greasesnatch: 3 installed, 0 updated, 0 removed, 0 unchanged, 0 rejected"
    );
    let ours = [
        "sgtest__com_example__one__a_cron",
        "sgtest__com_example__one__b_cron",
        "sgtest__com_example__two__c_cron",
    ];
    let mut want: Vec<String> = FOREIGN
        .iter()
        .chain(ours.iter())
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(w.cron_files(), want);
    let installed = std::fs::read_to_string(w.cron_dir().join(ours[0])).unwrap();
    assert!(
        installed.starts_with("# scalegrease com.example:one a.cron "),
        "{installed}"
    );
    assert!(installed.ends_with(&entry("nobody", "a")));
    let mode = std::fs::metadata(w.cron_dir().join(ours[0]))
        .unwrap()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o644);

    // Nothing changed: nothing written.
    let before = snapshot(&w);
    let out = w.snatch(&[]);
    assert_eq!(
        summary(&out),
        "greasesnatch: 0 installed, 0 updated, 0 removed, 3 unchanged, 0 rejected"
    );
    assert_eq!(snapshot(&w), before);

    // A relaunch drops a.cron, changes b.cron and adds d.cron.
    w.project(
        "p1",
        "com.example",
        "one",
        &[
            ("b.cron", &entry("nobody", "B")),
            ("d.cron", &entry("nobody", "d")),
        ],
    );
    assert!(w.launch(&p1, &[]).status.success());
    let out = w.snatch(&["--dry-run"]);
    let (plan, _) = text(&out);
    assert!(
        plan.contains("would install") && plan.contains("d_cron"),
        "{plan}"
    );
    assert!(
        plan.contains("would update") && plan.contains("b_cron"),
        "{plan}"
    );
    assert!(
        plan.contains("would remove") && plan.contains("a_cron"),
        "{plan}"
    );
    assert!(
        plan.contains(
            "greasesnatch: would be 1 installed, 1 updated, 1 removed, 1 unchanged, 0 rejected"
        ),
        "{plan}"
    );
    assert_eq!(snapshot(&w), before, "--dry-run changed the cron dir");
    let out = w.snatch(&[]);
    assert_eq!(
        summary(&out),
        "greasesnatch: 1 installed, 1 updated, 1 removed, 1 unchanged, 0 rejected"
    );
    let after = snapshot(&w);
    assert_eq!(
        after[ours[2]], before[ours[2]],
        "the other project's file was touched"
    );
    assert!(after[ours[1]].2.ends_with(&entry("nobody", "B")));

    // --allow-empty removes a project's jobs from the farm.
    w.project("p2", "com.example", "two", &[]);
    assert!(w.launch(&p2, &["--allow-empty"]).status.success());
    let out = w.snatch(&[]);
    assert_eq!(
        summary(&out),
        "greasesnatch: 0 installed, 0 updated, 1 removed, 2 unchanged, 0 rejected"
    );
    assert!(!w.cron_dir().join(ours[2]).exists());
    assert_foreign_intact(&w);
}

#[test]
fn store_unmarked_or_missing_changes_nothing() {
    for b in Backend::ALL {
        if let Some((w, _, _)) = two_projects_on(b) {
            eprintln!("--- backend {b:?}");
            unmarked_or_missing(w);
        }
    }
}

pub(crate) fn unmarked_or_missing(mut w: World) {
    assert!(w.snatch(&[]).status.success());
    let before = snapshot(&w);
    backends::remove_marker(&w);
    let out = w.snatch(&[]);
    assert_eq!(out.status.code(), Some(69));
    let (_, err) = text(&out);
    assert!(err.starts_with("greasesnatch: error: store "), "{err}");
    assert!(err.contains("no marker file"), "{err}");
    assert_eq!(snapshot(&w), before);

    backends::lose_store(&mut w);
    let out = w.snatch(&[]);
    assert_eq!(out.status.code(), Some(69), "{:?}", text(&out));
    assert_eq!(snapshot(&w), before);
    assert_foreign_intact(&w);
}

/// Corrupts project one's bundle with `f`, runs greasesnatch, and checks project one's
/// files are kept, project two is still served, and the output says why.
pub(crate) fn rejected_bundle_keeps_files(corrupt: impl Fn(&str) -> String, why: &str) {
    for b in Backend::ALL {
        if let Some((w, _, p2)) = two_projects_on(b) {
            eprintln!("--- backend {b:?}");
            rejected_on(w, p2, &corrupt, why);
        }
    }
}

pub(crate) fn rejected_on(w: World, p2: PathBuf, corrupt: &dyn Fn(&str) -> String, why: &str) {
    assert!(w.snatch(&[]).status.success());
    // Behind scalegrease's back, through the store itself (any backend).
    let store = backends::store_of(&w);
    let key = "bundles/com.example__one";
    let original = String::from_utf8(store.get(key).unwrap().unwrap()).unwrap();
    store.put(key, corrupt(&original).as_bytes(), None).unwrap();
    w.project(
        "p2",
        "com.example",
        "two",
        &[("c.cron", &entry("nobody", "C"))],
    );
    assert!(w.launch(&p2, &[]).status.success());
    let before = snapshot(&w);
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rejected com.example:one: "), "{err}");
    assert!(err.contains(why), "expected {why:?} in {err}");
    assert!(err.contains("its installed files are kept"), "{err}");
    assert_eq!(
        summary(&out),
        "greasesnatch: 0 installed, 1 updated, 0 removed, 0 unchanged, 1 rejected"
    );
    let after = snapshot(&w);
    for f in [
        "sgtest__com_example__one__a_cron",
        "sgtest__com_example__one__b_cron",
    ] {
        assert_eq!(after[f], before[f]);
    }
    assert_foreign_intact(&w);
}

#[test]
fn truncated_bundle_is_rejected() {
    rejected_bundle_keeps_files(|s| s[..s.len() / 2].to_string(), "not a valid bundle");
}

#[test]
fn digest_mismatch_is_rejected() {
    rejected_bundle_keeps_files(
        |s| s.replace("/bin/echo a", "/bin/rm -rf /tmp/x"),
        "digest mismatch",
    );
}

#[test]
fn disallowed_or_unknown_users_are_rejected() {
    let (w, p1, _) = two_projects();
    assert!(w.snatch(&[]).status.success());
    let before = snapshot(&w);
    for (user, why) in [
        (
            "root",
            "is not allowed on this worker (root needs launch.allow_root)",
        ),
        ("no-such-user-sgtest", "does not exist on this worker"),
    ] {
        w.project("p1", "com.example", "one", &[("a.cron", &entry(user, "a"))]);
        assert!(w.launch(&p1, &[]).status.success());
        let out = w.snatch(&[]);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("a.cron:1: user \"{user}\" {why}")),
            "{err}"
        );
        assert_eq!(snapshot(&w), before);
    }
    // The worker's config decides: allowing root installs it.
    let mut w = w;
    w.configure(|c| c["launch"]["allow_root"] = serde_json::json!(true));
    w.project(
        "p1",
        "com.example",
        "one",
        &[("a.cron", &entry("root", "a"))],
    );
    assert!(w.launch(&p1, &[]).status.success());
    let out = w.snatch(&[]);
    assert_eq!(
        summary(&out),
        "greasesnatch: 0 installed, 1 updated, 1 removed, 1 unchanged, 0 rejected"
    );
}

#[test]
fn a_second_run_leaves_while_one_holds_the_lock() {
    let (w, _, _) = two_projects();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(w.cron_dir().join(".sgtest.lock"))
        .unwrap();
    lock.lock().unwrap();
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("another greasesnatch holds"), "{err}");
    assert_eq!(
        w.cron_files().len(),
        FOREIGN.len(),
        "installed while locked"
    );
    drop(lock);

    // Many at once: every run ends well and the result is the same as one run's.
    let children: Vec<_> = (0..6)
        .map(|i| {
            let mut c = w.spawn_cmd("greasesnatch");
            if i % 2 == 0 {
                c.arg("--wait");
            }
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
    }
    assert_eq!(w.cron_files().len(), FOREIGN.len() + 3);
    let temps: Vec<_> = std::fs::read_dir(w.cron_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
    let out = w.snatch(&[]);
    assert_eq!(
        summary(&out),
        "greasesnatch: 0 installed, 0 updated, 0 removed, 3 unchanged, 0 rejected"
    );
}
