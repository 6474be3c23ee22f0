//! greasestatus: the installed view with next fire times (host zone, CRON_TZ, DST),
//! `next`, `projects`, `--json`, `--at`.

use crate::harness::{World, text};

const CRONTAB: &str = "30 2 * * * nobody greaserun --runner shell /bin/echo fixed\n\
*/30 * * * * nobody greaserun --runner shell /bin/echo interval\n\
@reboot nobody greaserun --runner shell /bin/echo boot\n\
CRON_TZ=America/New_York\n\
0 9 * * * nobody greaserun --runner shell /bin/echo ny\n";

fn launched_and_snatched() -> World {
    let w = World::new();
    w.init_store();
    let p = w.project("p", "com.example", "jobs", &[("day.cron", CRONTAB)]);
    assert!(w.launch(&p, &[]).status.success());
    assert!(w.snatch(&[]).status.success());
    w
}

#[test]
fn installed_view_follows_the_daemon_across_a_dst_jump() {
    let w = launched_and_snatched();
    // 01:30 CET on the night Stockholm skips 02:00-03:00.
    let out = w
        .cmd("greasestatus")
        .env("TZ", "Europe/Stockholm")
        .args(["--json", "--at", "2026-03-29T00:30:00Z"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &j["projects"][0];
    assert_eq!(p["group"], "com.example");
    assert_eq!(p["revision"], "rev1");
    let c = &p["crontabs"][0];
    assert_eq!(c["name"], "day.cron");
    assert_eq!(c["file"], "sgtest__com_example__jobs__day_cron");
    let next: Vec<_> = c["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["next"].clone())
        .collect();
    assert_eq!(
        next,
        [
            serde_json::json!("2026-03-29T03:00:00+02:00"),
            serde_json::json!("2026-03-29T03:00:00+02:00"),
            serde_json::Value::Null,
            serde_json::json!("2026-03-29T09:00:00-04:00"),
        ]
    );
    assert_eq!(c["entries"][3]["zone"], "America/New_York");
    assert_eq!(c["state"], "current");

    let out = w
        .cmd("greasestatus")
        .args(["--at", "2026-03-29T00:30:00Z"])
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("com.example:jobs  revision rev1  launched "),
        "{stdout}"
    );
    assert!(
        stdout.contains("  day.cron (sgtest__com_example__jobs__day_cron)"),
        "{stdout}"
    );
    assert!(stdout.contains("next never"), "{stdout}");
}

#[test]
fn installed_view_says_when_the_store_differs() {
    let w = launched_and_snatched();
    let p = w.project(
        "p",
        "com.example",
        "jobs",
        &[("day.cron", "@daily nobody greaserun x\n")],
    );
    assert!(w.launch(&p, &[]).status.success());
    let out = w.cmd("greasestatus").output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains(
            "day.cron (sgtest__com_example__jobs__day_cron)  [stale: the store's bundle differs"
        ),
        "{stdout}"
    );
    assert!(w.snatch(&[]).status.success());
    let out = w.cmd("greasestatus").arg("--json").output().unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["projects"][0]["crontabs"][0]["state"], "current");
    if let Some(dir) = w.store_dir() {
        std::fs::remove_file(dir.join("bundles/com.example__jobs")).unwrap();
        let out = w.cmd("greasestatus").output().unwrap();
        assert!(
            text(&out).0.contains("[orphan: no bundle in the store"),
            "{:?}",
            text(&out)
        );
    }
}

#[test]
fn next_prints_fire_times() {
    let w = World::new();
    let out = w
        .cmd("greasestatus")
        .args([
            "next",
            "0 0 13 * fri",
            "--count",
            "3",
            "--at",
            "2026-11-01T00:00:00Z",
            "--tz",
            "UTC",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        text(&out).0,
        "2026-11-06T00:00:00Z\n2026-11-13T00:00:00Z\n2026-11-20T00:00:00Z\n"
    );
    let out = w
        .cmd("greasestatus")
        .args(["next", "0 0 L * *"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .starts_with("greasestatus: error: invalid schedule"),
        "{:?}",
        text(&out)
    );
    let out = w
        .cmd("greasestatus")
        .args(["next", "@daily", "--tz", "Mars/Base"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn projects_lists_bundles_and_flags_bad_ones() {
    let w = launched_and_snatched();
    let out = w.cmd("greasestatus").arg("projects").output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.starts_with("com.example:jobs  1 crontab(s)  revision rev1  launched "),
        "{stdout}"
    );
    if let Some(dir) = w.store_dir() {
        std::fs::write(dir.join("bundles/x__y"), "{").unwrap();
        let out = w.cmd("greasestatus").arg("projects").output().unwrap();
        assert!(
            text(&out)
                .0
                .contains("bundles/x__y  INVALID: not a valid bundle"),
            "{:?}",
            text(&out)
        );
        // Without the store the installed view still works, and says what is missing.
        std::fs::remove_file(dir.join(".scalegrease-store")).unwrap();
        let out = w.cmd("greasestatus").output().unwrap();
        let (stdout, err) = text(&out);
        assert!(out.status.success());
        assert!(stdout.contains("com.example:jobs  revision -"), "{stdout}");
        assert!(
            err.contains("revisions, launch times and sync states are not shown"),
            "{err}"
        );
        let out = w.cmd("greasestatus").arg("projects").output().unwrap();
        assert_eq!(out.status.code(), Some(69));
    }
}
