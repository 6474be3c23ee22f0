//! Arbitration: whether and where a job runs. The overload guard (drop rather than
//! overcommit), the random start delay that spreads a farm's starts, and the per-slot
//! claim (the "funnel") that lets exactly one worker run each scheduled slot, with its
//! heartbeat, the run records it writes and the pruning that keeps the store small.
//! The order of a run is `run.rs`'s; this scope provides its steps ([`session`]).

pub mod claim;
pub mod delay;
pub mod guard;
pub mod heartbeat;
pub mod membership;
pub mod options;
pub mod outputs;
pub mod overlap;
pub mod placement;
pub mod prune;
pub mod queue;
pub mod records;
pub mod session;
pub mod watch;
