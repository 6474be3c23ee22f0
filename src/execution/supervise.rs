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
//! caller's [`JobOutput`] sink (the job log), and to the 64 KiB tail: memory does not grow
//! with output. The process group itself is [`Group`] (group.rs), the copying [`Sink`]
//! (output.rs).

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{ChildStderr, ChildStdout, Command, Stdio};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};

use super::group::Group;
use super::output::{JobOutput, Sink, Stream};
use super::signals::Slot;
use super::{ExecError, Outcome, Prepared, Status, Supervision, TICK, Watch};

const READ_BUF: usize = 64 * 1024;

/// Runs `prepared` under `sup`, copying its output to stdout, `log` and the tail, and
/// returns how it ended once no process of its group is left. The prepared temp dir is
/// removed afterwards, whatever happened. Failures to start are also given to `log`
/// ([`JobOutput::failed`]).
/// Errors: [`ExecError::NotFound`] (127), [`ExecError::CannotExecute`] (126), or an
/// operating-system failure around the job.
pub fn run(
    prepared: Prepared,
    sup: &Supervision,
    log: &mut dyn JobOutput,
) -> Result<Outcome, ExecError> {
    run_watched(prepared, sup, log, None)
}

/// [`run`], with `watch` looking at the output about once a second and able to end the
/// job (TERM to its group, KILL after the grace: the timeout's path), which then ends
/// [`Status::Cancelled`].
pub fn run_watched(
    prepared: Prepared,
    sup: &Supervision,
    log: &mut dyn JobOutput,
    watch: Option<&mut dyn Watch>,
) -> Result<Outcome, ExecError> {
    let result = supervise(&prepared, sup, log, watch);
    if let Err(e) = &result {
        log.failed(&e.to_string());
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

fn ready(fd: &PollFd) -> bool {
    fd.revents()
        .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR))
}

fn signal_name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

fn supervise(
    p: &Prepared,
    sup: &Supervision,
    log: &mut dyn JobOutput,
    mut watch: Option<&mut dyn Watch>,
) -> Result<Outcome, ExecError> {
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
    cmd.stdin(if sup.stdin_is_terminal {
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
    let mut group = Group::new(pid);
    tracing::debug!("job started: pid {pid}");
    let mut out: Option<ChildStdout> = child.stdout.take();
    let mut err: Option<ChildStderr> = child.stderr.take();
    let mut buf = vec![0u8; READ_BUF];
    let mut sink = Sink::new(log);

    let grace = sup.kill_grace;
    let deadline = sup.timeout.map(|t| t0 + t);
    let mut leader: Option<WaitStatus> = None;
    let mut timed_out = false;
    let mut cancelled = false;
    let mut next_tick = t0 + TICK;
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
        if let Some(w) = watch.as_deref_mut()
            && now >= next_tick
        {
            next_tick = now + TICK;
            if let Some(why) = w.tick(sink.total, &sink.tail)
                && leader.is_none()
                && term_at.is_none()
            {
                cancelled = true;
                note(&format!(
                    "{why}: sending SIGTERM to the job's process group {pid}"
                ));
                group.signal(Signal::SIGTERM);
                term_at = Some(now);
            }
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
        if watch.is_some() && leader.is_none() {
            wake.push(next_tick);
        }
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
        if out_ready && !sink.pump(out.as_mut().expect("open"), &mut buf, Stream::Stdout) {
            out = None;
        }
        if err_ready && !sink.pump(err.as_mut().expect("open"), &mut buf, Stream::Stderr) {
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
        _ if cancelled => Status::Cancelled,
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
    sink.log.finish();
    Ok(Outcome {
        status,
        tail: sink.tail.to_vec(),
        pid,
        started,
        ended,
    })
}

#[cfg(test)]
mod tests;
