//! Starting an installed entry for a request the way cron starts it: a new session,
//! the user's groups (as `initgroups` sets them), gid and uid, the working directory
//! the user's home (`/` when it cannot be entered), an environment built from nothing
//! (`HOME`, `LOGNAME`, `USER` from the password database, `SHELL=/bin/sh` and
//! `PATH=/usr/bin:/bin` as cron sets them, then the crontab's environment lines, which
//! may override any of them), plus `SCALEGREASE_REQUEST` and the worker's store, config
//! and host name unless the crontab sets them; then `$SHELL -c <command>` with stdin,
//! stdout and stderr on `/dev/null` (greaserun logs and records itself).
//!
//! The child is detached from the worker's life: it leads its own session, and a
//! one-shot greasesnatch exits without waiting for it (init reaps it). A watching worker
//! reaps its children on threads ([`Children`]), so none is left a zombie.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use nix::unistd::{Gid, Uid, User};

use super::installed::Installed;

/// The shell cron runs commands with unless the crontab sets `SHELL`.
pub const SHELL: &str = "/bin/sh";
/// The `PATH` cron gives a command unless the crontab sets one.
pub const PATH: &str = "/usr/bin:/bin";
/// The variable naming the request a started greaserun serves.
pub const REQUEST_ENV: &str = "SCALEGREASE_REQUEST";

/// What the worker passes on to every job unless the crontab sets it: `(name, value)`
/// for `SCALEGREASE_STORE`, `SCALEGREASE_CONFIG` and `SCALEGREASE_HOSTNAME`.
#[derive(Debug, Clone, Default)]
pub struct PassThrough(pub Vec<(String, String)>);

/// The worker's children still running, by pid, and how those that ended ended. With
/// `reap`, a thread waits for each child (a long-running worker leaves no zombie);
/// without, the children are polled and left to init when the worker exits.
#[derive(Debug, Clone, Default)]
pub struct Children {
    reap: bool,
    alive: Arc<Mutex<Vec<Tracked>>>,
    ended: Arc<(Mutex<Vec<Ended>>, Condvar)>,
}

/// A command that ended: the request it was started for, when, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub request: String,
    /// When this worker started it (a take of the request made later is a newer
    /// command's).
    pub started: DateTime<Utc>,
    pub status: ExitStatus,
}

/// A child: pid, request id, when it started, and the handle when this tracker polls
/// instead of reaping.
type Tracked = (u32, String, DateTime<Utc>, Option<std::process::Child>);

impl Children {
    /// A tracker; `reap`: wait for each child on a thread.
    pub fn new(reap: bool) -> Children {
        Children {
            reap,
            ..Children::default()
        }
    }

    fn add(&self, child: std::process::Child, request: &str) {
        let (pid, started) = (child.id(), Utc::now());
        let mut alive = self.alive.lock().expect("children lock");
        if !self.reap {
            alive.push((pid, request.to_string(), started, Some(child)));
            return;
        }
        alive.push((pid, request.to_string(), started, None));
        let (list, ended) = (Arc::clone(&self.alive), Arc::clone(&self.ended));
        let (mut child, request) = (child, request.to_string());
        std::thread::spawn(move || {
            let status = child.wait();
            // Both lists under their locks at once: a round never sees the child in
            // neither.
            let mut list = list.lock().expect("children lock");
            let mut done = ended.0.lock().expect("children lock");
            list.retain(|(p, ..)| *p != pid);
            if let Ok(status) = status {
                done.push(Ended {
                    request,
                    started,
                    status,
                });
                ended.1.notify_all();
            }
        });
    }

    /// The children still running: `(pid, request id)`.
    pub fn alive(&self) -> Vec<(u32, String)> {
        let mut alive = self.alive.lock().expect("children lock");
        let mut ended = self.ended.0.lock().expect("children lock");
        alive.retain_mut(
            |(_, r, started, c)| match c.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(status))) => {
                    ended.push(Ended {
                        request: r.clone(),
                        started: *started,
                        status,
                    });
                    false
                }
                Some(Ok(None)) | None => true,
                Some(Err(_)) => false,
            },
        );
        alive.iter().map(|(p, r, ..)| (*p, r.clone())).collect()
    }

    /// The children that ended since the last call.
    pub fn take_ended(&self) -> Vec<Ended> {
        self.alive();
        std::mem::take(&mut *self.ended.0.lock().expect("children lock"))
    }

    /// Gives back ended children whose ends could not be handled (the store failed):
    /// the next [`Children::take_ended`] returns them again.
    pub fn put_back_ended(&self, ended: Vec<Ended>) {
        self.ended.0.lock().expect("children lock").extend(ended);
    }

    /// Waits until a reaped child has ended (one not yet taken by [`Children::take_ended`])
    /// or `timeout` passes.
    pub fn wait_ended(&self, timeout: Duration) {
        let (lock, cv) = &*self.ended;
        let ended = lock.lock().expect("children lock");
        let _ = cv.wait_timeout_while(ended, timeout, |e| e.is_empty());
    }
}

/// The environment cron would give `it`'s command run as `user`, plus the request and
/// what the worker passes through.
pub fn environment(
    it: &Installed,
    user: &User,
    request: &str,
    pass: &PassThrough,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("HOME".into(), user.dir.to_string_lossy().into_owned()),
        ("LOGNAME".into(), user.name.clone()),
        ("USER".into(), user.name.clone()),
        ("SHELL".into(), SHELL.into()),
        ("PATH".into(), PATH.into()),
    ];
    let set = |env: &mut Vec<(String, String)>, name: &str, value: &str| {
        env.retain(|(n, _)| n != name);
        env.push((name.to_string(), value.to_string()));
    };
    let crontab: BTreeSet<&str> = it.entry.env.iter().map(|(n, _)| n.as_str()).collect();
    for (name, value) in &it.entry.env {
        set(&mut env, name, value);
    }
    for (name, value) in &pass.0 {
        if !crontab.contains(name.as_str()) {
            set(&mut env, name, value);
        }
    }
    set(&mut env, REQUEST_ENV, request);
    env
}

/// Starts `it`'s command for request `request` as the entry's user; returns the child's
/// pid, or why it could not start (the user unknown, fork or exec failing).
pub fn spawn(
    it: &Installed,
    request: &str,
    pass: &PassThrough,
    children: &Children,
) -> Result<u32, String> {
    let name = &it.entry.user;
    let user = User::from_name(name)
        .map_err(|e| format!("user {name:?} cannot be looked up: {e}"))?
        .ok_or_else(|| format!("user {name:?} does not exist on this worker"))?;
    let env = environment(it, &user, request, pass);
    let shell = env
        .iter()
        .rev()
        .find(|(n, _)| n == "SHELL")
        .map_or(SHELL.to_string(), |(_, v)| v.clone());
    let home = env
        .iter()
        .rev()
        .find(|(n, _)| n == "HOME")
        .map_or(String::new(), |(_, v)| v.clone());
    let path = env
        .iter()
        .rev()
        .find(|(n, _)| n == "PATH")
        .map_or(PATH.to_string(), |(_, v)| v.clone());
    find_program(&it.entry.program, &path)?;
    let c_name = CString::new(user.name.as_bytes()).map_err(|e| e.to_string())?;
    let c_home = CString::new(home).unwrap_or_default();
    let (uid, gid): (Uid, Gid) = (user.uid, user.gid);
    let switch = Uid::effective() != uid || Gid::effective() != gid;
    // The group list is read here: the group database is no business of a forked child.
    let groups = if switch {
        nix::unistd::getgrouplist(&c_name, gid)
            .map_err(|e| format!("cannot read the groups of user {name:?}: {e}"))?
    } else {
        Vec::new()
    };
    let mut cmd = Command::new(&shell);
    cmd.arg("-c")
        .arg(&it.entry.command)
        .env_clear()
        .envs(env)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec the closure calls only async-signal-safe system
    // calls (setsid, setgroups, setgid, setuid, chdir) on values prepared before the
    // fork; it allocates nothing and reads no database.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            if switch {
                nix::unistd::setgroups(&groups)?;
                nix::unistd::setgid(gid)?;
                nix::unistd::setuid(uid)?;
            }
            if c_home.is_empty() || nix::unistd::chdir(c_home.as_c_str()).is_err() {
                nix::unistd::chdir(c"/")?;
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {shell} -c ... as {name}: {e}"))?;
    let pid = child.id();
    children.add(child, request);
    Ok(pid)
}

/// Checks `program` can be started with `path` as the command's `PATH`: a name with a
/// `/` must be an executable file; a bare name must be one in a `PATH` directory. Cron
/// would fail the same way, but silently; here the request ends saying so.
fn find_program(program: &str, path: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return if runnable(std::path::Path::new(program)) {
            Ok(())
        } else {
            Err(format!(
                "{program} is not an executable file on this worker"
            ))
        };
    }
    if path
        .split(':')
        .any(|d| runnable(&std::path::Path::new(d).join(program)))
    {
        return Ok(());
    }
    Err(format!(
        "{program} is not on the command's PATH={path} (cron's default unless the crontab sets PATH): set PATH in the crontab or call {program} by its full path"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_the_command_cannot_start_is_named() {
        assert!(find_program("sh", "/nonexistent:/bin").is_ok());
        assert!(find_program("/bin/sh", "").is_ok());
        let e = find_program("greaserun-nowhere", "/usr/bin:/bin").unwrap_err();
        assert!(
            e.contains("PATH=/usr/bin:/bin") && e.contains("full path"),
            "{e}"
        );
        let e = find_program("/etc/passwd", "").unwrap_err();
        assert!(e.contains("not an executable file"), "{e}");
    }

    #[test]
    fn cron_environment_with_crontab_overrides_and_pass_through() {
        let text = "PATH=/opt/bin\nSCALEGREASE_STORE=/crontab/store\n* * * * * root A=1 greaserun -r shell g:a\n";
        let entry = crate::farm::entry::entries(&crate::dispatch::crontab::parse(text))
            .remove(0)
            .unwrap();
        let it = Installed {
            entry,
            project: crate::dispatch::project::Project {
                group: "g".into(),
                artifact: "a".into(),
            },
            file: "f".into(),
        };
        let root = User::from_uid(Uid::from_raw(0)).unwrap().unwrap();
        let pass = PassThrough(vec![
            ("SCALEGREASE_STORE".into(), "/worker/store".into()),
            ("SCALEGREASE_HOSTNAME".into(), "w1".into()),
        ]);
        let env = environment(&it, &root, "20261130T184512Z-00003f9a", &pass);
        let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("PATH"), Some("/opt/bin"));
        assert_eq!(get("SHELL"), Some(SHELL));
        assert_eq!(get("LOGNAME"), Some("root"));
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("SCALEGREASE_STORE"), Some("/crontab/store"));
        assert_eq!(get("SCALEGREASE_HOSTNAME"), Some("w1"));
        assert_eq!(get(REQUEST_ENV), Some("20261130T184512Z-00003f9a"));
        let names: BTreeSet<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names.len(), env.len(), "each name once: {env:?}");
    }
}
