//! The greaserun pipeline: the one path every scheduled job takes.
//!
//! 1. measure the host against the overload guard (arbitration),
//! 2. wait a random delay when started by cron, weighted by the host's headroom so that
//!    hosts with room tend to claim first (arbitration),
//! 3. check the guard again: a host over its limits declines the slot and drops the run,
//! 4. for `--dry-run`: resolve the artifact and return the command that would run (the
//!    binary prints it),
//! 5. for each slot (one, or the missing ones of a backfill window; [`run_slots`]): claim
//!    it and keep its heartbeat, skip it if its outputs exist, wait for its inputs
//!    (arbitration: the funnel),
//! 6. run the job: resolve the artifact to a verified local jar once, open the job's log,
//!    prepare the runner's command with the slot's parameters and run it in its own
//!    process group ([`job`]: deployment, debugging, execution),
//! 7. record the run in the store and return the job's exit status (or 124 on timeout,
//!    128+n on a signal).
//!
//! A run started for a farm-queue request (`SCALEGREASE_REQUEST`) serves that request's
//! one slot, with no delay ([`request`]); any run may queue a retry of a failed attempt
//! or a rescue of a slot its guard declined, and a `--concurrency` policy decides what
//! happens while another run of the job is alive.
//!
//! Each step lives in its scope's module and returns a value; this file orders them, the
//! slot loop included: `run`, then `run_slots`, then `run_slot` ([`slot`]) for each
//! slot, each read top to bottom.

use std::time::Duration;

use std::sync::Arc;

use crate::Error;
use crate::arbitration::delay;
use crate::arbitration::guard::{self, GuardError};
use crate::arbitration::options::{Concurrency, JobSpec, RetryPolicy, SlotOptions};
use crate::arbitration::queue;
use crate::arbitration::session::Session;
use crate::config::Config;
use crate::debugging::trace::LogSink;
use crate::deployment::ArtifactSpec;
use crate::execution;
use crate::store::Store;

pub mod job;
mod overlap;
pub mod request;
mod slot;
#[cfg(test)]
mod tests;

pub use job::{Execute, JobEnd, Runner};
pub use request::{FarmRun, Served};

/// Everything greaserun was asked to do, validated. Built once from the command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The runner's name (`shell`, `java`, `hadoop`, `python`, `luigi` or one from config).
    pub runner: String,
    /// A local jar path or Maven coordinates.
    pub artifact: String,
    /// The job's arguments, before substitution.
    pub args: Vec<String>,
    /// For the java runner: run `-cp <jar> <class>` instead of `-jar <jar>`.
    pub main_class: Option<String>,
    /// Sleep a random delay first (cron start without `--no-random-delay`).
    pub random_delay: bool,
    /// Never touch the network: use the artifact cache only.
    pub offline: bool,
    /// End the job after this long.
    pub timeout: Option<Duration>,
    /// Between TERM and KILL when ending the job.
    pub kill_grace: Duration,
    /// Resolve, fetch and guard, then print the command instead of running it.
    pub dry_run: bool,
    /// With `dry_run`: show the command as JSON.
    pub dry_run_json: bool,
    /// `--store` (or `$SCALEGREASE_STORE`): overrides the config's store.
    pub store: Option<String>,
    /// Skip the overload guard.
    pub force: bool,
    /// Show a download progress bar (stderr is a terminal and not quiet).
    pub progress: bool,
    /// The funnel: job name, slot, claim, skip, wait and backfill options.
    pub funnel: SlotOptions,
    /// Whether stdin is a terminal (a manual run: no claim unless --job or --slot).
    pub interactive: bool,
    /// When greaserun started: its minute is the slot unless --slot says otherwise.
    pub started: chrono::DateTime<chrono::Utc>,
    /// Where greaserun's own messages also go once the job's log file is open.
    pub log_sink: LogSink,
    /// The farm-queue request this run serves (`SCALEGREASE_REQUEST`).
    pub request: Option<String>,
    /// `--retries`, `--retry-delay`, `--retry-max-delay`.
    pub retry: RetryPolicy,
    /// `--rescue-within` (zero: no rescue).
    pub rescue_within: Duration,
    /// `--concurrency`.
    pub concurrency: Concurrency,
}

/// How greaserun ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit with this code (the job's own, or greaserun's, see [`crate::exit`]).
    Exit(i32),
    /// `--dry-run`: the command that would run; the binary prints it and exits 0.
    DryRun(String),
}

/// Runs one job: its slot, every missing slot of a backfill window, or the slot of the
/// request it serves.
pub fn run(cfg: &Config, opts: &RunOptions) -> Result<Outcome, Error> {
    // Bad input fails now, not after the delay and the guard.
    execution::check_runner(&opts.runner, cfg)?;
    let spec = ArtifactSpec::parse(&opts.artifact)?;
    let mut funnel = SlotOptions {
        no_claim: opts.funnel.no_claim || opts.dry_run,
        ..opts.funnel.clone()
    };
    let mut farm = FarmRun {
        request: None,
        retry: opts.retry,
        concurrency: opts.concurrency,
        kill_grace: opts.kill_grace,
    };
    let mut store: Option<Arc<dyn Store>> = None;
    if let Some(id) = &opts.request {
        match request::open(cfg, opts.store.as_deref(), id, &mut funnel)? {
            Served::Serve(req, s) => (farm.request, store) = (Some(req), Some(s)),
            Served::Refused(code) => return Ok(Outcome::Exit(code)),
        }
    }
    let job_spec = JobSpec {
        runner: opts.runner.clone(),
        artifact: opts.artifact.clone(),
        args: opts.args.clone(),
    };
    let interactive = opts.interactive && farm.request.is_none();
    let mut session = Session::new(
        cfg,
        opts.store.as_deref(),
        funnel,
        job_spec,
        interactive,
        opts.started,
    )?;
    if let Some(s) = store {
        session = session.with_store(s);
    }
    if let Some(r) = &farm.request {
        session = session.with_request(&r.id);
    }
    if let Some(code) = request::check_job(&farm, &session, &cfg.hostname()) {
        return Ok(Outcome::Exit(code));
    }
    guard_and_delay(cfg, opts, &session, &farm)?;

    let mut runner = Runner::new(cfg, opts, spec);
    if opts.dry_run {
        let args = session.args(session.slot());
        return Ok(Outcome::DryRun(runner.command_line(args)?));
    }
    run_slots(&session, &mut runner, &farm).map(Outcome::Exit)
}

/// Steps 1 to 3: one measurement serves the delay's weighting and, when no delay was
/// slept, the guard itself (/proc is scanned again only if time passed in between). A
/// host over its limits declines the slot (and queues it as a rescue for a worker with
/// room) and the run is refused; a request is put back in the queue for another worker.
fn guard_and_delay(
    cfg: &Config,
    opts: &RunOptions,
    session: &Session,
    farm: &FarmRun,
) -> Result<(), Error> {
    let first = (!opts.force).then(guard::measure);
    let headroom = match &first {
        None => 1.0,
        Some(m) => m
            .as_ref()
            .map(|m| guard::headroom(m, &cfg.guard))
            .unwrap_or(0.0),
    };
    let max_delay = Duration::from_secs_f64(cfg.guard.max_delay_s);
    let delayed = opts.random_delay && farm.request.is_none() && !max_delay.is_zero();
    if delayed {
        let d = delay::weighted(max_delay, headroom);
        tracing::info!(
            "started without a terminal: waiting a random {:.1}s (headroom {:.0}%) to spread the farm's load",
            d.as_secs_f64(),
            headroom * 100.0
        );
        std::thread::sleep(d);
    }
    let Some(first) = first else {
        tracing::info!("--force: skipping the overload guard");
        return Ok(());
    };
    let now = if delayed { guard::measure() } else { first };
    match guard::judge(now, &cfg.guard, &cfg.hostname()) {
        Ok(m) => {
            tracing::debug!(
                "guard: load {:.2} per CPU, {} jobs running, {} MiB available",
                m.load_per_cpu(),
                m.running,
                m.available_mb
            );
            Ok(())
        }
        Err(GuardError::Refused(r)) => {
            let why: Vec<String> = r.exceeded.iter().map(ToString::to_string).collect();
            match (&farm.request, session.store()) {
                (Some(req), Ok(s)) => match queue::release(&*s, req) {
                    Ok(()) => tracing::warn!("request {} put back in the queue", req.id),
                    Err(e) => tracing::warn!("request {} not put back: {e}", req.id),
                },
                (Some(_), Err(_)) => {}
                (None, _) => {
                    session.decline(&why.join(", "));
                    if session.claiming()
                        && !opts.dry_run
                        && let Ok(s) = session.store()
                    {
                        let (job, slot) = (session.job(), session.slot());
                        request::rescue(&s, job, slot, opts.rescue_within, &session.who());
                    }
                }
            }
            Err(GuardError::Refused(r).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The slot loop: every slot that needs it, oldest first. Returns greaserun's exit code:
/// 0 when every slot ran well or was claimed elsewhere or skipped; otherwise the first
/// failure's code. A backfill stops at its first failure unless `--keep-going`, which
/// reports a job that could not start and counts its code. The store is pruned at the
/// end, after the job, never delaying it.
pub fn run_slots(session: &Session, job: &mut impl Execute, farm: &FarmRun) -> Result<i32, Error> {
    let mut first_failure = 0;
    for slot in session.pending_slots() {
        let code = match slot::run_slot(session, slot, job, farm) {
            Ok(code) => code,
            Err(e) if session.keep_going() => {
                tracing::error!("{} slot {slot}: {e}", session.job());
                e.exit_code()
            }
            Err(e) => {
                session.prune();
                return Err(e);
            }
        };
        if code != 0 {
            if first_failure == 0 {
                first_failure = code;
            }
            if !session.keep_going() {
                break;
            }
        }
    }
    session.prune();
    Ok(first_failure)
}
