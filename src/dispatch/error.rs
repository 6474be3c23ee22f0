//! Typed errors of the dispatch scope: what failed, on which file, and what to do.

use std::path::PathBuf;

use crate::exit;
use crate::store::StoreError;

/// Why greaselaunch, greasesnatch or greasestatus could not do their work.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("{errors} error(s) in {files} crontab file(s); nothing was published")]
    Invalid { errors: usize, files: usize },
    #[error(
        "no crontab files match {glob:?} under {dir} (pass --allow-empty to remove the project's jobs from the farm)"
    )]
    NoCrontabs { glob: String, dir: PathBuf },
    #[error("invalid cron glob {glob:?}: {why}")]
    Glob { glob: String, why: String },
    #[error(
        "cannot tell the project's identity in {dir}: {why} (add a pom.xml or scalegrease.toml, or pass --group and --artifact)"
    )]
    NoProject { dir: PathBuf, why: String },
    #[error("{path}: {why}")]
    ProjectFile { path: PathBuf, why: String },
    #[error("cannot read {path}: {cause}")]
    Read {
        path: PathBuf,
        /// Shown in the message, so not exposed as `source()` (it would print twice).
        cause: std::io::Error,
    },
    #[error("cron directory {path}: cannot {op}: {cause} (check launch.crontab_etc_crond)")]
    CronDir {
        path: PathBuf,
        op: &'static str,
        /// Shown in the message, so not exposed as `source()` (it would print twice).
        cause: std::io::Error,
    },
    #[error("invalid schedule {expr:?}: {why}")]
    Schedule { expr: String, why: String },
    #[error("signing key {path}: {why}")]
    SigningKey { path: PathBuf, why: String },
    #[error(
        "{project} would install under the same file names as {other}, already in the store (names are installed with characters outside A-Z a-z 0-9 _ - replaced by _); rename one of them"
    )]
    Collision { project: String, other: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DispatchError {
    /// The documented exit code (see docs/exit-codes.md).
    pub fn exit_code(&self) -> i32 {
        match self {
            DispatchError::Invalid { .. }
            | DispatchError::NoCrontabs { .. }
            | DispatchError::Schedule { .. }
            | DispatchError::Collision { .. } => exit::FAILURE,
            DispatchError::SigningKey { .. } => exit::CONFIG,
            DispatchError::Glob { .. } => exit::USAGE,
            DispatchError::NoProject { .. } | DispatchError::Read { .. } => exit::NO_INPUT,
            DispatchError::ProjectFile { .. } => exit::DATA_ERR,
            DispatchError::CronDir { .. } => exit::IO_ERR,
            DispatchError::Store(e) => e.exit_code(),
        }
    }
}
