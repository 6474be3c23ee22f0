//! greasestatus: what is scheduled on this worker and in the store, what ran and what it
//! printed. Parses arguments (time zones, times and slots are validated by
//! `scalegrease::cli::status`), calls the library's views, prints what they return; the
//! exit code comes with the error (`scalegrease::error::Failure`). See `docs/cli.md`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use scalegrease::Config;
use scalegrease::cli::{self, Common, CommonArgs};
use scalegrease::debugging::{queue, runs, status};
use scalegrease::dispatch::schedule::Zone;
use scalegrease::error::Failure;
use scalegrease::exit::{self, Tool};
use scalegrease::farm::ledger;
use scalegrease::{cli::status as args, store};

/// Show the scalegrease crontabs installed on this worker, grouped by project, with each
/// entry's next fire time (the default view), or another view named below. Every view
/// prints JSON with --json.
#[derive(Debug, Parser)]
#[command(name = "greasestatus", version, after_help = after_help())]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    view: Option<View>,
}

/// `--help`'s text after the options: precedence and the exit-code table.
fn after_help() -> String {
    format!("{}\n\n{}", cli::PRECEDENCE, exit::help(Tool::Status))
}

/// Options every view takes.
#[derive(Debug, Args)]
struct Global {
    #[arg(long, global = true, help = cli::JSON_HELP)]
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
}

/// The views. Each is one variant with its own `Args` struct and one arm in `run`.
#[derive(Debug, Subcommand)]
enum View {
    /// Print the next fire times of a schedule, one RFC 3339 timestamp a line.
    Next(NextArgs),
    /// List the bundles in the store (project, crontab count, revision, launch time).
    Projects,
    /// Run history, newest first: slot, status (running, succeeded, failed, abandoned,
    /// dropped, skipped, cancelled; declined while a slot nobody claimed is not yet
    /// dropped), host, duration, exit status, version, who requested it (`#<attempt>
    /// <user@host>` for runs of the farm queue), job and a note.
    Runs(RunsArgs),
    /// The farm queue now: requests waiting for a worker (id, job, slot, attempt, kind,
    /// requested by and at, not before, deadline) and those in flight (the host that took
    /// each, its phase). With --json: {"pending", "in_flight", "garbled"}.
    Queue(QueueArgs),
    /// The output of one run (the latest by default), from the store or the shared log
    /// directory; the run's host and status go to stderr. With --json, one object:
    /// {"header", "source", "path", "run", "text"}.
    Log(LogArgs),
    /// The slot ledger: every slot each published entry's schedule fired at (and any
    /// other slot its job ran in, marked *), oldest first, with its state (queued,
    /// running, succeeded, failed, skipped, declined, dropped, abandoned, cancelled,
    /// missing once its --missing-after grace passed unclaimed, due before), host,
    /// duration, exit, attempt and alerts. See docs/ledger.md.
    Ledger(LedgerArgs),
    /// Serve the status web page over the store (farm, job and run pages, a JSON API under
    /// /api and Prometheus metrics at /metrics) until SIGINT or SIGTERM. Read-only unless
    /// a users file is configured (web.users): signed-in users get Run now and Rerun slot.
    /// See docs/web.md.
    Serve(ServeArgs),
    /// Print a users-file line (NAME:$argon2id$...) for the password read from the first
    /// line of standard input (not echoed on a terminal); append it to the web.users file.
    Passwd(PasswdArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The address and port to listen on. Default: the config's web.listen, then
    /// 127.0.0.1:8080 (this host only); 0.0.0.0:8080 serves every interface.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
}

#[derive(Debug, Args)]
struct PasswdArgs {
    /// The user's name (no ':').
    name: String,
}

#[derive(Debug, Args)]
struct LedgerArgs {
    /// Only this job (its exact name, else every published job whose name contains it).
    job: Option<String>,
    /// From this slot on: a time (2026-11-23T03:00, local; or RFC 3339) or an age (90m,
    /// 2d).
    #[arg(long, value_name = "TIME|AGE", default_value = "7d")]
    since: String,
}

#[derive(Debug, Args)]
struct RunsArgs {
    /// Only this job (its --job name, or the derived name `greasestatus runs` shows).
    job: Option<String>,
    /// Only slots from this time on: a time (2026-11-23T03:00, local; or RFC 3339) or an
    /// age (90m, 2d). Default: all history kept (history.retention, 30 days by default).
    #[arg(long, value_name = "TIME|AGE")]
    since: Option<String>,
    /// Only the latest run of each job (of JOB, with one), read from its newest slot.
    #[arg(long, conflicts_with = "since")]
    latest: bool,
}

#[derive(Debug, Args)]
struct QueueArgs {
    /// Only requests whose job name contains this.
    job: Option<String>,
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

fn print_json(v: &impl serde::Serialize) -> Result<(), Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(Failure::software)?
    );
    Ok(())
}

fn run() -> Result<i32, Failure> {
    let cli = Cli::parse();
    let common = cli.common.start(Tool::Status);
    let g = &cli.global;
    match &cli.view {
        Some(View::Runs(a)) => runs_view(&common, g, a)?,
        Some(View::Log(a)) => log_view(&common, g, a)?,
        Some(View::Serve(a)) => serve_view(&common, a)?,
        Some(View::Passwd(a)) => passwd(a)?,
        Some(View::Ledger(a)) => {
            let config = common.config()?;
            let now = args::at(g.at.as_deref(), Zone::host())?;
            let since = args::since(Some(&a.since), now)?.expect("--since has a default");
            let s = open_store(&common, &config)?;
            let v = ledger::ledger(s.as_ref(), &config, a.job.as_deref(), since, now)?;
            if g.json {
                println!("{}", ledger::view::json(&v));
            } else {
                print!("{}", ledger::view::table(&v));
            }
        }
        Some(View::Queue(a)) => {
            let config = common.config()?;
            let s = open_store(&common, &config)?;
            let v = queue::queue(s.as_ref(), a.job.as_deref())?;
            if g.json {
                println!("{}", queue::json(&v));
            } else {
                print!("{}", queue::text(&v));
            }
        }
        Some(View::Next(a)) => {
            let zone = args::zone(a.tz.as_deref())?;
            let at = args::at(g.at.as_deref(), zone)?;
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
            let config = common.config()?;
            let s = store::open(&common.store_config(&config))?;
            let bundles = status::bundles(s.as_ref())?;
            if g.json {
                print_json(&bundles)?;
            } else {
                status::print_bundles(&mut std::io::stdout(), &bundles)?;
            }
        }
        None => installed_view(&common, g)?,
    }
    Ok(exit::OK)
}

/// The default view: what is installed in the cron directory.
fn installed_view(common: &Common, g: &Global) -> Result<(), Failure> {
    let config = common.config()?;
    let at = args::at(
        g.at.as_deref(),
        scalegrease::dispatch::schedule::Zone::host(),
    )?;
    let cron_dir = g
        .cron_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&config.launch.crontab_etc_crond));
    let prefix = g
        .prefix
        .clone()
        .unwrap_or_else(|| config.launch.crontab_unique_prefix.clone());
    // The store only adds revisions, launch times and sync states: without it, still
    // show what is installed.
    let bundles = store::open(&common.store_config(&config))
        .and_then(|s| status::bundle_map(s.as_ref()))
        .map_err(|e| tracing::warn!("{e}; revisions, launch times and sync states are not shown"))
        .ok();
    let zone = scalegrease::dispatch::schedule::Zone::host();
    let projects = status::installed(&cron_dir, &prefix, bundles.as_ref(), at, zone)?;
    if g.json {
        print_json(&serde_json::json!({
            "at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "cron_dir": cron_dir,
            "projects": projects,
        }))?;
    } else {
        status::print_installed(&mut std::io::stdout(), &projects)?;
    }
    Ok(())
}

fn open_store(common: &Common, c: &Config) -> Result<Box<dyn store::Store>, Failure> {
    let s = store::open(&common.store_config(c))?;
    s.check()?;
    Ok(s)
}

fn runs_view(common: &Common, g: &Global, a: &RunsArgs) -> Result<(), Failure> {
    let config = common.config()?;
    let now = chrono::Utc::now();
    let since = args::since(a.since.as_deref(), now)?;
    let s = open_store(common, &config)?;
    // A job the store does not know is an error, as for `log` (exit 1).
    let job = match a.job.as_deref() {
        Some(q) => Some(runs::find_job(s.as_ref(), q)?),
        None => None,
    };
    let list = match (a.latest, job.as_deref()) {
        (true, None) => runs::latest(s.as_ref(), &config, now)?,
        (true, Some(j)) => runs::latest_of(s.as_ref(), &config, j, now)?
            .into_iter()
            .collect(),
        (false, j) => runs::runs(s.as_ref(), &config, j, since, now)?,
    };
    if g.json {
        println!("{}", runs::json(&list));
    } else {
        print!("{}", runs::table(&list));
    }
    Ok(())
}

fn log_view(common: &Common, g: &Global, a: &LogArgs) -> Result<(), Failure> {
    let config = common.config()?;
    let slot = args::slot(a.slot.as_deref())?;
    let s = open_store(common, &config)?;
    let job = runs::find_job(s.as_ref(), &a.job)?;
    let view = runs::log(s.as_ref(), &config, &job, slot, chrono::Utc::now())?;
    let mut out = std::io::stdout().lock();
    if g.json {
        view.write_json(&mut out)?;
    } else {
        eprintln!("greasestatus: {}", view.header());
        view.write_to(&mut out)?;
    }
    out.flush()?;
    Ok(())
}

fn serve_view(common: &Common, a: &ServeArgs) -> Result<(), Failure> {
    let config = common.config()?;
    let opts = scalegrease::web::ServeOptions {
        listen: args::listen(a.listen.as_deref(), &config.web.listen)?,
        users: config.web.users.as_ref().map(PathBuf::from),
    };
    let s = open_store(common, &config)?;
    scalegrease::web::serve(s, config, &opts, |addr| {
        println!("greasestatus: serving http://{addr}/");
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}

fn passwd(a: &PasswdArgs) -> Result<(), Failure> {
    use std::io::{BufRead, IsTerminal};
    if a.name.is_empty() || a.name.contains(':') || a.name.contains(char::is_whitespace) {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "{:?}: a user name is not empty and has no ':' or spaces",
                a.name
            ),
        ));
    }
    let tty = std::io::stdin().is_terminal();
    let echo = |on: bool| {
        let _ = std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(std::process::Stdio::inherit())
            .status();
    };
    if tty {
        eprint!("password for {}: ", a.name);
        echo(false);
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if tty {
        echo(true);
        eprintln!();
    }
    read?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(Failure::new(exit::USAGE, "no password on standard input"));
    }
    let hash = scalegrease::web::auth::hash(password)?;
    println!("{}:{hash}", a.name);
    Ok(())
}

fn main() {
    let (code, message) = scalegrease::error::outcome(run());
    if let Some(m) = message {
        eprintln!("greasestatus: error: {m}");
    }
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
