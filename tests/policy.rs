//! The worker's run-as and content policy (issue 12, items 2, 3 and 9), through the real
//! greaselaunch and greasesnatch: a uid-0 alias and system accounts are refused, a normal
//! account is installed, `launch.allowed_users` exceptions per project group; refused
//! environment lines, control bytes, over-long values and plain commands, each with
//! file:line:col. A refused entry rejects its project's bundle; the cron dir stays byte
//! for byte as it was. Users are created with useradd (prefix `sgt`, removed on Drop);
//! the tests that need that skip with a message when not root.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{World, text, wait_for};
use scalegrease::dispatch::bundle::{Bundle, CrontabFile, key_for};
use scalegrease::dispatch::project::Project;

fn entry(user: &str, what: &str) -> String {
    format!("*/5 * * * * {user} greaserun --runner shell /bin/echo {what}\n")
}

/// name -> (inode, mtime ns, bytes) of every file in the cron dir, dot files included.
fn snapshot(w: &World) -> BTreeMap<String, (u64, i64, Vec<u8>)> {
    std::fs::read_dir(w.cron_dir())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            let c = std::fs::read(e.path()).unwrap_or_default();
            let name = e.file_name().to_string_lossy().into_owned();
            (
                name,
                (m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec(), c),
            )
        })
        .collect()
}

/// A system user made for one test, removed on Drop.
struct TestUser(String);

impl TestUser {
    /// `useradd` with `args`, retried while another test holds the passwd lock.
    fn add(tag: &str, args: &[&str]) -> TestUser {
        let name = format!("sgt{tag}{}", std::process::id() % 100_000);
        wait_for("useradd", Duration::from_secs(30), || {
            let out = Command::new("useradd")
                .args(["-M", "-N", "-s", "/usr/sbin/nologin"])
                .args(args)
                .arg(&name)
                .output()
                .unwrap();
            out.status.success().then_some(())
        });
        TestUser(name)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        for _ in 0..50 {
            // -f: a uid-0 alias shares its uid with running processes.
            let ok = Command::new("userdel").arg("-f").arg(&self.0).status();
            if ok.is_ok_and(|s| s.success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("could not remove test user {}", self.0);
    }
}

fn need_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("SKIPPED: creating users needs root");
    false
}

/// A world with a foreign file and two installed projects (`nobody` entries).
fn world() -> (World, PathBuf, PathBuf) {
    let w = World::new();
    w.init_store();
    w.write("cron.d/foreign", "# not ours\n");
    let p1 = w.project(
        "p1",
        "com.example",
        "one",
        &[("a.cron", &entry("nobody", "a"))],
    );
    let p2 = w.project(
        "p2",
        "org.other",
        "two",
        &[("b.cron", &entry("nobody", "b"))],
    );
    for p in [&p1, &p2] {
        assert!(w.launch(p, &[]).status.success());
    }
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    (w, p1, p2)
}

/// Launches `content` as p1's a.cron and runs greasesnatch: its stderr, after checking
/// it rejected the project and left the cron dir as it was.
fn rejected(w: &World, p1: &Path, content: &str) -> String {
    let before = snapshot(w);
    w.project("p1", "com.example", "one", &[("a.cron", content)]);
    let out = w.launch(p1, &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    snatch_rejects(w, &before)
}

fn snatch_rejects(w: &World, before: &BTreeMap<String, (u64, i64, Vec<u8>)>) -> String {
    let out = w.snatch(&[]);
    let (o, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{o}{err}");
    assert!(err.contains("rejected com.example:one"), "{err}");
    assert!(
        o.contains("0 installed, 0 updated, 0 removed, 1 unchanged, 1 rejected"),
        "{o}"
    );
    assert_eq!(&snapshot(w), before, "the cron dir changed");
    err
}

/// Puts a bundle for com.example:one straight into the store (what a store writer could
/// do, bypassing greaselaunch's checks).
fn put_bundle(w: &World, content: &str) {
    let project = Project {
        group: "com.example".into(),
        artifact: "one".into(),
    };
    let crontabs = vec![CrontabFile {
        name: "a.cron".into(),
        content: content.into(),
    }];
    let b = Bundle::new(
        &project,
        crontabs,
        "2026-11-30T00:00:00Z".into(),
        "t@h".into(),
        None,
    );
    let store = crate::harness::etcd::store_of(w);
    store.put(&key_for(&project), &b.encode(), None).unwrap();
}

#[test]
fn run_as_is_decided_by_uid() {
    if !need_root() {
        return;
    }
    let (mut w, p1, p2) = world();
    let alias = TestUser::add("z", &["-o", "-u", "0"]);
    let err = rejected(&w, &p1, &entry(&alias.0, "x"));
    assert!(
        err.contains(&format!(
            "a.cron:1: user \"{}\" has uid 0, an alias of root, and is not allowed on this worker (root needs launch.allow_root) (at a.cron:1:13)",
            alias.0
        )),
        "{err}"
    );
    for sys in ["daemon", "bin"] {
        let err = rejected(&w, &p1, &entry(sys, "x"));
        assert!(err.contains(&format!("user \"{sys}\" has uid")), "{err}");
        assert!(err.contains("below UID_MIN 1000"), "{err}");
    }
    let normal = TestUser::add("u", &[]);
    w.project(
        "p1",
        "com.example",
        "one",
        &[("a.cron", &entry(&normal.0, "x"))],
    );
    assert!(w.launch(&p1, &[]).status.success());
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let installed =
        std::fs::read_to_string(w.cron_dir().join("sgtest__com_example__one__a_cron")).unwrap();
    assert!(installed.ends_with(&entry(&normal.0, "x")), "{installed}");

    // Exceptions per project group: daemon for com.example* only, everyone else as usual.
    w.configure(|c| {
        c["launch"]["allowed_users"] =
            serde_json::json!(["*", {"user": "daemon", "groups": ["com.example*"]}])
    });
    w.project(
        "p1",
        "com.example",
        "one",
        &[("a.cron", &entry("daemon", "d"))],
    );
    assert!(w.launch(&p1, &[]).status.success());
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let before = snapshot(&w);
    w.project(
        "p2",
        "org.other",
        "two",
        &[("b.cron", &entry("daemon", "d"))],
    );
    assert!(w.launch(&p2, &[]).status.success());
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rejected org.other:two: b.cron:1: user \"daemon\" is allowed by launch.allowed_users only for other project groups than org.other"), "{err}");
    assert_eq!(snapshot(&w), before);
    // The alias stays refused even when listed by name.
    w.project(
        "p2",
        "org.other",
        "two",
        &[("b.cron", &entry("nobody", "b"))],
    );
    assert!(w.launch(&p2, &[]).status.success());
    w.configure(|c| {
        c["launch"]["allowed_users"] =
            serde_json::json!(["*", alias.0, {"user": "daemon", "groups": ["com.example"]}])
    });
    assert!(w.snatch(&[]).status.success());
    let err = rejected(&w, &p1, &entry(&alias.0, "x"));
    assert!(err.contains("an alias of root"), "{err}");
}

#[test]
fn refused_environment_lines_and_control_bytes() {
    let (mut w, p1, _) = world();
    let greaserun = entry("nobody", "x");
    let huge = format!("X={}\n", "v".repeat(200_000));
    let nul = "* * * * * nobody greaserun safe\0; rm -rf /important\n".to_string();
    for (content, at, what) in [
        (
            format!("LD_PRELOAD=/tmp/x.so\n{greaserun}"),
            "a.cron:1:1",
            "environment LD_PRELOAD is refused",
        ),
        (
            format!("  BASH_ENV=/tmp/x\n{greaserun}"),
            "a.cron:1:3",
            "environment BASH_ENV is refused",
        ),
        (
            format!("{greaserun}SHELL=/bin/zsh\n"),
            "a.cron:2:1",
            "environment SHELL is refused",
        ),
        (
            format!("{huge}{greaserun}"),
            "a.cron:1:1",
            "environment line of 200002 bytes",
        ),
        (nul.clone(), "a.cron:1:32", "control character U+0000"),
        (
            format!("# \u{1b}]0;owned\u{7}\n{greaserun}"),
            "a.cron:1:3",
            "control character U+001B",
        ),
    ] {
        // greaselaunch refuses it in CI, with the position.
        let before = snapshot(&w);
        w.project("p1", "com.example", "one", &[("a.cron", &content)]);
        let out = w.launch(&p1, &[]);
        let (_, err) = text(&out);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(&format!("{at}: error: {what}")), "{err}");
        // A bundle written around greaselaunch is refused on the worker.
        put_bundle(&w, &content);
        let err = snatch_rejects(&w, &before);
        assert!(err.contains(&format!("{at}: error: {what}")), "{err}");
    }
    // Listing a refused name in launch.allowed_env does not help, and the error says so.
    w.configure(|c| c["launch"]["allowed_env"] = serde_json::json!(["LD_PRELOAD", "HOME"]));
    let before = snapshot(&w);
    put_bundle(&w, &format!("LD_PRELOAD=/tmp/x.so\n{greaserun}"));
    let err = snatch_rejects(&w, &before);
    assert!(
        err.contains("refused whatever launch.allowed_env says"),
        "{err}"
    );

    // PATH outside the system directories and unknown names: the worker's allow-list.
    w.configure(|c| c["launch"]["allowed_env"] = serde_json::json!([]));
    let err = rejected(&w, &p1, &format!("PATH=/tmp:/usr/bin\n{greaserun}"));
    assert!(
        err.contains("a.cron:1:1: error: PATH names \"/tmp\", not a system directory"),
        "{err}"
    );
    let err = rejected(&w, &p1, &format!("MAILTO=ops\nHOME=/srv\n{greaserun}"));
    assert!(
        err.contains("a.cron:2:1: error: environment HOME is not allowed on this worker"),
        "{err}"
    );
    // Listed in config, they are installed.
    w.configure(|c| c["launch"]["allowed_env"] = serde_json::json!(["HOME"]));
    w.project(
        "p1",
        "com.example",
        "one",
        &[(
            "a.cron",
            &format!("PATH=/usr/bin:/bin\nHOME=/srv\n{greaserun}"),
        )],
    );
    assert!(w.launch(&p1, &[]).status.success());
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
}

#[test]
fn plain_commands_need_allow_plain_commands() {
    let (mut w, p1, _) = world();
    let plain = "*/5 * * * * nobody /usr/bin/touch /tmp/x\n";
    let err = rejected(&w, &p1, plain);
    assert!(
        err.contains("a.cron:1:20: error: entry does not call greaserun"),
        "{err}"
    );
    w.configure(|c| c["launch"]["allow_plain_commands"] = serde_json::json!(true));
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let installed =
        std::fs::read_to_string(w.cron_dir().join("sgtest__com_example__one__a_cron")).unwrap();
    assert!(installed.ends_with(plain), "{installed}");
}
