//! Small helpers used across scopes: atomic file writes, files relative to an opened
//! directory that follow no symlink, host names, randomness, durations,
//! environment-variable expansion, URLs shown in messages, text escaped for terminals and
//! reading many things on a few threads.
//! Nothing here knows about jobs.

pub mod dirfd;
pub mod duration;
pub mod env;
pub mod escape;
pub mod fs;
pub mod host;
pub mod parallel;
pub mod random;
pub mod url;
