//! Arbitration: whether and where a job runs. The overload guard (drop rather than
//! overcommit), the random start delay that spreads a farm's starts, and the per-slot
//! claim (the "funnel") that lets exactly one worker run each scheduled slot.

pub mod delay;
pub mod funnel;
pub mod guard;
pub mod outputs;
pub mod session;
pub mod slot;
