//! The farm queue's front errors ([`FarmError`]): what `greasedispatch` refuses before
//! anything is queued (an unknown, ambiguous or unpublishable job, a duplicate, an
//! unknown request id) and the store failing under it. Each knows its exit code
//! ([`FarmError::exit_code`], codes from [`crate::exit`]).

use crate::exit;
use crate::store::StoreError;

/// Why `greasedispatch` queued, followed or cancelled nothing.
#[derive(Debug, thiserror::Error)]
pub enum FarmError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No published greaserun entry has this job name or a name containing it.
    #[error("no published job matches {query:?} ({known})")]
    UnknownJob { query: String, known: String },
    /// Several published entries match; each is listed with where it is.
    #[error(
        "{query:?} matches several published entries: {candidates} (give more of the name, or the whole job name)"
    )]
    Ambiguous { query: String, candidates: String },
    /// The entry that matched is not a plain greaserun command, so the queue cannot run it.
    #[error(
        "{place} matches {query:?} but is not a greaserun entry: {why}; the queue runs only a published entry whose command is a plain `greaserun ...`"
    )]
    NotGreaserun {
        query: String,
        place: String,
        why: String,
    },
    /// (job, slot) already has a queued or running request, a live claim, or a run that
    /// finished within `funnel.retention`.
    #[error("job {job:?} slot {slot} {what}; --rerun queues a new attempt")]
    Duplicate {
        job: String,
        slot: String,
        what: String,
    },
    /// A value the command line could not express as a clap rule (e.g. `--every` longer
    /// than `--backfill`).
    #[error("{0}")]
    Usage(String),
    /// `--cancel`/`--follow` of an id the store has no request for.
    #[error(
        "no request {0:?} in the store (ids look like 20261130T184512Z-00003f9a; `greasedispatch` prints them when it queues)"
    )]
    UnknownRequest(String),
    /// `--follow` could not write the run's output (stdout closed, disk full).
    #[error("cannot write the run's output")]
    Output(#[source] std::io::Error),
}

impl FarmError {
    /// The documented exit code: the store's own for a store failure, 79 for a
    /// duplicate, 2 for bad usage, 74
    /// when the output cannot be written, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            FarmError::Store(e) => e.exit_code(),
            FarmError::Duplicate { .. } => exit::REFUSED,
            FarmError::Usage(_) => exit::USAGE,
            FarmError::Output(_) => exit::IO_ERR,
            FarmError::UnknownJob { .. }
            | FarmError::Ambiguous { .. }
            | FarmError::NotGreaserun { .. }
            | FarmError::UnknownRequest(_) => exit::FAILURE,
        }
    }
}
