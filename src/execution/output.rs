//! Where a job's output goes while it runs: greaserun's stdout as is, the 64 KiB [`Tail`]
//! kept for the run record, and a [`JobOutput`] sink the caller hands in (greaserun's job
//! log, which the debugging scope implements). Execution defines the sink so it never
//! imports the layer that writes logs.

use std::io::{self, Read};
use std::os::fd::AsFd;

use nix::errno::Errno;

use super::Tail;

/// Which of the job's output streams a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A sink for the job's output besides stdout and the tail: greaserun's job log.
/// Writing to it never fails the run; a sink that cannot write says so itself.
pub trait JobOutput {
    /// A chunk the job wrote on `stream` (any size; lines may be split across chunks).
    fn output(&mut self, stream: Stream, data: &[u8]);
    /// A batch of chunks is done: write out what is buffered.
    fn flush(&mut self);
    /// The job's pipes are closed: write out partial lines, then flush.
    fn finish(&mut self);
    /// The job could not be started or followed; `text` says why.
    fn failed(&mut self, text: &str);
}

/// Copies each chunk to stdout (until that fails once), the tail and the sink.
pub(super) struct Sink<'a> {
    pub(super) log: &'a mut dyn JobOutput,
    pub(super) tail: Tail,
    /// Bytes copied so far.
    pub(super) total: u64,
    stdout_ok: bool,
}

impl<'a> Sink<'a> {
    pub(super) fn new(log: &'a mut dyn JobOutput) -> Sink<'a> {
        Sink {
            log,
            tail: Tail::default(),
            total: 0,
            stdout_ok: true,
        }
    }

    fn put(&mut self, stream: Stream, data: &[u8]) {
        if self.stdout_ok
            && let Err(e) = write_stdout(data)
        {
            self.stdout_ok = false;
            tracing::warn!(
                "cannot write the job's output to stdout ({e}); it still goes to the log"
            );
        }
        self.tail.push(data);
        self.total += data.len() as u64;
        self.log.output(stream, data);
    }

    /// Reads once from a ready pipe into the sink: `false` at end of file or on error.
    pub(super) fn pump<R: Read>(&mut self, pipe: &mut R, buf: &mut [u8], stream: Stream) -> bool {
        loop {
            match pipe.read(buf) {
                Ok(0) => return false,
                Ok(n) => {
                    self.put(stream, &buf[..n]);
                    return true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) => {
                    tracing::warn!("cannot read the job's output: {e}");
                    return false;
                }
            }
        }
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

/// A sink that keeps what it is given, for tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub failures: Vec<String>,
    pub finished: bool,
}

#[cfg(test)]
impl JobOutput for Recorder {
    fn output(&mut self, stream: Stream, data: &[u8]) {
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(data),
            Stream::Stderr => self.stderr.extend_from_slice(data),
        }
    }
    fn flush(&mut self) {}
    fn finish(&mut self) {
        self.finished = true;
    }
    fn failed(&mut self, text: &str) {
        self.failures.push(text.to_string());
    }
}
