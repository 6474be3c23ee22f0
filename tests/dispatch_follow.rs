//! `greasedispatch --follow` and `--attach` end to end, through the real binaries on the
//! directory store: the run's output printed as it comes, then the exit with the job's
//! status.

use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::dispatch_front::{Reaped, dispatch, queued};
use crate::harness::{World, text, wait_for};

/// `--follow` through the real greaserun serving the request (as a worker starts it,
/// with `SCALEGREASE_REQUEST`): the follower prints the job's first line while the job
/// still runs (the job waits for the test to see it), then the rest, and exits with the
/// job's status; `--attach` later prints the final tail and the same code.
#[test]
fn follow_prints_the_output_of_the_run_as_it_comes_and_exits_with_its_status() {
    let w = World::new();
    w.init_store();
    let jar = w.empty_jar();
    let go = w.join("go");
    let greaserun = crate::harness::bin_path("greaserun");
    let script = format!(
        "echo one; while [ ! -e {} ]; do sleep 0.1; done; echo two; exit 3",
        go.display()
    );
    let words = [
        "-D",
        "--job",
        "fjob",
        "--runner",
        "shell",
        jar.to_str().unwrap(),
        "--",
        "sh",
        "-c",
    ];
    let line = format!(
        "0 3 * * * root {} {} '{script}'\n",
        greaserun.display(),
        words.join(" ")
    );
    let p = w.project("p", "g", "f", &[("f.cron", &line)]);
    assert!(w.launch(&p, &[]).status.success());
    let mut follower = Reaped(Some(
        w.spawn_cmd("greasedispatch")
            .args(["fjob", "--slot", "2026-11-23T03:00Z", "--follow"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let printed = collect(follower.0.as_mut().unwrap().stdout.take().unwrap());
    let key = wait_for("the request to be queued", Duration::from_secs(20), || {
        queued(&w).pop()
    });
    let id = key.strip_prefix("queue/").unwrap().to_string();
    // Taken as the worker that starts greaserun takes it.
    let store = w.store();
    let req = scalegrease::arbitration::queue::get(&*store, &id)
        .unwrap()
        .unwrap();
    assert!(scalegrease::arbitration::queue::take(&*store, &req, "worker1").unwrap());
    let mut run = Reaped(Some(
        w.spawn_cmd("greaserun")
            .env("SCALEGREASE_REQUEST", &id)
            .env("SCALEGREASE_HOSTNAME", "worker1")
            .args(words)
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    wait_for(
        "the follower to print the first line",
        Duration::from_secs(30),
        || (printed.0.lock().unwrap().as_slice() == b"one\n").then_some(()),
    );
    std::fs::write(&go, "").unwrap();
    let status = run.0.take().unwrap().wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let out = follower.0.take().unwrap().wait_with_output().unwrap();
    printed.1.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        printed.0.lock().unwrap().as_slice(),
        b"one\ntwo\n",
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("request {id} failed on worker1 (exit 3)")),
        "{stderr}"
    );
    let o = dispatch(&w, &["--attach", &id]);
    assert_eq!(
        (o.status.code(), text(&o).0.as_str()),
        (Some(3), "one\ntwo\n")
    );
}

/// The whole path: greasedispatch queues, a one-shot greasesnatch (as cron starts it)
/// installs the bundle and starts the request's greaserun detached, and a follower on
/// "another host" prints the job's output as it comes and exits with its status.
#[test]
fn a_worker_runs_the_request_and_the_follower_prints_its_output() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: a worker starts jobs as their entry's user, which needs root");
        return;
    }
    let mut w = World::new();
    w.configure(|c| c["launch"]["allow_root"] = true.into());
    w.init_store();
    let jar = w.empty_jar();
    let go = w.join("go");
    let script = format!(
        "echo started; while [ ! -e {} ]; do sleep 0.1; done; echo done; exit 4",
        go.display()
    );
    let line = format!(
        "0 3 * * * root {} -D --job wjob --runner shell {} -- sh -c '{script}'\n",
        crate::harness::bin_path("greaserun").display(),
        jar.display()
    );
    let p = w.project("p", "g", "w", &[("w.cron", &line)]);
    assert!(w.launch(&p, &[]).status.success());
    let o = dispatch(&w, &["wjob", "--slot", "2026-11-23T03:00Z"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let id = out.trim().to_string();
    let mut follower = Reaped(Some(
        w.spawn_cmd("greasedispatch")
            .env("SCALEGREASE_HOSTNAME", "laptop")
            .args(["--attach", &id])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let printed = collect(follower.0.as_mut().unwrap().stdout.take().unwrap());
    let o = w
        .cmd("greasesnatch")
        .env("SCALEGREASE_HOSTNAME", "worker7")
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    wait_for(
        "the follower to print the first line",
        Duration::from_secs(60),
        || (printed.0.lock().unwrap().as_slice() == b"started\n").then_some(()),
    );
    std::fs::write(&go, "").unwrap();
    let out = follower.0.take().unwrap().wait_with_output().unwrap();
    printed.1.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_eq!(printed.0.lock().unwrap().as_slice(), b"started\ndone\n");
    assert!(
        stderr.contains(&format!("request {id} failed on worker7 (exit 4)")),
        "{stderr}"
    );
}

/// Reads `pipe` to its end in a thread, into the returned buffer.
fn collect(
    mut pipe: impl Read + Send + 'static,
) -> (Arc<Mutex<Vec<u8>>>, std::thread::JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = buf.clone();
    let t = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    (buf, t)
}
