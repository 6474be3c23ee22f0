//! Writing the job log's lines: the `[<pid>] <HH:MM:SS> <LEVEL>:<logger> ` prefix, lines
//! split at [`MAX_LINE`], partial lines held per stream until their newline, and a write
//! buffer flushed whole at [`BUF_CAP`] bytes so concurrent appenders never split a line.

use std::io::Write;
use std::path::Path;

use super::{JobLog, Stream};

/// The longest log line body; longer output lines are split.
pub const MAX_LINE: usize = 16 * 1024;
/// The write buffer's size.
pub const BUF_CAP: usize = 64 * 1024;

/// The logger tag of a stream's lines.
fn tag(stream: Stream) -> &'static str {
    match stream {
        Stream::Stdout => "OUT:job",
        Stream::Stderr => "ERR:job",
    }
}

/// The slot of a stream's pending partial line.
fn index(stream: Stream) -> usize {
    stream as usize
}

impl JobLog {
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
        let i = index(stream);
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    let pending = std::mem::take(&mut self.pending[i]);
                    self.push_line(tag(stream), &pending, &data[..nl]);
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
                        self.push_line(tag(stream), &pending, b"");
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
                let pending = std::mem::take(&mut self.pending[index(stream)]);
                if !pending.is_empty() {
                    self.push_line(tag(stream), &pending, b"");
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

#[cfg(test)]
mod tests {
    use super::super::tests::open;
    use super::*;

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
}
