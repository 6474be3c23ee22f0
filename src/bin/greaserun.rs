//! greaserun: run one job (resolve its jar, guard the host, run it with a runner, log it).
//! Parses arguments, calls `scalegrease::run`, maps the result to an exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use scalegrease::Config;
use scalegrease::arbitration::session::SlotOptions;
use scalegrease::arbitration::slot::{Period, Slot};
use scalegrease::debugging::trace::{self, Verbosity};
use scalegrease::run::RunOptions;
use scalegrease::util::duration;

const AFTER_HELP: &str = "\
Precedence: a flag beats its environment variable, which beats the config file, which beats the default.

Exit status:
  the job's own   the job ran and exited with it (a backfill: its first failure's)
  0               also: the slot was already claimed by another worker, or skipped because
                  its --skip-if-exists outputs exist
  128+n           the job was killed by signal n
  2               bad usage: unknown option or runner, malformed coordinates
  65              bad data: checksum mismatch, unreadable jar
  66              the artifact does not exist (local path or in every repository)
  69              the artifact repository is unreachable and nothing usable is cached
  70              internal error (a bug in greaserun)
  71              an operating-system error (fork, temp dir)
  74              an I/O error writing the artifact cache
  75              dropped: the overload guard refused the run (the slot is declined and cron
                  retries next slot), the store was unavailable for a claim under
                  funnel.on_store_unavailable \"skip\", or --wait-for inputs did not appear
  78              the config file is missing or invalid, or a repository refused the credentials
  124             the job ran past --timeout and was ended
  126             the runner's command could not be executed
  127             the runner's command was not found

Examples:
  greaserun -D --runner java ./target/jobs-1.0-jar-with-dependencies.jar -- 2026-11-22
  greaserun --runner luigi com.example:jobs:LATEST -- --module jobs DailyTask --local-scheduler
  greaserun --dry-run --runner shell com.example:jobs:1.2.0 -- sh -c 'unzip -l {jar_path}'
  greaserun --runner shell com.example:etl --skip-if-exists '/data/out/{date-1d}/_SUCCESS' \\
      --backfill 30d --every 1d -- etl --day {date-1d}";

/// Resolve a job's fat jar, check the host is not overloaded, run the job with a runner,
/// and keep its log.
#[derive(Debug, Parser)]
#[command(name = "greaserun", version, after_help = AFTER_HELP)]
struct Cli {
    /// The config file. Defaults to /etc/scalegrease.json; a missing default file means
    /// built-in defaults.
    #[arg(short = 'c', long, value_name = "FILE", env = "SCALEGREASE_CONFIG")]
    config_file: Option<PathBuf>,

    /// Say more on stderr: -v shows progress, -vv everything. The log file always gets
    /// greaserun's progress messages.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Say only errors on stderr.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,

    /// Do not sleep a random delay first. By default greaserun sleeps a random
    /// 0..guard.max_delay_s seconds (default 60) when stdin is not a terminal, as under
    /// cron, so that a farm does not start every job in the same second.
    #[arg(short = 'D', long)]
    no_random_delay: bool,

    /// Never touch the network: use the artifact cache only.
    #[arg(short, long)]
    offline: bool,

    /// End the job (its whole process group: TERM, then KILL after --kill-grace) after
    /// this long, e.g. 90s, 45m, 2h. Exits 124. Default: no timeout.
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, duration::TIMEOUT))]
    timeout: Option<Duration>,

    /// How long the job gets between TERM and KILL when it is ended.
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, duration::KILL_GRACE), default_value = "10s")]
    kill_grace: Duration,

    /// Resolve and fetch the artifact and check the guard, then print the exact command
    /// that would run, and run nothing.
    #[arg(long)]
    dry_run: bool,

    /// Skip the overload guard (for manual runs).
    #[arg(long)]
    force: bool,

    /// The job's main class: the java runner runs `java -cp <jar> <CLASS>` instead of
    /// `java -jar <jar>`; the hadoop runner passes it after the jar.
    #[arg(long, value_name = "CLASS")]
    main_class: Option<String>,

    /// The runner: shell, java, hadoop, python, luigi, or one defined under `runners` in
    /// the config. Case-insensitive; `LuigiRunner` style names work too.
    #[arg(short, long, value_name = "RUNNER")]
    runner: String,

    /// The job's fat jar: an existing local path, or Maven coordinates
    /// group:artifact[:version[:packaging[:classifier]]] (defaults LATEST, jar,
    /// jar-with-dependencies).
    #[arg(value_name = "ARTIFACT")]
    artifact: String,

    /// The job's name in the funnel (claims, run records, greasestatus). Default: derived
    /// from the runner, group:artifact (or jar file name) and the arguments as written.
    #[arg(long, value_name = "NAME")]
    job: Option<String>,

    /// The slot this run is for (manual runs, reruns). Local time (2026-11-23T03:00,
    /// 2026-11-23) or RFC 3339. Default: the minute greaserun started in.
    #[arg(long, value_name = "TIME", value_parser = parse_slot)]
    slot: Option<Slot>,

    /// Do not claim the slot: run beside the farm (a run record is still written). Runs
    /// from a terminal do not claim anyway unless --job or --slot is given.
    #[arg(long)]
    no_claim: bool,

    /// Do not run if this output exists for the slot (strftime codes and {date}-style
    /// parameters by slot; globs allowed); the run is recorded as skipped. Repeatable:
    /// all must exist.
    #[arg(long, value_name = "PATTERN")]
    skip_if_exists: Vec<String>,

    /// Run every slot of this window (ending at the slot) whose output is missing, oldest
    /// first, each claimed like a scheduled slot: e.g. 30d, 48h. Missing means a
    /// --skip-if-exists pattern is missing, or without one, no succeeded run record.
    #[arg(long, value_name = "WINDOW", value_parser = parse_period)]
    backfill: Option<Period>,

    /// The step between backfill slots: 1d, 1h, 15m. Default: 1h for an hour window,
    /// else 1d.
    #[arg(long, value_name = "STEP", value_parser = parse_period, requires = "backfill")]
    every: Option<Period>,

    /// In a backfill, go on after a failed slot (default: stop at the first failure).
    #[arg(long, requires = "backfill")]
    keep_going: bool,

    /// Wait until this input exists for the slot before running (same patterns as
    /// --skip-if-exists), polling with backoff. Repeatable: waits for all.
    #[arg(long, value_name = "PATTERN")]
    wait_for: Vec<String>,

    /// How long --wait-for waits before giving up (exit 75).
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, duration::WAIT_TIMEOUT), default_value = "1h")]
    wait_timeout: Duration,

    /// Arguments for the job. {jar_path}, {artifact_spec} and {version} are substituted,
    /// and the slot parameters {date}, {datetime}, {hour}, {slot:<strftime>} with offsets
    /// such as {date-1d} or {hour-2h}.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

fn parse_slot(s: &str) -> Result<Slot, String> {
    Slot::parse(s).map_err(|e| e.to_string())
}

fn parse_period(s: &str) -> Result<Period, String> {
    duration::parse_in(s, duration::BACKFILL)?;
    Period::parse(s).map_err(|e| e.to_string())
}

impl Cli {
    fn options(
        self,
        started: chrono::DateTime<chrono::Utc>,
    ) -> (Option<PathBuf>, Verbosity, RunOptions) {
        let verbosity = Verbosity::from_flags(self.quiet, self.verbose);
        let opts = RunOptions {
            runner: self.runner,
            artifact: self.artifact,
            args: self.args,
            main_class: self.main_class,
            random_delay: !self.no_random_delay && !std::io::stdin().is_terminal(),
            offline: self.offline,
            timeout: self.timeout,
            kill_grace: self.kill_grace,
            dry_run: self.dry_run,
            force: self.force,
            progress: !self.quiet && std::io::stderr().is_terminal(),
            funnel: SlotOptions {
                job: self.job,
                slot: self.slot,
                no_claim: self.no_claim,
                skip_if_exists: self.skip_if_exists,
                backfill: self.backfill,
                every: self.every,
                keep_going: self.keep_going,
                wait_for: self.wait_for,
                wait_timeout: self.wait_timeout,
                quiet: self.quiet,
            },
            interactive: std::io::stdin().is_terminal(),
            started,
        };
        (self.config_file, verbosity, opts)
    }
}

fn run() -> anyhow::Result<i32> {
    let started = chrono::Utc::now();
    let (config_file, verbosity, opts) = Cli::parse().options(started);
    trace::init("greaserun", verbosity);
    let cfg = Config::load_default(config_file.as_deref())?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let code = scalegrease::run::run(&cfg, &opts)
        .with_context(|| format!("{} job {}", opts.runner, opts.artifact))?;
    Ok(code)
}

fn main() {
    scalegrease::error::finish("greaserun", run())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
