//! The slot ledger through the real binaries (issue 10): a published entry's scheduled
//! slots each get a state in `greasestatus ledger` — the ones greaserun ran as it ended,
//! the ones nobody claimed `missing` once their grace passed — in text and JSON.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use scalegrease::dispatch::bundle::{Bundle, CrontabFile, key_for};
use scalegrease::dispatch::project::Project;
use scalegrease::model::slot::Slot;

use crate::harness::{World, text};

/// Publishes project `com.example:<artifact>` with one crontab, as greaselaunch would
/// have `ago` before now (a bundle published now expects nothing of earlier slots).
pub fn publish_backdated(w: &World, artifact: &str, crontab: &str, ago: TimeDelta) {
    let p = Project {
        group: "com.example".into(),
        artifact: artifact.into(),
    };
    let at = (Utc::now() - ago).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let b = Bundle::new(
        &p,
        vec![CrontabFile {
            name: "a.cron".into(),
            content: crontab.into(),
        }],
        at,
        "ci@test".into(),
        None,
    );
    w.store().put(&key_for(&p), &b.encode(), None).unwrap();
}

/// The five-minute slot at or before `t`.
fn five(t: DateTime<Utc>) -> Slot {
    let s = Slot::at(t);
    s.offset_secs(-60 * i64::from(s.time().minute() % 5))
}

fn greaserun(w: &World, slot: &Slot, script: &str) {
    let jar = w.empty_jar();
    let out = w
        .cmd("greaserun")
        .env("SCALEGREASE_HOSTNAME", "w1")
        .args(["--job", "ledger-job", "--slot", &slot.key()])
        .args([
            "--runner",
            "shell",
            jar.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "{:?}", text(&out));
}

#[test]
fn scheduled_slots_show_what_ran_and_what_went_missing() {
    let w = World::new();
    w.init_store();
    publish_backdated(
        &w,
        "ledger",
        "CRON_TZ=UTC\n*/5 * * * * nobody greaserun --job ledger-job -r shell g:a\n",
        TimeDelta::minutes(40),
    );
    let b = five(Utc::now());
    let (ok, bad, lost) = (
        b.offset_secs(-20 * 60),
        b.offset_secs(-15 * 60),
        b.offset_secs(-10 * 60),
    );
    greaserun(&w, &ok, "echo fine");
    greaserun(&w, &bad, "echo broken; exit 3");

    let out = w
        .cmd("greasestatus")
        .args(["ledger", "ledger", "--since", "30m", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["job"], "ledger-job", "{v}");
    assert_eq!(v[0]["schedule"], "*/5 * * * *");
    assert_eq!(v[0]["project"], "com.example:ledger");
    let state = |s: &Slot| {
        v[0]["slots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["slot"] == s.key())
            .map(|x| (x["state"].as_str().unwrap().to_string(), x.clone()))
            .unwrap_or_else(|| panic!("no slot {} in {v}", s.key()))
    };
    assert_eq!(state(&ok).0, "succeeded");
    let (st, failed) = state(&bad);
    assert_eq!(st, "failed");
    assert_eq!(
        (failed["host"].as_str(), failed["exit_code"].as_i64()),
        (Some("w1"), Some(3))
    );
    assert_eq!(state(&lost).0, "missing");
    assert_eq!(state(&b.offset_secs(-25 * 60)).0, "missing");

    let table = w
        .cmd("greasestatus")
        .args(["ledger", "ledger-job", "--since", "30m"])
        .output()
        .unwrap();
    let (stdout, _) = text(&table);
    assert!(stdout.starts_with("SLOT"), "{stdout}");
    assert!(
        stdout.contains("missing") && stdout.contains("failed"),
        "{stdout}"
    );

    let unknown = w
        .cmd("greasestatus")
        .args(["ledger", "no-such-job"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1), "{:?}", text(&unknown));
    assert!(
        text(&unknown).1.contains("ledger-job"),
        "{:?}",
        text(&unknown)
    );
}
