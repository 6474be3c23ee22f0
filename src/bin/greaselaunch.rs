//! greaselaunch: validate a job project's crontabs and publish them as one bundle to the
//! store, from the project's CI after a push. See `README.md`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use scalegrease::dispatch::launch::{self, LaunchOptions, Mode};
use scalegrease::{Config, exit, store};

/// Validate a project's crontab files and publish them as one bundle to the scalegrease
/// store, where greasesnatch on every worker picks them up.
///
/// Settings are taken from flags first, then environment variables, then the config
/// file, then built-in defaults. Exit codes: 0 success, 1 invalid crontabs or no crontab
/// files, 2 usage, 65 invalid pom.xml or scalegrease.toml, 66 no project identity,
/// 69 store unavailable or without its marker, 78 invalid config.
#[derive(Debug, Parser)]
#[command(name = "greaselaunch", version)]
struct Cli {
    /// The project root, holding pom.xml or scalegrease.toml. Defaults to the current
    /// directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    project_dir: PathBuf,
    /// The project's Maven group. Defaults to scalegrease.toml's `group`, then pom.xml's
    /// groupId (or its parent's).
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// The project's Maven artifact. Defaults to scalegrease.toml's `artifact`, then
    /// pom.xml's artifactId.
    #[arg(long, value_name = "ARTIFACT")]
    artifact: Option<String>,
    /// Which files are crontabs, relative to the project root; `*` stays within a
    /// directory and `**` crosses directories. Defaults to scalegrease.toml's
    /// `cron_glob`, then src/main/cron/*.cron.
    #[arg(long, value_name = "GLOB")]
    cron_glob: Option<String>,
    /// Publish even when no crontab file matches; this removes the project's jobs from
    /// every worker. Off by default.
    #[arg(long)]
    allow_empty: bool,
    /// Only validate (for pull-request CI); nothing is published and no store is needed.
    #[arg(long, conflicts_with_all = ["dry_run", "init_store"])]
    check: bool,
    /// Validate and show what would be published, without publishing.
    #[arg(long, conflicts_with = "init_store")]
    dry_run: bool,
    /// Create the store (write its marker file) if it does not exist yet, then exit.
    #[arg(long)]
    init_store: bool,
    /// The source revision to record. Defaults to `git rev-parse HEAD` in the project
    /// root when that works.
    #[arg(long, value_name = "REV")]
    revision: Option<String>,
    /// The store: a directory path, dir:///path or etcd://host:port,.../prefix. Defaults
    /// to the config's `store`, then /var/lib/scalegrease/store.
    #[arg(long, value_name = "STORE", env = "SCALEGREASE_STORE")]
    store: Option<String>,
    /// The config file. Defaults to /etc/scalegrease.json (built-in defaults when it is
    /// missing).
    #[arg(long, value_name = "FILE", env = "SCALEGREASE_CONFIG")]
    config_file: Option<PathBuf>,
}

impl Cli {
    fn options(&self) -> LaunchOptions {
        let host = scalegrease::util::host::hostname(None);
        LaunchOptions {
            project_dir: self.project_dir.clone(),
            group: self.group.clone(),
            artifact: self.artifact.clone(),
            cron_glob: self.cron_glob.clone(),
            allow_empty: self.allow_empty,
            mode: if self.check {
                Mode::Check
            } else if self.dry_run {
                Mode::DryRun
            } else {
                Mode::Publish
            },
            revision: self.revision.clone(),
            launched_by: format!("{}@{host}", scalegrease::util::host::user_name()),
        }
    }
}

fn run() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    let opts = cli.options();
    let config = || -> anyhow::Result<Config> {
        let c = Config::load_default(cli.config_file.as_deref())?;
        for w in &c.warnings {
            eprintln!("greaselaunch: warning: {w}");
        }
        Ok(c)
    };
    if cli.init_store {
        let cfg = config()?.store_config(cli.store.as_deref());
        let s = store::open(&cfg)?;
        s.init()?;
        println!("greaselaunch: store {} is ready", s.location());
        return Ok(exit::OK);
    }
    let mut stderr = std::io::stderr();
    let (resolved, bundle) = launch::prepare(&opts, &mut stderr)?;
    let what = format!(
        "{} ({} crontab file(s), revision {})",
        resolved.project,
        bundle.crontabs.len(),
        bundle.revision.as_deref().unwrap_or("unknown")
    );
    match opts.mode {
        Mode::Check => {
            println!("greaselaunch: {what} is valid");
        }
        Mode::DryRun => {
            let cfg = config()?.store_config(cli.store.as_deref());
            for c in &bundle.crontabs {
                let entries = scalegrease::dispatch::crontab::parse(&c.content)
                    .entries()
                    .count();
                println!("  {} ({entries} entries)", c.name);
            }
            let to = scalegrease::util::url::redact(&cfg.url);
            println!("greaselaunch: would publish {what} to {to}");
        }
        Mode::Publish => {
            let cfg = config()?.store_config(cli.store.as_deref());
            let s = store::open(&cfg)?;
            if launch::is_new_dir_store(&cfg) {
                s.init()?;
            }
            launch::publish(s.as_ref(), &bundle)
                .with_context(|| format!("publishing {}", resolved.project))?;
            println!(
                "greaselaunch: published {what} to {} ({})",
                s.location(),
                bundle.digest
            );
        }
    }
    Ok(exit::OK)
}

fn main() {
    scalegrease::error::finish("greaselaunch", run())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
