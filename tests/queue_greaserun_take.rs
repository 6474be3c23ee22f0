//! greaserun serves a request only when its own host took it (`taken/<id>` names it), as
//! a worker does before starting it: one started by hand or by a forged environment for
//! a request still queued, or taken by another host, is refused (exit 79, saying why)
//! and leaves the request to whoever holds it. Through the real greaserun binary on the
//! directory store.

use scalegrease::arbitration::queue;
use scalegrease::model::keys;
use scalegrease::model::request::Phase;

use crate::queue_greaserun::{JOB, SLOT, finish, greaserun, runs, state, submit, world};

#[test]
fn a_request_not_taken_by_this_host_is_refused_and_left_as_it_is() {
    let (w, s) = world();
    let req = submit(&*s, JOB, SLOT, 1);
    let by_hand = |host: &str| {
        let mut c = greaserun(&w, host, &[], "echo must-not-run");
        c.env("SCALEGREASE_REQUEST", &req.id);
        finish(c)
    };

    // Still queued: no worker took it.
    let (code, err) = by_hand("worker1");
    assert_eq!(code, 79, "{err}");
    assert!(err.contains("no worker took it"), "{err}");
    assert_eq!(state(&*s, &req.id).phase, Phase::Queued);
    let marker = keys::request(keys::QUEUE, &req.id);
    assert!(s.get(&marker).unwrap().is_some(), "still queued");

    // Taken by worker2: worker1 may not run it, and does not end it.
    assert!(queue::take(&*s, &req, "worker2").unwrap());
    let (code, err) = by_hand("worker1");
    assert_eq!(code, 79, "{err}");
    assert!(err.contains("taken by worker2"), "{err}");
    let st = state(&*s, &req.id);
    assert_eq!(
        (st.phase, st.host.as_deref()),
        (Phase::Taken, Some("worker2"))
    );
    let take = queue::take_of(&*s, &req.id)
        .unwrap()
        .expect("the take stays");
    assert_eq!(take.host, "worker2");
    assert!(runs(&*s, SLOT).is_empty(), "nothing ran");

    // The host that took it serves it.
    let (code, err) = finish({
        let mut c = greaserun(&w, "worker2", &[], "true");
        c.env("SCALEGREASE_REQUEST", &req.id);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert_eq!(state(&*s, &req.id).phase, Phase::Succeeded);
    assert_eq!(runs(&*s, SLOT).len(), 1);
}

/// The claim an earlier greaserun of a request left on its slot (it ended without
/// running: its store failed after the claim was applied, and the worker put the
/// request back) is taken over by the request's next greaserun; one made for another
/// request still refuses it.
#[test]
fn a_claim_an_earlier_greaserun_of_the_request_left_is_taken_over() {
    use scalegrease::model::funnel::Claimant;
    use scalegrease::model::slot::Slot;
    let (w, s) = world();
    let left_by = |slot: &str, request: &str| {
        let slot = Slot::from_key(slot).unwrap();
        let c = Claimant {
            host: "worker2".into(),
            pid: 4242,
            user: "u".into(),
            request: Some(request.into()),
        }
        .claim(JOB, slot, chrono::Utc::now());
        s.put(
            &keys::claim(JOB, slot),
            &serde_json::to_vec(&c).unwrap(),
            None,
        )
        .unwrap();
    };
    let serve = |req: &scalegrease::model::request::Request| {
        assert!(queue::take(&*s, req, "worker1").unwrap());
        let mut c = greaserun(&w, "worker1", &[], "true");
        c.env("SCALEGREASE_REQUEST", &req.id);
        finish(c)
    };

    let req = submit(&*s, JOB, SLOT, 1);
    left_by(SLOT, "20260301T030000Z-0000beef");
    let (code, err) = serve(&req);
    assert_eq!(code, 79, "another request's claim: {err}");
    assert!(err.contains("slot already claimed by worker2"), "{err}");
    assert!(runs(&*s, SLOT).is_empty(), "nothing ran");

    let other = "2026-03-01T04:00Z";
    let req = submit(&*s, JOB, other, 1);
    left_by(other, &req.id);
    let (code, err) = serve(&req);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("taking over the claim"), "{err}");
    assert_eq!(state(&*s, &req.id).phase, Phase::Succeeded);
    assert_eq!(runs(&*s, other).len(), 1);
}
