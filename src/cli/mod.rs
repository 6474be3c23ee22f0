//! The command line the five tools share. [`CommonArgs`] defines, once, the options every
//! binary takes (`-c/--config-file`, `--store`, `-v/--verbose`, `-q/--quiet`); each binary
//! flattens it into its own clap struct (`#[command(flatten)]`) and turns it into a
//! [`Common`] with [`CommonArgs::start`], which installs logging the one way every tool
//! logs. Precedence everywhere: a flag beats its environment variable, which beats the
//! config file, which beats the built-in default. Also here: [`JSON_HELP`], the one help
//! text of every `--json` flag, and [`PRECEDENCE`], the sentence every `--help` ends with.
//! [`status`] validates greasestatus's own values (time zone, times, slots).

pub mod greaserun;
pub mod status;

use std::path::PathBuf;

use clap::Args;

use crate::config::{Config, ConfigError, StoreConfig};
use crate::debugging::trace::{self, LogSink, Verbosity};
use crate::exit::Tool;

/// The help text of every tool's `--json` flag.
pub const JSON_HELP: &str =
    "Print JSON on stdout for scripts instead of text (one document; errors stay on stderr).";

/// The sentence on precedence that every tool's `--help` carries.
pub const PRECEDENCE: &str = "Precedence: a flag beats its environment variable, which beats the config file, which beats the default.";

/// The options every scalegrease tool takes, with the same meaning in each.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// The config file (JSON). Default: /etc/scalegrease.json, and built-in defaults when
    /// that default file is missing; a file named here must exist.
    #[arg(
        short = 'c',
        long,
        value_name = "FILE",
        env = crate::config::CONFIG_ENV,
        global = true
    )]
    pub config_file: Option<PathBuf>,

    /// The store: a directory path, dir:///path or etcd://host:port,.../prefix. Default:
    /// the config's `store`, then /var/lib/scalegrease/store.
    #[arg(long, value_name = "STORE", env = crate::config::STORE_ENV, global = true)]
    pub store: Option<String>,

    /// Say more on stderr: -v shows progress, -vv everything. Default: warnings and
    /// errors only. greaserun's log file always gets its progress messages.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Say only errors on stderr: no warnings, no progress, no summary line.
    #[arg(short, long, conflicts_with = "verbose", global = true)]
    pub quiet: bool,
}

/// The shared options, validated, with logging installed. Built once per process.
#[derive(Debug)]
pub struct Common {
    /// The tool running.
    pub tool: Tool,
    /// How much the tool says on stderr.
    pub verbosity: Verbosity,
    /// Where the tool's own messages also go once a log file is attached (greaserun).
    pub log: LogSink,
    config_file: Option<PathBuf>,
    store: Option<String>,
}

impl CommonArgs {
    /// Installs `tool`'s logging (stderr, filtered by `-v`/`-q`) and returns the
    /// validated options. Call once, first thing in `main`, right after parsing.
    pub fn start(&self, tool: Tool) -> Common {
        let verbosity = Verbosity::from_flags(self.quiet, self.verbose);
        Common {
            tool,
            verbosity,
            log: trace::init(tool.name(), verbosity),
            config_file: self.config_file.clone(),
            store: self.store.clone(),
        }
    }
}

impl Common {
    /// `-q` was given.
    pub fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    /// Loads the config: `-c`, else `SCALEGREASE_CONFIG`, else the default path (built-in
    /// defaults when that file is missing). Its warnings are logged.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let c = Config::load_default(self.config_file.as_deref())?;
        for w in &c.warnings {
            tracing::warn!("{w}");
        }
        Ok(c)
    }

    /// The store setting: `--store` (or `SCALEGREASE_STORE`), else the config's, else the
    /// default.
    pub fn store_config(&self, config: &Config) -> StoreConfig {
        config.store_config(self.store.as_deref())
    }

    /// The store given on the command line or in the environment, if any.
    pub fn store_flag(&self) -> Option<&str> {
        self.store.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Probe {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn the_shared_options_are_consistent_and_parse() {
        Probe::command().debug_assert();
        let p = Probe::try_parse_from(["t", "-c", "x.json", "--store", "/s", "-vv"]).unwrap();
        assert_eq!(p.common.config_file, Some(PathBuf::from("x.json")));
        assert_eq!(p.common.store.as_deref(), Some("/s"));
        assert_eq!(p.common.verbose, 2);
        assert!(Probe::try_parse_from(["t", "-q", "-v"]).is_err());
    }
}
