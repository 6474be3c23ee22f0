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
