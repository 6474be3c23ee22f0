//! greaserun's command line, defined once: the greaserun binary parses its own arguments
//! with [`GreaserunArgs`], and the farm queue parses each published entry's greaserun
//! command with the same struct, so both compute the same job name from the same words.

use std::time::Duration;

use clap::Parser;

use crate::arbitration::options::Concurrency;
use crate::cli::{self, CommonArgs};
use crate::exit::{self, Tool};
use crate::model::slot::{Period, Slot};
use crate::util::duration::{self, Range};

/// `--retry-delay`, `--retry-max-delay` and `--rescue-within`: `0s` to 30 days.
const FARM_DELAY: Range = Range {
    min: Duration::ZERO,
    max: Duration::from_secs(30 * 86400),
};

/// `--json`'s long help: what the document holds.
const JSON_LONG: &str = "Print JSON on stdout for scripts instead of text (one document; errors stay on \
stderr). With --dry-run only: {\"command_line\": \"...\", \"argv\": [...], \"env\": {...}, \"cwd\": ...}.";

const EXAMPLES: &str = "\
Examples:
  greaserun -D --runner java ./target/jobs-1.0-jar-with-dependencies.jar -- 2026-11-22
  greaserun --runner luigi com.example:jobs:LATEST -- --module jobs DailyTask --local-scheduler
  greaserun --dry-run --runner shell com.example:jobs:1.2.0 -- sh -c 'unzip -l {jar_path}'
  greaserun --runner shell com.example:etl --skip-if-exists '/data/out/{date-1d}/_SUCCESS' \\
      --backfill 30d --every 1d -- etl --day {date-1d}";

/// `--help`'s text after the options: precedence, the exit-code table, examples.
pub fn after_help() -> String {
    format!(
        "{}\n\n{}\n\n{EXAMPLES}",
        cli::PRECEDENCE,
        exit::help(Tool::Run)
    )
}

/// Resolve a job's fat jar, check the host is not overloaded, run the job with a runner,
/// and keep its log.
#[derive(Debug, Clone, Parser)]
#[command(name = "greaserun", version, after_help = after_help())]
pub struct GreaserunArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Do not sleep a random delay first. By default greaserun sleeps a random
    /// 0..guard.max_delay_s seconds (default 60) when stdin is not a terminal, as under
    /// cron, so that a farm does not start every job in the same second.
    #[arg(short = 'D', long)]
    pub no_random_delay: bool,

    /// Never touch the network: use the artifact cache only.
    #[arg(short, long)]
    pub offline: bool,

    /// End the job (its whole process group: TERM, then KILL after --kill-grace) after
    /// this long, e.g. 90s, 45m, 2h. Exits 124. Default: no timeout.
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, duration::TIMEOUT))]
    pub timeout: Option<Duration>,

    /// How long the job gets between TERM and KILL when it is ended.
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, duration::KILL_GRACE), default_value = "10s")]
    pub kill_grace: Duration,

    /// Resolve and fetch the artifact and check the guard, then print the exact command
    /// that would run, and run nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[arg(long, help = cli::JSON_HELP, long_help = JSON_LONG, requires = "dry_run")]
    pub json: bool,

    /// Skip the overload guard (for manual runs).
    #[arg(long)]
    pub force: bool,

    /// The job's main class: the java runner runs `java -cp <jar> <CLASS>` instead of
    /// `java -jar <jar>`; the hadoop runner passes it after the jar.
    #[arg(long, value_name = "CLASS")]
    pub main_class: Option<String>,

    /// The runner: shell, java, hadoop, python, luigi, or one defined under `runners` in
    /// the config. Case-insensitive; `LuigiRunner` style names work too.
    #[arg(short, long, value_name = "RUNNER")]
    pub runner: String,

    /// The job's fat jar: an existing local path, or Maven coordinates
    /// group:artifact[:version[:packaging[:classifier]]] (defaults LATEST, jar,
    /// jar-with-dependencies).
    #[arg(value_name = "ARTIFACT")]
    pub artifact: String,

    /// The job's name in the funnel (claims, run records, greasestatus). Default: derived
    /// from the runner, group:artifact (or jar file name) and the arguments as written.
    #[arg(long, value_name = "NAME", value_parser = parse_job)]
    pub job: Option<String>,

    /// The slot this run is for (manual runs, reruns). Local time (2026-11-23T03:00,
    /// 2026-11-23) or RFC 3339. Default: the minute greaserun started in.
    #[arg(long, value_name = "TIME", value_parser = parse_slot)]
    pub slot: Option<Slot>,

    /// Do not claim the slot: run beside the farm (a run record is still written). Runs
    /// from a terminal do not claim anyway unless --job or --slot is given.
    #[arg(long)]
    pub no_claim: bool,

    /// Do not run if this output exists for the slot (strftime codes and {date}-style
    /// parameters by slot; globs allowed); the run is recorded as skipped. Repeatable:
    /// all must exist.
    #[arg(long, value_name = "PATTERN")]
    pub skip_if_exists: Vec<String>,

    /// Run every slot of this window (ending at the slot) whose output is missing, oldest
    /// first, each claimed like a scheduled slot: e.g. 30d, 48h. Missing means a
    /// --skip-if-exists pattern is missing, or without one, no succeeded run record.
    #[arg(long, value_name = "WINDOW", value_parser = parse_period)]
    pub backfill: Option<Period>,

    /// The step between backfill slots: 1d, 1h, 15m. Default: 1h for an hour window,
    /// else 1d.
    #[arg(long, value_name = "STEP", value_parser = parse_period, requires = "backfill")]
    pub every: Option<Period>,

    /// In a backfill, go on after a failed slot (default: stop at the first failure).
    #[arg(long, requires = "backfill")]
    pub keep_going: bool,

    /// Wait until this input exists for the slot before running (same patterns as
    /// --skip-if-exists), polling with backoff. Repeatable: waits for all.
    #[arg(long, value_name = "PATTERN")]
    pub wait_for: Vec<String>,

    /// How long --wait-for waits before giving up (exit 75).
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, duration::WAIT_TIMEOUT), default_value = "1h")]
    pub wait_timeout: Duration,

    /// The farm-queue request this run serves (set by the worker that took it; a
    /// request names the job and the slot, and greaserun refuses one for another job).
    #[arg(long, value_name = "ID", env = "SCALEGREASE_REQUEST", hide = true)]
    pub request: Option<String>,

    /// When the job fails (not when it is cancelled or skipped), queue it again this
    /// many times, for any worker with room to take (attempts 2, 3, ...).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,

    /// The wait before the first retry, doubled for each further one (±20% jitter): a
    /// duration such as 30s, 5m, 2h.
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, FARM_DELAY), default_value = "5m")]
    pub retry_delay: Duration,

    /// The longest wait between retries (the doubling stops there).
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, FARM_DELAY), default_value = "1h")]
    pub retry_max_delay: Duration,

    /// When the guard declines a scheduled slot here, queue it for any worker with room
    /// to run within this long after the slot (past it the slot is dropped). 0 turns
    /// rescue off.
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, FARM_DELAY), default_value = "1h")]
    pub rescue_within: Duration,

    /// What to do when another run of this job is still alive in the farm: allow (run
    /// anyway), forbid (record the slot skipped and exit 0), or replace (cancel the
    /// other run, wait for it to end, then run).
    #[arg(long, value_name = "POLICY", value_enum, default_value_t = Concurrency::Allow)]
    pub concurrency: Concurrency,

    /// For the farm's slot ledger only (greaserun itself ignores it): a scheduled slot
    /// no worker claimed this long after its time is reported missing (and alerted).
    #[arg(long, value_name = "DURATION", value_parser = |s: &str| duration::parse_in(s, FARM_DELAY), default_value = "5m")]
    pub missing_after: Duration,

    /// Arguments for the job. {jar_path}, {artifact_spec} and {version} are substituted,
    /// and the slot parameters {date}, {datetime}, {hour}, {slot:<strftime>} with offsets
    /// such as {date-1d} or {hour-2h}.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

pub fn parse_slot(s: &str) -> Result<Slot, String> {
    Slot::parse(s).map_err(|e| e.to_string())
}

pub fn parse_job(s: &str) -> Result<String, String> {
    crate::model::job::check_job_name(s).map(|()| s.to_string())
}

pub fn parse_period(s: &str) -> Result<Period, String> {
    duration::parse_in(s, duration::BACKFILL)?;
    Period::parse(s).map_err(|e| e.to_string())
}
