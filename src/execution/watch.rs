//! A look at the job while it runs: about once a second the supervisor hands a
//! [`Watch`] the output so far (how many bytes, and the 64 KiB tail it keeps anyway),
//! and the watch may ask for the job to be ended (a cancel). Execution defines the trait
//! so it never imports the layers that implement it (the farm queue's live output and
//! cancel markers, in arbitration).

use std::time::Duration;

use super::Tail;

/// How often the supervisor calls [`Watch::tick`] while the job runs.
pub const TICK: Duration = Duration::from_secs(1);

/// Called by the supervisor about every [`TICK`] while the job runs.
pub trait Watch {
    /// `total` bytes were written so far, the last of them in `tail`. Returns why the
    /// job must end (its process group gets TERM, then KILL after the grace, and the
    /// outcome is [`super::Status::Cancelled`]), or `None` to let it run.
    fn tick(&mut self, total: u64, tail: &Tail) -> Option<String>;
}
