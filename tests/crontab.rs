//! Crontab validation through greaselaunch: every error of every file, compiler style,
//! and nothing published.

use crate::harness::{World, text};

const GOOD: &str = "# nightly\nMAILTO=ops@example.com\n30 2 * * mon-fri batch greaserun --runner shell /bin/true\n";

#[test]
fn check_reports_every_error_and_publishes_nothing() {
    let w = World::new();
    w.init_store();
    let p = w.project(
        "p",
        "com.example",
        "jobs",
        &[
            ("a.cron", GOOD),
            ("b.cron", "61 * * * * batch greaserun x\n* * * * monday batch greaserun y\n@every batch greaserun z\n"),
            ("c.cron", "* * * * * batch\n1/20 * * * * batch greaserun q\n"),
        ],
    );
    for mode in [&["--check"][..], &[]] {
        let out = w.launch(&p, mode);
        let (stdout, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
        for want in [
            "src/main/cron/b.cron:1:1: error: minute 61 out of range (minute is 0-59)",
            "src/main/cron/b.cron:2:9: error: unknown name \"monday\"",
            "src/main/cron/b.cron:3:1: error: unknown nickname \"@every\"",
            "src/main/cron/c.cron:1:16: error: missing command",
            "src/main/cron/c.cron:2:1: error: step on a single number",
            "greaselaunch: error: 5 error(s) in 2 crontab file(s); nothing was published",
        ] {
            assert!(err.contains(want), "expected {want:?} in:\n{err}");
        }
    }
    let projects = w
        .cmd("greasestatus")
        .args(["projects", "--json"])
        .output()
        .unwrap();
    assert_eq!(text(&projects).0.trim(), "[]");
}

#[test]
fn warnings_do_not_fail() {
    let w = World::new();
    let p = w.project(
        "p",
        "g",
        "a",
        &[(
            "w.cron",
            "* * * * * batch date +%F\n* * * * * batch greaserun x",
        )],
    );
    let out = w.launch(&p, &["--check"]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("src/main/cron/w.cron:1:17: warning: entry does not call greaserun"),
        "{err}"
    );
    assert!(
        err.contains("src/main/cron/w.cron:1:23: warning: unescaped `%`"),
        "{err}"
    );
    assert!(
        err.contains("src/main/cron/w.cron:2:28: warning: no newline at end of file"),
        "{err}"
    );
    assert!(
        stdout.contains("greaselaunch: g:a (1 crontab file(s), revision rev1) is valid"),
        "{stdout}"
    );
}
