//! The worker's housekeeping, through the real binaries (helpers from
//! [`crate::queue_worker`]): a take whose worker died before greaserun started is ended
//! `abandoned` and, with the entry's `--retries 1`, retried once as attempt 2, which runs;
//! a request past its deadline is dropped with a dropped run record; one whose
//! `not_before` is ahead waits; an entry whose program is missing, or whose command exits
//! before greaserun served its request, ends it `failed` (with the exit status); a store
//! failure in the pull round gives greasesnatch the store's exit code and leaves what it
//! installed in place.

use std::os::unix::fs::{PermissionsExt, symlink};

use scalegrease::arbitration::{queue, records};
use scalegrease::model::keys;
use scalegrease::model::record::Status;
use scalegrease::model::request::{Kind, Phase, Request, request_id};
use scalegrease::model::slot::Slot;
use serde_json::json;

use crate::harness::{text, wait_for};
use crate::queue_worker::{
    LONG, SLOT, SLOT2, Watcher, dispatch, ended, record, root_with_tools, snatch, state, world,
};

#[test]
fn lapsed_takes_are_abandoned_and_retried_late_requests_dropped_early_ones_wait() {
    if !root_with_tools() {
        return;
    }
    let job = "0 3 * * * {user} {greaserun} --job qw-retry --retries 1 --retry-delay 0s --runner shell {jar} -- sh -c 'echo x >> $HOME/runs'\n";
    let (mut w, u) = world("d", job);
    w.configure(|c| c["funnel"]["abandon_after"] = json!("1s"));
    let s = w.store();
    // A worker "gone" took a request and died before greaserun started.
    let lost = dispatch(&w, &["qw-retry", "--slot", SLOT]);
    let req = queue::get(&*s, &lost).unwrap().unwrap();
    assert!(queue::take(&*s, &req, "gone").unwrap());
    let taken_at = chrono::Utc::now();
    // One past its deadline, one not to start for an hour.
    let now = chrono::Utc::now();
    let late = Request {
        id: request_id(now, 1),
        slot: SLOT2.into(),
        deadline: Some(now - chrono::TimeDelta::minutes(1)),
        ..req.clone()
    };
    let early = Request {
        id: request_id(now, 2),
        slot: "2026-11-23T05:00Z".into(),
        not_before: Some(now + chrono::TimeDelta::hours(1)),
        ..req.clone()
    };
    for r in [&late, &early] {
        queue::submit(&*s, r).unwrap();
    }
    wait_for("funnel.abandon_after to pass", LONG, || {
        (chrono::Utc::now() - taken_at > chrono::TimeDelta::milliseconds(1500)).then_some(())
    });

    let (o, pulled) = snatch(&w);
    assert!(o.status.success(), "{:?}", text(&o));
    let n = |k: &str| pulled[k].as_u64().unwrap();
    assert_eq!(
        (n("abandoned"), n("retried"), n("dropped"), n("taken")),
        (1, 1, 1, 1),
        "{pulled}"
    );
    let st = state(&*s, &lost).unwrap();
    assert_eq!(st.phase, Phase::Abandoned);
    assert!(st.reason.unwrap().contains("gone"));
    // The retry is attempt 2, queued once and run here in the same round.
    assert_eq!(queue::attempts(&*s, "qw-retry", SLOT).unwrap(), [1, 2]);
    let retry_id =
        String::from_utf8(s.get(&keys::attempt("qw-retry", SLOT, 2)).unwrap().unwrap()).unwrap();
    let retry = queue::get(&*s, &retry_id).unwrap().unwrap();
    assert_eq!(retry.kind, Kind::Retry);
    let done = ended(&*s, &retry_id);
    assert_eq!(done.phase, Phase::Succeeded, "{done:?}");
    assert_eq!(record(&*s, &done).attempt, Some(2));
    assert_eq!(u.read("runs").unwrap(), "x\n");

    let st = state(&*s, &late.id).unwrap();
    assert_eq!(st.phase, Phase::Dropped);
    let slot2 = Slot::from_key(SLOT2).unwrap();
    let (recs, _) = records::list(&*s, &keys::slot_runs("qw-retry", slot2)).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].status, recs[0].request.as_deref()),
        (Status::Dropped, Some(late.id.as_str()))
    );
    assert_eq!(state(&*s, &early.id).unwrap().phase, Phase::Queued);
}

#[test]
fn a_store_failure_in_the_pull_round_keeps_the_install_and_exits_69() {
    if !root_with_tools() {
        return;
    }
    let job = "0 3 * * * {user} {greaserun} --job qw-fault --runner shell {jar} -- true\n";
    let (w, _u) = world("e", job);
    let before: Vec<String> = w.cron_files();
    std::fs::remove_file(w.cron_dir().join(&before[0])).unwrap();
    // The queue's area is a symlink: the store refuses to read it (unavailable).
    let store = w.store_dir().unwrap();
    std::fs::remove_dir(store.join("queue")).unwrap();
    symlink(w.path(), store.join("queue")).unwrap();
    let o = w.snatch(&[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(69), "{out}{err}");
    assert!(out.contains("1 installed"), "{out}");
    assert!(err.contains("pull round"), "{err}");
    assert_eq!(w.cron_files(), before, "the install stands");
}

#[test]
fn a_command_that_cannot_start_or_exits_before_greaserun_serves_fails_the_request() {
    if !root_with_tools() {
        return;
    }
    // One entry's program is missing; the other's is a `greaserun` that exits at once.
    let jobs = "0 3 * * * {user} /nonexistent-sgt/greaserun --job qw-gone --runner shell {jar} -- true\n\
                0 3 * * * {user} {world}/work/bin/greaserun --job qw-early --runner shell {jar} -- true\n";
    let (w, _u) = world("f", jobs);
    let early = w.write("work/bin/greaserun", "#!/bin/sh\nexit 3\n");
    std::fs::set_permissions(&early, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = w.store();
    let _watcher = Watcher(
        w.spawn_cmd("greasesnatch")
            .arg("--watch")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let gone = dispatch(&w, &["qw-gone", "--slot", SLOT]);
    let st = ended(&*s, &gone);
    assert_eq!(st.phase, Phase::Failed, "{st:?}");
    assert!(
        st.reason
            .as_deref()
            .unwrap()
            .contains("/nonexistent-sgt/greaserun"),
        "{st:?}"
    );
    let id = dispatch(&w, &["qw-early", "--slot", SLOT]);
    let st = ended(&*s, &id);
    assert_eq!((st.phase, st.exit_code), (Phase::Failed, Some(3)), "{st:?}");
    assert!(
        st.reason
            .as_deref()
            .unwrap()
            .contains("before greaserun served"),
        "{st:?}"
    );
    assert!(s.keys("taken").unwrap().is_empty());
}
