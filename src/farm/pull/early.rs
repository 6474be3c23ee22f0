//! Requests this worker took that no command of its own serves: a command that exited
//! before greaserun took its request over ([`ended_early`]), and a take this worker
//! won in a round that then failed on the store before its command started
//! ([`put_back_unfinished`]). What nothing ran goes back to the queue; a command that
//! ran and exited early ends its request `failed`.

use super::PullOptions;
use super::spawn::{Children, Ended};
use crate::arbitration::queue;
use crate::exit;
use crate::model::keys;
use crate::model::request::{Phase, Request, RequestState};
use crate::store::{Store, StoreError};

/// Ends `failed` each request whose command this worker started and saw exit while the
/// request was still `taken` here by that command's take: greaserun never served it (a
/// missing greaserun, an unreadable config). A command that exited because the store
/// did not answer ([`exit::UNAVAILABLE`], or [`exit::TEMP_FAIL`] when it could not
/// claim the slot) ran nothing: its request goes back to the queue instead. Returns how
/// many failed; the `ended` not handled because the store failed here are given back to
/// `children`. A request with another command of this worker still alive (`mine`), or
/// taken again after this command started, is left alone: the ended command put it
/// back (its guard refused) and the take is a newer command's.
pub(super) fn ended_early(
    store: &dyn Store,
    opts: &PullOptions,
    children: &Children,
    ended: Vec<Ended>,
    mine: &[String],
) -> Result<usize, StoreError> {
    let mut ended = ended.into_iter();
    let mut n = 0;
    while let Some(e) = ended.next() {
        if mine.contains(&e.request) {
            continue;
        }
        match ended_one(store, opts, &e) {
            Ok(failed) => n += usize::from(failed),
            Err(err) => {
                children.put_back_ended(std::iter::once(e).chain(ended).collect());
                return Err(err);
            }
        }
    }
    Ok(n)
}

/// [`ended_early`] for one command: whether it ended its request `failed`.
fn ended_one(store: &dyn Store, opts: &PullOptions, e: &Ended) -> Result<bool, StoreError> {
    let (id, status) = (e.request.as_str(), e.status);
    let Some(st) = queue::state(store, id)? else {
        return Ok(false);
    };
    if st.phase != Phase::Taken || st.host.as_deref() != Some(opts.host.as_str()) {
        return Ok(false);
    }
    let Some(take) = queue::take_of(store, id)? else {
        return Ok(false);
    };
    if take.host != opts.host || take.at > e.started {
        return Ok(false);
    }
    if matches!(status.code(), Some(exit::UNAVAILABLE | exit::TEMP_FAIL)) {
        if let Some(req) = queue::get(store, id)? {
            tracing::warn!(
                "request {id} put back: its command ended ({status}) without reaching the store"
            );
            queue::release(store, &req)?;
        }
        return Ok(false);
    }
    if !store.delete(&keys::request(keys::TAKEN, id))? {
        return Ok(false);
    }
    queue::release_token(store, &take)?;
    let why = format!(
        "its command ended ({status}) before greaserun served the request (see the entry's command and greaserun's log on {})",
        opts.host
    );
    tracing::warn!("request {id} failed: {why}");
    queue::finish(
        store,
        &RequestState {
            host: Some(opts.host.clone()),
            exit_code: status.code(),
            reason: Some(why),
            ..RequestState::new(id, Phase::Failed)
        },
    )?;
    Ok(true)
}

/// Puts back in the queue each request of `unfinished` (this worker's rounds failed on
/// the store while taking or starting it) that this worker still holds, with no command
/// of its own serving it (`mine`) and no run started: nothing ran it, and the take
/// would otherwise only lapse into `abandoned` after `funnel.abandon_after`. On a store
/// failure, those not yet looked at stay in `unfinished` for the next round.
pub(super) fn put_back_unfinished(
    store: &dyn Store,
    opts: &PullOptions,
    unfinished: &mut Vec<Request>,
    mine: &[String],
) -> Result<(), StoreError> {
    while let Some(req) = unfinished.last() {
        if !mine.contains(&req.id) && ours_unstarted(store, opts, &req.id)? {
            tracing::warn!(
                "request {} put back: the store failed while this worker took it",
                req.id
            );
            queue::release(store, req)?;
        }
        unfinished.pop();
    }
    Ok(())
}

/// Whether request `id` is taken by this worker and no run of it started.
fn ours_unstarted(store: &dyn Store, opts: &PullOptions, id: &str) -> Result<bool, StoreError> {
    if queue::take_of(store, id)?.is_none_or(|t| t.host != opts.host) {
        return Ok(false);
    }
    Ok(queue::state(store, id)?
        .is_none_or(|st| matches!(st.phase, Phase::Queued | Phase::Taken) && st.run.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn an_ended_command_fails_its_request_unless_a_newer_command_of_this_worker_holds_it() {
        let (d, store, cfg) = crate::arbitration::claim::tests::setup();
        let opts = PullOptions::for_test(d.path().join("cron.d"), "w1", &cfg);
        let r = taken(&*store, "2026-11-23T03:00Z", 1);
        let children = Children::new(false);
        let ended = || vec![ended_now(&r.id, 1)];
        let phase = || queue::state(&*store, &r.id).unwrap().unwrap().phase;
        // The ended command put the request back and this worker took it again: the take
        // is the new command's, alive.
        let mine = [r.id.clone()];
        assert_eq!(
            ended_early(&*store, &opts, &children, ended(), &mine).unwrap(),
            0
        );
        assert_eq!(phase(), Phase::Taken);
        // No command of this worker holds it: greaserun never served it.
        assert_eq!(
            ended_early(&*store, &opts, &children, ended(), &[]).unwrap(),
            1
        );
        assert_eq!(phase(), Phase::Failed);
    }

    #[test]
    fn a_command_that_could_not_reach_the_store_puts_its_request_back() {
        let (d, store, cfg) = crate::arbitration::claim::tests::setup();
        let opts = PullOptions::for_test(d.path().join("cron.d"), "w1", &cfg);
        let children = Children::new(false);
        let codes = [exit::UNAVAILABLE, exit::TEMP_FAIL];
        for (n, code) in (1..).zip(codes) {
            let r = taken(&*store, &format!("2026-11-23T0{n}:00Z"), n);
            let ended = vec![ended_now(&r.id, code)];
            assert_eq!(
                ended_early(&*store, &opts, &children, ended, &[]).unwrap(),
                0
            );
            assert_eq!(
                queue::state(&*store, &r.id).unwrap().unwrap().phase,
                Phase::Queued
            );
            assert!(queue::take_of(&*store, &r.id).unwrap().is_none(), "{code}");
            let (queued, _) = queue::pending(&*store).unwrap();
            assert!(
                queued.iter().any(|q| q.id == r.id),
                "{code}: not queued again"
            );
        }
    }

    #[test]
    fn ends_not_handled_for_a_store_fault_are_handled_next_time() {
        let (d, _store, cfg) = crate::arbitration::claim::tests::setup();
        let opts = PullOptions::for_test(d.path().join("cron.d"), "w1", &cfg);
        let broken = crate::store::dir::DirStore::new(d.path().join("no store here"));
        let children = Children::new(false);
        let ended = vec![ended_now("a", 1), ended_now("b", 0)];
        assert!(ended_early(&broken, &opts, &children, ended.clone(), &[]).is_err());
        assert_eq!(children.take_ended(), ended);
    }

    #[test]
    fn a_take_a_failed_round_left_unstarted_goes_back_to_the_queue() {
        let (d, store, cfg) = crate::arbitration::claim::tests::setup();
        let opts = PullOptions::for_test(d.path().join("cron.d"), "w1", &cfg);
        let (a, b, c) = (
            taken(&*store, "2026-11-23T03:00Z", 1),
            taken(&*store, "2026-11-23T04:00Z", 2),
            taken(&*store, "2026-11-23T05:00Z", 3),
        );
        // c is another worker's: w1 only thinks it may have taken it.
        queue::release(&*store, &c).unwrap();
        assert!(queue::take(&*store, &c, "w2").unwrap());
        // b has a command of this worker serving it.
        let mut unfinished = vec![a.clone(), b.clone(), c.clone()];
        put_back_unfinished(&*store, &opts, &mut unfinished, std::slice::from_ref(&b.id)).unwrap();
        assert!(unfinished.is_empty());
        let (queued, _) = queue::pending(&*store).unwrap();
        let queued: Vec<&str> = queued.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(queued, [a.id.as_str()]);
        assert!(queue::take_of(&*store, &a.id).unwrap().is_none());
        assert_eq!(queue::take_of(&*store, &b.id).unwrap().unwrap().host, "w1");
        assert_eq!(queue::take_of(&*store, &c.id).unwrap().unwrap().host, "w2");
    }

    #[test]
    fn a_command_started_before_the_requests_current_take_leaves_it_alone() {
        let (d, store, cfg) = crate::arbitration::claim::tests::setup();
        let opts = PullOptions::for_test(d.path().join("cron.d"), "w1", &cfg);
        let started = Utc::now();
        // The command put the request back (its guard refused) and exited; this worker
        // took it again for a newer command, which ended too, its state unwritten.
        let r = taken(&*store, "2026-11-23T03:00Z", 1);
        for code in [exit::TEMP_FAIL, exit::UNAVAILABLE, 1] {
            let old = Ended {
                started,
                ..ended_now(&r.id, code)
            };
            let children = Children::new(false);
            assert_eq!(
                ended_early(&*store, &opts, &children, vec![old], &[]).unwrap(),
                0
            );
            assert_eq!(queue::take_of(&*store, &r.id).unwrap().unwrap().host, "w1");
            assert_eq!(
                queue::state(&*store, &r.id).unwrap().unwrap().phase,
                Phase::Taken
            );
        }
    }

    /// Request `id`'s command, started now, ended with exit `code`.
    fn ended_now(id: &str, code: i32) -> Ended {
        use std::os::unix::process::ExitStatusExt;
        Ended {
            request: id.to_string(),
            started: Utc::now(),
            status: std::process::ExitStatus::from_raw(code << 8),
        }
    }

    /// A request for job `j` at `slot`, queued and taken by `w1`.
    fn taken(store: &dyn Store, slot: &str, n: u32) -> Request {
        use crate::model::request::{Kind, request_id};
        let r = Request {
            id: request_id(Utc::now(), n),
            ..Request::new("j", slot, Kind::Demand, "u@h", Utc::now())
        };
        queue::submit(store, &r).unwrap();
        assert!(queue::take(store, &r, "w1").unwrap());
        r
    }
}
