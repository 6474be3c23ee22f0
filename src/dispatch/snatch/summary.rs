//! What a greasesnatch run did, or why it did nothing: its [`Summary`] (the line it
//! prints) and its [`Outcome`].

use std::path::PathBuf;

/// What a run did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub installed: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// `(project, reason)` per rejected bundle.
    pub rejected: Vec<(String, String)>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} installed, {} updated, {} removed, {} unchanged, {} rejected",
            self.installed,
            self.updated,
            self.removed,
            self.unchanged,
            self.rejected.len()
        )
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    Done(Summary),
    /// Another greasesnatch holds the lock (and `wait` was not set).
    Busy(PathBuf),
}
