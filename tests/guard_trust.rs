//! The guard's running-job count through the real greaserun (issue 12, item 10): a
//! process merely named `greaserun` with a child does not count, a real greaserun running
//! a job does.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

use crate::harness::{World, text, wait_for};

/// Whether process `pid` has a child (what the guard asks of a running greaserun).
fn has_child(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .is_ok_and(|c| !c.trim().is_empty())
}

/// A greaserun with no delay, no claim, `guard.max_running` 1, running `job` via sh. It
/// runs this test's own copy of the binary: the guard counts processes of the running
/// binary (its file), so greaseruns of tests running beside this one do not count.
fn greaserun(w: &World, jar: &Path, job: &str) -> Command {
    let copy = w.join("bin/greaserun");
    if !copy.exists() {
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(crate::harness::bin_path("greaserun"), &copy).unwrap();
    }
    let mut c = w.spawn_program("greaserun", &copy);
    c.args(["-D", "--no-claim", "--runner", "shell"])
        .arg(jar)
        .args(["--", "sh", "-c", job])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Kills a background process and waits for it (on drop, so a failed assertion does not
/// leave it running).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

#[test]
fn guard_counts_only_real_greaserun_jobs() {
    let mut w = World::new();
    // Only the running-job count may refuse: a loaded test machine must not trip the
    // load or memory limits (the first greaserun would be dropped and never start).
    w.configure(|c| {
        c["guard"]["max_running"] = json!(1);
        c["guard"]["max_load_per_cpu"] = json!(1000.0);
        c["guard"]["min_available_memory_mb"] = json!(0);
    });
    let jar = w.empty_jar();

    // A fake: a copy of sh named greaserun (comm "greaserun"), with a child sleep.
    let fake = w.join("fake/greaserun");
    std::fs::create_dir_all(fake.parent().unwrap()).unwrap();
    std::fs::copy("/bin/sh", &fake).unwrap();
    let fake = Reaped(
        Command::new(&fake)
            .args(["-c", "sleep 300; true"])
            .spawn()
            .unwrap(),
    );
    let pid = fake.0.id();
    wait_for("the fake to have a child", Duration::from_secs(10), || {
        has_child(pid).then_some(())
    });
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "greaserun");
    let out = greaserun(&w, &jar, "echo ran").output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "ran");
    drop(fake);

    // A real greaserun running a long job counts: the next one is dropped.
    let first = Reaped(greaserun(&w, &jar, "sleep 300").spawn().unwrap());
    let pid = first.0.id();
    wait_for("greaserun to run its job", Duration::from_secs(30), || {
        has_child(pid).then_some(())
    });
    let out = greaserun(&w, &jar, "echo ran").output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains("running jobs 1 >= 1 (guard.max_running)"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
}
