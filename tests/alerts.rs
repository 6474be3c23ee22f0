//! Alerts through the real binaries (issue 10), at a real HTTP receiver on loopback
//! (Python's http.server): five `greasesnatch --watch` workers report a failed run and a
//! slot no worker started (its bundle refused by every worker's run-as policy) exactly
//! once each; and an alert whose receiver is down is retried until it arrives, once.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use scalegrease::model::keys;
use scalegrease::model::slot::Slot;
use serde_json::json;

use crate::harness::farm::Farm;
use crate::harness::receiver::Receiver;
use crate::harness::{World, skip_without, text, wait_for};
use crate::ledger::publish_backdated;

/// A crontab for job `lost`, run as nobody, whose one slot in the last hour was ten
/// minutes ago, missing after a minute.
fn lost_crontab() -> (String, Slot) {
    let slot = Slot::at(Utc::now() - TimeDelta::minutes(10));
    let t = slot.time();
    let c = format!(
        "CRON_TZ=UTC\n{} {} * * * nobody greaserun --job lost --missing-after 1m -r shell g:a\n",
        t.format("%-M"),
        t.format("%-H")
    );
    (c, slot)
}

#[test]
fn five_workers_report_each_event_once() {
    if skip_without("python3") {
        return;
    }
    let mut w = World::new();
    let mut rx = Receiver::port(w.path());
    rx.start();
    w.configure(|c| {
        c["alerts"] = json!({"webhook": rx.url(), "interval": "1s", "retry_delay": "1s"});
        // Every worker refuses the `lost` bundle's user: no worker's cron starts it.
        c["launch"]["allowed_users"] = json!(["root"]);
    });
    w.init_store();
    let (crontab, lost_slot) = lost_crontab();
    publish_backdated(&w, "lost", &crontab, TimeDelta::hours(2));
    let mut f = Farm::new(w, &[("fails", "", "echo boom; exit 3")]);
    f.start_workers(5, 4);
    f.wait_installed();
    let slot = Slot::now().key();
    f.dispatch("fails", &slot);

    wait_for(
        "a webhook for the failed run and one for the missing slot",
        Duration::from_secs(120),
        || (rx.count("fails", "failed") > 0 && rx.count("lost", "missing") > 0).then_some(()),
    );
    // Once nothing is pending, nothing more can be sent: every event is delivered.
    wait_for("no pending alert", Duration::from_secs(60), || {
        f.store()
            .keys(keys::ALERTS)
            .unwrap()
            .is_empty()
            .then_some(())
    });
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 2, "{bodies:#?}\n{}", f.logs());
    let failed = bodies.iter().find(|b| b["event"] == "failed").unwrap();
    assert_eq!(
        (failed["slot"].as_str(), failed["exit_code"].as_i64()),
        (Some(slot.as_str()), Some(3))
    );
    assert!(
        failed["excerpt"].as_str().unwrap().contains("boom"),
        "{failed}"
    );
    assert_eq!(failed["project"], "com.example:farm");
    let missing = bodies.iter().find(|b| b["event"] == "missing").unwrap();
    assert_eq!(missing["slot"], lost_slot.key());
    assert_eq!(missing["project"], "com.example:lost");

    let out =
        f.w.cmd("greasestatus")
            .args(["ledger", "lost", "--since", "1h", "--json"])
            .output()
            .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v[0]["slots"][0];
    assert_eq!(
        (s["slot"].as_str(), s["state"].as_str()),
        (Some(lost_slot.key().as_str()), Some("missing")),
        "{v}"
    );
    assert!(
        s["alerts"][0]["delivery"]
            .as_str()
            .unwrap()
            .starts_with("delivered "),
        "{v}"
    );
}

#[test]
fn an_alert_waits_for_its_receiver_to_come_back() {
    if skip_without("python3") {
        return;
    }
    let mut w = World::new();
    let mut rx = Receiver::port(w.path());
    w.configure(|c| {
        c["alerts"] = json!({"webhook": rx.url(), "retry_delay": "1s", "retry_max_delay": "1s", "timeout": "5s"})
    });
    w.init_store();
    let (crontab, lost_slot) = lost_crontab();
    publish_backdated(&w, "lost", &crontab, TimeDelta::hours(2));

    // The receiver is down: the event is recorded and its delivery waits.
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out)
            .0
            .contains("alerts: 1 new event(s); 0 sent, 1 to retry"),
        "{:?}",
        text(&out)
    );
    let ledger = w
        .cmd("greasestatus")
        .args(["ledger", "lost"])
        .output()
        .unwrap();
    let (table, _) = text(&ledger);
    assert!(
        table.contains("missing  ")
            && table.contains("missing retrying (1): POST http://127.0.0.1"),
        "{table}"
    );

    rx.start();
    wait_for("the alert to arrive", Duration::from_secs(60), || {
        let out = w.snatch(&["-q"]);
        assert!(out.status.success(), "{:?}", text(&out));
        (rx.count("lost", "missing") > 0).then_some(())
    });
    assert!(w.snatch(&[]).status.success());
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(bodies[0]["slot"], lost_slot.key());
    assert!(bodies[0]["attempts"].as_u64().unwrap() >= 1);
}
