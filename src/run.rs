//! The greaserun pipeline: the one path every scheduled job takes.
//!
//! 1. wait a random delay when started by cron (arbitration),
//! 2. check the overload guard and drop the run if the host is full (arbitration),
//! 3. resolve the artifact to a verified local jar (deployment),
//! 4. prepare the runner's command (execution), or print it for `--dry-run`,
//! 5. open the job's log (debugging) and run the job in its own process group,
//! 6. return the job's exit status (or 124 on timeout, 128+n on a signal).
//!
//! Each step lives in its scope's module; this file only orders them.

use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::arbitration::{delay, guard};
use crate::config::Config;
use crate::debugging::{log::JobLog, trace};
use crate::deployment::{self, ArtifactSpec, ResolveOptions};
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
}

/// Runs one job; returns the exit code greaserun should exit with.
pub fn run(cfg: &Config, opts: &RunOptions) -> Result<i32, Error> {
    let host = cfg.hostname();
    let max_delay = Duration::from_secs_f64(cfg.guard.max_delay_s);
    if opts.random_delay && !max_delay.is_zero() {
        let d = delay::uniform(max_delay);
        tracing::info!(
            "started without a terminal: waiting a random {:.1}s to spread the farm's load",
            d.as_secs_f64()
        );
        std::thread::sleep(d);
    }

    if opts.force {
        tracing::info!("--force: skipping the overload guard");
    } else {
        let m = guard::check(&cfg.guard, &host)?;
        tracing::debug!(
            "guard: load {:.2} per CPU, {} jobs running, {} MiB available",
            m.load_per_cpu(),
            m.running,
            m.available_mb
        );
    }

    let spec = ArtifactSpec::parse(&opts.artifact)?;
    let mut log = open_log(cfg, &host, &opts.runner, &spec);
    let resolved = deployment::resolve(
        &spec,
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

    let job = Job {
        runner: opts.runner.clone(),
        artifact: JobArtifact {
            jar_path: resolved.jar_path.clone(),
            spec: opts.artifact.clone(),
            version: resolved.version.clone(),
        },
        args: opts.args.clone(),
        main_class: opts.main_class.clone(),
    };
    let prepared = execution::prepare(&job, cfg)?;
    if opts.dry_run {
        println!("{}", prepared.command_line());
        return Ok(crate::exit::OK);
    }

    tracing::info!("running {}", prepared.command_line());
    let outcome = execution::run(
        prepared,
        &Supervision {
            timeout: opts.timeout,
            kill_grace: opts.kill_grace,
        },
        &mut log,
    )?;
    let code = outcome.exit_code();
    let took = (outcome.ended - outcome.started).num_milliseconds() as f64 / 1000.0;
    match outcome.status {
        execution::Status::Exited(0) => tracing::info!("job succeeded in {took:.1}s"),
        execution::Status::Exited(n) => {
            tracing::warn!("job failed with exit status {n} after {took:.1}s")
        }
        execution::Status::Signaled(s) => {
            tracing::warn!("job killed by signal {s} after {took:.1}s (exit {code})")
        }
        execution::Status::TimedOut => tracing::warn!(
            "job timed out after {took:.1}s (--timeout {}) and was ended",
            opts.timeout
                .map(crate::util::duration::format)
                .unwrap_or_default()
        ),
    }
    Ok(code)
}

/// The name an artifact is logged under: a local jar's file name, else `group:artifact`.
pub fn artifact_name(spec: &ArtifactSpec) -> String {
    match spec {
        ArtifactSpec::Local(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string()),
        ArtifactSpec::Maven(c) => format!("{}:{}", c.group, c.artifact),
    }
}

fn open_log(cfg: &Config, host_name: &str, runner: &str, spec: &ArtifactSpec) -> JobLog {
    let dir = cfg.common.file_logger.as_ref().map(PathBuf::from);
    let log = JobLog::open(
        dir.as_deref(),
        &host::user_name(),
        host::short(host_name),
        runner,
        &artifact_name(spec),
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
