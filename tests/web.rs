//! `greasestatus serve` over HTTP, through the real binaries on the directory store: a
//! published bundle whose jobs really ran with greaserun (succeeded, failed, one printing
//! `<script>`, one still running) and one that never ran (missing slots). Pages, the JSON
//! API, and Run now: refused signed out, without the session's token, or with a wrong
//! password; queued after signing in. The same world drives the browser tests
//! (`web_browser`) and the `/metrics` test (`web_metrics`).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::Duration;

use chrono::{Timelike, Utc};
use serde_json::{Value, json};

use crate::harness::{World, text, wait_for};

/// The password of the one user, `ann`.
pub const PASSWORD: &str = "correct horse";

/// A world with jobs that ran, and a server over its store.
pub struct Served {
    pub w: World,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The slot the jobs ran for (the current hour, UTC), as its key.
    pub slot: String,
    server: Child,
    slow: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        for c in [&mut self.server, &mut self.slow] {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }
}

fn script(w: &World, name: &str, body: &str) -> String {
    let p = w.write(&format!("bin/{name}"), &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

/// Publishes five hourly jobs, runs three of them for this hour's slot with greaserun
/// (ok-job succeeds, bad-job fails printing "boom", xss-job prints a script tag), starts
/// slow-job and waits until it shows running (lost-job never runs), writes a users
/// file with `ann`, and starts `greasestatus serve` on a free port.
pub fn served() -> Served {
    served_on(World::new())
}

/// [`served`] in `w` (whose config names the store: the directory store by default).
pub fn served_on(mut w: World) -> Served {
    w.init_store();
    let jar = w.empty_jar().display().to_string();
    let ok = script(&w, "ok.sh", "echo fine");
    let bad = script(&w, "fail.sh", "echo boom from the failing job; exit 3");
    let xss = script(&w, "xss.sh", "echo '<script>alert(1)</script>'");
    let slow = script(&w, "slow.sh", "echo started; exec sleep 600");
    let line = |job: &str, cmd: &str| {
        format!("0 * * * * root greaserun -D --job {job} -r shell {jar} -- {cmd}\n")
    };
    let crontab = [
        line("ok-job", &ok),
        line("bad-job", &bad),
        line("xss-job", &xss),
        line("slow-job", &slow),
        line("lost-job", &ok),
    ]
    .concat();
    let p = w.project("p", "g", "web", &[("hourly.cron", &crontab)]);
    let o = w.launch(&p, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    published_yesterday(&w);

    let now = Utc::now();
    let hour = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    let slot_arg = hour.format("%Y-%m-%dT%H:%MZ").to_string();
    let run = |job: &str, cmd: &str| {
        w.cmd("greaserun")
            .env("TZ", "UTC")
            .args([
                "-D", "--job", job, "--slot", &slot_arg, "-r", "shell", &jar, "--", cmd,
            ])
            .output()
            .unwrap()
    };
    assert!(run("ok-job", &ok).status.success());
    assert_eq!(run("bad-job", &bad).status.code(), Some(3));
    assert!(run("xss-job", &xss).status.success());
    let slow_child = w
        .spawn_cmd("greaserun")
        .env("TZ", "UTC")
        .args([
            "-D", "--job", "slow-job", "--slot", &slot_arg, "-r", "shell", &jar, "--", &slow,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("slow-job to show running", Duration::from_secs(60), || {
        let o = w
            .cmd("greasestatus")
            .args(["runs", "slow-job", "--json"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .contains("\"running\"")
            .then_some(())
    });

    let o = w
        .cmd("greasestatus")
        .args(["passwd", "ann"])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.starts_with("ann:$argon2id$") && !out.contains(PASSWORD),
        "{out}"
    );
    let users = w.write("users", &out);
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
    w.configure(|c| c["web"] = json!({"users": users}));

    let mut server = w
        .spawn_cmd("greasestatus")
        .env("TZ", "UTC")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .trim()
        .strip_prefix("greasestatus: serving ")
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .trim_end_matches('/')
        .to_string();
    Served {
        w,
        base,
        slot: slot_arg,
        server,
        slow: slow_child,
    }
}

/// Moves the bundle's launch time a day back (digest recomputed), as if it had been
/// published yesterday: the slots of the past day were then expected of the farm.
fn published_yesterday(w: &World) {
    let store = w.store();
    let key = store.keys("bundles").unwrap().pop().expect("a bundle");
    let bytes = store.get(&key).unwrap().unwrap();
    let mut b = scalegrease::dispatch::bundle::Bundle::decode(&key, &bytes).unwrap();
    b.launched_at = (Utc::now() - chrono::TimeDelta::days(1)).to_rfc3339();
    b.digest = b.compute_digest();
    store
        .put(&key, &serde_json::to_vec(&b).unwrap(), None)
        .unwrap();
}

/// An HTTP client that shows redirects and error statuses as they are.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// GET: status and body.
pub fn get(s: &Served, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut r = agent().get(format!("{}{path}", s.base));
    if let Some(c) = cookie {
        r = r.header("Cookie", c);
    }
    let mut resp = r.call().unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

/// POST a form: status, the `Location` and `Set-Cookie` headers (the body goes to
/// stderr, for a failing assertion's output).
pub fn post(
    s: &Served,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, String, String) {
    let mut r = agent().post(format!("{}{path}", s.base));
    if let Some(c) = cookie {
        r = r.header("Cookie", c);
    }
    let mut resp = r.send_form(form.iter().copied()).unwrap();
    eprintln!(
        "POST {path}: {}",
        resp.body_mut().read_to_string().unwrap_or_default()
    );
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    (resp.status().as_u16(), h("location"), h("set-cookie"))
}

/// GET a JSON API path, which must answer 200.
pub fn api(s: &Served, path: &str) -> Value {
    let (status, body) = get(s, path, None);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"))
}

#[test]
fn pages_and_api_show_failed_running_and_missing_and_escape_output() {
    let s = served();
    let (status, farm) = get(&s, "/", None);
    assert_eq!(status, 200);
    // Failing and missing first, then running, then the rest.
    let pos = |job: &str| {
        farm.find(&format!(">{job}</a>"))
            .unwrap_or_else(|| panic!("{job} in {farm}"))
    };
    assert!(pos("bad-job") < pos("slow-job") && pos("lost-job") < pos("slow-job"));
    assert!(pos("slow-job") < pos("ok-job"), "{farm}");
    assert!(!farm.contains("Run now") && farm.contains("Sign in"));

    let v = api(&s, "/api/farm");
    let state = |job: &str| {
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job"] == job)
            .unwrap_or_else(|| panic!("{job} in {v}"))["state"]
            .clone()
    };
    assert_eq!(state("bad-job"), "failed");
    assert_eq!(state("lost-job"), "missing");
    assert_eq!(state("slow-job"), "running");
    assert_eq!(state("ok-job"), "succeeded");

    // The job page: its ledger has missing slots and this hour's failure; the API agrees.
    let (status, page) = get(&s, "/job/lost-job?days=1", None);
    assert_eq!(status, 200);
    assert!(page.contains(r#"data-state="missing""#), "{page}");
    let ledger = api(&s, "/api/ledger/bad-job?days=1");
    let mine = ledger
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["slot"] == s.slot.as_str())
        .unwrap_or_else(|| panic!("slot {} in {ledger}", s.slot));
    assert_eq!(mine["state"], "failed");
    assert_eq!(mine["exit_code"], 3);

    // The run pages: the failure and its output; the script tag as text.
    let run = |job: &str| {
        let j = api(&s, &format!("/api/job/{job}?days=1"));
        let l = j["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["slot"] == s.slot.as_str())
            .unwrap()
            .clone();
        format!("/run/{job}/{}/{}", s.slot, l["run_id"].as_str().unwrap())
    };
    let (status, page) = get(&s, &run("bad-job"), None);
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="status">failed<"#) && page.contains("boom from the failing job"));
    let (_, page) = get(&s, &run("xss-job"), None);
    // Escaped (askama writes `<` as `&#60;`): the text is there, the tag is not.
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{page}"
    );
    assert!(!page.contains("<script"), "{page}");
    // A running job's page reloads itself and shows the output so far (written to the
    // store about once a second while it runs).
    let slow = run("slow-job");
    let page = wait_for("slow-job's live output", Duration::from_secs(30), || {
        let (_, page) = get(&s, &slow, None);
        page.contains("started\n</pre>").then_some(page)
    });
    assert!(page.contains(r#"http-equiv="refresh""#) && page.contains(r#"id="status">running<"#));

    let (status, _) = get(&s, "/job/no-such-job", None);
    assert_eq!(status, 404);
}

#[test]
fn run_now_needs_a_signed_in_user_and_the_session_token() {
    let s = served();
    let queued = || s.w.store().keys("queue").unwrap().len();
    // Signed out: refused, nothing queued.
    let (status, _, _) = post(&s, "/job/ok-job/run", None, &[("csrf", "x")]);
    assert_eq!(status, 403);
    // A wrong password: refused, no session.
    let (status, _, cookie) = post(
        &s,
        "/login",
        None,
        &[("name", "ann"), ("password", "wrong")],
    );
    assert_eq!(status, 403);
    assert!(cookie.is_empty());
    // Signed in.
    let (status, to, cookie) = post(
        &s,
        "/login",
        None,
        &[("name", "ann"), ("password", PASSWORD)],
    );
    assert_eq!((status, to.as_str()), (303, "/"));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let (_, page) = get(&s, "/job/ok-job", Some(&cookie));
    assert!(page.contains("Run now") && page.contains("signed in as ann"));
    let token = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_string();
    // The session without its token (a forged form), or from another site: refused.
    let (status, _, _) = post(&s, "/job/ok-job/run", Some(&cookie), &[("csrf", "forged")]);
    assert_eq!(status, 403);
    let mut r = agent().post(format!("{}/job/ok-job/run", s.base));
    r = r
        .header("Cookie", &cookie)
        .header("Origin", "http://evil.example");
    let resp = r.send_form([("csrf", token.as_str())]).unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(queued(), 0);
    // With it: queued through the farm queue, as greasedispatch would.
    let (status, to, _) = post(&s, "/job/ok-job/run", Some(&cookie), &[("csrf", &token)]);
    assert_eq!(status, 303, "{to}");
    assert!(to.starts_with("/job/ok-job?queued="), "{to}");
    assert_eq!(queued(), 1);
    let o =
        s.w.cmd("greasestatus")
            .args(["queue", "--json"])
            .output()
            .unwrap();
    let (out, _) = text(&o);
    assert!(out.contains("web:ann@"), "{out}");
    // Rerun slot: a new attempt of the failed slot.
    let (status, _, _) = post(
        &s,
        "/job/bad-job/rerun",
        Some(&cookie),
        &[("csrf", &token), ("slot", &s.slot)],
    );
    assert_eq!(status, 303);
    assert_eq!(queued(), 2);
}
