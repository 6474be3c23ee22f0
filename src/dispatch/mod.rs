//! Dispatch: when jobs run. Crontab parsing and validation (one parser for every tool),
//! next fire times as the cron daemon computes them, publishing a project's crontabs as a
//! bundle (launch) and installing bundles into the cron directory on a worker (snatch).

pub mod bundle;
pub mod crontab;
pub mod error;
pub mod launch;
pub mod project;
pub mod schedule;
pub mod sign;
pub mod snatch;
pub mod verify;
pub mod watch;

#[cfg(test)]
mod proptests;
