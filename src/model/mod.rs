//! The shared vocabulary below the scopes: the slot a run belongs to and its parameters,
//! a job's name, run records and their statuses, the funnel's claim, heartbeat and
//! decline records, and the store's key layout. Types and pure functions only, no I/O,
//! so every scope can use them without importing another scope.

pub mod funnel;
pub mod job;
pub mod keys;
pub mod params;
pub mod record;
pub mod slot;

#[cfg(test)]
mod layers_test;
