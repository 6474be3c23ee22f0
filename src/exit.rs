//! Exit codes shared by the scalegrease binaries. They are part of the interface (cron
//! mail, CI scripts and monitoring match on them), so they never change meaning.
//!
//! greaserun passes the job's own exit status through; the codes below are what the tools
//! themselves exit with when they fail before, around or instead of running a job. They
//! follow `sysexits.h` where one fits and the shell conventions (124, 126, 127, 128+n)
//! where a job is involved.

/// Success.
pub const OK: i32 = 0;
/// Generic failure: invalid crontabs (greaselaunch), rejected bundles (greasesnatch).
pub const FAILURE: i32 = 1;
/// Bad command-line usage (clap's own code).
pub const USAGE: i32 = 2;
/// Bad input data: a checksum mismatch, a corrupt bundle, an unreadable jar.
pub const DATA_ERR: i32 = 65;
/// An input does not exist: a local artifact path, an artifact missing from every repository.
pub const NO_INPUT: i32 = 66;
/// A service is unavailable: the artifact repository or the store, with no fallback.
pub const UNAVAILABLE: i32 = 69;
/// An internal error (a bug in scalegrease).
pub const SOFTWARE: i32 = 70;
/// An operating-system error: cannot create a temp dir, fork, or write a file we must write.
pub const OS_ERR: i32 = 71;
/// An I/O error on a file we must write (cron dir, cache).
pub const IO_ERR: i32 = 74;
/// Temporary refusal: the overload guard dropped the run, the store was unavailable for a
/// claim (policy `skip`), or inputs did not appear in time. Cron will try again next slot.
pub const TEMP_FAIL: i32 = 75;
/// Permission denied: a user the worker's config does not allow.
pub const NO_PERM: i32 = 77;
/// Configuration error: the config file is missing, unreadable or invalid.
pub const CONFIG: i32 = 78;
/// The job ran past `--timeout` and was ended.
pub const TIMEOUT: i32 = 124;
/// The runner's command exists but could not be executed.
pub const CANNOT_EXECUTE: i32 = 126;
/// The runner's command was not found.
pub const NOT_FOUND: i32 = 127;
/// A job killed by signal `n` exits with `SIGNAL_BASE + n`.
pub const SIGNAL_BASE: i32 = 128;
