//! greasedispatch: queue runs of a published job for any worker with room to take
//! (`greasesnatch` pulls them), follow a run's output from any host, and cancel a
//! request. Parses arguments, calls `scalegrease::farm`, prints what it returns; the exit
//! code comes with the error (`scalegrease::error::Failure`). See `docs/greasedispatch.md`.

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use scalegrease::cli::greaserun::{parse_period, parse_slot};
use scalegrease::cli::{self, Common, CommonArgs};
use scalegrease::error::Failure;
use scalegrease::exit::{self, Tool};
use scalegrease::farm::report::{CancelReport, SubmitReport, ended};
use scalegrease::farm::{follow, published, submit};
use scalegrease::model::slot::{Period, Slot};
use scalegrease::store::{self, Store};

const EXAMPLES: &str = "\
Examples:
  greasedispatch nightly-etl                      # run the current minute's slot now
  greasedispatch nightly-etl --slot 2026-11-23 --follow
  greasedispatch nightly-etl --slot 2026-11-23 --rerun
  greasedispatch nightly-etl --backfill 30d --limit 4
  greasedispatch --attach 20261130T184512Z-00003f9a
  greasedispatch --cancel 20261130T184512Z-00003f9a";

/// How often --follow and --attach read the request's state and live output.
const POLL: Duration = Duration::from_millis(500);

/// Queue runs of a published job (an entry of a bundle greaselaunch published that calls
/// greaserun) for the farm's workers to take, and print the request ids, one a line. The
/// command that runs is the published entry's, as the entry's user; a request chooses
/// only the job and its slot.
///
/// With --json, one document: {"job", "entry", "requests": [{"id", "job", "slot",
/// "attempt", "kind", "batch", "state"}], "batch", "left": [{"slot", "why"}]}; with
/// --cancel: {"id", "outcome", "state", "host", "reason"}.
#[derive(Debug, Parser)]
#[command(name = "greasedispatch", version, after_help = after_help())]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// The job: its whole name (--job, or the name greaserun derives, as `greasestatus
    /// runs` shows it) or a part that only one published job's name contains.
    #[arg(
        value_name = "JOB",
        required_unless_present_any = ["cancel", "attach"],
        conflicts_with_all = ["cancel", "attach"]
    )]
    job: Option<String>,
    /// The slot to run: local time (2026-11-23T03:00, 2026-11-23) or RFC 3339; with
    /// --backfill, the window's last slot. Default: the current minute.
    #[arg(long, value_name = "TIME", value_parser = parse_slot)]
    slot: Option<Slot>,
    /// Queue every slot of this window (ending at the slot) with no succeeded run and
    /// nothing queued or running, oldest first, e.g. 30d, 48h.
    #[arg(long, value_name = "WINDOW", value_parser = parse_period)]
    backfill: Option<Period>,
    /// The step between backfill slots: 1d, 1h, 15m. Default: 1h for an hour window,
    /// else 1d.
    #[arg(long, value_name = "STEP", value_parser = parse_period, requires = "backfill")]
    every: Option<Period>,
    /// At most this many of the backfill's runs at once, farm-wide.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), requires = "backfill")]
    limit: u32,
    /// Queue a new attempt even when the slot is queued, running, or ran within
    /// funnel.retention (default 1h); attempts are numbered and each keeps its record.
    /// With --backfill: every slot of the window.
    #[arg(long)]
    rerun: bool,
    /// Print the run's output as it is produced (polling every 0.5 s), then exit with
    /// the job's exit status, or 79 refused, 80 dropped, 81 cancelled, 82 abandoned.
    #[arg(long, conflicts_with_all = ["backfill", "json"])]
    follow: bool,
    /// Follow a request queued earlier (by its id), as --follow does, from any host.
    #[arg(long, value_name = "ID", conflicts_with_all = ["cancel", "json", "slot", "backfill", "rerun", "follow"])]
    attach: Option<String>,
    /// Cancel a request: withdraw it if still queued, else ask the host running it to end
    /// the job (TERM, then KILL after greaserun's --kill-grace).
    #[arg(long, value_name = "ID", conflicts_with_all = ["slot", "backfill", "rerun", "follow"])]
    cancel: Option<String>,
    #[arg(long, help = cli::JSON_HELP)]
    json: bool,
}

/// `--help`'s text after the options: precedence, the exit-code table, examples.
fn after_help() -> String {
    format!(
        "{}\n\n{}\n\n{EXAMPLES}",
        cli::PRECEDENCE,
        exit::help(Tool::Dispatch)
    )
}

fn run() -> Result<i32, Failure> {
    let cli = Cli::parse();
    let common = cli.common.start(Tool::Dispatch);
    let config = common.config()?;
    let s = store::open(&common.store_config(&config))?;
    s.check()?;
    let by = format!(
        "{}@{}",
        scalegrease::util::host::user_name(),
        config.hostname()
    );
    if let Some(id) = &cli.cancel {
        return cancel(&common, &cli, s.as_ref(), id, &by);
    }
    if let Some(id) = &cli.attach {
        return attach(&common, s.as_ref(), id);
    }
    let query = cli.job.as_deref().expect("clap requires JOB here");
    let found = published::find(s.as_ref(), query)?;
    let opts = submit::SubmitOptions {
        slot: cli.slot,
        backfill: cli.backfill,
        every: cli.every,
        rerun: cli.rerun,
        limit: cli.limit,
        requested_by: by,
        now: chrono::Utc::now(),
    };
    let job = &found.entry.job;
    let done = submit::submit(s.as_ref(), &config, job, &opts)?;
    if cli.json {
        let report = SubmitReport::new(job, found.place(), &done);
        println!(
            "{}",
            serde_json::to_string(&report).map_err(std::io::Error::other)?
        );
        return Ok(exit::OK);
    }
    for r in &done.requests {
        say(
            &common,
            &format!(
                "queued job {job} slot {} (attempt {}, {}) as request {}",
                Slot::from_key(&r.slot).map_or(r.slot.clone(), |s| s.to_string()),
                r.attempt,
                r.kind,
                r.id
            ),
        );
        if !cli.follow {
            println!("{}", r.id);
        }
    }
    if cli.backfill.is_some() {
        say(
            &common,
            &format!(
                "backfill of {job}: {} slot(s) queued{}, {} not (succeeded, queued or running)",
                done.requests.len(),
                done.batch
                    .as_ref()
                    .map(|b| format!(" as batch {b}, at most {} at once", cli.limit))
                    .unwrap_or_default(),
                done.left.len()
            ),
        );
    }
    match (cli.follow, done.requests.as_slice()) {
        (true, [one]) => attach(&common, s.as_ref(), &one.id),
        (true, _) => Err(Failure::usage("--follow follows exactly one request")),
        (false, _) => Ok(exit::OK),
    }
}

/// Follows request `id` to its end, the output on stdout and how it ended on stderr.
fn attach(common: &Common, s: &dyn Store, id: &str) -> Result<i32, Failure> {
    let mut out = std::io::stdout();
    let end = follow::follow(s, id, &mut out, POLL)?;
    out.flush()?;
    say(common, &format!("request {id} {}", ended(&end.state)));
    Ok(end.code)
}

fn cancel(common: &Common, cli: &Cli, s: &dyn Store, id: &str, by: &str) -> Result<i32, Failure> {
    let report = CancelReport::new(id, &follow::cancel(s, id, by)?);
    if cli.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(std::io::Error::other)?
        );
    } else {
        say(common, &report.text);
    }
    Ok(exit::OK)
}

/// A line on stderr, unless `-q` (stdout holds only ids, JSON or the run's output).
fn say(common: &Common, line: &str) {
    if !common.quiet() {
        eprintln!("greasedispatch: {line}");
    }
}

fn main() {
    let (code, message) = scalegrease::error::outcome(run());
    if let Some(m) = message {
        eprintln!("greasedispatch: error: {m}");
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
