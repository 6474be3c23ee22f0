//! Signals and timeouts through the real greaserun binary: SIGTERM to greaserun reaches
//! the job's grandchild, `--timeout` ends the whole process group (exit 124), and /proc
//! shows that no process of the group survives.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{World, wait_for};
use crate::runners::fat_jar;

/// Live (non-zombie) processes whose process group is `pgid`, from /proc.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Some((state, pg)) = stat(pid)
            && pg == pgid
            && state != "Z"
        {
            out.push(pid);
        }
    }
    out
}

/// A process's state letter and process group, from /proc/<pid>/stat.
fn stat(pid: i32) -> Option<(String, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.first()?.to_string(), f.get(2)?.parse().ok()?))
}

fn read_pid(p: &Path) -> Option<i32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    wait_for("greaserun to exit", Duration::from_secs(60), || {
        child.try_wait().unwrap()
    })
}

/// Starts greaserun on a shell job whose grandchild writes its pid to `gc.pid` and sleeps.
fn start(w: &World, jar: &Path, extra: &[&str], grandchild: &str) -> Child {
    let script = format!(
        "sh -c '{grandchild}' & echo $! > {pidfile}; wait",
        pidfile = w.join("gc.pid").display()
    );
    w.spawn_cmd("greaserun")
        .args(["-D", "--force", "-q"])
        .args(extra)
        .args([
            "--runner",
            "shell",
            jar.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn grandchild_group(w: &World) -> (i32, i32) {
    let pid = wait_for("the grandchild's pid", Duration::from_secs(30), || {
        read_pid(&w.join("gc.pid"))
    });
    let pg = wait_for(
        "the grandchild's process group",
        Duration::from_secs(30),
        || stat(pid).map(|(_, pg)| pg),
    );
    (pid, pg)
}

#[test]
fn sigterm_to_greaserun_reaches_the_grandchild() {
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    let mut child = start(&w, jar, &[], "exec sleep 300");
    let (gc, pg) = grandchild_group(&w);
    assert_ne!(
        pg,
        nix::unistd::getpgrp().as_raw(),
        "the job has its own process group"
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(143), "the job's shell died of SIGTERM");
    assert!(
        stat(gc).is_none_or(|(s, _)| s == "Z"),
        "grandchild {gc} survived"
    );
    assert_eq!(group_members(pg), Vec::<i32>::new());
}

#[test]
fn timeout_ends_the_group_and_exits_124() {
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    // The grandchild ignores SIGTERM: it takes the SIGKILL after the grace period.
    let mut child = start(
        &w,
        jar,
        &["--timeout", "1s", "--kill-grace", "300ms"],
        "trap \"\" TERM; sleep 300",
    );
    let (_, pg) = grandchild_group(&w);
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(124));
    assert_eq!(group_members(pg), Vec::<i32>::new());
}

#[test]
fn processes_left_behind_by_the_job_are_ended() {
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    let pidfile = w.join("bg.pid");
    let out = w
        .cmd("greaserun")
        .args([
            "-D",
            "--force",
            "--kill-grace",
            "300ms",
            "--runner",
            "shell",
        ])
        .arg(jar)
        .args(["--", "sh", "-c"])
        .arg(format!(
            "sleep 300 >/dev/null 2>&1 & echo $! > {}; echo done",
            pidfile.display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let bg = read_pid(&pidfile).unwrap();
    assert!(
        stat(bg).is_none_or(|(s, _)| s == "Z"),
        "background process {bg} survived"
    );
}

#[test]
fn sigint_and_sighup_are_passed_on_too() {
    let Some(jar) = fat_jar() else { return };
    for (sig, code) in [(Signal::SIGINT, 130), (Signal::SIGHUP, 129)] {
        let w = World::new();
        // A non-interactive shell starts `&` jobs with SIGINT ignored: that grandchild
        // outlives the signal and is ended as a process the job left behind.
        let mut child = start(&w, jar, &["--kill-grace", "300ms"], "exec sleep 300");
        let (_, pg) = grandchild_group(&w);
        kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        let status = wait_exit(&mut child);
        assert_eq!(status.code(), Some(code), "{sig}");
        assert_eq!(group_members(pg), Vec::<i32>::new(), "{sig}");
    }
}

#[test]
fn the_python_tree_is_removed_when_greaserun_is_signalled() {
    let Some(jar) = fat_jar() else { return };
    if crate::harness::skip_without("python3") {
        return;
    }
    let w = World::new();
    let cwd_file = w.join("cwd.txt");
    let script = format!(
        "import os, time\nopen({:?}, 'w').write(os.getcwd())\ntime.sleep(300)\n",
        cwd_file.to_str().unwrap()
    );
    let mut child = w
        .spawn_cmd("greaserun")
        .args(["-D", "--force", "-q", "--runner", "python"])
        .arg(jar)
        .args(["--", "python3", "-c", &script])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let cwd = wait_for(
        "the job's working directory",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(&cwd_file)
                .ok()
                .filter(|s| !s.is_empty())
        },
    );
    assert!(Path::new(&cwd).is_dir());
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(wait_exit(&mut child).code(), Some(143));
    assert!(!Path::new(&cwd).exists(), "{cwd} was not removed");
}

#[test]
fn a_signal_ignored_by_greaserun_stays_ignored_for_the_job() {
    use std::os::unix::process::CommandExt;
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    let mut cmd = w.spawn_cmd("greaserun");
    cmd.args(["-D", "--force", "-q", "--runner", "shell"])
        .arg(jar)
        .args(["--", "grep", "^SigIgn:", "/proc/self/status"]);
    // As `nohup` does: greaserun starts with SIGHUP ignored.
    // SAFETY: only an async-signal-safe sigaction call between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::signal(Signal::SIGHUP, nix::sys::signal::SigHandler::SigIgn)
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let mask = u64::from_str_radix(line.trim().trim_start_matches("SigIgn:").trim(), 16)
        .unwrap_or_else(|_| panic!("{line}"));
    assert_eq!(
        mask & 1,
        1,
        "SIGHUP (bit 0) should be ignored by the job: {line}"
    );
}
