//! Supervising a job: it starts as the leader of a new process group; SIGINT, SIGTERM and
//! SIGHUP received by greaserun are passed to the whole group; a timeout ends the group
//! (SIGTERM, then SIGKILL after the grace period). When the job exits, processes it left
//! in its group get the same SIGTERM/SIGKILL treatment, so nothing of a run outlives it.
//! greaserun makes itself a child subreaper, so orphaned members of the group are
//! re-parented to it and reaped here rather than lingering as zombies. If greaserun
//! itself fails while the job runs (or panics), the group is killed before the error
//! propagates.
//!
//! One thread multiplexes the job's stdout and stderr pipes and the signal self-pipe with
//! poll(2). Each chunk read (at most 64 KiB) is written to greaserun's stdout as is, to the
//! job log with line prefixes, and to the 64 KiB tail: memory does not grow with output.

use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{ChildStderr, ChildStdout, Command, Stdio};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::signals::Slot;
use super::{ExecError, Outcome, Prepared, Status, Supervision, Tail};
use crate::debugging::log::{JobLog, Stream};

const READ_BUF: usize = 64 * 1024;

/// Runs `prepared` under `sup`, copying its output to stdout, `log` and the tail, and
/// returns how it ended once no process of its group is left. The prepared temp dir is
/// removed afterwards, whatever happened. Failures to start are also written to `log`.
/// Errors: [`ExecError::NotFound`] (127), [`ExecError::CannotExecute`] (126), or an
/// operating-system failure around the job.
pub fn run(prepared: Prepared, sup: &Supervision, log: &mut JobLog) -> Result<Outcome, ExecError> {
    let result = supervise(&prepared, sup, log);
    if let Err(e) = &result {
        log.message("ERROR", &e.to_string());
    }
    drop(prepared);
    result
}

/// greaserun's own messages about the job go through `tracing`: the binaries' subscriber
/// prints them on stderr and tees them into the job log (`debugging::trace`).
fn note(text: &str) {
    tracing::warn!("{text}");
}

fn spawn_error(program: &str, e: io::Error) -> ExecError {
    let program = program.to_string();
    match (e.kind(), e.raw_os_error()) {
        (io::ErrorKind::NotFound, _) => ExecError::NotFound { program },
        (io::ErrorKind::PermissionDenied, _) => ExecError::CannotExecute { program, cause: e },
        (_, Some(c)) if c == Errno::ENOEXEC as i32 || c == Errno::ETXTBSY as i32 => {
            ExecError::CannotExecute { program, cause: e }
        }
        _ => ExecError::Spawn { program, cause: e },
    }
}

fn sup_err(what: &'static str) -> impl FnOnce(io::Error) -> ExecError {
    move |source| ExecError::Supervise {
        what,
        cause: source,
    }
}

/// The job's process group; dropping it before [`Group::done`] kills and reaps the group.
struct Group {
    leader: Pid,
    done: bool,
}

impl Group {
    fn signal(&self, sig: Signal) {
        let _ = killpg(self.leader, sig);
    }

    /// Whether any process is still in the group.
    fn alive(&self) -> bool {
        !matches!(killpg(self.leader, None), Err(Errno::ESRCH))
    }

    /// Reaps exited children of ours in the group without blocking; returns the leader's
    /// status once it has exited.
    fn reap(&self, leader: &mut Option<WaitStatus>) {
        if leader.is_none()
            && let Ok(ws @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) =
                waitpid(self.leader, Some(WaitPidFlag::WNOHANG))
        {
            *leader = Some(ws);
        }
        let group = Pid::from_raw(-self.leader.as_raw());
        while let Ok(ws) = waitpid(group, Some(WaitPidFlag::WNOHANG)) {
            match ws {
                WaitStatus::StillAlive => break,
                ws if ws.pid() == Some(self.leader) => *leader = Some(ws),
                _ => {}
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.signal(Signal::SIGKILL);
        let _ = waitpid(self.leader, None);
        while waitpid(Pid::from_raw(-self.leader.as_raw()), None).is_ok() {}
    }
}

/// Where the job's output goes.
struct Sink<'a> {
    log: &'a mut JobLog,
    tail: Tail,
    stdout_ok: bool,
}

impl Sink<'_> {
    fn put(&mut self, stream: Stream, data: &[u8]) {
        if self.stdout_ok
            && let Err(e) = write_stdout(data)
        {
            self.stdout_ok = false;
            note(&format!(
                "cannot write the job's output to stdout ({e}); it still goes to the log"
            ));
        }
        self.tail.push(data);
        self.log.job_output(stream, data);
    }
}

fn write_stdout(mut data: &[u8]) -> io::Result<()> {
    let out = io::stdout();
    let fd = out.as_fd();
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads once from a ready pipe: `false` at end of file or on error.
fn pump<R: Read>(pipe: &mut R, buf: &mut [u8], stream: Stream, sink: &mut Sink) -> bool {
    loop {
        match pipe.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                sink.put(stream, &buf[..n]);
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) => {
                note(&format!("cannot read the job's output: {e}"));
                return false;
            }
        }
    }
}

fn ready(fd: &PollFd) -> bool {
    fd.revents()
        .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR))
}

fn signal_name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

fn supervise(p: &Prepared, sup: &Supervision, log: &mut JobLog) -> Result<Outcome, ExecError> {
    let slot = Slot::claim().map_err(sup_err("installing signal handlers"))?;
    // Orphaned members of the job's group become our children, so we can reap them.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let _ = io::stdout().flush();

    let mut cmd = Command::new(&p.argv[0]);
    cmd.args(&p.argv[1..])
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // A job in its own process group that read a terminal would be stopped (SIGTTIN).
    cmd.stdin(if io::stdin().is_terminal() {
        Stdio::null()
    } else {
        Stdio::inherit()
    });
    if let Some(cwd) = &p.cwd {
        cmd.current_dir(cwd);
    }
    let started = chrono::Utc::now();
    let t0 = Instant::now();
    let mut child = cmd.spawn().map_err(|e| spawn_error(&p.argv[0], e))?;
    let pid = child.id();
    let mut group = Group {
        leader: Pid::from_raw(pid as i32),
        done: false,
    };
    tracing::debug!("job started: pid {pid}");
    let mut out: Option<ChildStdout> = child.stdout.take();
    let mut err: Option<ChildStderr> = child.stderr.take();
    let mut buf = vec![0u8; READ_BUF];
    let mut sink = Sink {
        log,
        tail: Tail::default(),
        stdout_ok: true,
    };

    let grace = sup.kill_grace;
    let deadline = sup.timeout.map(|t| t0 + t);
    let mut leader: Option<WaitStatus> = None;
    let mut timed_out = false;
    let mut term_at: Option<Instant> = None;
    let mut kill_at: Option<Instant> = None;
    let mut give_up_at: Option<Instant> = None;

    let mut child_changed = true;
    loop {
        for sig in slot.take() {
            if sig == nix::libc::SIGCHLD {
                child_changed = true;
                continue;
            }
            note(&format!(
                "received {}: passing it to the job's process group {pid}",
                signal_name(sig)
            ));
            if let Ok(s) = Signal::try_from(sig) {
                group.signal(s);
            }
        }
        // Only SIGCHLD says a child of ours changed state: wait4 on a group is not cheap.
        if std::mem::take(&mut child_changed) {
            group.reap(&mut leader);
        }
        let now = Instant::now();
        if let Some(d) = deadline
            && leader.is_none()
            && !timed_out
            && now >= d
        {
            timed_out = true;
            note(&format!(
                "timed out after {}: sending SIGTERM to the job's process group {pid}",
                crate::util::duration::format(sup.timeout.unwrap_or_default())
            ));
            group.signal(Signal::SIGTERM);
            term_at = Some(now);
        }
        let alive = leader.is_none() || group.alive();
        if leader.is_some() {
            if alive && term_at.is_none() {
                note(&format!(
                    "the job exited but left processes in its group {pid}: sending SIGTERM"
                ));
                group.signal(Signal::SIGTERM);
                term_at = Some(now);
            } else if !alive {
                if out.is_none() && err.is_none() {
                    break;
                }
                // The pipes are held by a process that left the group: wait a little.
                give_up_at.get_or_insert(now + grace);
            }
        }
        if let Some(t) = term_at
            && kill_at.is_none()
            && alive
            && now >= t + grace
        {
            note(&format!(
                "the job's process group {pid} is still there {} after SIGTERM: sending SIGKILL",
                crate::util::duration::format(grace)
            ));
            group.signal(Signal::SIGKILL);
            kill_at = Some(now);
            give_up_at = Some(now + grace);
        }
        if let Some(g) = give_up_at
            && now >= g
        {
            note("not waiting any longer for the job's output or processes");
            break;
        }

        let mut wake: Vec<Instant> = Vec::new();
        if let (Some(d), false, None) = (deadline, timed_out, &leader) {
            wake.push(d);
        }
        if let (Some(t), None, true) = (term_at, kill_at, alive) {
            wake.push(t + grace);
        }
        wake.extend(give_up_at);
        let timeout = match wake.into_iter().min() {
            Some(w) => {
                let ms = w
                    .saturating_duration_since(now)
                    .as_millis()
                    .min(i32::MAX as u128);
                // Round up so we do not wake a hair early and spin.
                PollTimeout::try_from(ms as i32 + 1).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let (sig_ready, out_ready, err_ready) = {
            let mut fds = vec![PollFd::new(slot.fd(), PollFlags::POLLIN)];
            if let Some(o) = &out {
                fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
            }
            if let Some(e) = &err {
                fds.push(PollFd::new(e.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(sup_err("waiting for the job")(e.into())),
            }
            let o = out.is_some() && ready(&fds[1]);
            let e = err.is_some() && ready(&fds[if out.is_some() { 2 } else { 1 }]);
            (ready(&fds[0]), o, e)
        };
        if sig_ready {
            slot.drain();
        }
        if out_ready
            && !pump(
                out.as_mut().expect("open"),
                &mut buf,
                Stream::Stdout,
                &mut sink,
            )
        {
            out = None;
        }
        if err_ready
            && !pump(
                err.as_mut().expect("open"),
                &mut buf,
                Stream::Stderr,
                &mut sink,
            )
        {
            err = None;
        }
        sink.log.flush();
    }

    let ws = match leader {
        Some(ws) => ws,
        None => {
            waitpid(group.leader, None).map_err(|e| sup_err("waiting for the job")(e.into()))?
        }
    };
    group.done = true;
    let ended = chrono::Utc::now();
    let status = match ws {
        _ if timed_out => Status::TimedOut,
        WaitStatus::Signaled(_, s, _) => Status::Signaled(s as i32),
        WaitStatus::Exited(_, c) => Status::Exited(c),
        other => {
            return Err(sup_err("waiting for the job")(io::Error::other(format!(
                "unexpected wait status {other:?}"
            ))));
        }
    };
    drop(out);
    drop(err);
    sink.log.finish_output();
    Ok(Outcome {
        status,
        tail: sink.tail.to_vec(),
        pid,
        started,
        ended,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Job, JobArtifact, prepare};
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    fn shell(script: &str) -> Prepared {
        let job = Job {
            runner: "shell".into(),
            artifact: JobArtifact {
                jar_path: "/x.jar".into(),
                spec: "/x.jar".into(),
                version: None,
            },
            args: vec!["/bin/sh".into(), "-c".into(), script.into()],
            main_class: None,
        };
        prepare(&job, &crate::Config::default()).unwrap()
    }

    fn sup(timeout_ms: Option<u64>) -> Supervision {
        Supervision {
            timeout: timeout_ms.map(Duration::from_millis),
            kill_grace: Duration::from_secs(5),
        }
    }

    fn log_in(dir: &Path) -> JobLog {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        JobLog::open(Some(dir), "u", "h", "shell", "x.jar", date)
    }

    /// Processes (not zombies) whose process group is `pgid`, from /proc.
    pub(crate) fn group_members(pgid: u32) -> Vec<u32> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after the parenthesised command: state ppid pgrp ...
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() > 2 && f[2] == pgid.to_string() && f[0] != "Z" {
                out.push(pid);
            }
        }
        out
    }

    #[test]
    fn passes_exit_status_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = log_in(dir.path());
        let o = run(
            shell("echo out; echo err >&2; printf partial; exit 3"),
            &sup(None),
            &mut log,
        )
        .unwrap();
        assert_eq!(o.status, Status::Exited(3));
        assert_eq!(o.exit_code(), 3);
        let tail = String::from_utf8(o.tail.clone()).unwrap();
        // stdout and stderr are separate pipes: their relative order is not kept.
        assert!(tail.contains("out\n") && tail.contains("err\n"), "{tail}");
        assert!(tail.contains("partial"), "{tail}");
        let text = std::fs::read_to_string(log.path().unwrap()).unwrap();
        assert!(text.contains(" OUT:job out\n"), "{text}");
        assert!(text.contains(" ERR:job err\n"), "{text}");
        assert!(text.contains(" OUT:job partial\n"), "{text}");
        assert!(o.ended >= o.started);
    }

    #[test]
    fn a_signal_death_is_128_plus_n() {
        let o = run(shell("kill -KILL $$"), &sup(None), &mut JobLog::disabled()).unwrap();
        assert_eq!(o.status, Status::Signaled(9));
        assert_eq!(o.exit_code(), 137);
    }

    #[test]
    fn not_found_and_not_executable() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = shell("");
        p.argv = vec!["/nonexistent/prog".into()];
        let e = run(p, &sup(None), &mut JobLog::disabled()).unwrap_err();
        assert_eq!(e.exit_code(), 127, "{e}");
        let f = dir.path().join("noexec");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        let mut p = shell("");
        p.argv = vec![f.to_string_lossy().into_owned()];
        let e = run(p, &sup(None), &mut JobLog::disabled()).unwrap_err();
        assert_eq!(e.exit_code(), 126, "{e}");
    }

    #[test]
    fn timeout_ends_the_whole_group() {
        // A grandchild that ignores nothing and a child that traps TERM into a wait.
        let o = run(
            shell("sleep 300 & sleep 300 & echo started; wait"),
            &sup(Some(300)),
            &mut JobLog::disabled(),
        )
        .unwrap();
        assert_eq!(o.status, Status::TimedOut);
        assert_eq!(o.exit_code(), 124);
        assert!(
            group_members(o.pid).is_empty(),
            "{:?}",
            group_members(o.pid)
        );
    }

    #[test]
    fn timeout_escalates_to_kill() {
        let s = Supervision {
            timeout: Some(Duration::from_millis(200)),
            kill_grace: Duration::from_millis(200),
        };
        let o = run(
            shell("trap '' TERM; sh -c 'trap \"\" TERM; sleep 300' & sleep 300"),
            &s,
            &mut JobLog::disabled(),
        )
        .unwrap();
        assert_eq!(o.status, Status::TimedOut);
        assert!(group_members(o.pid).is_empty());
    }

    #[test]
    fn leftovers_are_ended_when_the_job_exits() {
        let o = run(
            shell("sleep 300 >/dev/null 2>&1 & echo bye"),
            &sup(None),
            &mut JobLog::disabled(),
        )
        .unwrap();
        assert_eq!(o.status, Status::Exited(0));
        assert!(group_members(o.pid).is_empty());
    }

    #[test]
    fn dropping_an_unfinished_group_kills_it() {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "sleep 300 & sleep 300"])
            .stdout(Stdio::null())
            .process_group(0);
        // Group::drop reaps it.
        let pid = c.spawn().unwrap().id();
        let g = Group {
            leader: Pid::from_raw(pid as i32),
            done: false,
        };
        drop(g);
        assert!(group_members(pid).is_empty(), "{:?}", group_members(pid));
    }

    #[test]
    fn much_output_keeps_a_bounded_tail() {
        let o = run(
            shell("head -c 3000000 /dev/zero | tr '\\0' 'a'; echo; echo end"),
            &sup(None),
            &mut JobLog::disabled(),
        )
        .unwrap();
        assert_eq!(o.tail.len(), super::super::TAIL_CAP);
        assert!(o.tail.ends_with(b"aaa\nend\n"));
    }

    #[test]
    fn the_scratch_dir_is_removed_after_a_failing_run() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("p.jar");
        super::super::scratch::tests::write_jar(
            &jar,
            &[("python/m.py", "import sys; sys.exit(4)\n", 0o644)],
        );
        let job = Job {
            runner: "python".into(),
            artifact: JobArtifact {
                jar_path: jar.clone(),
                spec: "g:p:1".into(),
                version: Some("1".into()),
            },
            args: vec![
                "/bin/sh".into(),
                "-c".into(),
                "pwd; test -f m.py && exit 4".into(),
            ],
            main_class: None,
        };
        let p = prepare(&job, &crate::Config::default()).unwrap();
        let cwd = p.cwd.clone().unwrap();
        let o = run(p, &sup(None), &mut JobLog::disabled()).unwrap();
        assert_eq!(o.status, Status::Exited(4));
        assert!(!cwd.exists());
    }
}
