//! The queue view over a real directory store: pending, in flight, garbled, filtered.

use super::*;
use crate::model::request::{RequestState, request_id};
use crate::store::dir::DirStore;

fn req(n: u32, job: &str, kind: Kind) -> Request {
    Request {
        id: request_id(Utc::now(), n),
        ..Request::new(
            job,
            &format!("2026-11-23T03:{n:02}Z"),
            kind,
            "alice@laptop",
            Utc::now(),
        )
    }
}

#[test]
fn pending_in_flight_and_garbled() {
    let d = tempfile::tempdir().unwrap();
    let s = DirStore::new(d.path());
    s.init().unwrap();
    let a = req(1, "nightly", Kind::Demand);
    let b = Request {
        not_before: Some(Utc::now() + chrono::TimeDelta::minutes(5)),
        attempt: 2,
        ..req(2, "nightly", Kind::Retry)
    };
    let c = Request {
        deadline: Some(Utc::now() + chrono::TimeDelta::hours(1)),
        ..req(3, "hourly-report", Kind::Rescue)
    };
    for r in [&a, &b, &c] {
        queue::submit(&s, r).unwrap();
    }
    assert!(queue::take(&s, &a, "w7.farm").unwrap());
    queue::set_state(
        &s,
        &RequestState {
            host: Some("w7.farm".into()),
            run: Some("runs/nightly/2026-11-23T03:01Z/w7.farm-42".into()),
            ..RequestState::new(&a.id, Phase::Running)
        },
    )
    .unwrap();
    s.put("queue/20261130T000000Z-0000dead", b"{not json\x1b[2J", None)
        .unwrap();

    let v = queue(&s, None).unwrap();
    assert_eq!(
        v.pending.iter().map(|r| &r.id).collect::<Vec<_>>(),
        [&b.id, &c.id]
    );
    assert_eq!(v.in_flight.len(), 1);
    let f = &v.in_flight[0];
    assert_eq!(
        (f.take.host.as_str(), f.phase, f.attempt, f.kind),
        ("w7.farm", Some(Phase::Running), Some(1), Some(Kind::Demand))
    );
    assert_eq!(v.garbled.len(), 1);

    let t = text(&v);
    assert!(t.starts_with("2 queued, 1 in flight, 1 garbled\n"), "{t}");
    let row = |id: &str| t.lines().find(|l| l.starts_with(id)).unwrap().to_string();
    let rb = row(&b.id);
    assert!(rb.contains(" 2 ") && rb.contains("retry") && rb.contains("alice@laptop"));
    assert!(rb.trim_end().ends_with('-'), "no deadline: {rb}");
    let rc = row(&c.id);
    assert!(
        rc.contains("rescue") && rc.contains("hourly-report"),
        "{rc}"
    );
    let ra = row(&a.id);
    assert!(ra.contains("w7.farm") && ra.contains("running"), "{ra}");
    assert!(t.contains("IN FLIGHT") && t.contains("NOT BEFORE"), "{t}");
    assert!(t.contains("garbled marker queue/20261130T000000Z-0000dead: "));
    assert!(!t.contains('\x1b'));

    let j: serde_json::Value = serde_json::from_str(&json(&v)).unwrap();
    assert_eq!(j["pending"][0]["kind"], "retry");
    assert_eq!(j["pending"][0]["attempt"], 2);
    assert_eq!(j["in_flight"][0]["host"], "w7.farm");
    assert_eq!(j["in_flight"][0]["phase"], "running");
    assert_eq!(j["in_flight"][0]["requested_by"], "alice@laptop");
    assert!(
        j["garbled"][0]["why"]
            .as_str()
            .unwrap()
            .contains("not a request")
    );

    let only = queue(&s, Some("hourly")).unwrap();
    assert_eq!((only.pending.len(), only.in_flight.len()), (1, 0));
    queue::finish(&s, &RequestState::new(&a.id, Phase::Succeeded)).unwrap();
    s.delete("queue/20261130T000000Z-0000dead").unwrap();
    for r in [&b, &c] {
        queue::cancel(&s, &r.id, "bob@h").unwrap();
    }
    assert_eq!(text(&queue(&s, None).unwrap()), "0 queued, 0 in flight\n");
}
