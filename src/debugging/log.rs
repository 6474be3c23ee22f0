//! The job log: one file per job and day under the common log directory
//! (`common.file_logger`, typically shared storage), as the original scalegrease laid it
//! out:
//!
//! `<dir>/<user>/<short host>/runner/<runner>/<artifact name>/<YYYY-MM-DD>.log`
//!
//! Every line has the original prefix `[<pid>] <HH:MM:SS> <LEVEL>:<logger> ` (local time,
//! greaserun's pid). greaserun's own messages use levels `INFO`, `WARNING`, `ERROR` and the
//! logger `greaserun`; the job's output uses `OUT:job` (stdout) and `ERR:job` (stderr).
//! The file is opened in append mode, so several runs on one day share it and the pid tells
//! them apart. Lines are buffered per read and written whole, so concurrent appenders do
//! not split each other's lines.
//!
//! Memory is bounded whatever the job prints: a partial line waits at most
//! [`MAX_LINE`] bytes for its newline, a longer line is split into several log lines, and
//! the write buffer is flushed at [`BUF_CAP`] bytes.
//!
//! The log directory is shared by every job user, so nothing in it is followed: the
//! directories below `<dir>` are opened (and made, mode 0755) one by one with
//! `O_NOFOLLOW`, and the file is opened with `O_NOFOLLOW` and must be a regular file
//! (`util::dirfd`). A symlink, directory or fifo planted on the path makes the log
//! "unsafe": a warning, and the run logs to stdout only, never to the planted target.
//!
//! A log that cannot be opened or written is a warning (`tracing::warn!`), never a reason
//! not to run the job: the job's output still reaches greaserun's stdout.
//!
//! [`JobLog`] is the [`JobOutput`] sink supervision writes the job's output to; that trait
//! and [`Stream`] are all this module takes from the execution scope below it (the runner
//! name arrives already canonical from the caller).

mod lines;

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::execution::JobOutput;
pub use crate::execution::Stream;
use crate::util::dirfd::{self, Dir};
pub use lines::{BUF_CAP, MAX_LINE};

/// The job's log file, or nothing when logging to a file is off or impossible.
pub struct JobLog {
    path: Option<PathBuf>,
    file: Option<File>,
    pid: u32,
    buf: Vec<u8>,
    pending: [Vec<u8>; 2],
    clock: (i64, String),
}

impl std::fmt::Debug for JobLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobLog").field("path", &self.path).finish()
    }
}

/// The artifact's directory name in the log layout: the file name when `artifact` is an
/// existing local file (or has no `:`), else `group:artifact` of the Maven coordinates.
/// Characters other than `A-Z a-z 0-9 . _ - : +` become `_` and a leading dot is
/// replaced, so the name is one safe path component.
pub fn artifact_name(artifact: &str) -> String {
    let local = !artifact.contains(':') || Path::new(artifact).is_file();
    let raw = if local {
        Path::new(artifact)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| artifact.to_string())
    } else {
        artifact
            .splitn(3, ':')
            .take(2)
            .collect::<Vec<_>>()
            .join(":")
    };
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-:+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    name
}

/// The log file's path for these parts (`host` is shortened to its first label). `runner`
/// is the runner's canonical name (`execution::canonical_name`, which the caller applies),
/// so `LuigiRunner` and `luigi` share one log.
pub fn log_path(
    dir: &Path,
    user: &str,
    host: &str,
    runner: &str,
    artifact_name: &str,
    date: chrono::NaiveDate,
) -> PathBuf {
    dir.join(user)
        .join(crate::util::host::short(host))
        .join("runner")
        .join(runner)
        .join(artifact_name)
        .join(format!("{}.log", date.format("%Y-%m-%d")))
}

impl JobLog {
    /// Opens (creating directories as needed, following no symlink) the log for one run
    /// in append mode, at [`log_path`] (so `runner` is the canonical runner name). `dir` `None` means no log
    /// file. Failure to create or open is a warning and gives a log that writes nothing.
    pub fn open(
        dir: Option<&Path>,
        user: &str,
        host: &str,
        runner: &str,
        artifact_name: &str,
        date: chrono::NaiveDate,
    ) -> JobLog {
        let mut log = JobLog::disabled();
        let Some(dir) = dir else {
            return log;
        };
        let path = log_path(dir, user, host, runner, artifact_name, date);
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        // The configured directory itself is the administrator's: made if missing.
        let opened = std::fs::create_dir_all(dir)
            .and_then(|()| Dir::open(dir))
            .and_then(|top| {
                let parent = top.descend(rel.parent().unwrap_or(Path::new("")), Some(0o755))?;
                parent.append(rel.file_name().unwrap_or_default(), 0o644)
            });
        match opened {
            Ok(f) => {
                log.file = Some(f);
                log.path = Some(path);
            }
            Err(e) if dirfd::is_refusal(&e) => tracing::warn!(
                "the job log {} is unsafe: {e}; logging to stdout only",
                path.display()
            ),
            Err(e) => tracing::warn!(
                "cannot open the job log {}: {e}; running without a log file",
                path.display()
            ),
        }
        log
    }

    /// A log that writes nothing (no `common.file_logger`, or `--dry-run`).
    pub fn disabled() -> JobLog {
        JobLog {
            path: None,
            file: None,
            pid: std::process::id(),
            buf: Vec::new(),
            pending: [Vec::new(), Vec::new()],
            clock: (i64::MIN, String::new()),
        }
    }

    /// The log file, if one is being written.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// Supervision writes the job's output here; a failure to start is an `ERROR` line.
impl JobOutput for JobLog {
    fn output(&mut self, stream: Stream, data: &[u8]) {
        self.job_output(stream, data);
    }
    fn flush(&mut self) {
        JobLog::flush(self);
    }
    fn finish(&mut self) {
        self.finish_output();
    }
    fn failed(&mut self, text: &str) {
        self.message("ERROR", text);
    }
}

impl Drop for JobLog {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    pub(super) fn open(dir: &Path) -> JobLog {
        JobLog::open(
            Some(dir),
            "alice",
            "w1.farm.example",
            "java",
            "x.jar",
            date(),
        )
    }

    #[test]
    fn names_artifacts() {
        assert_eq!(artifact_name("/tmp/build/x-1.0.jar"), "x-1.0.jar");
        assert_eq!(artifact_name("x.jar"), "x.jar");
        assert_eq!(
            artifact_name("com.ex:job:1.0:jar:jar-with-dependencies"),
            "com.ex:job"
        );
        assert_eq!(artifact_name("com.ex:job"), "com.ex:job");
        assert_eq!(artifact_name("/a/.hidden jar"), "_.hidden_jar");
    }

    #[test]
    fn lays_out_the_path_and_prefixes_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        let want = dir.path().join("alice/w1/runner/java/x.jar/2026-11-23.log");
        assert_eq!(log.path(), Some(want.as_path()));
        log.message("INFO", "starting");
        log.job_output(Stream::Stdout, b"one\ntw");
        log.job_output(Stream::Stderr, b"oops\n");
        log.job_output(Stream::Stdout, b"o\nthree");
        log.finish_output();
        drop(log);
        let text = std::fs::read_to_string(&want).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let pid = std::process::id();
        let bodies: Vec<String> = lines
            .iter()
            .map(|l| {
                let rest = l.strip_prefix(&format!("[{pid}] ")).expect(l);
                let (time, body) = rest.split_at(8);
                assert!(
                    chrono::NaiveTime::parse_from_str(time, "%H:%M:%S").is_ok(),
                    "{l}"
                );
                body.trim_start().to_string()
            })
            .collect();
        assert_eq!(
            bodies,
            [
                "INFO:greaserun starting",
                "OUT:job one",
                "ERR:job oops",
                "OUT:job two",
                "OUT:job three"
            ]
        );
        // Appends on reopen.
        let mut log = open(dir.path());
        log.message("INFO", "again");
        drop(log);
        assert_eq!(std::fs::read_to_string(&want).unwrap().lines().count(), 6);
    }

    #[test]
    fn a_planted_symlink_or_fifo_gives_a_silent_log_and_the_target_stays() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let parent = dir.path().join("alice/w1/runner/java/x.jar");
        std::fs::create_dir_all(&parent).unwrap();
        std::os::unix::fs::symlink(&victim, parent.join("2026-11-23.log")).unwrap();
        let mut log = open(dir.path());
        assert!(log.path().is_none());
        log.message("INFO", "nothing happens");
        drop(log);
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        // A symlinked directory on the way is refused too.
        let other = tempfile::tempdir().unwrap();
        std::fs::remove_dir_all(dir.path().join("alice/w1/runner")).unwrap();
        std::os::unix::fs::symlink(other.path(), dir.path().join("alice/w1/runner")).unwrap();
        assert!(open(dir.path()).path().is_none());
        assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_unwritable_dir_gives_a_silent_log() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let mut log = open(&file);
        assert!(log.path().is_none());
        log.message("INFO", "nothing happens");
        log.job_output(Stream::Stdout, b"x\n");
        log.finish_output();
        assert!(
            JobLog::open(None, "u", "h", "r", "a", date())
                .path()
                .is_none()
        );
    }

    /// The job's output reaches the log through supervision's sink, one prefixed line per
    /// line, partial lines included.
    #[test]
    fn supervision_writes_the_jobs_output_here() {
        use crate::execution::{self, Supervision};
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        let prepared = execution::shell("echo out; echo err >&2; printf partial; exit 3");
        let o = execution::run(prepared, &Supervision::default(), &mut log).unwrap();
        assert_eq!(o.exit_code(), 3);
        let text = std::fs::read_to_string(log.path().unwrap()).unwrap();
        assert!(text.contains(" OUT:job out\n"), "{text}");
        assert!(text.contains(" ERR:job err\n"), "{text}");
        assert!(text.contains(" OUT:job partial\n"), "{text}");
    }
}
