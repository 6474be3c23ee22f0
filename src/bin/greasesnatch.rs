//! greasesnatch: install the crontabs of every bundle in the store into the cron
//! directory, on every worker, from cron, as root. See `README.md`.

use std::path::PathBuf;

use clap::Parser;
use scalegrease::dispatch::snatch::{self, Outcome, SnatchOptions};
use scalegrease::dispatch::watch as dispatch_watch;
use scalegrease::{Config, exit, store};

/// Install the crontabs of every bundle in the scalegrease store into the cron
/// directory, remove those of projects no longer in the store, and print one summary
/// line.
///
/// Every bundle's digest, lines and users are checked again; a bundle that fails is
/// rejected and its project's installed files are kept. When the store is unavailable or
/// has no marker file, nothing in the cron directory changes. Settings are taken from
/// flags first, then environment variables, then the config file, then built-in
/// defaults. Exit codes: 0 success (also when another greasesnatch is running), 1 some
/// bundle rejected, 2 usage, 69 store unavailable or without its marker, 74 cron
/// directory not writable, 78 invalid config.
#[derive(Debug, Parser)]
#[command(name = "greasesnatch", version)]
struct Cli {
    /// Print what would be installed, updated and removed, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Wait for a greasesnatch already running on the same cron directory instead of
    /// leaving at once.
    #[arg(long)]
    wait: bool,
    /// Stay running and apply every change to the bundles as soon as it is published
    /// (within a second: etcd pushes changes; the directory store is re-read every
    /// second), and re-check everything every 5 minutes. Store failures are reported
    /// once and retried every second; they never end the watch. Only a summary line for
    /// rounds that changed or rejected something is printed.
    #[arg(long, conflicts_with = "dry_run")]
    watch: bool,
    /// The cron directory. Defaults to the config's launch.crontab_etc_crond, then
    /// /etc/cron.d.
    #[arg(long, value_name = "DIR")]
    cron_dir: Option<PathBuf>,
    /// The prefix of every file greasesnatch owns in the cron directory. Defaults to the
    /// config's launch.crontab_unique_prefix, then "scalegrease".
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// The store: a directory path, dir:///path or etcd://host:port,.../prefix. Defaults
    /// to the config's `store`, then /var/lib/scalegrease/store.
    #[arg(long, value_name = "STORE", env = "SCALEGREASE_STORE")]
    store: Option<String>,
    /// The config file. Defaults to /etc/scalegrease.json (built-in defaults when it is
    /// missing).
    #[arg(long, value_name = "FILE", env = "SCALEGREASE_CONFIG")]
    config_file: Option<PathBuf>,
}

fn run() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    let config = Config::load_default(cli.config_file.as_deref())?;
    for w in &config.warnings {
        eprintln!("greasesnatch: warning: {w}");
    }
    let prefix = cli
        .prefix
        .clone()
        .unwrap_or_else(|| config.launch.crontab_unique_prefix.clone());
    if prefix.is_empty()
        || scalegrease::dispatch::bundle::sanitize(&prefix) != prefix
        || prefix.contains("__")
    {
        anyhow::bail!("invalid --prefix {prefix:?}: use only A-Z a-z 0-9 _ - and no \"__\"");
    }
    let opts = SnatchOptions {
        cron_dir: cli
            .cron_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(&config.launch.crontab_etc_crond)),
        prefix,
        allowed_users: config.launch.allowed_users.clone(),
        allow_root: config.launch.allow_root,
        dry_run: cli.dry_run,
        wait: cli.wait,
    };
    let s = store::open(&config.store_config(cli.store.as_deref()))?;
    if cli.watch {
        watch(s.as_ref(), &opts);
    }
    let mut stderr = std::io::stderr();
    let mut stdout = std::io::stdout();
    let plan: &mut dyn std::io::Write = if cli.dry_run {
        &mut stdout
    } else {
        &mut stderr
    };
    match snatch::snatch(s.as_ref(), &opts, plan)? {
        Outcome::Busy(lock) => {
            eprintln!(
                "greasesnatch: another greasesnatch holds {}; leaving it to finish (pass --wait to wait)",
                lock.display()
            );
            Ok(exit::OK)
        }
        Outcome::Done(summary) => {
            let would = if cli.dry_run { "would be " } else { "" };
            println!("greasesnatch: {would}{summary}");
            Ok(if summary.rejected.is_empty() {
                exit::OK
            } else {
                exit::FAILURE
            })
        }
    }
}

/// `--watch`: rounds forever, printing what changed and each new failure once.
fn watch(s: &dyn store::Store, opts: &SnatchOptions) -> ! {
    let mut last_error: Option<String> = None;
    let mut first = true;
    let mut stderr = std::io::stderr();
    dispatch_watch::watch(s, opts, dispatch_watch::RESYNC, &mut stderr, |r| match r {
        Ok(summary) => {
            if last_error.take().is_some() {
                eprintln!("greasesnatch: store and cron directory usable again");
            }
            let changed = summary.installed + summary.updated + summary.removed > 0
                || !summary.rejected.is_empty();
            if changed || first {
                println!("greasesnatch: {summary}");
            }
            first = false;
        }
        Err(e) => {
            let msg = format!("{e:#}");
            if last_error.as_deref() != Some(msg.as_str()) {
                eprintln!("greasesnatch: error: {msg} (retrying every second)");
                last_error = Some(msg);
            }
        }
    })
}

fn main() {
    scalegrease::error::finish("greasesnatch", run())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
