//! Input a new user gets wrong, through the real binaries: out-of-range durations, broken
//! or surprising config files, schedules that never fire, deployment failures with the
//! documented exit codes, and OS errors printed once.

mod config;
mod deployment;
mod durations;
mod misc;

use crate::harness::{World, text};

/// Runs `bin` with `args` in `w`; returns (exit code, stdout, stderr).
pub(crate) fn run(w: &World, bin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = w.cmd(bin).args(args).output().unwrap();
    let (o, e) = text(&out);
    (out.status.code(), o, e)
}

/// greaserun running `/bin/true` with `extra` flags (the config file stands in as the
/// shell runner's artifact).
pub(crate) fn job<'a>(w: &'a World, extra: &[&'a str]) -> Vec<&'a str> {
    let artifact = w.config_path().to_str().unwrap().to_owned().leak();
    let mut v = vec!["-D", "--force", "--job", "t"];
    v.extend_from_slice(extra);
    v.extend(["-r", "shell", &*artifact, "--", "/bin/true"]);
    v
}
