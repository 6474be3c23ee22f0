//! The write side of a download: the temp file, the digest computed on a helper thread,
//! and early writeback on another, so that hashing and flushing to disk overlap with the
//! network instead of following it. Buffers are recycled through the hashing thread, so
//! memory stays at [`BUFS`] × [`BUF`] however large the file.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::mpsc;
use std::thread;

use super::checksum::{Algorithm, Hasher};

/// One read's buffer.
pub const BUF: usize = 256 << 10;
/// Buffers in flight between the reading and the hashing thread.
pub const BUFS: usize = 4;
/// How often the written part is handed to the disk in the background.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// Where a download's bytes go.
pub struct Sink {
    file: File,
    algorithm: Option<Algorithm>,
    pipe: Option<HashPipe>,
    /// The one buffer used when nothing is hashed.
    spare: Option<Vec<u8>>,
    writeback: Writeback,
    flushed: u64,
    /// Bytes written so far.
    pub written: u64,
}

impl Sink {
    /// Writes into `file` (new and empty), hashing with `algorithm` when given.
    pub fn new(file: File, algorithm: Option<Algorithm>) -> Sink {
        let writeback = Writeback::start(&file);
        Sink {
            pipe: algorithm.map(HashPipe::start),
            algorithm,
            spare: None,
            writeback,
            file,
            flushed: 0,
            written: 0,
        }
    }

    /// A [`BUF`]-byte buffer to read into (waits for the hashing thread to return one
    /// when all are in flight).
    pub fn buffer(&mut self) -> Vec<u8> {
        match &mut self.pipe {
            Some(p) => p.buffer(),
            None => self.spare.take().unwrap_or_else(|| vec![0; BUF]),
        }
    }

    /// Appends the first `n` bytes of `buf` (from [`Sink::buffer`]).
    pub fn push(&mut self, buf: Vec<u8>, n: usize) -> io::Result<()> {
        let written = self.file.write_all(&buf[..n]);
        match &mut self.pipe {
            Some(p) => p.feed(buf, n),
            None => self.spare = Some(buf),
        }
        written?;
        self.written += n as u64;
        if self.written >= self.flushed + WRITEBACK_EVERY {
            self.writeback.poke();
            self.flushed = self.written;
        }
        Ok(())
    }

    /// Empties the file and the digest, to start the download over.
    pub fn restart(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.pipe = self.algorithm.map(HashPipe::start);
        self.written = 0;
        self.flushed = 0;
        Ok(())
    }

    /// Waits for the helpers: the file and the digest (lower-case hex) when hashing.
    pub fn finish(mut self) -> io::Result<(File, Option<String>)> {
        let digest = self.pipe.take().map(HashPipe::finish);
        self.writeback.finish()?;
        Ok((self.file, digest))
    }
}

/// Computes a digest on a helper thread; filled buffers go there and come back empty.
struct HashPipe {
    tx: Option<mpsc::SyncSender<(Vec<u8>, usize)>>,
    free: mpsc::Receiver<Vec<u8>>,
    allocated: usize,
    thread: Option<thread::JoinHandle<Hasher>>,
}

impl HashPipe {
    fn start(algorithm: Algorithm) -> HashPipe {
        let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BUFS);
        let (free_tx, free) = mpsc::channel();
        let mut hasher = algorithm.hasher();
        let thread = thread::spawn(move || {
            for (buf, n) in rx {
                hasher.update(&buf[..n]);
                let _ = free_tx.send(buf);
            }
            hasher
        });
        HashPipe {
            tx: Some(tx),
            free,
            allocated: 0,
            thread: Some(thread),
        }
    }

    fn buffer(&mut self) -> Vec<u8> {
        if let Ok(b) = self.free.try_recv() {
            return b;
        }
        if self.allocated < BUFS {
            self.allocated += 1;
            return vec![0; BUF];
        }
        // Every buffer is with the hashing thread, which returns each one it is done with.
        self.free.recv().unwrap_or_else(|_| vec![0; BUF])
    }

    fn feed(&mut self, buf: Vec<u8>, n: usize) {
        if let Some(tx) = &self.tx {
            // Fails only if the thread died (a panic), which `finish` reports.
            let _ = tx.send((buf, n));
        }
    }

    fn finish(mut self) -> String {
        self.tx.take();
        let hasher = self.thread.take().map(|t| t.join());
        match hasher {
            Some(Ok(h)) => h.finish_hex(),
            // No digest matches this: the download is rejected as a mismatch.
            _ => "hashing thread failed".to_string(),
        }
    }
}

impl Drop for HashPipe {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Hands the file's dirty pages to the disk on a helper thread while the download goes
/// on, so the final fsync only waits for the tail. The descriptor is shared, so an error
/// the helper saw would not be reported again to the final fsync: [`Writeback::finish`]
/// reports it.
struct Writeback {
    tx: Option<mpsc::SyncSender<()>>,
    thread: Option<thread::JoinHandle<io::Result<()>>>,
}

impl Writeback {
    fn start(file: &File) -> Writeback {
        let Ok(clone) = file.try_clone() else {
            return Writeback {
                tx: None,
                thread: None,
            };
        };
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let thread = thread::spawn(move || {
            while rx.recv().is_ok() {
                clone.sync_data()?;
            }
            Ok(())
        });
        Writeback {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Asks for a flush of what is written so far (skipped when one is already pending).
    fn poke(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(());
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.tx.take();
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("writeback thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_writes_everything_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..3 * BUF + 17).map(|i| (i % 251) as u8).collect();
        let mut sink = Sink::new(File::create(&path).unwrap(), Some(Algorithm::Sha256));
        let mut first = sink.buffer();
        first[..3].copy_from_slice(b"bad");
        sink.push(first, 3).unwrap();
        sink.restart().unwrap();
        for chunk in data.chunks(BUF / 2 + 1) {
            let mut b = sink.buffer();
            b[..chunk.len()].copy_from_slice(chunk);
            sink.push(b, chunk.len()).unwrap();
        }
        assert_eq!(sink.written, data.len() as u64);
        let (_, digest) = sink.finish().unwrap();
        let mut h = Algorithm::Sha256.hasher();
        h.update(&data);
        assert_eq!(digest.unwrap(), h.finish_hex());
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }
}
