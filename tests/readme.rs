//! README.md's commands, run as a new user would: every ```` ```sh ```` block runs in a
//! fresh temp dir that is also `HOME`, with the built binaries first on `PATH` and the
//! repository's `conf/` and `examples/` linked in (the README's commands run from the
//! repository root), and must exit 0. The farm's worker line runs against a temp store
//! and cron dir and must be accepted, silently. The prerequisites above the two commands
//! name the Rust version `Cargo.toml` pins.
//!
//! Convention: a block fenced ```` ```sh no-run ```` is shown but not run (it installs
//! system-wide, runs the whole suite or writes `/etc`). No other shell fence (`bash`,
//! `shell`, `console`, ...) may appear, so no command escapes this test by its fence.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{self, World};

/// How long one block may run.
const BLOCK_DEADLINE: Duration = Duration::from_secs(600);

/// One fenced code block of README.md.
struct Block {
    /// The fence's info string (`sh`, `sh no-run`, `json`, empty).
    info: String,
    body: String,
    /// 1-based line of the opening fence.
    line: usize,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).expect("README.md")
}

/// The fenced blocks of a Markdown text (fences may be indented, as inside list items).
fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match (&mut open, trimmed.strip_prefix("```")) {
            // CommonMark: an info string holding a backtick is not a fence (it is inline
            // code at the start of a line, as in "```` ```sh ```` blocks").
            (None, Some(info)) if !info.contains('`') => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    body: String::new(),
                    line: i + 1,
                })
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => out.push(open.take().unwrap()),
            (Some(b), _) => {
                b.body.push_str(trimmed);
                b.body.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(open.is_none(), "README.md has an unclosed code fence");
    out
}

/// The directory holding the built binaries.
fn bin_dir() -> PathBuf {
    harness::bin_path("greaserun")
        .parent()
        .expect("binary dir")
        .to_path_buf()
}

fn link(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to).expect("symlink");
}

#[test]
fn shell_blocks_are_fenced_sh_or_sh_no_run() {
    let blocks = blocks(&readme());
    let mut runnable = 0;
    for b in &blocks {
        let lang = b.info.split_whitespace().next().unwrap_or("");
        assert!(
            !["bash", "shell", "console", "zsh", "shell-session"].contains(&lang),
            "README.md:{}: fence ```{} : write ```sh (run by tests/readme.rs) or ```sh no-run",
            b.line,
            b.info
        );
        if lang == "sh" {
            assert!(
                b.info == "sh" || b.info == "sh no-run",
                "README.md:{}: fence ```{} : only `sh` and `sh no-run` are known",
                b.line,
                b.info
            );
            runnable += usize::from(b.info == "sh");
        }
    }
    assert!(runnable > 0, "README.md has no ```sh block to run");
}

#[test]
fn every_sh_block_runs() {
    if harness::skip_without("javac") || harness::skip_without("jar") {
        return;
    }
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let runnable: Vec<Block> = blocks(&readme())
        .into_iter()
        .filter(|b| b.info == "sh")
        .collect();
    assert!(!runnable.is_empty(), "README.md has no ```sh block to run");
    for b in runnable {
        let home = tempfile::Builder::new()
            .prefix("sg-readme-")
            .tempdir()
            .expect("temp dir");
        for d in ["conf", "examples"] {
            link(&repo().join(d), &home.path().join(d));
        }
        let (out_path, err_path) = (home.path().join(".stdout"), home.path().join(".stderr"));
        let mut child = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &b.body])
            .current_dir(home.path())
            .env("HOME", home.path())
            .env("PATH", &path)
            .env_remove("SCALEGREASE_CONFIG")
            .env_remove("SCALEGREASE_STORE")
            .env_remove("SCALEGREASE_HOSTNAME")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("stdout file"))
            .stderr(std::fs::File::create(&err_path).expect("stderr file"))
            .process_group(0)
            .spawn()
            .expect("bash");
        // A block that hangs (a queued run no worker takes, say) fails with its output
        // instead of stalling the suite; the whole group goes with it.
        let status = harness::try_wait_for(BLOCK_DEADLINE, || child.try_wait().expect("wait"));
        if status.is_none() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
        }
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        assert!(
            status.is_some_and(|s| s.success()),
            "README.md:{}: the ```sh block {}\n--- block\n{}--- stdout\n{stdout}--- stderr\n{stderr}",
            b.line,
            match status {
                Some(s) => format!("exited {:?}", s.code()),
                None => format!("did not end within {BLOCK_DEADLINE:?}"),
            },
            b.body
        );
    }
}

#[test]
fn worker_line_is_accepted_by_greasesnatch() {
    let text = readme();
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("* * * * * root greasesnatch"))
        .expect("README.md gives the worker's greasesnatch crontab line");
    // Five time fields, the user, then the command cron runs.
    let command: Vec<&str> = line.split_whitespace().skip(6).collect();
    assert_eq!(command[0], "greasesnatch", "{line}");
    let w = World::new();
    w.cmd("greaselaunch").arg("--init-store").assert().success();
    // As cron runs it: no RUST_LOG (the harness sets one for its other tests).
    let out = w
        .cmd("greasesnatch")
        .args(&command[1..])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (stdout, stderr) = harness::text(&out);
    assert!(
        out.status.success(),
        "README's worker line `{line}` exited {:?}: {stderr}",
        out.status.code()
    );
    // Cron mails whatever a job prints: the line that runs every minute prints nothing
    // when all is well.
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("", ""),
        "README's worker line `{line}` is not quiet"
    );
}

#[test]
fn prerequisites_name_the_pinned_rust_version() {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let pinned = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("Cargo.toml pins rust-version")
        .trim_matches('"');
    let text = readme();
    let quick = text
        .find("## Quick start")
        .expect("README has a quick start");
    let before_commands = &text[quick
        ..text
            .find("scripts/demo    #")
            .expect("README has the two commands")];
    assert!(
        before_commands.contains(&format!("`rust-version` in `Cargo.toml` ({pinned})")),
        "README's prerequisites, above the two commands, must name Rust {pinned}"
    );
}
