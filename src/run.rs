//! The greaserun pipeline: the one path every scheduled job takes.
//!
//! 1. measure the host against the overload guard (arbitration),
//! 2. wait a random delay when started by cron, weighted by the host's headroom so that
//!    hosts with room tend to claim first (arbitration),
//! 3. check the guard again: a host over its limits declines the slot and drops the run,
//! 4. for each slot (one, or a backfill window): claim it in the store, skip it if its
//!    outputs exist, wait for its inputs (arbitration: the funnel),
//! 5. resolve the artifact to a verified local jar, once (deployment),
//! 6. prepare the runner's command with the slot's parameters (execution), or print it
//!    for `--dry-run`,
//! 7. open the job's log (debugging), run the job in its own process group and record
//!    the run in the store,
//! 8. return the job's exit status (or 124 on timeout, 128+n on a signal).
//!
//! Each step lives in its scope's module; this file only orders them.

use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::arbitration::delay;
use crate::arbitration::guard::{self, GuardError};
use crate::arbitration::session::{JobEnd, JobSpec, Session, SlotOptions, SlotRun};
use crate::config::Config;
use crate::debugging::log::{self, JobLog};
use crate::debugging::trace;
use crate::deployment::{self, ArtifactSpec, ResolveOptions, Resolved};
use crate::dispatch::params;
use crate::execution::{self, Job, JobArtifact, Supervision};
use crate::util::host;

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
}

/// Runs one job; returns the exit code greaserun should exit with.
pub fn run(cfg: &Config, opts: &RunOptions) -> Result<i32, Error> {
    // Bad input fails now, not after the delay and the guard.
    execution::check_runner(&opts.runner, cfg)?;
    let spec = ArtifactSpec::parse(&opts.artifact)?;
    let host = cfg.hostname();
    let session = Session::new(
        cfg,
        None,
        SlotOptions {
            no_claim: opts.funnel.no_claim || opts.dry_run,
            ..opts.funnel.clone()
        },
        JobSpec {
            runner: opts.runner.clone(),
            artifact: opts.artifact.clone(),
            args: opts.args.clone(),
        },
        opts.interactive,
        opts.started,
    )?;

    // One measurement serves the delay's weighting and, when no delay was slept, the
    // guard itself: /proc is scanned again only if time passed in between.
    let first = (!opts.force).then(guard::measure);
    let headroom = match &first {
        None => 1.0,
        Some(m) => m
            .as_ref()
            .map(|m| guard::headroom(m, &cfg.guard))
            .unwrap_or(0.0),
    };
    let max_delay = Duration::from_secs_f64(cfg.guard.max_delay_s);
    let delayed = opts.random_delay && !max_delay.is_zero();
    if delayed {
        let d = delay::weighted(max_delay, headroom);
        tracing::info!(
            "started without a terminal: waiting a random {:.1}s (headroom {:.0}%) to spread the farm's load",
            d.as_secs_f64(),
            headroom * 100.0
        );
        std::thread::sleep(d);
    }

    if let Some(first) = first {
        let now = if delayed { guard::measure() } else { first };
        match guard::judge(now, &cfg.guard, &host) {
            Ok(m) => tracing::debug!(
                "guard: load {:.2} per CPU, {} jobs running, {} MiB available",
                m.load_per_cpu(),
                m.running,
                m.available_mb
            ),
            Err(GuardError::Refused(r)) => {
                let why: Vec<String> = r.exceeded.iter().map(ToString::to_string).collect();
                session.decline(&why.join(", "));
                return Err(GuardError::Refused(r).into());
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        tracing::info!("--force: skipping the overload guard");
    }

    if opts.dry_run {
        let slot = *session.slots().last().expect("a session has a slot");
        let args = opts
            .args
            .iter()
            .map(|a| params::fill(a, slot))
            .collect::<Result<Vec<_>, _>>()
            .map_err(crate::arbitration::session::SessionError::from)?;
        let resolved = resolve(cfg, opts, &spec)?;
        let prepared = prepare(cfg, opts, &resolved, args)?;
        println!("{}", prepared.command_line());
        return Ok(crate::exit::OK);
    }

    // Only a slot's winner resolves the artifact and opens the log (once per process).
    let mut resolved: Option<Resolved> = None;
    let mut log: Option<JobLog> = None;
    let code = session.run(
        &mut |run: &SlotRun| -> Result<JobEnd, Error> {
            let log = log.get_or_insert_with(|| open_log(cfg, &host, &opts.runner, &opts.artifact));
            if resolved.is_none() {
                resolved = Some(resolve(cfg, opts, &spec)?);
            }
            let resolved = resolved.as_ref().expect("resolved above");
            run_slot(cfg, opts, resolved, run, log)
        },
        Error::exit_code,
    )?;
    Ok(code)
}

fn resolve(cfg: &Config, opts: &RunOptions, spec: &ArtifactSpec) -> Result<Resolved, Error> {
    let resolved = deployment::resolve(
        spec,
        &cfg.maven,
        &ResolveOptions {
            offline: opts.offline,
            progress: opts.progress,
        },
    )?;
    tracing::info!(
        "artifact {} resolved to {}{}",
        opts.artifact,
        resolved.jar_path.display(),
        resolved
            .version
            .as_deref()
            .map(|v| format!(" (version {v})"))
            .unwrap_or_default()
    );
    Ok(resolved)
}

fn prepare(
    cfg: &Config,
    opts: &RunOptions,
    resolved: &Resolved,
    args: Vec<String>,
) -> Result<execution::Prepared, Error> {
    let job = Job {
        runner: opts.runner.clone(),
        artifact: JobArtifact {
            jar_path: resolved.jar_path.clone(),
            spec: opts.artifact.clone(),
            version: resolved.version.clone(),
        },
        args,
        main_class: opts.main_class.clone(),
    };
    Ok(execution::prepare(&job, cfg)?)
}

/// Runs the job for one slot this host won.
fn run_slot(
    cfg: &Config,
    opts: &RunOptions,
    resolved: &Resolved,
    run: &SlotRun,
    log: &mut JobLog,
) -> Result<JobEnd, Error> {
    let prepared = prepare(cfg, opts, resolved, run.args.clone())?;
    tracing::info!(
        "running {} slot {}: {}",
        run.job,
        run.slot,
        prepared.command_line()
    );
    let outcome = execution::run(
        prepared,
        &Supervision {
            timeout: opts.timeout,
            kill_grace: opts.kill_grace,
            stdin_is_terminal: std::io::IsTerminal::is_terminal(&std::io::stdin()),
        },
        log,
    )?;
    let code = outcome.exit_code();
    let took = (outcome.ended - outcome.started).num_milliseconds() as f64 / 1000.0;
    let mut end = JobEnd {
        code,
        tail: outcome.tail,
        log_path: log.path().map(PathBuf::from),
        version: resolved.version.clone(),
        ..Default::default()
    };
    match outcome.status {
        execution::Status::Exited(n) => {
            end.exit_code = Some(n);
            if n == 0 {
                tracing::info!("job succeeded in {took:.1}s");
            } else {
                tracing::warn!("job failed with exit status {n} after {took:.1}s");
            }
        }
        execution::Status::Signaled(s) => {
            end.signal = Some(s);
            tracing::warn!("job killed by signal {s} after {took:.1}s (exit {code})")
        }
        execution::Status::TimedOut => {
            let why = format!(
                "timed out after {took:.1}s (--timeout {}) and was ended",
                opts.timeout
                    .map(crate::util::duration::format)
                    .unwrap_or_default()
            );
            tracing::warn!("job {why}");
            end.reason = Some(why);
        }
    }
    Ok(end)
}

fn open_log(cfg: &Config, host_name: &str, runner: &str, artifact: &str) -> JobLog {
    let dir = cfg.common.file_logger.as_ref().map(PathBuf::from);
    let log = JobLog::open(
        dir.as_deref(),
        &host::user_name(),
        host::short(host_name),
        &execution::canonical_name(runner),
        &log::artifact_name(artifact),
        chrono::Local::now().date_naive(),
    );
    if let Some(Err(e)) = log
        .path()
        .map(|p| (p, trace::attach_log_file(p)))
        .map(|(p, r)| {
            r.map_err(|e| format!("cannot write greaserun's messages to {}: {e}", p.display()))
        })
    {
        tracing::warn!("{e}");
    }
    log
}
