//! Unit tests of the farm queue on the directory store, with a fault-injecting fake
//! store where a race must be forced.

use super::tokens::Token;
use super::*;
use crate::model::request::{Kind, request_id};
use sha2::Digest;

fn req(n: u32) -> Request {
    Request {
        id: request_id(Utc::now(), n),
        ..Request::new("j", "2026-11-23T03:00Z", Kind::Demand, "u@h", Utc::now())
    }
}

#[test]
fn submit_take_finish_and_one_winner() {
    let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
    let r = req(1);
    assert_eq!(submit(&*store, &r).unwrap(), Submitted::Queued);
    let dup = Request {
        id: request_id(Utc::now(), 2),
        ..r.clone()
    };
    assert_eq!(
        submit(&*store, &dup).unwrap(),
        Submitted::AttemptTaken(r.id.clone())
    );
    assert_eq!(attempts(&*store, "j", &r.slot).unwrap(), vec![1]);
    let (p, bad) = pending(&*store).unwrap();
    assert_eq!((p, bad), (vec![r.clone()], vec![]));
    let wins: Vec<bool> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..6)
            .map(|i| {
                let (s, r) = (&store, &r);
                sc.spawn(move || take(&**s, r, &format!("h{i}")).unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(wins.iter().filter(|w| **w).count(), 1);
    assert!(pending(&*store).unwrap().0.is_empty());
    assert!(
        !take(&*store, &r, "h-other").unwrap(),
        "a second take of a taken request"
    );
    assert_eq!(in_flight(&*store).unwrap().len(), 1);
    assert_eq!(
        cancel(&*store, &r.id, "u@h").unwrap(),
        Cancelled::Asked(state(&*store, &r.id).unwrap().unwrap())
    );
    assert!(store.get(&cancel_key(&r)).unwrap().is_some());
    finish(&*store, &RequestState::new(&r.id, Phase::Succeeded)).unwrap();
    assert!(in_flight(&*store).unwrap().is_empty());
    assert!(matches!(
        cancel(&*store, &r.id, "u@h").unwrap(),
        Cancelled::AlreadyEnded(_)
    ));
}

#[test]
fn a_half_done_take_is_finished_by_its_own_host_only() {
    let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
    let r = req(4);
    submit(&*store, &r).unwrap();
    // The take was written but its answer lost: the marker is still queued.
    let t = Take {
        id: r.id.clone(),
        job: r.job.clone(),
        slot: r.slot.clone(),
        host: "w1".into(),
        at: Utc::now(),
        batch: None,
        token: None,
    };
    let key = keys::request(keys::TAKEN, &r.id);
    store
        .put(&key, &serde_json::to_vec(&t).unwrap(), None)
        .unwrap();
    assert!(
        !take(&*store, &r, "w2").unwrap(),
        "another host's take stands"
    );
    assert!(take(&*store, &r, "w1").unwrap(), "its own host finishes it");
    assert!(pending(&*store).unwrap().0.is_empty());
    assert!(!take(&*store, &r, "w1").unwrap(), "and only once");
    assert_eq!(
        in_flight(&*store).unwrap().len(),
        1,
        "the take stays in flight"
    );
}

#[test]
fn a_batch_never_has_more_than_its_limit_taken_farm_wide() {
    let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
    let reqs: Vec<Request> = (0..4)
        .map(|n| Request {
            slot: format!("2026-11-23T0{n}:00Z"),
            batch: Some("b1".into()),
            limit: Some(2),
            ..req(10 + n)
        })
        .collect();
    for r in &reqs {
        submit(&*store, r).unwrap();
    }
    // Eight workers race for every request at once: two takes in all.
    let wins: usize = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let (s, reqs) = (&store, &reqs);
                sc.spawn(move || {
                    reqs.iter()
                        .filter(|r| take(&**s, r, &format!("h{i}")).unwrap())
                        .count()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 2);
    let flights = in_flight(&*store).unwrap();
    assert_eq!(flights.len(), 2);
    let left: Vec<&Request> = reqs
        .iter()
        .filter(|r| !flights.iter().any(|t| t.id == r.id))
        .collect();
    assert!(!take(&*store, left[0], "h9").unwrap(), "the batch is full");
    // One ends: its token is free for the next.
    finish(
        &*store,
        &RequestState::new(&flights[0].id, Phase::Succeeded),
    )
    .unwrap();
    assert!(take(&*store, left[0], "h9").unwrap());
    assert!(!take(&*store, left[1], "h9").unwrap());
    // A put-back request frees its token too.
    release(&*store, left[0]).unwrap();
    assert!(take(&*store, left[1], "h9").unwrap());
}

#[test]
fn cancel_withdraws_and_garbled_markers_are_reported() {
    let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
    let r = req(3);
    submit(&*store, &r).unwrap();
    assert_eq!(cancel(&*store, &r.id, "u@h").unwrap(), Cancelled::Withdrawn);
    assert!(
        !take(&*store, &r, "h").unwrap(),
        "a withdrawn request is not taken"
    );
    assert_eq!(
        state(&*store, &r.id).unwrap().unwrap().phase,
        Phase::Cancelled
    );
    store
        .put("queue/20261130T184512Z-00000001", b"{nope", None)
        .unwrap();
    let (p, bad) = pending(&*store).unwrap();
    assert!(p.is_empty());
    assert_eq!(bad.len(), 1, "{bad:?}");
}

#[test]
fn a_token_freed_while_its_holder_is_read_is_not_taken_from_the_next_holder() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
    let batch = |n: u32| Request {
        slot: format!("2026-11-23T0{n}:00Z"),
        batch: Some("b1".into()),
        limit: Some(1),
        ..req(n)
    };
    let (c, b) = (batch(1), batch(2));
    submit(&*store, &c).unwrap();
    submit(&*store, &b).unwrap();
    assert!(take(&*store, &c, "h1").unwrap());
    // A fake answers the next token create as the directory store does when the token
    // was freed between a failed create and the read of its holder: it exists, empty.
    // The token is C's again by then (as if its holder had been replaced at once).
    let once = AtomicBool::new(true);
    let spy = crate::store::spy::Spy::new(&*store).with_create_fault(move |key| {
        (key.starts_with(keys::BATCHES) && once.swap(false, Ordering::SeqCst))
            .then(|| Created::Exists(Vec::new()))
    });
    assert!(!take(&spy, &b, "h2").unwrap(), "the batch is full");
    assert!(
        store.get(&keys::batch_token("b1", 0)).unwrap().is_some(),
        "C's token was deleted"
    );
    assert_eq!(in_flight(&*store).unwrap().len(), 1);
}

#[test]
fn a_stale_token_is_freed_by_one_worker_only() {
    let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
    let reqs: Vec<Request> = (1..=6)
        .map(|n| Request {
            slot: format!("2026-11-23T0{n}:00Z"),
            batch: Some("b1".into()),
            limit: Some(1),
            ..req(n)
        })
        .collect();
    for r in &reqs {
        submit(&*store, r).unwrap();
    }
    // The batch's only token, held for two minutes by a request no take holds (its
    // worker died between the token and the take).
    let stale = Token {
        id: "gone".into(),
        host: "dead".into(),
        at: Utc::now() - chrono::TimeDelta::minutes(2),
    };
    let stale = serde_json::to_vec(&stale).unwrap();
    let key = keys::batch_token("b1", 0);
    store.put(&key, &stale, None).unwrap();
    // While another worker's freeing mark of that very token stands, nobody else frees
    // it (a second freer would delete the first one's fresh token).
    let mark = format!(
        "{key}.freed.{}",
        &hex::encode(sha2::Sha256::digest(&stale))[..16]
    );
    store
        .put(&mark, Utc::now().to_rfc3339().as_bytes(), None)
        .unwrap();
    assert_eq!(take_for(&*store, &reqs[0], "h0").unwrap(), Took::Full);
    assert_eq!(store.get(&key).unwrap(), Some(stale.clone()));
    // A mark as old as a stale token is a freer that died: removed for the next round.
    let dead = (Utc::now() - chrono::TimeDelta::minutes(2)).to_rfc3339();
    store.put(&mark, dead.as_bytes(), None).unwrap();
    assert_eq!(take_for(&*store, &reqs[0], "h0").unwrap(), Took::Full);
    assert_eq!(store.get(&mark).unwrap(), None);
    // Without it, of six racing workers one frees it and takes its request.
    let wins: usize = std::thread::scope(|sc| {
        let hs: Vec<_> = reqs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let s = &store;
                sc.spawn(move || usize::from(take(&**s, r, &format!("h{i}")).unwrap()))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 1);
    assert_eq!(in_flight(&*store).unwrap().len(), 1);
}

#[test]
fn a_marker_delete_applied_twice_still_wins_the_take() {
    let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
    // The marker's delete is applied, then answers "nothing deleted", as a delete
    // retried on the next etcd member after the first applied it and failed over.
    let twice = crate::store::spy::Spy::new(&*store)
        .with_delete_fault(|k| k.starts_with(keys::QUEUE).then_some(false));
    let r = req(4);
    submit(&*store, &r).unwrap();
    assert!(take(&twice, &r, "h1").unwrap(), "the take is ours");
    assert!(pending(&*store).unwrap().0.is_empty());
    assert_eq!(take_of(&*store, &r.id).unwrap().unwrap().host, "h1");
    assert_eq!(state(&*store, &r.id).unwrap().unwrap().phase, Phase::Taken);
    // A stale listing of a request that has ended since: no take, nothing left behind.
    finish(&*store, &RequestState::new(&r.id, Phase::Succeeded)).unwrap();
    assert!(!take(&twice, &r, "h2").unwrap());
    assert!(take_of(&*store, &r.id).unwrap().is_none());
    assert_eq!(
        state(&*store, &r.id).unwrap().unwrap().phase,
        Phase::Succeeded
    );
}

#[test]
fn cancel_takes_a_queued_request_before_withdrawing_it() {
    let (_d, store, _cfg) = crate::arbitration::claim::tests::setup();
    let r = req(5);
    submit(&*store, &r).unwrap();
    // A worker holds the take but has not removed the marker yet: cancel asks, it does
    // not withdraw what the worker is starting.
    store
        .create(&keys::request(keys::TAKEN, &r.id), b"{}", None)
        .unwrap();
    assert!(matches!(
        cancel(&*store, &r.id, "u@h").unwrap(),
        Cancelled::Asked(_)
    ));
    assert!(store.get(&cancel_key(&r)).unwrap().is_some());
    // Withdrawn once no one holds it, with the marker delete applied twice.
    store.delete(&keys::request(keys::TAKEN, &r.id)).unwrap();
    let twice = crate::store::spy::Spy::new(&*store)
        .with_delete_fault(|k| k.starts_with(keys::QUEUE).then_some(false));
    assert_eq!(cancel(&twice, &r.id, "u@h").unwrap(), Cancelled::Withdrawn);
    assert!(pending(&*store).unwrap().0.is_empty());
    assert!(take_of(&*store, &r.id).unwrap().is_none());
    assert_eq!(
        state(&*store, &r.id).unwrap().unwrap().phase,
        Phase::Cancelled
    );
}
