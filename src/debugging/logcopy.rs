//! Streaming a run's log with flat memory, whatever its size: the lines of one process
//! are copied from its log file through a fixed buffer (a line is never held whole, so a
//! line without end costs no more than a short one), and `--json` escapes the text into a
//! JSON string as it passes, decoding UTF-8 across buffer boundaries exactly as
//! `String::from_utf8_lossy` does on the whole.

use std::io::{self, BufRead, Write};

/// How much of the log file is read at a time.
const CHUNK: usize = 64 * 1024;

/// Where a log line stands while it is copied.
#[derive(Clone, Copy, PartialEq)]
enum Line {
    /// At its start, its first bytes not yet enough to compare with the prefix.
    Deciding,
    Keep,
    Skip,
}

/// Copies the lines that start with `[<pid>]` from `r` to `out`, each ending in a
/// newline (a last line without one gets one); with `first_only`, stops once the prefix
/// of the first such line is written (a test whether there is one). Returns how many bytes were written.
pub fn copy_lines_of_pid(
    r: impl io::Read,
    pid: u32,
    out: &mut dyn Write,
    first_only: bool,
) -> io::Result<u64> {
    let mut r = io::BufReader::with_capacity(CHUNK, r);
    let prefix = format!("[{pid}]").into_bytes();
    let mut head = Vec::with_capacity(prefix.len());
    let mut state = Line::Deciding;
    let mut written = 0u64;
    let mut last = b'\n';
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        let mut i = 0;
        while i < n {
            if state == Line::Deciding {
                let b = buf[i];
                i += 1;
                head.push(b);
                if b == b'\n' {
                    head.clear(); // shorter than the prefix: not this process's
                } else if head.len() == prefix.len() {
                    state = if head == prefix {
                        Line::Keep
                    } else {
                        Line::Skip
                    };
                    if state == Line::Keep {
                        out.write_all(&head)?;
                        written += head.len() as u64;
                        last = b;
                        if first_only {
                            return Ok(written);
                        }
                    }
                    head.clear();
                }
                continue;
            }
            let end = buf[i..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(n, |p| i + p + 1);
            if state == Line::Keep {
                out.write_all(&buf[i..end])?;
                written += (end - i) as u64;
                last = buf[end - 1];
            }
            if buf[end - 1] == b'\n' {
                state = Line::Deciding;
            }
            i = end;
        }
        r.consume(n);
    }
    if state == Line::Keep && last != b'\n' {
        out.write_all(b"\n")?;
        written += 1;
    }
    Ok(written)
}

/// A writer that writes what it is given as the inside of a JSON string (without the
/// quotes), invalid UTF-8 replaced by U+FFFD. Call [`JsonText::finish`] at the end.
pub struct JsonText<'a> {
    out: &'a mut dyn Write,
    /// The start of a UTF-8 sequence cut by the end of the last write.
    carry: Vec<u8>,
}

impl<'a> JsonText<'a> {
    /// Escapes into `out`.
    pub fn new(out: &'a mut dyn Write) -> JsonText<'a> {
        JsonText {
            out,
            carry: Vec::new(),
        }
    }

    fn text(&mut self, s: &str) -> io::Result<()> {
        let quoted = serde_json::to_string(s).map_err(io::Error::other)?;
        self.out.write_all(&quoted.as_bytes()[1..quoted.len() - 1])
    }

    /// Ends the text: a sequence cut at the very end is one U+FFFD.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.carry.is_empty() {
            self.text("\u{FFFD}")?;
        }
        Ok(())
    }
}

impl Write for JsonText<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let joined;
        let mut bytes = if self.carry.is_empty() {
            data
        } else {
            let mut j = std::mem::take(&mut self.carry);
            j.extend_from_slice(data);
            joined = j;
            &joined[..]
        };
        loop {
            match std::str::from_utf8(bytes) {
                Ok(s) => {
                    self.text(s)?;
                    return Ok(data.len());
                }
                Err(e) => {
                    let (good, rest) = bytes.split_at(e.valid_up_to());
                    self.text(std::str::from_utf8(good).expect("valid up to here"))?;
                    match e.error_len() {
                        Some(bad) => {
                            self.text("\u{FFFD}")?;
                            bytes = &rest[bad..];
                        }
                        None => {
                            self.carry = rest.to_vec();
                            return Ok(data.len());
                        }
                    }
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines `copy_lines_of_pid` must give: the old whole-file reading.
    fn whole(text: &[u8], pid: u32) -> Vec<u8> {
        let prefix = format!("[{pid}]");
        let mut out = Vec::new();
        for line in text.split(|&b| b == b'\n') {
            if line.starts_with(prefix.as_bytes()) {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
        }
        out
    }

    #[test]
    fn lines_of_one_process_across_chunk_boundaries() {
        let mut text = Vec::new();
        for i in 0..5000 {
            let pid = if i % 3 == 0 { 77 } else { 9 };
            text.extend_from_slice(format!("[{pid}] line {i} {}\n", "x".repeat(i % 97)).as_bytes());
        }
        text.extend_from_slice(&vec![b'y'; 3 * CHUNK]); // a long line of nobody's
        text.extend_from_slice(b"\n[9]\n[9");
        text.extend_from_slice(b"\n[9] no newline at the end");
        let mut out = Vec::new();
        let n = copy_lines_of_pid(&text[..], 9, &mut out, false).unwrap();
        assert_eq!(out, whole(&text, 9));
        assert_eq!(n as usize, out.len());
        let mut first = Vec::new();
        copy_lines_of_pid(&text[..], 77, &mut first, true).unwrap();
        assert_eq!(first, b"[77]");
        assert_eq!(
            copy_lines_of_pid(&text[..], 5, &mut Vec::new(), true).unwrap(),
            0
        );
    }

    #[test]
    fn json_text_matches_a_whole_lossy_string() {
        let text = "héllo \"wörld\"\t\u{1}\n€".as_bytes().repeat(3);
        let mut bad = text.clone();
        bad.extend_from_slice(b"\xff ok \xe2\x82");
        for data in [text, bad] {
            let want = serde_json::to_string(&String::from_utf8_lossy(&data)).unwrap();
            for size in [1, 2, 3, 5, 64] {
                let mut out = Vec::new();
                let mut j = JsonText::new(&mut out);
                for c in data.chunks(size) {
                    j.write_all(c).unwrap();
                }
                j.finish().unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), want[1..want.len() - 1]);
            }
        }
    }
}
