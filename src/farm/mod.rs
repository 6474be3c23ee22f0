//! The farm queue's two ends above the store operations of `arbitration::queue`:
//! finding the published greaserun entry a request names (by parsing each entry's
//! command with greaserun's own argument parser, `cli::greaserun`), the front that
//! `greasedispatch` calls (submit, backfill, cancel, follow), and the worker's pull that
//! greasesnatch runs (take requests while the guard has room, start the entry's
//! greaserun as the entry's user, notice abandoned and expired requests); and what the
//! farm knows of itself from the store: the slot ledger and its alerts, which workers
//! hold each entry (placement), and a worker's rounds and `--watch` loop (`worker`).
//!
//! It sits above `cli` because it parses greaserun command lines with the same parser
//! the greaserun binary uses, so a job name is computed in exactly one way.

pub mod alert;
pub mod entry;
pub mod error;
pub mod follow;
pub mod holders;
pub mod ledger;
pub mod published;
pub mod pull;
pub mod report;
pub mod submit;
pub mod worker;
