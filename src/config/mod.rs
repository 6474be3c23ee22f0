//! The worker and laptop configuration, `/etc/scalegrease.json` by default.
//!
//! The file is JSON, as in the original scalegrease, and its keys keep working
//! (`LuigiRunner.command`, `HadoopRunner.command`, `common.file_logger`,
//! `launch.crontab_etc_crond`, `launch.crontab_unique_prefix`). Keys that no longer apply
//! (`launcher_class`, `extra_runners`, `zookeeper`, `kafka_launcher_topic`) are ignored
//! with one warning each; other unknown keys get a warning too, so a typo does not pass
//! silently. `$VAR`, `${VAR}` and a leading `~/` are expanded in string values after
//! parsing, so syntax and type errors point at the file's own line and column; an
//! undefined variable is an error at its line and column, never a literal path. The file
//! must hold one JSON object (a leading UTF-8 BOM is skipped); errors name the key path
//! (`guard.max_delay_s: expected a number`) and every value is bounded (durations by
//! [`crate::util::duration::CONFIG`], `guard.max_delay_s` to a day), so a huge number is
//! an error, never a panic later.
//!
//! Precedence everywhere: command-line flag > environment variable > this file > default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::util::env;
use message::{find_var, kind, plain, position, strip_position};

mod alerts;
mod expand;
mod keys;
mod message;
mod sections;
mod values;

pub use alerts::{AlertFormat, Alerts, ProjectAlerts};
pub use sections::*;

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
    #[error("cannot read config file {path}: {cause} (pass --config-file or set {CONFIG_ENV})")]
    Read {
        path: PathBuf,
        /// Shown in the message, so not exposed as `source()` (it would print twice).
        cause: std::io::Error,
    },
    #[error("{path}:{line}:{column}: invalid config: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid host name {value:?} from {from}: {message}")]
    Host {
        value: String,
        /// `SCALEGREASE_HOSTNAME` or the config file's `common.hostname`.
        from: String,
        message: String,
    },
    #[error("{path}: invalid config value for {key}: {message}")]
    Value {
        path: PathBuf,
        key: String,
        message: String,
    },
}

impl ConfigError {
    /// Every config error exits [`crate::exit::CONFIG`].
    pub fn exit_code(&self) -> i32 {
        crate::exit::CONFIG
    }
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
    #[serde(deserialize_with = "values::url_or_opt")]
    pub store: Option<StoreConfig>,
    pub funnel: Funnel,
    pub history: History,
    pub snatch: Snatch,
    pub alerts: Alerts,
    pub web: Web,
}

/// Checks a prefix for scalegrease's files in the cron directory (config
/// `launch.crontab_unique_prefix`, `--prefix`): non-empty, only `A-Z a-z 0-9 _ -` (cron
/// ignores other file names) and no `__` (it separates the parts of installed names).
pub fn check_prefix(p: &str) -> Result<(), String> {
    if p.is_empty()
        || !p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "{p:?} must be non-empty and use only A-Z a-z 0-9 _ - (cron ignores other file names)"
        ));
    }
    if p.contains("__") {
        return Err(format!(
            "{p:?} must not contain \"__\" (it separates the name's parts)"
        ));
    }
    Ok(())
}

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            cause: source,
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
        // The built-in defaults hold no variables.
        let _ = c.expand();
        c.check_hostname(p)?;
        c.warnings.push(format!(
            "no config file at {DEFAULT_PATH}: using built-in defaults"
        ));
        Ok(c)
    }

    /// Parses config text; `path` is used in messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let at = |(line, column): (usize, usize), message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let parse_err = |e: serde_json::Error| {
            at(
                (e.line(), e.column()),
                plain(&strip_position(&e.to_string())),
            )
        };
        let tree: serde_json::Value = serde_json::from_str(text).map_err(parse_err)?;
        if !tree.is_object() {
            let start = text.len() - text.trim_start().len();
            return Err(at(
                position(text, start),
                format!("expected a JSON object ({{...}}), found {}", kind(&tree)),
            ));
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let mut cfg: Config = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let msg = plain(&strip_position(&inner.to_string()));
            let msg = if key == "." {
                msg
            } else {
                format!("{key}: {msg}")
            };
            at((inner.line(), inner.column()), msg)
        })?;
        cfg.source = Some(path.to_path_buf());
        cfg.warnings = keys::key_warnings(&tree, path);
        cfg.expand()
            .map_err(|(key, name)| match find_var(text, &name) {
                Some(pos) => at(
                    position(text, pos),
                    format!("{key}: undefined environment variable {name}"),
                ),
                None => ConfigError::Value {
                    path: path.to_path_buf(),
                    key,
                    message: format!("undefined environment variable {name}"),
                },
            })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Value {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        check_prefix(&self.launch.crontab_unique_prefix)
            .map_err(|m| bad("launch.crontab_unique_prefix", m))?;
        self.check_hostname(path)?;
        if self.guard.max_load_per_cpu.is_nan() || self.guard.max_load_per_cpu <= 0.0 {
            return Err(bad(
                "guard.max_load_per_cpu",
                "must be greater than 0".into(),
            ));
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
                    format!(
                        "{:?} is not an http://, https:// or file:// URL",
                        crate::util::url::redact(&r.url)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `$SCALEGREASE_HOSTNAME` and `common.hostname`, when set, must be host names
    /// ([`crate::util::host::check_hostname`]): they become path components of the log.
    fn check_hostname(&self, path: &Path) -> Result<(), ConfigError> {
        use crate::util::host::{HOSTNAME_ENV, check_hostname};
        let env = std::env::var(HOSTNAME_ENV).ok().filter(|h| !h.is_empty());
        let conf = self.common.hostname.clone().filter(|h| !h.is_empty());
        for (value, from) in [
            (env, HOSTNAME_ENV.to_string()),
            (conf, format!("common.hostname in {}", path.display())),
        ] {
            if let Some(value) = value
                && let Err(message) = check_hostname(&value)
            {
                return Err(ConfigError::Host {
                    value,
                    from,
                    message,
                });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
    fn url_or_object_settings() {
        let text = r#"{"maven": {"repositories": ["file:///r1",
            {"url": "https://r2", "username_env": "U", "password_env": "P"}]},
            "store": "/srv/store"}"#;
        let c = Config::parse(text, Path::new("c.json")).unwrap();
        assert_eq!(c.maven.repositories[0].url, "file:///r1");
        assert_eq!(c.maven.repositories[1].password_env.as_deref(), Some("P"));
        assert_eq!(c.store.unwrap().url, "/srv/store");
        // An error inside the object keeps its position (an untagged enum would lose it).
        let err = Config::parse(
            "{\"maven\": {\"repositories\": [\n  {\"url\": \"https://r\", \"pasword_env\": \"P\"}]}}",
            Path::new("c.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("c.json:2:"), "{err}");
        assert!(err.contains("pasword_env"), "{err}");
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
