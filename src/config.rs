//! The worker and laptop configuration, `/etc/scalegrease.json` by default.
//!
//! The file is JSON, as in the original scalegrease, and its keys keep working
//! (`LuigiRunner.command`, `HadoopRunner.command`, `common.file_logger`,
//! `launch.crontab_etc_crond`, `launch.crontab_unique_prefix`). Keys that no longer apply
//! (`launcher_class`, `extra_runners`, `zookeeper`, `kafka_launcher_topic`) are ignored
//! with one warning each; other unknown keys get a warning too, so a typo does not pass
//! silently. `$VAR`, `${VAR}` and a leading `~/` are expanded in string values after
//! parsing, so syntax and type errors point at the file's own line and column.
//!
//! Precedence everywhere: command-line flag > environment variable > this file > default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::util::{duration::serde_duration, env};

/// The default config file location.
pub const DEFAULT_PATH: &str = "/etc/scalegrease.json";
/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "SCALEGREASE_CONFIG";
/// The environment variable naming the store (overrides the config's `store`).
pub const STORE_ENV: &str = "SCALEGREASE_STORE";
/// The default store location when neither flag, environment nor config names one.
pub const DEFAULT_STORE: &str = "/var/lib/scalegrease/store";

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source} (pass --config-file or set {CONFIG_ENV})")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: invalid config: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: invalid config value for {key}: {message}")]
    Value {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// The whole configuration. Every section has defaults, so `{}` is a valid config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where this config was read from (`None` for built-in defaults).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Warnings found while reading (legacy or unknown keys), one line each.
    #[serde(skip)]
    pub warnings: Vec<String>,
    pub common: Common,
    pub launch: Launch,
    pub maven: Maven,
    pub guard: Guard,
    pub runners: BTreeMap<String, RunnerDef>,
    #[serde(rename = "LuigiRunner")]
    pub luigi_runner: LegacyRunner,
    #[serde(rename = "HadoopRunner")]
    pub hadoop_runner: LegacyRunner,
    pub store: Option<StoreConfig>,
    pub funnel: Funnel,
    pub history: History,
}

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
    /// Users crontab entries may run as. Empty: any existing user but root.
    pub allowed_users: Vec<String>,
    /// Whether entries may run as root.
    pub allow_root: bool,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            crontab_etc_crond: "/etc/cron.d".into(),
            crontab_unique_prefix: "scalegrease".into(),
            allowed_users: Vec::new(),
            allow_root: false,
        }
    }
}

/// `maven`: where artifacts come from and where they are cached.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Maven {
    /// Repositories in the order they are asked.
    pub repositories: Vec<Repository>,
    /// The local cache, in Maven layout (shared with the user's Maven by default).
    pub cache_dir: String,
    /// Connect timeout.
    #[serde(with = "serde_duration")]
    pub connect_timeout: Duration,
    /// Timeout for one whole request (metadata or a download's idle read).
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
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
            attempts: 4,
        }
    }
}

/// One Maven repository: a bare URL string, or an object with credentials. Credentials
/// come from the environment or a file, never from this config's text, and are never
/// printed.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RepositoryRaw")]
pub struct Repository {
    /// `http://`, `https://` or `file://` base URL.
    pub url: String,
    /// Environment variable holding the user name.
    pub username_env: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding `user:password` on its first line.
    pub credentials_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RepositoryRaw {
    Url(String),
    Full {
        url: String,
        #[serde(default)]
        username_env: Option<String>,
        #[serde(default)]
        password_env: Option<String>,
        #[serde(default)]
        credentials_file: Option<String>,
    },
}

impl From<RepositoryRaw> for Repository {
    fn from(raw: RepositoryRaw) -> Self {
        match raw {
            RepositoryRaw::Url(url) => Repository {
                url,
                username_env: None,
                password_env: None,
                credentials_file: None,
            },
            RepositoryRaw::Full {
                url,
                username_env,
                password_env,
                credentials_file,
            } => Repository {
                url,
                username_env,
                password_env,
                credentials_file,
            },
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
    /// The random delay before a cron-started run, at most this many seconds.
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
    /// substituted (see the README's runner section). For `luigi` and `hadoop` this
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
#[serde(from = "StoreRaw")]
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
    /// etcd: connect timeout.
    pub connect_timeout: Option<Duration>,
    /// etcd: per-request timeout.
    pub request_timeout: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StoreRaw {
    Url(String),
    Full {
        url: String,
        #[serde(default)]
        ca_file: Option<String>,
        #[serde(default)]
        cert_file: Option<String>,
        #[serde(default)]
        key_file: Option<String>,
        #[serde(default)]
        user: Option<String>,
        #[serde(default)]
        password_env: Option<String>,
        #[serde(default)]
        connect_timeout_s: Option<f64>,
        #[serde(default)]
        request_timeout_s: Option<f64>,
    },
}

impl From<StoreRaw> for StoreConfig {
    fn from(raw: StoreRaw) -> Self {
        match raw {
            StoreRaw::Url(url) => StoreConfig {
                url,
                ..Default::default()
            },
            StoreRaw::Full {
                url,
                ca_file,
                cert_file,
                key_file,
                user,
                password_env,
                connect_timeout_s,
                request_timeout_s,
            } => StoreConfig {
                url,
                ca_file,
                cert_file,
                key_file,
                user,
                password_env,
                connect_timeout: connect_timeout_s.map(Duration::from_secs_f64),
                request_timeout: request_timeout_s.map(Duration::from_secs_f64),
            },
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

/// Keys ignored with a warning: they configured parts of the original that no longer exist.
const LEGACY_KEYS: &[(&str, &str)] = &[
    ("", "extra_runners"),
    ("", "zookeeper"),
    ("launch", "launcher_class"),
    ("launch", "kafka_launcher_topic"),
];

/// Keys known per section (`""` is the top level), for unknown-key warnings.
const KNOWN_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "common",
            "launch",
            "maven",
            "guard",
            "runners",
            "LuigiRunner",
            "HadoopRunner",
            "store",
            "funnel",
            "history",
        ],
    ),
    ("common", &["file_logger", "hostname"]),
    (
        "launch",
        &[
            "crontab_etc_crond",
            "crontab_unique_prefix",
            "allowed_users",
            "allow_root",
        ],
    ),
    (
        "maven",
        &[
            "repositories",
            "cache_dir",
            "connect_timeout",
            "timeout",
            "attempts",
        ],
    ),
    (
        "guard",
        &[
            "max_load_per_cpu",
            "max_running",
            "min_available_memory_mb",
            "max_delay_s",
        ],
    ),
    (
        "funnel",
        &[
            "retention",
            "heartbeat_interval",
            "abandon_after",
            "on_store_unavailable",
        ],
    ),
    ("history", &["retention"]),
];

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Loads `path` if given, else `$SCALEGREASE_CONFIG`, else `/etc/scalegrease.json`.
    /// A missing default file means built-in defaults (with a warning); a missing file
    /// that was named explicitly is an error.
    pub fn load_default(path: Option<&Path>) -> Result<Config, ConfigError> {
        if let Some(p) = path {
            return Config::load(p);
        }
        if let Some(p) = std::env::var(CONFIG_ENV).ok().filter(|p| !p.is_empty()) {
            return Config::load(Path::new(&p));
        }
        let p = Path::new(DEFAULT_PATH);
        if p.exists() {
            return Config::load(p);
        }
        let mut c = Config::default();
        c.expand();
        c.warnings.push(format!(
            "no config file at {DEFAULT_PATH}: using built-in defaults"
        ));
        Ok(c)
    }

    /// Parses config text; `path` is used in messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let parse_err = |e: serde_json::Error| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        };
        let tree: serde_json::Value = serde_json::from_str(text).map_err(parse_err)?;
        let mut cfg: Config = serde_json::from_str(text).map_err(parse_err)?;
        cfg.source = Some(path.to_path_buf());
        cfg.warnings = key_warnings(&tree, path);
        cfg.expand();
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn expand(&mut self) {
        let opt = |v: &mut Option<String>| {
            if let Some(s) = v {
                *s = env::expand_path(s);
            }
        };
        opt(&mut self.common.file_logger);
        opt(&mut self.common.hostname);
        self.launch.crontab_etc_crond = env::expand_path(&self.launch.crontab_etc_crond);
        self.launch.crontab_unique_prefix = env::expand(&self.launch.crontab_unique_prefix);
        self.maven.cache_dir = env::expand_path(&self.maven.cache_dir);
        for r in &mut self.maven.repositories {
            r.url = env::expand(&r.url);
            opt(&mut r.credentials_file);
        }
        for r in self.runners.values_mut() {
            opt(&mut r.command);
        }
        opt(&mut self.luigi_runner.command);
        opt(&mut self.hadoop_runner.command);
        if let Some(s) = &mut self.store {
            s.url = env::expand_path(&s.url);
            opt(&mut s.ca_file);
            opt(&mut s.cert_file);
            opt(&mut s.key_file);
            opt(&mut s.user);
        }
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Value {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let p = &self.launch.crontab_unique_prefix;
        if p.is_empty()
            || !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(
                "launch.crontab_unique_prefix",
                format!(
                    "{p:?} must be non-empty and use only A-Z a-z 0-9 _ - (cron ignores other file names)"
                ),
            ));
        }
        if p.contains("__") {
            return Err(bad(
                "launch.crontab_unique_prefix",
                format!("{p:?} must not contain \"__\" (it separates the name's parts)"),
            ));
        }
        if self.guard.max_load_per_cpu.is_nan() || self.guard.max_load_per_cpu <= 0.0 {
            return Err(bad(
                "guard.max_load_per_cpu",
                "must be greater than 0".into(),
            ));
        }
        if self.guard.max_delay_s.is_nan() || self.guard.max_delay_s < 0.0 {
            return Err(bad("guard.max_delay_s", "must be 0 or more seconds".into()));
        }
        if self.maven.attempts == 0 {
            return Err(bad("maven.attempts", "must be at least 1".into()));
        }
        for r in &self.maven.repositories {
            if !(r.url.starts_with("http://")
                || r.url.starts_with("https://")
                || r.url.starts_with("file://"))
            {
                return Err(bad(
                    "maven.repositories",
                    format!("{:?} is not an http://, https:// or file:// URL", r.url),
                ));
            }
        }
        Ok(())
    }

    /// The store setting: `flag` > `$SCALEGREASE_STORE` > config `store` > [`DEFAULT_STORE`].
    pub fn store_config(&self, flag: Option<&str>) -> StoreConfig {
        if let Some(f) = flag {
            return self.store_with_url(f);
        }
        if let Some(e) = std::env::var(STORE_ENV).ok().filter(|e| !e.is_empty()) {
            return self.store_with_url(&e);
        }
        self.store
            .clone()
            .unwrap_or_else(|| StoreConfig::from_url(DEFAULT_STORE))
    }

    /// Keeps the configured TLS and credential options when only the URL is overridden.
    fn store_with_url(&self, url: &str) -> StoreConfig {
        let mut s = self.store.clone().unwrap_or_default();
        s.url = env::expand_path(url);
        s
    }

    /// The host name: `$SCALEGREASE_HOSTNAME` > `common.hostname` > the system's.
    pub fn hostname(&self) -> String {
        crate::util::host::hostname(self.common.hostname.as_deref())
    }
}

/// serde_json appends " at line L column C"; we print the position in front instead.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn key_warnings(tree: &serde_json::Value, path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Some(top) = tree.as_object() else {
        return out;
    };
    let mut check = |section: &str, obj: &serde_json::Map<String, serde_json::Value>| {
        let known = KNOWN_KEYS
            .iter()
            .find(|(s, _)| *s == section)
            .map(|(_, k)| *k)
            .unwrap_or(&[]);
        for key in obj.keys() {
            let dotted = if section.is_empty() {
                key.clone()
            } else {
                format!("{section}.{key}")
            };
            if LEGACY_KEYS.iter().any(|(s, k)| *s == section && k == key) {
                out.push(format!(
                    "{}: ignoring {dotted}: it configured a part of the original scalegrease that no longer exists",
                    path.display()
                ));
            } else if !known.contains(&key.as_str()) {
                out.push(format!("{}: ignoring unknown key {dotted}", path.display()));
            }
        }
    };
    check("", top);
    for (section, _) in KNOWN_KEYS.iter().filter(|(s, _)| !s.is_empty()) {
        if let Some(obj) = top.get(*section).and_then(|v| v.as_object()) {
            check(section, obj);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_gives_defaults() {
        let c = Config::parse("{}", Path::new("c.json")).unwrap();
        assert_eq!(c.launch.crontab_etc_crond, "/etc/cron.d");
        assert_eq!(c.guard.max_delay_s, 60.0);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let err = Config::parse(
            "{\n  \"guard\": {\n    \"max_running\": ,\n",
            Path::new("c.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("c.json:3:20: invalid config"), "{err}");
    }

    #[test]
    fn type_error_names_line_and_column() {
        let err = Config::parse("{\"guard\": {\"max_running\": \"x\"}}", Path::new("c.json"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.json:1:"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn legacy_and_unknown_keys_warn_once_each() {
        let text = r#"{"extra_runners": [], "zookeeper": "zk:2181",
            "launch": {"launcher_class": "x", "kafka_launcher_topic": "t"},
            "guard": {"max_runing": 3}}"#;
        let c = Config::parse(text, Path::new("c.json")).unwrap();
        assert_eq!(c.warnings.len(), 5, "{:?}", c.warnings);
        assert!(c.warnings.iter().any(|w| w.contains("guard.max_runing")));
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("launch.launcher_class"))
        );
    }

    #[test]
    fn legacy_runner_keys_and_durations() {
        let text = r#"{"LuigiRunner": {"command": "luigi --local-scheduler"},
            "HadoopRunner": {"command": "hadoop jar"},
            "funnel": {"retention": "2h", "abandon_after": 30},
            "store": {"url": "etcd://a:2379/sg", "request_timeout_s": 2}}"#;
        let c = Config::parse(text, Path::new("c.json")).unwrap();
        assert_eq!(
            c.luigi_runner.command.as_deref(),
            Some("luigi --local-scheduler")
        );
        assert_eq!(c.funnel.retention, Duration::from_secs(7200));
        assert_eq!(c.funnel.abandon_after, Duration::from_secs(30));
        let s = c.store.unwrap();
        assert_eq!(s.url, "etcd://a:2379/sg");
        assert_eq!(s.request_timeout, Some(Duration::from_secs(2)));
    }

    #[test]
    fn bad_prefix_is_rejected() {
        let err = Config::parse(
            r#"{"launch": {"crontab_unique_prefix": "a.b"}}"#,
            Path::new("c.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("launch.crontab_unique_prefix"), "{err}");
    }
}
