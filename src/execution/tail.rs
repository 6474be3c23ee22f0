//! The last bytes a job printed, kept in a fixed ring so memory stays flat however much it
//! prints. The run record stores them, so `greasestatus` can show why a run failed.

use std::collections::VecDeque;

/// How much output the tail keeps: 64 KiB.
pub const TAIL_CAP: usize = 64 * 1024;

/// A byte ring that keeps the last `cap` bytes pushed.
#[derive(Debug)]
pub struct Tail {
    ring: VecDeque<u8>,
    cap: usize,
}

impl Default for Tail {
    fn default() -> Self {
        Tail::new(TAIL_CAP)
    }
}

impl Tail {
    /// An empty tail keeping at most `cap` bytes (allocated up front, never grown).
    pub fn new(cap: usize) -> Tail {
        Tail {
            ring: VecDeque::with_capacity(cap),
            cap,
        }
    }

    /// Appends `data`, dropping the oldest bytes beyond the capacity.
    pub fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(self.cap)..];
        let over = (self.ring.len() + data.len()).saturating_sub(self.cap);
        self.ring.drain(..over);
        self.ring.extend(data);
    }

    /// The kept bytes, oldest first.
    pub fn to_vec(&self) -> Vec<u8> {
        let (a, b) = self.ring.as_slices();
        [a, b].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_bytes() {
        let mut t = Tail::new(8);
        t.push(b"abc");
        assert_eq!(t.to_vec(), b"abc");
        t.push(b"defgh");
        assert_eq!(t.to_vec(), b"abcdefgh");
        t.push(b"ij");
        assert_eq!(t.to_vec(), b"cdefghij");
        t.push(b"0123456789xyz");
        assert_eq!(t.to_vec(), b"56789xyz");
        assert!(t.ring.capacity() < 16);
    }
}
