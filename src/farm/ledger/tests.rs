//! Unit tests of the slot ledger over a directory store: every scheduled slot gets a
//! state and unclaimed ones go missing after the grace; and the helpers other tests use
//! to publish bundles and write run records.

use std::time::Duration;

use super::*;
use crate::dispatch::bundle::{Bundle, CrontabFile, key_for};
use crate::dispatch::project::Project;

pub(crate) fn publish(store: &dyn Store, crontab: &str) {
    publish_at(store, crontab, "2026-11-01T00:00:00Z");
}

/// Publishes `crontab` in project `g:jobs` as launched at `at`.
pub(crate) fn publish_at(store: &dyn Store, crontab: &str, at: &str) {
    let p = Project {
        group: "g".into(),
        artifact: "jobs".into(),
    };
    let b = Bundle::new(
        &p,
        vec![CrontabFile {
            name: "a.cron".into(),
            content: crontab.into(),
        }],
        at.into(),
        "ci@b".into(),
        None,
    );
    store.put(&key_for(&p), &b.encode(), None).unwrap();
}

pub(crate) fn record(store: &dyn Store, slot: Slot, status: Status, host: &str) {
    let r = RunRecord {
        host: host.into(),
        pid: 7,
        claimed: true,
        exit_code: Some(if status == Status::Failed { 3 } else { 0 }),
        duration_s: Some(1.5),
        ..RunRecord::new("j", &slot.key(), status)
    };
    records::write(store, &r, Duration::from_secs(3600)).unwrap();
}

#[test]
fn every_scheduled_slot_gets_a_state_and_unclaimed_ones_go_missing() {
    let (_d, store, cfg) = crate::arbitration::claim::tests::setup();
    publish(
        &*store,
        "CRON_TZ=UTC\n*/10 * * * * u greaserun --job j --missing-after 2m -r shell g:a\n",
    );
    let t0 = Slot::parse("2026-11-23T03:00Z").unwrap();
    record(&*store, t0, Status::Succeeded, "w1");
    record(&*store, t0.offset_secs(600), Status::Failed, "w2");
    record(&*store, t0.offset_secs(300), Status::Succeeded, "w3"); // a manual run
    let now = t0.offset_secs(31 * 60).time();
    let all = ledger(&*store, &cfg, Some("j"), t0, now).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].schedule, "*/10 * * * *");
    assert_eq!(all[0].grace_secs, 120);
    let got: Vec<(String, SlotState, bool)> = all[0]
        .slots
        .iter()
        .map(|s| (s.slot.clone(), s.state, s.scheduled))
        .collect();
    let at = |m: i64| t0.offset_secs(m * 60).key();
    assert_eq!(
        got,
        [
            (at(0), SlotState::Succeeded, true),
            (at(5), SlotState::Succeeded, false),
            (at(10), SlotState::Failed, true),
            (at(20), SlotState::Missing, true),
            (at(30), SlotState::Due, true),
        ]
    );
    let failed = &all[0].slots[2];
    assert_eq!(
        (
            failed.host.as_deref(),
            failed.exit_code,
            failed.run_id.as_deref()
        ),
        (Some("w2"), Some(3), Some("w2-7"))
    );
    let text = view::table(&all);
    assert!(text.contains("missing") && text.contains("due"), "{text}");
    assert!(view::json(&all).contains("\"missing\""));

    // From a later slot, nothing older is listed.
    let later = entry_ledger(
        &*store,
        &cfg,
        &published::find(&*store, "j").unwrap(),
        t0.offset_secs(600),
        now,
        Duration::from_secs(3600),
    )
    .unwrap();
    let states: Vec<SlotState> = later.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [SlotState::Failed, SlotState::Due, SlotState::Due],
        "a long grace keeps slots due"
    );
    assert!(matches!(
        ledger(&*store, &cfg, Some("nope"), t0, now),
        Err(FarmError::UnknownJob { .. })
    ));
}

#[test]
fn fire_slots_keep_the_newest() {
    let s = Schedule::parse("* * * * *").unwrap();
    let t0 = Slot::parse("2026-11-23T03:00Z").unwrap();
    let now = t0.offset_secs(60 * (MAX_SLOTS as i64 + 9)).time();
    let v = fire_slots(&s, Zone::named("UTC").unwrap(), t0, now);
    assert_eq!(v.len(), MAX_SLOTS);
    assert_eq!(v.last().unwrap().time(), now);
}
