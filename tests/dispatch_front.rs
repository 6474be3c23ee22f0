//! greasedispatch's front, through the real binaries on the directory store: finding the
//! published job (unknown, ambiguous, not a greaserun entry), queueing a request
//! (`requests/`, `queue/`, `--json`), duplicates (79) and `--rerun`, a backfill of the
//! missing slots as one batch, the store unavailable (69, nothing queued), and
//! `--cancel` / `--attach` of a queued request. Following a run: `dispatch_follow`.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{World, text, wait_for};

const CRONTAB: &str = "0 3 * * * nobody greaserun --job etl-daily -r shell /bin/echo a\n\
0 * * * * nobody greaserun --job etl-hourly -r shell /bin/echo b\n\
0 5 * * * nobody greaserun --job piped -r shell /bin/echo c | tee /tmp/piped.log\n";

/// A world with CRONTAB published as g:jobs.
fn published() -> World {
    let w = World::new();
    w.init_store();
    let p = w.project("p", "g", "jobs", &[("day.cron", CRONTAB)]);
    let o = w.launch(&p, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    w
}

pub fn dispatch(w: &World, args: &[&str]) -> Output {
    w.cmd("greasedispatch")
        .env("TZ", "UTC")
        .args(args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    let (out, err) = text(o);
    assert!(o.status.success(), "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

pub fn queued(w: &World) -> Vec<String> {
    w.store().keys("queue").unwrap()
}

#[test]
fn unknown_ambiguous_and_non_greaserun_jobs_are_refused_naming_why() {
    let w = published();
    let o = dispatch(&w, &["weekly"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains("\"weekly\"") && err.contains("published: etl-daily, etl-hourly"),
        "{err}"
    );

    let o = dispatch(&w, &["etl"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("matches several") && err.contains("etl-daily (at g:jobs day.cron:1)"),
        "{err}"
    );
    assert!(err.contains("etl-hourly (at g:jobs day.cron:2)"), "{err}");

    let o = dispatch(&w, &["piped"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("g:jobs day.cron:3") && err.contains("not a greaserun entry"),
        "{err}"
    );
    assert!(err.contains("`|`"), "{err}");

    // The same job name in two projects: ambiguous, saying where each is.
    let q = w.project(
        "q",
        "h",
        "other",
        &[(
            "x.cron",
            "0 6 * * * nobody greaserun --job etl-daily -r shell /bin/echo z\n",
        )],
    );
    assert!(w.launch(&q, &[]).status.success());
    let o = dispatch(&w, &["etl-daily"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("g:jobs day.cron:1") && err.contains("h:other x.cron:1"),
        "{err}"
    );
    assert!(queued(&w).is_empty(), "nothing is queued on a refusal");
}

#[test]
fn a_request_is_queued_once_and_rerun_queues_the_next_attempt() {
    let w = published();
    let slot = "2026-11-23T03:00Z";
    let j = json(&dispatch(&w, &["etl-daily", "--slot", slot, "--json"]));
    let r = &j["requests"][0];
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(
        (
            r["slot"].as_str(),
            r["attempt"].as_u64(),
            r["kind"].as_str()
        ),
        (Some(slot), Some(1), Some("demand"))
    );
    assert_eq!(
        (r["state"].as_str(), j["entry"].as_str()),
        (Some("queued"), Some("g:jobs day.cron:1"))
    );
    let s = w.store();
    assert!(s.get(&format!("requests/{id}")).unwrap().is_some());
    assert_eq!(queued(&w), [format!("queue/{id}")]);
    let req: Value =
        serde_json::from_slice(&s.get(&format!("requests/{id}")).unwrap().unwrap()).unwrap();
    assert!(req["requested_by"].as_str().unwrap().contains('@'), "{req}");

    let o = dispatch(&w, &["etl-daily", "--slot", slot]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(79), "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains(&id) && err.contains("queued") && err.contains("--rerun"),
        "{err}"
    );

    let o = dispatch(&w, &["daily", "--slot", slot, "--rerun"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let id2 = out.trim().to_string();
    assert!(
        err.contains("(attempt 2, demand)") && err.contains(&id2),
        "{err}"
    );
    assert_eq!(queued(&w).len(), 2);
    let req: Value =
        serde_json::from_slice(&s.get(&format!("requests/{id2}")).unwrap().unwrap()).unwrap();
    assert_eq!(req["attempt"], 2);
}

#[test]
fn backfill_queues_exactly_the_missing_slots_oldest_first_in_one_batch() {
    let w = published();
    // 2026-11-21 ran and succeeded (a claimed greaserun of the same job name).
    let jar = w.empty_jar();
    let o = w
        .cmd("greaserun")
        .env("TZ", "UTC")
        .args([
            "-D",
            "--job",
            "etl-daily",
            "--slot",
            "2026-11-21T03:00Z",
            "--runner",
            "shell",
        ])
        .arg(&jar)
        .args(["--", "true"])
        .write_stdin("")
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let args = [
        "etl-daily",
        "--backfill",
        "4d",
        "--slot",
        "2026-11-23T03:00Z",
        "--limit",
        "2",
        "--json",
    ];
    let j = json(&dispatch(&w, &args));
    let reqs = j["requests"].as_array().unwrap();
    let slots: Vec<&str> = reqs.iter().map(|r| r["slot"].as_str().unwrap()).collect();
    assert_eq!(
        slots,
        [
            "2026-11-20T03:00Z",
            "2026-11-22T03:00Z",
            "2026-11-23T03:00Z"
        ]
    );
    let batch = j["batch"].as_str().unwrap();
    assert_eq!(reqs[0]["id"], batch);
    assert!(
        reqs.iter()
            .all(|r| r["batch"] == batch && r["kind"] == "backfill"),
        "{j}"
    );
    assert_eq!(j["left"][0]["slot"], "2026-11-21T03:00Z");
    assert_eq!(j["left"][0]["why"], "succeeded");
    let req: Value = serde_json::from_slice(
        &w.store()
            .get(&format!("requests/{batch}"))
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(req["limit"], 2);
    let mut q = queued(&w);
    q.sort();
    let want: Vec<String> = reqs
        .iter()
        .map(|r| format!("queue/{}", r["id"].as_str().unwrap()))
        .collect();
    assert_eq!(q, want, "ids sort oldest slot first");
    // Bad usage queues nothing: a step longer than the window, --follow of a backfill.
    for bad in [&["--every", "5d"][..], &["--follow"]] {
        let o = dispatch(&w, &[&["etl-daily", "--backfill", "4d"][..], bad].concat());
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {err}");
    }
    // Everything is queued or succeeded now: nothing more to queue.
    let j = json(&dispatch(&w, &args));
    assert_eq!(j["requests"].as_array().unwrap().len(), 0, "{j}");
    assert_eq!(queued(&w).len(), 3);
}

#[test]
fn an_unavailable_store_queues_nothing_and_exits_69() {
    let w = published();
    let bad = w.join("unmarked");
    std::fs::create_dir_all(&bad).unwrap();
    let o = dispatch(&w, &["etl-daily", "--store", bad.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(69), "{err}");
    assert_eq!(out, "");
    assert!(err.contains(bad.to_str().unwrap()), "{err}");
    assert_eq!(
        std::fs::read_dir(&bad).unwrap().count(),
        0,
        "nothing written"
    );
    assert!(queued(&w).is_empty());
}

#[test]
fn cancel_withdraws_a_queued_request_and_a_follower_sees_it() {
    let w = published();
    // A follower of a request that no worker takes, cancelled from another command.
    let mut follower = Reaped(Some(
        w.spawn_cmd("greasedispatch")
            .args(["etl-hourly", "--slot", "2026-11-23T05:00Z", "--follow"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let key = wait_for("the request to be queued", Duration::from_secs(20), || {
        queued(&w).pop()
    });
    let id = key.strip_prefix("queue/").unwrap().to_string();
    let o = dispatch(&w, &["--cancel", &id]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("withdrawn") && err.contains("nothing ran"),
        "{err}"
    );
    assert!(queued(&w).is_empty());
    let st: Value =
        serde_json::from_slice(&w.store().get(&format!("states/{id}")).unwrap().unwrap()).unwrap();
    assert_eq!(st["phase"], "cancelled");

    let out = follower.0.take().unwrap().wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(81), "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(&format!("request {id} cancelled")),
        "{stderr}"
    );

    // Again: it already ended; an unknown id is exit 1.
    let j = json(&dispatch(&w, &["--cancel", &id, "--json"]));
    assert_eq!(
        (j["outcome"].as_str(), j["state"].as_str()),
        (Some("already_ended"), Some("cancelled"))
    );
    let o = dispatch(&w, &["--attach", &id]);
    assert_eq!(o.status.code(), Some(81), "{:?}", text(&o));
    for unknown in ["20261130T184512Z-00003f9a", "../x"] {
        let o = dispatch(&w, &["--cancel", unknown]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("no request"), "{err}");
    }
}

/// A child that is killed and reaped if the test ends before waiting for it.
pub struct Reaped(pub Option<std::process::Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
