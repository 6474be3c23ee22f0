//! The loser of an abandoned claim is told that the claim is abandoned (the winner's
//! heartbeat lapsed) and how to run the slot anyway, and that way works.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::harness::etcd::each_backend;
use crate::harness::{World, text, wait_for};

/// greaserun on worker `host` for the slot, with `flags`, running `job`.
fn greaserun(w: &World, host: &str, flags: &[&str], job: &[&str]) -> std::process::Output {
    let jar = w.empty_jar();
    w.spawn_cmd("greaserun")
        .env("SCALEGREASE_HOSTNAME", host)
        .args(["-D", "--job", "lapsed", "--slot", "2026-03-01T03:00Z"])
        .args(flags)
        .args(["--runner", "shell", jar.to_str().unwrap(), "--"])
        .args(job)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn abandoned_claim_on(mut w: World) {
    w.configure(|c| c["funnel"] = json!({"heartbeat_interval": "100ms", "abandon_after": "1s"}));
    w.store();
    // The winner's greaserun dies mid-run (SIGKILL from its own job): its claim stays and
    // its heartbeat stops.
    let out = greaserun(&w, "h1", &[], &["sh", "-c", "kill -KILL $PPID"]);
    assert_eq!(out.status.code(), None, "{}", text(&out).1);

    let err = wait_for(
        "the loser to see the claim abandoned",
        Duration::from_secs(60),
        || {
            let out = greaserun(&w, "h2", &[], &["true"]);
            let (_, err) = text(&out);
            assert!(out.status.success(), "{err}");
            assert!(err.contains("already claimed by h1 at"), "{err}");
            err.contains("abandoned").then_some(err)
        },
    );
    assert!(err.contains("h1's heartbeat lapsed at"), "{err}");
    assert!(
        err.contains("--no-claim --job 'lapsed' --slot 2026-03-01T03:00Z"),
        "{err}"
    );

    // Doing as told runs the slot.
    let done = w.join("done");
    let out = greaserun(
        &w,
        "h2",
        &["--no-claim"],
        &["sh", "-c", &format!("touch {}", done.display())],
    );
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(done.exists());
}

#[test]
fn the_loser_of_an_abandoned_claim_is_told_how_to_run_it() {
    each_backend(|_, w| abandoned_claim_on(w));
}
