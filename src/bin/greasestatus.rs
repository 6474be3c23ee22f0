//! greasestatus: what is scheduled on this worker and in the store, what ran and what it
//! printed. See `README.md`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use scalegrease::debugging::{runs, status};
use scalegrease::dispatch::schedule::{self, Zone};
use scalegrease::{Config, exit, store};

/// Show the scalegrease crontabs installed on this worker, grouped by project, with each
/// entry's next fire time (the default view), or another view named below.
///
/// Settings are taken from flags first, then environment variables, then the config
/// file, then built-in defaults. Exit codes: 0 success, 1 invalid schedule or no such run
/// (`log`), 2 usage, 69 store unavailable or without its marker (`projects`, `runs`,
/// `log`), 74 unreadable cron directory, 78 invalid config.
#[derive(Debug, Parser)]
#[command(name = "greasestatus", version)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    view: Option<View>,
}

/// Options every view takes.
#[derive(Debug, Args)]
struct Global {
    /// Print JSON for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Evaluate as if now were this time: RFC 3339 (2026-03-29T01:30:00Z), or
    /// "YYYY-MM-DD HH:MM" in the host's zone (for `next`, in --tz). Defaults to now.
    #[arg(long, value_name = "TIME", global = true)]
    at: Option<String>,
    /// The cron directory. Defaults to the config's launch.crontab_etc_crond, then
    /// /etc/cron.d.
    #[arg(long, value_name = "DIR", global = true)]
    cron_dir: Option<PathBuf>,
    /// The prefix of scalegrease's files in the cron directory. Defaults to the config's
    /// launch.crontab_unique_prefix, then "scalegrease".
    #[arg(long, value_name = "PREFIX", global = true)]
    prefix: Option<String>,
    /// The store: a directory path, dir:///path or etcd://host:port,.../prefix. Defaults
    /// to the config's `store`, then /var/lib/scalegrease/store.
    #[arg(long, value_name = "STORE", env = "SCALEGREASE_STORE", global = true)]
    store: Option<String>,
    /// The config file. Defaults to /etc/scalegrease.json (built-in defaults when it is
    /// missing).
    #[arg(long, value_name = "FILE", env = "SCALEGREASE_CONFIG", global = true)]
    config_file: Option<PathBuf>,
}

/// The views. Each is one variant with its own `Args` struct and one arm in `run`.
#[derive(Debug, Subcommand)]
enum View {
    /// Print the next fire times of a schedule, one RFC 3339 timestamp a line.
    Next(NextArgs),
    /// List the bundles in the store (project, crontab count, revision, launch time).
    Projects,
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

#[derive(Debug, Args)]
struct NextArgs {
    /// Five cron fields or an @ nickname, quoted as one argument, e.g. '30 2 * * mon-fri'.
    schedule: String,
    /// How many fire times to print.
    #[arg(long, value_name = "N", default_value_t = 5)]
    count: usize,
    /// The IANA time zone to evaluate in, e.g. Europe/Stockholm. Defaults to the host's
    /// (TZ, else /etc/timezone, else /etc/localtime).
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
}

/// Loads the config once, on first use (the `next` view needs none).
fn load_config(g: &Global) -> anyhow::Result<Config> {
    let c = Config::load_default(g.config_file.as_deref())?;
    for w in &c.warnings {
        eprintln!("greasestatus: warning: {w}");
    }
    Ok(c)
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn run() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    let g = &cli.global;
    match &cli.view {
        Some(View::Runs(a)) => return runs_view(g, a),
        Some(View::Log(a)) => return log_view(g, a),
        Some(View::Next(a)) => {
            let zone = match &a.tz {
                Some(t) => match Zone::named(t) {
                    Some(z) => z,
                    None => return usage(format!("unknown time zone {t:?} for --tz")),
                },
                None => Zone::host(),
            };
            let at = match parse_at(g, zone) {
                Ok(at) => at,
                Err(e) => return usage(e),
            };
            let times = status::next_times(&a.schedule, a.count, at, zone)?;
            if g.json {
                print_json(&times)?;
            } else {
                for t in times {
                    println!("{t}");
                }
            }
        }
        Some(View::Projects) => {
            let config = load_config(g)?;
            let s = store::open(&config.store_config(g.store.as_deref()))?;
            let bundles = status::bundles(s.as_ref())?;
            if g.json {
                print_json(&bundles)?;
            } else {
                status::print_bundles(&mut std::io::stdout(), &bundles)?;
            }
        }
        None => {
            let config = load_config(g)?;
            let at = match parse_at(g, Zone::host()) {
                Ok(at) => at,
                Err(e) => return usage(e),
            };
            let cron_dir = g
                .cron_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(&config.launch.crontab_etc_crond));
            let prefix = g
                .prefix
                .clone()
                .unwrap_or_else(|| config.launch.crontab_unique_prefix.clone());
            // The store only adds revisions, launch times and sync states: without it,
            // still show what is installed.
            let bundles = store::open(&config.store_config(g.store.as_deref()))
                .and_then(|s| status::bundle_map(s.as_ref()))
                .map_err(|e| {
                    eprintln!(
                        "greasestatus: warning: {e}; revisions, launch times and sync states are not shown"
                    )
                })
                .ok();
            let projects =
                status::installed(&cron_dir, &prefix, bundles.as_ref(), at, Zone::host())?;
            if g.json {
                print_json(&serde_json::json!({
                    "at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "cron_dir": cron_dir,
                    "projects": projects,
                }))?;
            } else {
                status::print_installed(&mut std::io::stdout(), &projects)?;
            }
        }
    }
    Ok(exit::OK)
}

fn parse_at(g: &Global, zone: Zone) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match &g.at {
        None => Ok(chrono::Utc::now()),
        Some(t) => schedule::parse_time(t, zone).map_err(|e| format!("--at: {e}")),
    }
}

fn open_store(g: &Global, c: &Config) -> anyhow::Result<Box<dyn store::Store>> {
    let s = store::open(&c.store_config(g.store.as_deref()))?;
    s.check()?;
    Ok(s)
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
    let job = match a.job.as_deref().map(|q| runs::find_job(s.as_ref(), q)) {
        None => None,
        Some(Ok(j)) => Some(j),
        // Nothing ran yet under that name: an empty history, not an error.
        Some(Err(runs::ViewError::NoRun { job, .. })) => Some(job),
        Some(Err(e @ runs::ViewError::Ambiguous { .. })) => {
            eprintln!("greasestatus: error: {e}");
            return Ok(exit::FAILURE);
        }
        Some(Err(e)) => return Err(e.into()),
    };
    let list = runs::runs(s.as_ref(), &config, job.as_deref(), since, now)?;
    if g.json {
        println!("{}", runs::json(&list));
    } else {
        print!("{}", runs::table(&list));
    }
    Ok(exit::OK)
}

fn log_view(g: &Global, a: &LogArgs) -> anyhow::Result<i32> {
    let config = load_config(g)?;
    let slot = match a.slot.as_deref().map(scalegrease::model::slot::Slot::parse) {
        Some(Err(e)) => return usage(format!("--slot: {e}")),
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let s = open_store(g, &config)?;
    let job = runs::find_job(s.as_ref(), &a.job);
    match job.and_then(|j| runs::log(s.as_ref(), &config, &j, slot, chrono::Utc::now())) {
        Ok(view) => {
            eprintln!("greasestatus: {}", view.header());
            std::io::stdout().write_all(&view.text)?;
            Ok(exit::OK)
        }
        Err(e @ (runs::ViewError::NoRun { .. } | runs::ViewError::Ambiguous { .. })) => {
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
    scalegrease::error::finish("greasestatus", run())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
