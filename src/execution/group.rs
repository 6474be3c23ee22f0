//! The job's process group: signalling all of it, telling whether any member is left,
//! reaping its exited members (greaserun is a child subreaper, so orphans come back to it)
//! and, when dropped before the job was seen to the end, killing and reaping it so nothing
//! of a run outlives greaserun's own failure or panic.

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// The job's process group; dropping it before [`Group::done`] is set kills and reaps
/// the group.
pub(super) struct Group {
    pub(super) leader: Pid,
    pub(super) done: bool,
}

impl Group {
    /// The group led by `pid` (the job, started with `process_group(0)`).
    pub(super) fn new(pid: u32) -> Group {
        Group {
            leader: Pid::from_raw(pid as i32),
            done: false,
        }
    }

    pub(super) fn signal(&self, sig: Signal) {
        let _ = killpg(self.leader, sig);
    }

    /// Whether any process is still in the group.
    pub(super) fn alive(&self) -> bool {
        !matches!(killpg(self.leader, None), Err(Errno::ESRCH))
    }

    /// Reaps exited children of ours in the group without blocking; returns the leader's
    /// status once it has exited.
    pub(super) fn reap(&self, leader: &mut Option<WaitStatus>) {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

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
}
