//! greaserun: run one job (resolve its jar, guard the host, run it with a runner, log it).
//! Parses arguments into `RunOptions`, calls `scalegrease::run`, exits with its code or
//! the error's.

use std::io::IsTerminal;

use clap::Parser;
use scalegrease::arbitration::options::{RetryPolicy, SlotOptions};
use scalegrease::cli::Common;
use scalegrease::cli::greaserun::GreaserunArgs as Cli;
use scalegrease::error::{Context, Failure};
use scalegrease::exit::{self, Tool};
use scalegrease::run::{Outcome, RunOptions};

/// The validated options: logging installed, then everything greaserun was asked.
fn options(cli: Cli, started: chrono::DateTime<chrono::Utc>) -> (Common, RunOptions) {
    let common = cli.common.start(Tool::Run);
    let quiet = common.quiet();
    let opts = RunOptions {
        runner: cli.runner,
        artifact: cli.artifact,
        args: cli.args,
        main_class: cli.main_class,
        random_delay: !cli.no_random_delay && !std::io::stdin().is_terminal(),
        offline: cli.offline,
        timeout: cli.timeout,
        kill_grace: cli.kill_grace,
        dry_run: cli.dry_run,
        dry_run_json: cli.json,
        store: common.store_flag().map(String::from),
        force: cli.force,
        progress: !quiet && std::io::stderr().is_terminal(),
        funnel: SlotOptions {
            job: cli.job,
            slot: cli.slot,
            no_claim: cli.no_claim,
            skip_if_exists: cli.skip_if_exists,
            backfill: cli.backfill,
            every: cli.every,
            keep_going: cli.keep_going,
            wait_for: cli.wait_for,
            wait_timeout: cli.wait_timeout,
        },
        interactive: std::io::stdin().is_terminal(),
        started,
        log_sink: common.log.clone(),
        request: cli.request,
        retry: RetryPolicy {
            retries: cli.retries,
            delay: cli.retry_delay,
            max_delay: cli.retry_max_delay,
        },
        rescue_within: cli.rescue_within,
        concurrency: cli.concurrency,
    };

    (common, opts)
}

fn run() -> Result<i32, Failure> {
    let started = chrono::Utc::now();
    let cli = Cli::parse();
    // The job must not inherit the request this run serves: a greaserun inside it would
    // serve the same request again.
    // SAFETY: no other thread exists yet (logging starts in `options`).
    unsafe { std::env::remove_var("SCALEGREASE_REQUEST") };
    let (common, opts) = options(cli, started);
    let cfg = common.config()?;
    match scalegrease::run::run(&cfg, &opts)
        .with_context(|| format!("{} job {}", opts.runner, opts.artifact))?
    {
        Outcome::Exit(code) => Ok(code),
        Outcome::DryRun(command) => {
            println!("{command}");
            Ok(exit::OK)
        }
    }
}

fn main() {
    let (code, message) = scalegrease::error::outcome(run());
    if let Some(m) = message {
        eprintln!("greaserun: error: {m}");
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
