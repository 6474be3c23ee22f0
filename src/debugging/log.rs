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
//! A log that cannot be opened or written is a warning (`tracing::warn!`), never a reason
//! not to run the job: the job's output still reaches greaserun's stdout.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The longest log line body; longer output lines are split.
pub const MAX_LINE: usize = 16 * 1024;
/// The write buffer's size.
pub const BUF_CAP: usize = 64 * 1024;

/// Which of the job's output streams a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn tag(self) -> &'static str {
        match self {
            Stream::Stdout => "OUT:job",
            Stream::Stderr => "ERR:job",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

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

/// The log file's path for these parts (`host` is shortened to its first label, `runner`
/// to its canonical name, so `LuigiRunner` and `luigi` share one log).
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
        .join(crate::execution::canonical_name(runner))
        .join(artifact_name)
        .join(format!("{}.log", date.format("%Y-%m-%d")))
}

impl JobLog {
    /// Opens (creating directories as needed) the log for one run in append mode. `dir`
    /// `None` means no log file. Failure to create or open is a warning and gives a log
    /// that writes nothing.
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
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| OpenOptions::new().append(true).create(true).open(&path));
        match opened {
            Ok(f) => {
                log.file = Some(f);
                log.path = Some(path);
            }
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

    /// Appends one of greaserun's own messages (`level` e.g. `INFO`, `WARNING`, `ERROR`)
    /// and writes it out at once. Multi-line text gives one log line per line.
    pub fn message(&mut self, level: &str, text: &str) {
        if self.file.is_none() {
            return;
        }
        self.tick();
        let tag = format!("{level}:greaserun");
        for line in text.lines() {
            self.push_line(&tag, line.as_bytes(), b"");
        }
        self.flush();
    }

    /// Appends a chunk of the job's output: complete lines are written with the prefix,
    /// a trailing partial line waits (bounded by [`MAX_LINE`]) for the rest. Call
    /// [`JobLog::flush`] after a batch of chunks and [`JobLog::finish_output`] at the end.
    pub fn job_output(&mut self, stream: Stream, mut data: &[u8]) {
        if self.file.is_none() {
            return;
        }
        self.tick();
        let i = stream.index();
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    let pending = std::mem::take(&mut self.pending[i]);
                    self.push_line(stream.tag(), &pending, &data[..nl]);
                    self.pending[i] = pending;
                    self.pending[i].clear();
                    data = &data[nl + 1..];
                }
                None => {
                    let room = MAX_LINE - self.pending[i].len();
                    let take = room.min(data.len());
                    self.pending[i].extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.pending[i].len() == MAX_LINE {
                        let pending = std::mem::take(&mut self.pending[i]);
                        self.push_line(stream.tag(), &pending, b"");
                        self.pending[i] = pending;
                        self.pending[i].clear();
                    }
                }
            }
        }
    }

    /// Writes out partial lines still waiting for a newline, and flushes.
    pub fn finish_output(&mut self) {
        if self.file.is_some() {
            self.tick();
            for stream in [Stream::Stdout, Stream::Stderr] {
                let pending = std::mem::take(&mut self.pending[stream.index()]);
                if !pending.is_empty() {
                    self.push_line(stream.tag(), &pending, b"");
                }
            }
        }
        self.flush();
    }

    /// Writes buffered lines to the file. A write error disables the log with a warning.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if let Some(f) = &mut self.file
            && let Err(e) = f.write_all(&self.buf)
        {
            tracing::warn!(
                "cannot write the job log {}: {e}; logging to it stops here",
                self.path.as_deref().unwrap_or(Path::new("?")).display()
            );
            self.file = None;
        }
        self.buf.clear();
    }

    // One log line: prefix, then `a` and `b` as the body (each at most MAX_LINE; a longer
    // body is split).
    fn push_line(&mut self, tag: &str, a: &[u8], b: &[u8]) {
        if a.len() + b.len() > MAX_LINE {
            if !a.is_empty() {
                self.push_line(tag, a, b"");
            }
            for piece in b.chunks(MAX_LINE) {
                self.push_line(tag, piece, b"");
            }
            return;
        }
        let need = self.clock.1.len() + tag.len() + a.len() + b.len() + 2;
        if self.buf.len() + need > BUF_CAP {
            self.flush();
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(BUF_CAP);
        }
        self.buf.extend_from_slice(self.clock.1.as_bytes());
        self.buf.extend_from_slice(tag.as_bytes());
        self.buf.push(b' ');
        self.buf.extend_from_slice(a);
        self.buf.extend_from_slice(b);
        self.buf.push(b'\n');
    }

    // Refreshes the cached `[pid] HH:MM:SS ` prefix when the second changed.
    fn tick(&mut self) {
        let now = chrono::Local::now();
        let secs = now.timestamp();
        if secs != self.clock.0 {
            self.clock = (secs, format!("[{}] {} ", self.pid, now.format("%H:%M:%S")));
        }
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

    fn open(dir: &Path) -> JobLog {
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
    fn long_lines_are_split_and_memory_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        let big = vec![b'x'; MAX_LINE * 3 + 10];
        for chunk in big.chunks(1000) {
            log.job_output(Stream::Stdout, chunk);
            assert!(log.pending[0].len() <= MAX_LINE);
            assert!(log.buf.capacity() <= BUF_CAP);
        }
        log.job_output(Stream::Stdout, b"\n");
        log.finish_output();
        let path = log.path().unwrap().to_path_buf();
        drop(log);
        let text = std::fs::read_to_string(path).unwrap();
        let sizes: Vec<usize> = text
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap().len())
            .collect();
        assert_eq!(sizes, [MAX_LINE, MAX_LINE, MAX_LINE, 10]);
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
}
