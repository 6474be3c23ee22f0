//! greaserun's side of the farm queue, through the real greaserun binary on the
//! directory store (live output also on etcd): a request (put in the store with the
//! library's real `arbitration::queue::submit`, as greasedispatch does) run with
//! `SCALEGREASE_REQUEST`; refusals; live output; retries; rescue of a declined slot.
//! Cancel and `--concurrency` are in `queue_greaserun_cancel`, which shares these
//! helpers.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use scalegrease::arbitration::{queue, records};
use scalegrease::model::keys;
use scalegrease::model::record::{RunRecord, Status};
use scalegrease::model::request::{Kind, Phase, Request, RequestState, request_id};
use scalegrease::store::Store;
use serde_json::{Value, json};

use crate::harness::etcd::each_backend;
use crate::harness::{World, text, wait_for};

pub(crate) const JOB: &str = "qjob";
pub(crate) const SLOT: &str = "2026-03-01T03:00Z";

/// A world whose heartbeats (and so cancel checks) come every 200 ms.
pub(crate) fn world() -> (World, Box<dyn Store>) {
    on(World::new())
}

/// `w` (a world of any backend) with heartbeats every 200 ms, and its store.
pub(crate) fn on(mut w: World) -> (World, Box<dyn Store>) {
    w.configure(|c| c["funnel"] = json!({"heartbeat_interval": "200ms", "abandon_after": "10s"}));
    let s = w.store();
    (w, s)
}

/// greaserun of job `qjob` on worker `host` as cron starts it (stdin not a terminal),
/// running `script` with sh; `extra` goes before the artifact.
pub(crate) fn greaserun(w: &World, host: &str, extra: &[&str], script: &str) -> Command {
    let jar = w.empty_jar();
    let mut c = w.spawn_cmd("greaserun");
    c.env("SCALEGREASE_HOSTNAME", host)
        .args(["-D", "--kill-grace", "1s", "--job", JOB])
        .args(extra)
        .args([
            "--runner",
            "shell",
            jar.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            script,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs `c` to its end: (exit code, stderr).
pub(crate) fn finish(mut c: Command) -> (i32, String) {
    let out = c.output().unwrap();
    (out.status.code().unwrap_or(-1), text(&out).1)
}

/// Waits (up to 30 s) for a spawned greaserun to exit: (exit code, stderr).
pub(crate) fn ended(mut child: Child) -> (i32, String) {
    let code = wait_for("greaserun to exit", Duration::from_secs(30), || {
        child.try_wait().unwrap()
    });
    let out = child.wait_with_output().unwrap();
    (code.code().unwrap_or(-1), text(&out).1)
}

/// Submits attempt `attempt` of (job, slot) as the front would.
pub(crate) fn submit(s: &dyn Store, job: &str, slot: &str, attempt: u32) -> Request {
    let req = Request {
        id: request_id(Utc::now(), scalegrease::util::random::u64() as u32),
        job: job.into(),
        slot: slot.into(),
        attempt,
        kind: Kind::Demand,
        requested_by: "alice@front".into(),
        requested_at: Utc::now(),
        not_before: None,
        deadline: None,
        batch: None,
        limit: None,
    };
    assert_eq!(queue::submit(s, &req).unwrap(), queue::Submitted::Queued);
    req
}

/// greaserun serving `req` on `host`, which took it first as a worker does.
pub(crate) fn served(
    w: &World,
    s: &dyn Store,
    req: &Request,
    host: &str,
    extra: &[&str],
    script: &str,
) -> Command {
    assert!(queue::take(s, req, host).unwrap(), "took {}", req.id);
    let mut c = greaserun(w, host, extra, script);
    c.env("SCALEGREASE_REQUEST", &req.id);
    c
}

pub(crate) fn state(s: &dyn Store, id: &str) -> RequestState {
    queue::state(s, id).unwrap().expect("a request state")
}

/// The job's run records of `slot`.
pub(crate) fn runs(s: &dyn Store, slot: &str) -> Vec<RunRecord> {
    let slot = scalegrease::model::slot::Slot::from_key(slot).unwrap();
    records::list(s, &keys::slot_runs(JOB, slot)).unwrap().0
}

/// The requests queued for attempts of (qjob, slot), by attempt number.
fn attempts(s: &dyn Store, slot: &str) -> Vec<Request> {
    let ids = queue::attempts(s, JOB, slot).unwrap();
    ids.iter()
        .map(|n| {
            let id = s.get(&keys::attempt(JOB, slot, *n)).unwrap().unwrap();
            queue::get(s, &String::from_utf8(id).unwrap())
                .unwrap()
                .unwrap()
        })
        .collect()
}

#[test]
fn a_request_runs_its_slot_and_ends_with_the_runs_outcome() {
    let (w, s) = world();
    let req = submit(&*s, JOB, SLOT, 1);
    let c = served(
        &w,
        &*s,
        &req,
        "worker1",
        &[],
        "echo ran {date} req=$SCALEGREASE_REQUEST.",
    );
    let (code, err) = finish(c);
    assert_eq!(code, 0, "{err}");
    let st = state(&*s, &req.id);
    assert_eq!(
        (st.phase, st.exit_code),
        (Phase::Succeeded, Some(0)),
        "{st:?}"
    );
    let recs = runs(&*s, SLOT);
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r.status, Status::Succeeded);
    assert_eq!(st.run.as_deref(), Some(r.key().as_str()));
    assert_eq!(r.request.as_deref(), Some(req.id.as_str()));
    assert_eq!(r.attempt, Some(1));
    assert_eq!(r.requested_by.as_deref(), Some("alice@front"));
    assert_eq!(r.requested_at, Some(req.requested_at));
    assert!(r.claimed, "attempt 1 claims its slot");
    assert_eq!(r.args[2], "echo ran 2026-03-01 req=$SCALEGREASE_REQUEST.");
    let tail = records::read_tail(&*s, r).unwrap().unwrap();
    assert_eq!(
        tail, b"ran 2026-03-01 req=.\n",
        "the request is not in the job's env"
    );
    let marker = |top| s.get(&keys::request(top, &req.id)).unwrap();
    assert!(marker(keys::QUEUE).is_none() && marker(keys::TAKEN).is_none());
}

#[test]
fn a_request_for_another_job_or_a_missing_one_is_refused() {
    let (w, s) = world();
    let req = submit(&*s, "other-job", SLOT, 1);
    let c = served(&w, &*s, &req, "worker1", &[], "echo must-not-run");
    let (code, err) = finish(c);
    assert_eq!(code, 79, "{err}");
    let st = state(&*s, &req.id);
    assert_eq!(st.phase, Phase::Refused);
    assert!(st.reason.unwrap().contains("other-job"), "{err}");
    assert!(runs(&*s, SLOT).is_empty());

    let missing = request_id(Utc::now(), 7);
    let mut c = greaserun(&w, "worker1", &[], "echo must-not-run");
    c.env("SCALEGREASE_REQUEST", &missing);
    let (code, err) = finish(c);
    assert_eq!(code, 79, "{err}");
    assert!(err.contains("no request"), "{err}");
}

#[test]
fn attempt_one_of_a_claimed_slot_is_refused_and_attempt_two_runs() {
    let (w, s) = world();
    let (code, err) = finish(greaserun(&w, "cron1", &["--slot", SLOT], "true"));
    assert_eq!(code, 0, "{err}");
    let req = submit(&*s, JOB, SLOT, 1);
    let c = served(&w, &*s, &req, "worker1", &[], "echo must-not-run");
    let (code, err) = finish(c);
    assert_eq!(code, 79, "{err}");
    let st = state(&*s, &req.id);
    assert_eq!(st.phase, Phase::Refused);
    assert!(
        st.reason
            .as_deref()
            .unwrap()
            .contains("slot already claimed by cron1"),
        "{st:?}"
    );
    let again = submit(&*s, JOB, SLOT, 2);
    let c = served(&w, &*s, &again, "worker1", &[], "true");
    let (code, err) = finish(c);
    assert_eq!(code, 0, "{err}");
    assert_eq!(state(&*s, &again.id).phase, Phase::Succeeded);
    assert_eq!(runs(&*s, SLOT).len(), 2);
}

#[test]
fn live_output_grows_while_the_job_prints_then_is_removed() {
    each_backend(|_, w| live_output_on(w));
}

fn live_output_on(w: World) {
    let (w, s) = on(w);
    let script = "for i in 1 2 3 4 5 6 7 8; do echo line$i; sleep 0.4; done";
    let child = greaserun(&w, "worker1", &["--slot", SLOT], script)
        .spawn()
        .unwrap();
    let key = keys::live(JOB, SLOT, &format!("worker1-{}", child.id()));
    let read = || -> Option<(u64, String)> {
        let v: Value = serde_json::from_slice(&s.get(&key).ok()??).ok()?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str()?)
            .ok()?;
        Some((v["end"].as_u64()?, String::from_utf8(data).ok()?))
    };
    let (first, text1) = wait_for("live output", Duration::from_secs(20), read);
    assert!(text1.starts_with("line1\n"), "{text1:?}");
    let (later, text2) = wait_for("more live output", Duration::from_secs(20), || {
        read().filter(|(end, _)| *end > first)
    });
    assert_eq!(
        later as usize,
        text2.len(),
        "the whole output fits in the tail"
    );
    assert!(text2.starts_with(&text1), "{text1:?} then {text2:?}");
    let (code, err) = ended(child);
    assert_eq!(code, 0, "{err}");
    assert!(
        s.get(&key).unwrap().is_none(),
        "the live key is removed at the end"
    );
    let r = &runs(&*s, SLOT)[0];
    let tail = records::read_tail(&*s, r).unwrap().unwrap();
    assert!(String::from_utf8(tail).unwrap().ends_with("line8\n"));
}

#[test]
fn a_failed_attempt_is_queued_again_with_backoff_when_retries_allow() {
    each_backend(|_, w| retries_on(w));
}

fn retries_on(w: World) {
    let (w, s) = on(w);
    let flags = ["--slot", SLOT, "--retries", "1", "--retry-delay", "1s"];
    let t0 = Utc::now();
    let (code, err) = finish(greaserun(&w, "worker1", &flags, "exit 4"));
    let t1 = Utc::now();
    assert_eq!(code, 4, "{err}");
    let queued = attempts(&*s, SLOT);
    assert_eq!(queued.len(), 1, "{queued:?}");
    let retry = &queued[0];
    assert_eq!((retry.attempt, retry.kind), (2, Kind::Retry));
    assert!(retry.requested_by.ends_with("@worker1"), "{retry:?}");
    assert!(
        err.contains(&retry.id),
        "the notice names the request: {err}"
    );
    let nb = retry.not_before.unwrap();
    let ms = |t: DateTime<Utc>, n: i64| t + chrono::TimeDelta::milliseconds(n);
    assert!(ms(t0, 800) <= nb && nb <= ms(t1, 1200), "{t0} {nb} {t1}");

    // Attempt 2 fails too: with --retries 1 it is the last.
    let c = served(&w, &*s, retry, "worker2", &flags, "exit 4");
    let (code, err) = finish(c);
    assert_eq!(code, 4, "{err}");
    assert_eq!(state(&*s, &retry.id).phase, Phase::Failed);
    assert_eq!(state(&*s, &retry.id).exit_code, Some(4));
    assert_eq!(attempts(&*s, SLOT).len(), 1, "no attempt 3");

    let other = "2026-03-02T03:00Z";
    let (code, _) = finish(greaserun(&w, "worker1", &["--slot", other], "exit 4"));
    assert_eq!(code, 4);
    assert!(
        attempts(&*s, other).is_empty(),
        "--retries 0 queues nothing"
    );
}

#[test]
fn a_declined_scheduled_slot_is_queued_as_a_rescue_and_a_declined_request_released() {
    each_backend(|_, w| rescue_on(w));
}

fn rescue_on(w: World) {
    let (mut w, s) = on(w);
    w.configure(|c| c["guard"]["max_running"] = json!(0));
    let slot = scalegrease::model::slot::Slot::now();
    let key = slot.key();
    let (code, err) = finish(greaserun(&w, "worker1", &["--slot", &key], "true"));
    assert_eq!(code, 75, "{err}");
    let (code, _) = finish(greaserun(&w, "worker2", &["--slot", &key], "true"));
    assert_eq!(code, 75);
    let queued = attempts(&*s, &key);
    assert_eq!(
        queued.len(),
        1,
        "only the first decliner's rescue: {queued:?}"
    );
    let r = &queued[0];
    assert_eq!((r.attempt, r.kind), (1, Kind::Rescue));
    assert_eq!(r.deadline, Some(slot.time() + chrono::TimeDelta::hours(1)));
    assert!(runs(&*s, &key).is_empty());

    let other = slot.offset_secs(-60).key();
    let flags = ["--slot", other.as_str(), "--rescue-within", "0"];
    let (code, _) = finish(greaserun(&w, "worker1", &flags, "true"));
    assert_eq!(code, 75);
    assert!(
        attempts(&*s, &other).is_empty(),
        "--rescue-within 0: no rescue"
    );

    // A request the guard refuses goes back to the queue, never rescued.
    let taken = "worker3";
    let c = served(&w, &*s, r, taken, &[], "true");
    let (code, err) = finish(c);
    assert_eq!(code, 75, "{err}");
    assert_eq!(state(&*s, &r.id).phase, Phase::Queued);
    assert!(s.get(&keys::request(keys::QUEUE, &r.id)).unwrap().is_some());
    assert!(s.get(&keys::request(keys::TAKEN, &r.id)).unwrap().is_none());
    assert_eq!(attempts(&*s, &key).len(), 1);
}

/// Kills and reaps a background command if the test ends before waiting for it.
struct Reaped(Option<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn greasedispatch_follows_a_served_request_to_its_exit_status() {
    let (w, s) = world();
    let entry = "0 3 * * * nobody greaserun --job qjob -r shell /bin/echo a\n";
    let p = w.project("p", "g", "jobs", &[("q.cron", entry)]);
    assert!(w.launch(&p, &[]).status.success());
    let mut follower = Reaped(Some(
        w.spawn_cmd("greasedispatch")
            .args([JOB, "--slot", SLOT, "--follow"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let key = wait_for("the request", Duration::from_secs(20), || {
        s.keys(keys::QUEUE).ok()?.pop()
    });
    let id = keys::unsegment(key.rsplit('/').next().unwrap());
    let req = queue::get(&*s, &id).unwrap().unwrap();
    let script = "for i in 1 2 3 4; do echo out$i; sleep 0.5; done; exit 3";
    let (code, err) = finish(served(&w, &*s, &req, "worker1", &[], script));
    assert_eq!(code, 3, "{err}");
    let mut child = follower.0.take().unwrap();
    wait_for("the follower to exit", Duration::from_secs(30), || {
        child.try_wait().unwrap()
    });
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(stdout, "out1\nout2\nout3\nout4\n", "{stderr}");
}
