//! Signals greaserun passes on to its job: SIGINT, SIGTERM and SIGHUP, plus SIGCHLD to
//! learn promptly that the job exited.
//!
//! The handlers are installed once per process (with `signal-hook`) and stay installed.
//! While a supervised job runs, a signal sets a bit in that run's slot and writes a byte
//! to the slot's self-pipe, which the supervisor polls. While no job runs, SIGINT, SIGTERM
//! and SIGHUP keep their default effect (the handler emulates it), so greaserun can still
//! be stopped before and after the job. A signal that was ignored when greaserun started
//! (`nohup`, `cmd &` in a script) is left ignored, and the job inherits that.
//!
//! Each slot's pipe is created on first use and never closed, so a handler running
//! concurrently with the end of a run can never write into a reused file descriptor.

use std::io;
use std::os::fd::{BorrowedFd, IntoRawFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering::SeqCst};

use nix::libc;

/// The signals forwarded to the job's process group.
pub const FORWARDED: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

const SLOTS: usize = 32;

struct SlotState {
    claimed: AtomicBool,
    active: AtomicBool,
    pending: AtomicU32,
    read_fd: AtomicI32,
    write_fd: AtomicI32,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: SlotState = SlotState {
    claimed: AtomicBool::new(false),
    active: AtomicBool::new(false),
    pending: AtomicU32::new(0),
    read_fd: AtomicI32::new(-1),
    write_fd: AtomicI32::new(-1),
};
static STATE: [SlotState; SLOTS] = [FREE; SLOTS];
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

fn bit(sig: i32) -> u32 {
    1u32 << (sig as u32 & 31)
}

// Runs in signal context: atomics and write(2) only.
fn on_signal(sig: i32) {
    let mut delivered = false;
    for s in &STATE {
        if s.active.load(SeqCst) {
            s.pending.fetch_or(bit(sig), SeqCst);
            let fd = s.write_fd.load(SeqCst);
            if fd >= 0 {
                // SAFETY: the fd is a pipe owned by this module for the process lifetime.
                unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
            }
            delivered = true;
        }
    }
    if !delivered && sig != libc::SIGCHLD {
        let _ = signal_hook::low_level::emulate_default_handler(sig);
    }
}

fn ignored(sig: i32) -> bool {
    // SAFETY: querying (null new action) only fills `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

fn install() -> io::Result<()> {
    INSTALLED
        .get_or_init(|| {
            for sig in FORWARDED.into_iter().chain([libc::SIGCHLD]) {
                if sig != libc::SIGCHLD && ignored(sig) {
                    continue;
                }
                // SAFETY: the action is async-signal-safe (see `on_signal`).
                unsafe { signal_hook::low_level::register(sig, move || on_signal(sig)) }
                    .map_err(|e| format!("cannot install a handler for signal {sig}: {e}"))?;
            }
            Ok(())
        })
        .clone()
        .map_err(io::Error::other)
}

/// One supervisor's view of the signals: claimed for the length of a run.
pub struct Slot {
    index: usize,
}

impl Slot {
    /// Installs the handlers if needed and claims a free slot.
    pub fn claim() -> io::Result<Slot> {
        install()?;
        for (index, s) in STATE.iter().enumerate() {
            if s.claimed
                .compare_exchange(false, true, SeqCst, SeqCst)
                .is_err()
            {
                continue;
            }
            if s.read_fd.load(SeqCst) < 0 {
                use nix::fcntl::OFlag;
                match nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK) {
                    Ok((r, w)) => {
                        s.write_fd.store(w.into_raw_fd(), SeqCst);
                        s.read_fd.store(r.into_raw_fd(), SeqCst);
                    }
                    Err(e) => {
                        s.claimed.store(false, SeqCst);
                        return Err(e.into());
                    }
                }
            }
            drain(s.read_fd.load(SeqCst));
            s.pending.store(0, SeqCst);
            s.active.store(true, SeqCst);
            return Ok(Slot { index });
        }
        Err(io::Error::other(format!(
            "more than {SLOTS} jobs supervised at once in one process"
        )))
    }

    /// The pipe that becomes readable when a signal arrived.
    pub fn fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the pipe stays open for the process lifetime.
        unsafe { BorrowedFd::borrow_raw(STATE[self.index].read_fd.load(SeqCst)) }
    }

    /// The signals received since the last call (cheap: one atomic swap).
    pub fn take(&self) -> Vec<i32> {
        let bits = STATE[self.index].pending.swap(0, SeqCst);
        if bits == 0 {
            return Vec::new();
        }
        (1..32).filter(|s| bits & bit(*s) != 0).collect()
    }

    /// Empties the pipe; call when poll(2) reported it readable, before the next
    /// [`Slot::take`] (a signal is recorded before its byte is written, so none is lost).
    pub fn drain(&self) {
        drain(STATE[self.index].read_fd.load(SeqCst));
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        STATE[self.index].active.store(false, SeqCst);
        STATE[self.index].claimed.store(false, SeqCst);
    }
}

fn drain(fd: RawFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reading into a local buffer from our own non-blocking pipe.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}
