//! Debugging: what ran, where, and what it printed. Log files under the common log
//! directory, and the status views over the run records in the store (written by
//! arbitration's funnel) and over both, and the farm queue as it is now.

pub mod latest;
pub mod log;
pub mod logcopy;
pub mod logview;
pub mod queue;
pub mod runs;
pub mod status;
pub mod table;
pub mod trace;
