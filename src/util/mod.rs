//! Small helpers used across scopes: atomic file writes, files relative to an opened
//! directory that follow no symlink, host names, randomness, durations,
//! environment-variable expansion, URLs shown in messages and text escaped for terminals.
//! Nothing here knows about jobs.

pub mod dirfd;
pub mod duration;
pub mod env;
pub mod escape;
pub mod fs;
pub mod host;
pub mod random;
pub mod url;
