//! The shared vocabulary below the scopes: the slot a run belongs to and its parameters,
//! a job's name, run records and their statuses, the funnel's claim, heartbeat and
//! decline records, and the store's key layout. Types and pure functions only, no I/O,
//! so every scope can use them without importing another scope.

pub mod funnel;
pub mod group;
pub mod job;
pub mod keys;
pub mod params;
pub mod record;
pub mod request;
pub mod slot;

/// The `tracing` target of a notice: a plain message for the user, shown without a level
/// label (`greaserun: <job> slot <slot>: already claimed by ...`). At WARN `-q` hides it;
/// at ERROR it is always shown.
pub const NOTICE: &str = "scalegrease::notice";

#[cfg(test)]
mod layers_test;
