//! Unit tests of alerts: each event created and delivered once farm-wide, delivery
//! retried with backoff then given up, and a check round whose store cost does not
//! grow with history.

use super::*;
use crate::farm::ledger::tests::{publish_at, record};
use crate::farm::ledger::{SlotState, ledger};
use crate::model::record::Status;
use crate::model::slot::Slot;

#[test]
fn each_event_is_created_once_farm_wide_and_delivered_once() {
    let (d, store, cfg) = crate::arbitration::claim::tests::setup();
    publish_at(
        &*store,
        "CRON_TZ=UTC\n*/10 * * * * u greaserun --job j -r shell g:a\n",
        "2026-11-23T02:59:30Z",
    );
    let t0 = Slot::parse("2026-11-23T03:00Z").unwrap();
    record(&*store, t0, Status::Failed, "w1");
    record(&*store, t0.offset_secs(1200), Status::Succeeded, "w2");
    let now = t0.offset_secs(31 * 60).time();
    let out = d.path().join("out");
    let mut a = on_host(cfg.clone(), "a");
    a.config.alerts.command = vec![
        "sh".into(),
        "-c".into(),
        format!(
            "cat >> {}; echo \" $SCALEGREASE_EVENT\" >> {0}",
            out.display()
        ),
    ];
    let b = AlertOptions {
        host: "b".into(),
        ..a.clone()
    };
    let all = |_: &str| true;
    let won = check_round(&*store, &a, now, &all).unwrap();
    assert_eq!(
        won,
        Checked {
            entries: 1,
            events: 3
        }
    );
    assert_eq!(check_round(&*store, &b, now, &all).unwrap().events, 0);
    assert_eq!(check_round(&*store, &a, now, &all).unwrap().events, 0);

    let sent = deliver::deliver_round(&*store, &b, now).unwrap();
    assert_eq!((sent.sent, sent.retrying), (3, 0));
    assert!(!deliver::deliver_round(&*store, &a, now).unwrap().any());
    let text = std::fs::read_to_string(&out).unwrap();
    let kinds: Vec<&str> = text.lines().filter_map(|l| l.rsplit(' ').next()).collect();
    assert_eq!(kinds, ["failed", "missing", "recovered"], "{text}");
    assert!(text.contains("\"detected_by\":\"a\""), "{text}");

    let l = ledger(&*store, &cfg, Some("j"), t0, now).unwrap();
    let s = &l[0].slots;
    assert_eq!(s[1].state, SlotState::Missing);
    assert_eq!(s[1].alerts.len(), 1);
    assert!(
        s[1].alerts[0].delivery.starts_with("delivered "),
        "{:?}",
        s[1]
    );
}

#[test]
fn a_failed_delivery_is_retried_with_backoff_then_given_up() {
    let (_d, store, cfg) = crate::arbitration::claim::tests::setup();
    publish_at(
        &*store,
        "CRON_TZ=UTC\n*/10 * * * * u greaserun --job j -r shell g:a\n",
        "2026-11-23T02:59:30Z",
    );
    let t0 = Slot::parse("2026-11-23T03:00Z").unwrap();
    record(&*store, t0, Status::Failed, "w1");
    let now = t0.offset_secs(5 * 60).time();
    let mut a = on_host(cfg, "a");
    a.config.alerts.command = vec!["sh".into(), "-c".into(), "echo nope >&2; exit 3".into()];
    assert_eq!(check_round(&*store, &a, now, &|_| true).unwrap().events, 1);
    let r = deliver::deliver_round(&*store, &a, now).unwrap();
    assert_eq!(r.retrying, 1);
    // Not due again before the backoff.
    assert!(!deliver::deliver_round(&*store, &a, now).unwrap().any());
    let v = event::read(&*store, "j", t0).unwrap();
    assert_eq!(v[0].attempts, 1);
    assert!(v[0].view().delivery.contains("retrying (1)"), "{:?}", v[0]);
    assert!(v[0].last_error.as_deref().unwrap().contains("nope"));
    let later = now + chrono::TimeDelta::days(2);
    let r = deliver::deliver_round(&*store, &a, later).unwrap();
    assert_eq!(r.gave_up, 1);
    assert!(store.keys(crate::model::keys::ALERTS).unwrap().is_empty());
}

#[test]
fn a_check_costs_the_same_store_operations_however_long_the_history() {
    let cost = |older: i64| {
        let (_d, store, cfg) = crate::arbitration::claim::tests::setup();
        publish_at(
            &*store,
            "CRON_TZ=UTC\n*/5 * * * * u greaserun --job j -r shell g:a\n",
            "2026-10-01T00:00:00Z",
        );
        let newest = Slot::parse("2026-11-23T03:00Z").unwrap();
        for i in 0..13 + older {
            record(
                &*store,
                newest.offset_secs(-300 * i),
                Status::Succeeded,
                "w",
            );
        }
        let counting = crate::store::spy::Spy::new(&*store);
        let a = on_host(cfg, "a");
        let r = round(&counting, &a, newest.time(), &|_| true).unwrap();
        assert_eq!(r.checked.events, 0);
        (counting.ops(), counting.entries())
    };
    let short = cost(2);
    assert_eq!(short, cost(100));
    assert!(short.0.values().sum::<u64>() < 20, "{short:?}");
}

#[test]
fn a_check_reads_the_bundles_again_only_when_their_stamp_moved() {
    let (_d, store, cfg) = crate::arbitration::claim::tests::setup();
    let one = "CRON_TZ=UTC\n*/5 * * * * u greaserun --job j -r shell g:a\n";
    publish_at(&*store, one, "2026-10-01T00:00:00Z");
    let a = on_host(cfg, "a");
    let now = Slot::parse("2026-11-23T03:00Z").unwrap().time();
    let counting = crate::store::spy::Spy::new(&*store);
    // The directory store trusts its stamp once bundles/ has not changed for 2 s: round
    // until a round lists no bundle.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        counting.reset();
        assert_eq!(
            check_round(&counting, &a, now, &|_| true).unwrap().entries,
            1
        );
        if !counting.ops().contains_key("list") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "bundles read every round"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(counting.ops().get("stamp"), Some(&1));
    // A publish moves the stamp: the next round reads the bundles and sees the new entry.
    let two = format!("{one}*/5 * * * * u greaserun --job k -r shell g:a\n");
    publish_at(&*store, &two, "2026-10-01T00:00:00Z");
    counting.reset();
    assert_eq!(
        check_round(&counting, &a, now, &|_| true).unwrap().entries,
        2
    );
    assert_eq!(counting.ops().get("list"), Some(&1));
}

/// A worker `host`'s alert options under `config`, with nothing cached or trusted.
fn on_host(config: crate::config::Config, host: &str) -> AlertOptions {
    AlertOptions {
        published: Default::default(),
        config,
        host: host.into(),
        trusted_keys: Vec::new(),
    }
}
