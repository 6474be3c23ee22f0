//! `greasedispatch --follow` and `--cancel`: watching a request from any host, and
//! withdrawing or ending it.
//!
//! Following polls the request's state (`states/<id>`) and, once greaserun runs it, the
//! run's live output (`live/<job>/<slot>/<run id>`: JSON `{"end": <bytes written so
//! far>, "data": "<base64 of the last <= 64 KiB>"}`, rewritten by greaserun about once a
//! second) every `poll`, and writes the bytes past what it already wrote; a gap larger
//! than the live window is written as a `[... N bytes not shown ...]` line. At a final
//! state it writes the rest from the run's final tail (`tails/...`) and returns the exit
//! code ([`code`]): the job's, or 79 refused, 80 dropped, 81 cancelled, 82 abandoned, 0
//! skipped.

use std::io::Write;
use std::time::Duration;

use crate::arbitration::queue::{self, Cancelled};
use crate::exit;
use crate::farm::error::FarmError;
use crate::model::keys;
use crate::model::record::{TAIL_BYTES, decode_live};
use crate::model::request::{Phase, RequestState, check_request_id};
use crate::store::Store;

/// How a followed request ended.
#[derive(Debug, Clone)]
pub struct Followed {
    pub state: RequestState,
    /// The exit code to end with ([`code`]).
    pub code: i32,
}

/// The exit code a followed request ends with: the job's for succeeded and failed runs,
/// [`exit::REFUSED`], [`exit::DROPPED`], [`exit::CANCELLED`], [`exit::ABANDONED`], and 0
/// for skipped.
pub fn code(st: &RequestState) -> i32 {
    match st.phase {
        Phase::Succeeded => st.exit_code.unwrap_or(exit::OK),
        Phase::Failed => st.exit_code.filter(|c| *c != 0).unwrap_or(exit::FAILURE),
        Phase::Refused => exit::REFUSED,
        Phase::Dropped => exit::DROPPED,
        Phase::Cancelled => exit::CANCELLED,
        Phase::Abandoned => exit::ABANDONED,
        Phase::Skipped => exit::OK,
        Phase::Queued | Phase::Taken | Phase::Running => exit::SOFTWARE,
    }
}

/// Follows request `id` until it ends, writing the run's output to `out` as it comes.
pub fn follow(
    store: &dyn Store,
    id: &str,
    out: &mut dyn Write,
    poll: Duration,
) -> Result<Followed, FarmError> {
    if !check_request_id(id) || queue::get(store, id)?.is_none() {
        return Err(FarmError::UnknownRequest(id.to_string()));
    }
    let mut cursor = Cursor::default();
    loop {
        let st = queue::state(store, id)?;
        let run = st
            .as_ref()
            .and_then(|s| s.run.as_deref())
            .and_then(keys::run_parts);
        if let Some(key) = run.as_ref().map(|(j, s, id)| keys::live(j, s, id))
            && let Some(live) = read_live(store, &key)?
        {
            cursor
                .feed(live.0, &live.1, out)
                .map_err(FarmError::Output)?;
        }
        if let Some(st) = st.filter(|s| s.phase.is_final()) {
            if let Some(key) = run.as_ref().map(|(j, s, id)| keys::tail(j, s, id))
                && let Some(tail) = store.get(&key)?
            {
                cursor.finish(&tail, out).map_err(FarmError::Output)?;
            }
            return Ok(Followed {
                code: code(&st),
                state: st,
            });
        }
        std::thread::sleep(poll);
    }
}

/// Reads a live document: (end, bytes). A garbled one is ignored (the next rewrite fixes
/// it).
fn read_live(store: &dyn Store, key: &str) -> Result<Option<(u64, Vec<u8>)>, FarmError> {
    let Some(body) = store.get(key)? else {
        return Ok(None);
    };
    Ok(decode_live(&body))
}

/// What a follower has written: the total so far and its last (at most 64 KiB) bytes.
#[derive(Debug, Default)]
struct Cursor {
    printed: u64,
    seen: Vec<u8>,
}

impl Cursor {
    /// Writes what `data` (the output's bytes ending at `end`) holds past what was
    /// written.
    fn feed(&mut self, end: u64, data: &[u8], out: &mut dyn Write) -> std::io::Result<()> {
        if end <= self.printed {
            return Ok(());
        }
        let start = end.saturating_sub(data.len() as u64);
        if start > self.printed {
            writeln!(out, "[... {} bytes not shown ...]", start - self.printed)?;
            self.seen.clear();
        }
        let new = &data[(self.printed.max(start) - start) as usize..];
        out.write_all(new)?;
        out.flush()?;
        self.remember(new);
        self.printed = end;
        Ok(())
    }

    fn remember(&mut self, new: &[u8]) {
        self.seen.extend_from_slice(new);
        let cut = self.seen.len().saturating_sub(TAIL_BYTES);
        self.seen.drain(..cut);
    }

    /// Writes the rest of the output from the run's final tail (its last 64 KiB): what
    /// follows the written bytes, found where the tail repeats the last of them (the
    /// latest such place, as the run ended soon after the last live rewrite).
    fn finish(&mut self, tail: &[u8], out: &mut dyn Write) -> std::io::Result<()> {
        let rest = if self.printed == 0 {
            if tail.len() >= TAIL_BYTES {
                writeln!(out, "[... output before its last 64 KiB not shown ...]")?;
            }
            tail
        } else {
            match self.overlap(tail) {
                Some(o) => &tail[o..],
                None => {
                    writeln!(out, "[... some output not shown ...]")?;
                    tail
                }
            }
        };
        out.write_all(rest)?;
        out.flush()?;
        self.remember(rest);
        self.printed += rest.len() as u64;
        Ok(())
    }

    /// Where the written bytes end in `tail`, if they overlap it.
    fn overlap(&self, tail: &[u8]) -> Option<usize> {
        let s = &self.seen;
        if tail.len() < TAIL_BYTES {
            // The tail is the whole output: the written bytes are its first `printed`.
            let p = usize::try_from(self.printed).ok()?;
            if p <= tail.len() && tail[..p].ends_with(s) {
                return Some(p);
            }
        }
        (1..=tail.len()).rev().find(|&o| {
            let k = o.min(s.len());
            k > 0 && tail[o - k..o] == s[s.len() - k..]
        })
    }
}

/// `greasedispatch --cancel ID`: withdraws a queued request, asks the host running it to
/// end it, or says it already ended. An id the store has no request for is
/// [`FarmError::UnknownRequest`].
pub fn cancel(store: &dyn Store, id: &str, by: &str) -> Result<Cancelled, FarmError> {
    if !check_request_id(id) {
        return Err(FarmError::UnknownRequest(id.to_string()));
    }
    match queue::cancel(store, id, by)? {
        Cancelled::Unknown => Err(FarmError::UnknownRequest(id.to_string())),
        c => Ok(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(steps: &[(u64, &[u8])], tail: Option<&[u8]>) -> Vec<u8> {
        let mut c = Cursor::default();
        let mut out = Vec::new();
        for (end, data) in steps {
            c.feed(*end, data, &mut out).unwrap();
        }
        if let Some(t) = tail {
            c.finish(t, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn writes_each_byte_once_and_marks_gaps() {
        assert_eq!(
            fed(&[(3, b"abc"), (3, b"abc"), (5, b"abcde")], Some(b"abcdefg")),
            b"abcdefg"
        );
        assert_eq!(fed(&[], Some(b"hello\n")), b"hello\n");
        assert_eq!(
            fed(&[(2, b"ab"), (10, b"ij")], None),
            b"ab[... 6 bytes not shown ...]\nij"
        );
        // A long output: the tail is its last 64 KiB; the rest is found after the overlap.
        let mut x = 0x2545_f491_u32;
        let all: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let live = &all[100_000 - TAIL_BYTES..100_000];
        let tail = &all[all.len() - TAIL_BYTES..];
        let got = fed(&[(100_000, live)], Some(tail));
        assert!(got.starts_with(b"[... 34464 bytes not shown ...]\n"));
        let body = &got[got.iter().position(|b| *b == b'\n').unwrap() + 1..];
        assert_eq!(&body[..TAIL_BYTES], live);
        // 100 000 bytes were not in the live window nor the tail: a gap line, then the tail.
        assert!(
            String::from_utf8_lossy(&body[TAIL_BYTES..])
                .starts_with("[... some output not shown ...]")
        );
        let near = &all[200_000 - TAIL_BYTES - 10..200_000 - 10];
        let got = fed(&[(199_990, near)], Some(tail));
        assert!(got.ends_with(&all[199_000..]));
        assert_eq!(got.len(), 33 + TAIL_BYTES + 10, "{}", got.len());
    }

    #[test]
    fn codes_of_the_ends() {
        let st = |phase, exit_code| RequestState {
            exit_code,
            ..RequestState::new("x", phase)
        };
        assert_eq!(code(&st(Phase::Failed, Some(3))), 3);
        assert_eq!(code(&st(Phase::Succeeded, Some(0))), 0);
        assert_eq!(code(&st(Phase::Refused, None)), exit::REFUSED);
        assert_eq!(code(&st(Phase::Abandoned, None)), exit::ABANDONED);
        assert_eq!(code(&st(Phase::Skipped, None)), 0);
    }
}
