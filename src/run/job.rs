//! The run step of the pipeline: resolve the artifact (once per process, and only when
//! this host runs a slot), open the job's log, prepare the runner's command with the
//! slot's arguments and run it under supervision (deployment, execution, debugging).

use std::path::PathBuf;

use crate::Error;
use crate::config::Config;
use crate::debugging::log::{self, JobLog};
use crate::deployment::{self, ArtifactSpec, ResolveOptions, Resolved};
use crate::execution::{self, Job, JobArtifact, Supervision, Watch};
use crate::model::slot::Slot;
use crate::run::RunOptions;
use crate::util::host;

/// How an executed job ended, for its run record.
#[derive(Debug, Clone, Default)]
pub struct JobEnd {
    /// greaserun's exit code for this run (the job's status, 124 on timeout, 128+n for a
    /// signal, or greaserun's own failure code).
    pub code: i32,
    /// The job's exit status, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// The last bytes of its output (the store keeps 64 KiB).
    pub tail: Vec<u8>,
    pub log_path: Option<PathBuf>,
    /// The resolved artifact version.
    pub version: Option<String>,
    /// Why it failed when it never started (resolution failed, runner missing, ...).
    pub reason: Option<String>,
    /// It was ended by a cancel ([`execution::Watch`] asked).
    pub cancelled: bool,
}

/// Runs the job for one slot: what the slot loop calls once this host may run it.
pub trait Execute {
    /// Runs `job` for `slot` with `args` (slot parameters filled), `watch` looking on
    /// about once a second (live output, cancel).
    fn execute(
        &mut self,
        job: &str,
        slot: Slot,
        args: Vec<String>,
        watch: &mut dyn Watch,
    ) -> Result<JobEnd, Error>;
}

/// The job as greaserun runs it: the artifact resolved and the log opened on first use.
pub struct Runner<'a> {
    cfg: &'a Config,
    opts: &'a RunOptions,
    spec: ArtifactSpec,
    resolved: Option<Resolved>,
    log: Option<JobLog>,
}

impl<'a> Runner<'a> {
    /// Nothing is resolved or opened yet.
    pub fn new(cfg: &'a Config, opts: &'a RunOptions, spec: ArtifactSpec) -> Runner<'a> {
        Runner {
            cfg,
            opts,
            spec,
            resolved: None,
            log: None,
        }
    }

    /// The command line `--dry-run` prints for `args`.
    pub fn command_line(&self, args: Vec<String>) -> Result<String, Error> {
        let resolved = resolve(self.cfg, self.opts, &self.spec)?;
        let prepared = prepare(self.cfg, self.opts, &resolved, args)?;
        if !self.opts.dry_run_json {
            return Ok(prepared.command_line());
        }
        let env: std::collections::BTreeMap<_, _> = prepared.env.iter().cloned().collect();
        Ok(serde_json::json!({
            "command_line": prepared.command_line(),
            "argv": prepared.argv,
            "env": env,
            "cwd": prepared.cwd,
        })
        .to_string())
    }
}

impl Execute for Runner<'_> {
    fn execute(
        &mut self,
        job: &str,
        slot: Slot,
        args: Vec<String>,
        watch: &mut dyn Watch,
    ) -> Result<JobEnd, Error> {
        let (cfg, opts) = (self.cfg, self.opts);
        let log = self.log.get_or_insert_with(|| open_log(cfg, opts));
        if self.resolved.is_none() {
            self.resolved = Some(resolve(cfg, opts, &self.spec)?);
        }
        let resolved = self.resolved.as_ref().expect("resolved above");
        let prepared = prepare(cfg, opts, resolved, args)?;
        tracing::info!("running {job} slot {slot}: {}", prepared.command_line());
        let outcome = execution::run_watched(
            prepared,
            &Supervision {
                timeout: opts.timeout,
                kill_grace: opts.kill_grace,
                stdin_is_terminal: opts.interactive,
            },
            log,
            Some(watch),
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
            execution::Status::Cancelled => {
                end.cancelled = true;
                tracing::warn!("job cancelled after {took:.1}s (exit {code})");
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

fn open_log(cfg: &Config, opts: &RunOptions) -> JobLog {
    let dir = cfg.common.file_logger.as_ref().map(PathBuf::from);
    let log = JobLog::open(
        dir.as_deref(),
        &host::user_name(),
        host::short(&cfg.hostname()),
        &execution::canonical_name(&opts.runner),
        &log::artifact_name(&opts.artifact),
        chrono::Local::now().date_naive(),
    );
    if let Some(Err(e)) = log
        .path()
        .map(|p| (p, opts.log_sink.attach(p)))
        .map(|(p, r)| {
            r.map_err(|e| format!("cannot write greaserun's messages to {}: {e}", p.display()))
        })
    {
        tracing::warn!("{e}");
    }
    log
}
