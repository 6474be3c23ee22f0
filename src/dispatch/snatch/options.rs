//! greasesnatch's validated options ([`SnatchOptions`]) and where its lock lives.

use std::path::PathBuf;

use super::PlacementOptions;
use crate::dispatch::bundle;

/// greasesnatch's validated options.
#[derive(Debug, Clone)]
pub struct SnatchOptions {
    pub cron_dir: PathBuf,
    pub prefix: String,
    /// Users entries may run as; empty: any account with uid >= `UID_MIN`.
    pub allowed_users: Vec<crate::config::UserRule>,
    /// Whether entries may run as uid 0 (whatever the name).
    pub allow_root: bool,
    /// Whether entries that do not call greaserun are installed.
    pub allow_plain_commands: bool,
    /// Environment names allowed besides the built-in allow-list.
    pub allowed_env: Vec<String>,
    /// Print the plan, change nothing.
    pub dry_run: bool,
    /// Wait for a concurrent greasesnatch instead of leaving at once.
    pub wait: bool,
    /// `launch.trusted_keys`; empty: bundles are not authenticated (see [`crate::dispatch::verify`]).
    pub trusted_keys: Vec<crate::dispatch::sign::TrustedKey>,
    /// This worker's part in placement (`launch.replicas` > 0); `None`: every entry is
    /// installed uncommented, as before placement.
    pub placement: Option<PlacementOptions>,
}

impl SnatchOptions {
    /// The strictest options for `cron_dir` and `prefix`: entries only as users at or
    /// above `UID_MIN`, never root, greaserun entries only, the built-in environment
    /// allow-list, bundles not authenticated, no placement; a real round that leaves
    /// at once when another holds the lock. Callers set what their config allows.
    pub fn new(cron_dir: PathBuf, prefix: &str) -> SnatchOptions {
        SnatchOptions {
            cron_dir,
            prefix: prefix.to_string(),
            allowed_users: Vec::new(),
            allow_root: false,
            allow_plain_commands: false,
            allowed_env: Vec::new(),
            dry_run: false,
            wait: false,
            trusted_keys: Vec::new(),
            placement: None,
        }
    }
}

/// The lock file's path.
pub fn lock_path(opts: &SnatchOptions) -> PathBuf {
    opts.cron_dir
        .join(format!(".{}.lock", bundle::sanitize(&opts.prefix)))
}
