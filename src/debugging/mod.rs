//! Debugging: what ran, where, and what it printed. Log files under the common log
//! directory, run records in the store, and the status views over both.

pub mod log;
pub mod records;
pub mod runs;
pub mod status;
pub mod trace;
