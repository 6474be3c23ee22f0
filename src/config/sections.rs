//! The config file's sections, one type each, with their defaults. Two settings may be
//! written as a bare URL string or as an object ([`Repository`], [`StoreConfig`]); both go
//! through [`super::values::UrlOr`], so an error inside the object still names its
//! line and column.

use std::time::Duration;

use serde::Deserialize;

use super::values;
pub use super::values::UrlOr;
use crate::util::duration::serde_duration;

/// `common`: settings every tool uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Common {
    /// The common log directory (typically shared storage). `None`: logs go to stdout only.
    pub file_logger: Option<String>,
    /// Overrides the host name (the `SCALEGREASE_HOSTNAME` environment variable wins).
    pub hostname: Option<String>,
}

/// `launch`: how crontabs are installed on a worker.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Launch {
    /// The cron directory greasesnatch writes to.
    pub crontab_etc_crond: String,
    /// The prefix of every file greasesnatch owns in the cron directory.
    pub crontab_unique_prefix: String,
    /// Users crontab entries may run as, each optionally only for some project groups.
    /// Empty: any account with a uid at or above `UID_MIN` (see docs/security.md).
    pub allowed_users: Vec<UserRule>,
    /// Whether entries may run as uid 0, whatever the account's name.
    pub allow_root: bool,
    /// Public keys whose signed bundles workers install; empty: bundles are not
    /// authenticated (greasesnatch warns).
    pub trusted_keys: Vec<TrustedKeySetting>,
    /// Whether entries that do not call greaserun are installed.
    pub allow_plain_commands: bool,
    /// Environment names allowed in crontabs besides MAILTO, CRON_TZ, TZ, SHELL and a
    /// PATH of system directories; `"*"` allows any name not always refused.
    pub allowed_env: Vec<String>,
    /// How many live workers install (uncommented) each greaserun entry; 0: every worker.
    pub replicas: usize,
    /// A worker is live while its last membership beat is younger than this.
    #[serde(with = "serde_duration")]
    pub member_ttl: Duration,
}

/// One `launch.allowed_users` entry: a user name (`"*"`: any account at or above
/// `UID_MIN`), or `{"user": .., "groups": [..]}` limiting it to project groups (patterns
/// as [`crate::model::group::matches`] reads them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum UserRule {
    /// Allowed for every project.
    Name(String),
    /// Allowed only for projects whose group matches one of `groups`.
    Scoped { user: String, groups: Vec<String> },
}

impl UserRule {
    /// The user name (or `"*"`).
    pub fn user(&self) -> &str {
        match self {
            UserRule::Name(u) | UserRule::Scoped { user: u, .. } => u,
        }
    }

    /// Whether the rule applies to a project of `group`.
    pub fn applies_to(&self, group: &str) -> bool {
        match self {
            UserRule::Name(_) => true,
            UserRule::Scoped { groups, .. } => groups
                .iter()
                .any(|g| crate::model::group::matches(g, group)),
        }
    }
}

impl From<&str> for UserRule {
    fn from(s: &str) -> Self {
        UserRule::Name(s.to_string())
    }
}

/// One entry of `launch.trusted_keys`: a public-key line (every project group) or
/// `{"key": line, "groups": ["com.example", "com.example.*"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TrustedKeySetting {
    All(String),
    Limited { key: String, groups: Vec<String> },
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            crontab_etc_crond: "/etc/cron.d".into(),
            crontab_unique_prefix: "scalegrease".into(),
            allowed_users: Vec::new(),
            allow_root: false,
            trusted_keys: Vec::new(),
            allow_plain_commands: false,
            allowed_env: Vec::new(),
            replicas: 2, // arbitration::placement::DEFAULT_REPLICAS
            member_ttl: Duration::from_secs(90),
        }
    }
}

/// `maven`: where artifacts come from and where they are cached.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Maven {
    /// Repositories in the order they are asked.
    #[serde(deserialize_with = "values::url_or_seq")]
    pub repositories: Vec<Repository>,
    /// The local cache, in Maven layout (shared with the user's Maven by default).
    pub cache_dir: String,
    /// Connect timeout.
    #[serde(with = "serde_duration")]
    pub connect_timeout: Duration,
    /// Timeout for one whole request (metadata or a download's idle read).
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
    /// Deadline for one whole artifact download: headers, body, retries and resumes.
    #[serde(with = "serde_duration")]
    pub request_timeout: Duration,
    /// Attempts per request on connection errors, timeouts and 5xx.
    pub attempts: u32,
}

impl Default for Maven {
    fn default() -> Self {
        Maven {
            repositories: Vec::new(),
            cache_dir: "~/.m2/repository".into(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(600),
            attempts: 4,
        }
    }
}

/// One Maven repository: a bare URL string, or an object with credentials. Credentials
/// come from the environment or a file, never from this config's text, and are never
/// printed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// `http://`, `https://` or `file://` base URL.
    pub url: String,
    /// Environment variable holding the user name.
    #[serde(default)]
    pub username_env: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding `user:password` on its first line.
    #[serde(default)]
    pub credentials_file: Option<String>,
}

impl From<String> for Repository {
    fn from(url: String) -> Self {
        Repository {
            url,
            ..Default::default()
        }
    }
}

/// `guard`: the overload guard's limits and the random start delay.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Guard {
    /// Refuse to start when the 1-minute load average per CPU exceeds this.
    pub max_load_per_cpu: f64,
    /// Refuse to start when this many greaserun jobs already run on this host.
    pub max_running: u32,
    /// Refuse to start when less memory than this is available, in MiB.
    pub min_available_memory_mb: u64,
    /// The random delay before a cron-started run, at most this many seconds (0 to a day).
    #[serde(deserialize_with = "values::delay_secs")]
    pub max_delay_s: f64,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            max_load_per_cpu: 2.0,
            max_running: 16,
            min_available_memory_mb: 256,
            max_delay_s: 60.0,
        }
    }
}

/// `runners.<name>`: a runner defined as a command template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RunnerDef {
    /// The command line; `{jar_path}`, `{artifact_spec}`, `{version}` and `{args}` are
    /// substituted (see docs/runners.md). For `luigi` and `hadoop` this
    /// overrides the legacy `LuigiRunner.command` / `HadoopRunner.command`.
    pub command: Option<String>,
}

/// The legacy `LuigiRunner` / `HadoopRunner` sections.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LegacyRunner {
    pub command: Option<String>,
}

/// `store`: where bundles, claims and run records live. A string
/// (`/path`, `dir:///path`, `etcd://host:2379,host:2379/prefix`) or an object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The store URL or directory path.
    pub url: String,
    /// etcd: CA certificate file for TLS.
    pub ca_file: Option<String>,
    /// etcd: client certificate file.
    pub cert_file: Option<String>,
    /// etcd: client key file.
    pub key_file: Option<String>,
    /// etcd: user name.
    pub user: Option<String>,
    /// etcd: environment variable holding the password (never printed).
    pub password_env: Option<String>,
    /// etcd: connect timeout (`connect_timeout_s` in the file, seconds).
    #[serde(
        rename = "connect_timeout_s",
        default,
        deserialize_with = "values::opt_secs"
    )]
    pub connect_timeout: Option<Duration>,
    /// etcd: per-request timeout (`request_timeout_s` in the file, seconds).
    #[serde(
        rename = "request_timeout_s",
        default,
        deserialize_with = "values::opt_secs"
    )]
    pub request_timeout: Option<Duration>,
    /// directory store: the group of every job user; `greaselaunch --init-store` makes the
    /// shared areas group-writable and setgid for it (else sticky and world-writable).
    pub group: Option<String>,
}

impl From<String> for StoreConfig {
    fn from(url: String) -> Self {
        StoreConfig {
            url,
            ..Default::default()
        }
    }
}

impl StoreConfig {
    /// A store given only by URL or path (from a flag or the environment).
    pub fn from_url(url: impl Into<String>) -> Self {
        StoreConfig {
            url: url.into(),
            ..Default::default()
        }
    }
}

/// What a worker does when it needs a claim and the store cannot be reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnStoreUnavailable {
    /// Do not run (never risk a duplicate); exit 75.
    #[default]
    Skip,
    /// Run anyway (a duplicate is better than a missed run for this farm).
    Run,
}

/// `funnel`: the per-slot claim.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Funnel {
    /// How long claims and declines are kept.
    #[serde(with = "serde_duration")]
    pub retention: Duration,
    /// How often a running winner refreshes its heartbeat.
    #[serde(with = "serde_duration")]
    pub heartbeat_interval: Duration,
    /// A claim whose heartbeat is older than this, without a final record, is `abandoned`.
    #[serde(with = "serde_duration")]
    pub abandon_after: Duration,
    /// What to do when the store cannot be reached for a claim.
    pub on_store_unavailable: OnStoreUnavailable,
}

impl Default for Funnel {
    fn default() -> Self {
        Funnel {
            retention: Duration::from_secs(3600),
            heartbeat_interval: Duration::from_secs(10),
            abandon_after: Duration::from_secs(60),
            on_store_unavailable: OnStoreUnavailable::Skip,
        }
    }
}

/// `snatch`: greasesnatch on a worker.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Snatch {
    /// Whether greasesnatch also takes requests from the farm queue and starts them here
    /// (`--no-pull` turns it off for one run).
    pub pull: bool,
}

impl Default for Snatch {
    fn default() -> Self {
        Snatch { pull: true }
    }
}

/// `web`: `greasestatus serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Web {
    /// The address to listen on (`--listen` wins).
    pub listen: String,
    /// The users file (`name:$argon2id$...` lines from `greasestatus passwd`); unset: no
    /// one can sign in, the pages are read-only.
    pub users: Option<String>,
}

impl Default for Web {
    fn default() -> Self {
        Web {
            listen: "127.0.0.1:8080".into(),
            users: None,
        }
    }
}

/// `history`: run records.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct History {
    /// How long run records are kept.
    #[serde(with = "serde_duration")]
    pub retention: Duration,
}

impl Default for History {
    fn default() -> Self {
        History {
            retention: Duration::from_secs(30 * 86400),
        }
    }
}
