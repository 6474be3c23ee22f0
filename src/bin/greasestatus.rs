//! greasestatus: what ran, where, and what it printed. See `docs/readme/funnel.md`.
//!
//! The `runs` and `log` views; each is one variant with its own `Args` struct, one arm in
//! `run` and one small function, so other views merge in beside them.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use scalegrease::debugging::runs;
use scalegrease::{Config, exit, store};

/// Show the farm's run history and logs from the store, whichever worker ran the job.
///
/// Settings are taken from flags first, then environment variables, then the config
/// file, then built-in defaults. Exit codes: 0 success, 1 no such run, 2 usage, 69 store
/// unavailable or without its marker, 78 invalid config.
#[derive(Debug, Parser)]
#[command(name = "greasestatus", version)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    view: View,
}

/// Options every view takes.
#[derive(Debug, Args)]
struct Global {
    /// Print JSON for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The store: a directory path, dir:///path or etcd://host:port,.../prefix. Defaults
    /// to the config's `store`, then /var/lib/scalegrease/store.
    #[arg(long, value_name = "STORE", env = "SCALEGREASE_STORE", global = true)]
    store: Option<String>,
    /// The config file. Defaults to /etc/scalegrease.json (built-in defaults when it is
    /// missing).
    #[arg(long, value_name = "FILE", env = "SCALEGREASE_CONFIG", global = true)]
    config_file: Option<PathBuf>,
}

/// The views.
#[derive(Debug, Subcommand)]
enum View {
    /// Run history, newest first: slot, status (running, succeeded, failed, abandoned,
    /// dropped, skipped; declined while a slot nobody claimed is not yet dropped), host,
    /// duration, exit status, version, job and a note.
    Runs(RunsArgs),
    /// The output of one run (the latest by default), from the store or the shared log
    /// directory; the run's host and status go to stderr.
    Log(LogArgs),
}

#[derive(Debug, Args)]
struct RunsArgs {
    /// Only this job (its --job name, or the derived name `greasestatus runs` shows).
    job: Option<String>,
    /// Only slots from this time on: a time (2026-11-23T03:00, local; or RFC 3339) or an
    /// age (90m, 2d). Default: all history kept (history.retention, 30 days by default).
    #[arg(long, value_name = "TIME|AGE")]
    since: Option<String>,
}

#[derive(Debug, Args)]
struct LogArgs {
    /// The job.
    job: String,
    /// The run's slot (local time or RFC 3339). Default: the latest run.
    #[arg(long, value_name = "TIME")]
    slot: Option<String>,
}

fn load_config(g: &Global) -> anyhow::Result<Config> {
    let c = Config::load_default(g.config_file.as_deref())?;
    for w in &c.warnings {
        eprintln!("greasestatus: warning: {w}");
    }
    Ok(c)
}

fn open_store(g: &Global, c: &Config) -> anyhow::Result<Box<dyn store::Store>> {
    let s = store::open(&c.store_config(g.store.as_deref()))?;
    s.check()?;
    Ok(s)
}

fn run() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    let g = &cli.global;
    match &cli.view {
        View::Runs(a) => runs_view(g, a),
        View::Log(a) => log_view(g, a),
    }
}

fn runs_view(g: &Global, a: &RunsArgs) -> anyhow::Result<i32> {
    let config = load_config(g)?;
    let now = chrono::Utc::now();
    let since = match a.since.as_deref().map(|s| runs::parse_since(s, now)) {
        Some(Err(e)) => return usage(e.to_string()),
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let s = open_store(g, &config)?;
    let list = runs::runs(s.as_ref(), &config, a.job.as_deref(), since, now)?;
    if g.json {
        println!("{}", runs::json(&list));
    } else {
        print!("{}", runs::table(&list));
    }
    Ok(exit::OK)
}

fn log_view(g: &Global, a: &LogArgs) -> anyhow::Result<i32> {
    let config = load_config(g)?;
    let slot = match a
        .slot
        .as_deref()
        .map(scalegrease::arbitration::slot::Slot::parse)
    {
        Some(Err(e)) => return usage(format!("--slot: {e}")),
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let s = open_store(g, &config)?;
    match runs::log(s.as_ref(), &config, &a.job, slot, chrono::Utc::now()) {
        Ok(view) => {
            eprintln!("greasestatus: {}", view.header());
            std::io::stdout().write_all(&view.text)?;
            Ok(exit::OK)
        }
        Err(e @ runs::ViewError::NoRun { .. }) => {
            eprintln!("greasestatus: error: {e}");
            Ok(exit::FAILURE)
        }
        Err(runs::ViewError::Store(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}

/// A bad value that clap could not check: printed once, exit 2.
fn usage(msg: String) -> anyhow::Result<i32> {
    eprintln!("greasestatus: error: {msg}");
    Ok(exit::USAGE)
}

fn main() {
    let code = run().unwrap_or_else(|e| {
        eprintln!("greasestatus: error: {e:#}");
        scalegrease::error::exit_code_of(&e)
    });
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
