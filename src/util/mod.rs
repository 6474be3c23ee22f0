//! Small helpers used across scopes: atomic file writes, host names, randomness,
//! durations, environment-variable expansion, URLs shown in messages and text escaped for
//! terminals. Nothing here knows about jobs.

pub mod duration;
pub mod env;
pub mod escape;
pub mod fs;
pub mod host;
pub mod random;
pub mod url;
