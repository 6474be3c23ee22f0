//! What greaserun's command line asks of the funnel: the job's name, its slot or
//! backfill window, whether to claim, and which outputs and inputs decide whether a slot
//! runs. [`crate::arbitration::session::Session::new`] checks them.

use std::time::Duration;

use crate::exit;
use crate::model::params;
use crate::model::slot::{Period, Slot};

/// The funnel's command-line options.
#[derive(Debug, Clone, Default)]
pub struct SlotOptions {
    /// `--job`: the job's name (default: derived, see [`crate::model::job::job_name`]).
    pub job: Option<String>,
    /// `--slot`: the slot (default: the minute greaserun started in).
    pub slot: Option<Slot>,
    /// `--no-claim`: never claim (a manual run beside the farm's).
    pub no_claim: bool,
    /// `--skip-if-exists`: output patterns; all present means the slot is done.
    pub skip_if_exists: Vec<String>,
    /// `--backfill`: the window of slots to repair, ending at the slot.
    pub backfill: Option<Period>,
    /// `--every`: the step between backfill slots (default 1h for an hour window, else 1d).
    pub every: Option<Period>,
    /// `--keep-going`: in a backfill, go on after a failed slot.
    pub keep_going: bool,
    /// `--wait-for`: input patterns to wait for before running.
    pub wait_for: Vec<String>,
    /// `--wait-timeout`: how long to wait for inputs.
    pub wait_timeout: Duration,
}

/// `--concurrency`: what a run does when another run of its job is alive somewhere in
/// the farm (a fresh heartbeat under `heartbeats/<job>/`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Concurrency {
    /// Run anyway (the behaviour before `--concurrency`).
    #[default]
    Allow,
    /// Do not run: the slot is recorded skipped, naming the live run.
    Forbid,
    /// Cancel the live runs, wait for them to end, then run.
    Replace,
}

/// `--retries`, `--retry-delay`, `--retry-max-delay`: a failed attempt a <= `retries`
/// queues attempt a+1 after `min(delay * 2^(a-1), max_delay)`, ±20%.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub retries: u32,
    pub delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            delay: Duration::from_secs(300),
            max_delay: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The backoff before attempt `failed + 1`, without jitter; `None` when attempt
    /// `failed` was the last allowed.
    pub fn backoff(&self, failed: u32) -> Option<Duration> {
        if failed == 0 || failed > self.retries {
            return None;
        }
        let factor = 2u32.saturating_pow((failed - 1).min(30));
        Some(self.delay.saturating_mul(factor).min(self.max_delay))
    }

    /// The wait before attempt `failed + 1`: the backoff with ±20% jitter, so retries
    /// of many failed slots spread out; `None` when attempt `failed` was the last allowed.
    pub fn wait(&self, failed: u32) -> Option<Duration> {
        self.backoff(failed)
            .map(|b| b.mul_f64(0.8 + 0.4 * crate::util::random::unit()))
    }
}

/// The default `--wait-timeout`.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(3600);

/// What the job is, as written on the command line.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub runner: String,
    pub artifact: String,
    /// Arguments as written (slot placeholders unfilled).
    pub args: Vec<String>,
}

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Param(#[from] params::ParamError),
    #[error("--every needs --backfill")]
    EveryWithoutBackfill,
    #[error("--every {every} is longer than --backfill {window}")]
    EveryTooLong { every: Period, window: Period },
}

impl SessionError {
    /// The exit code (all are usage errors).
    pub fn exit_code(&self) -> i32 {
        exit::USAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_to_the_cap_and_stops_after_the_last_retry() {
        let p = RetryPolicy {
            retries: 4,
            delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(150),
        };
        let b: Vec<_> = (0..=5).map(|a| p.backoff(a).map(|d| d.as_secs())).collect();
        assert_eq!(b, [None, Some(60), Some(120), Some(150), Some(150), None]);
        assert_eq!(RetryPolicy::default().backoff(1), None, "--retries 0");
    }
}
