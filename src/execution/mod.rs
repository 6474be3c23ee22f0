//! Execution: running the job with the right runner (shell, java, hadoop, python, luigi or
//! one defined in config), in its own process group, passing signals on and enforcing
//! timeouts.
//!
//! [`prepare`] turns a [`Job`] into a [`Prepared`] command (argv, environment, working
//! directory and, for the python runners, the extracted `python/` tree); [`run`] starts it
//! in a new process group and supervises it until no process of that group is left,
//! copying its output to greaserun's stdout, a [`JobOutput`] sink the caller hands in
//! (greaserun's job log) and a 64 KiB tail kept for the run record.

mod group;
mod output;
mod runner;
mod scratch;
mod signals;
mod supervise;
mod tail;
mod watch;
pub mod words;

use std::path::PathBuf;
use std::time::Duration;

use crate::exit;

pub use output::{JobOutput, Stream};
pub use runner::{BUILTIN, Prepared, canonical_name, check_runner, prepare, runner_names};
pub use supervise::{run, run_watched};
pub use tail::{TAIL_CAP, Tail};
pub use watch::{TICK, Watch};

/// The jar a job runs from, already resolved to a local file.
#[derive(Debug, Clone)]
pub struct JobArtifact {
    /// The local jar file.
    pub jar_path: PathBuf,
    /// The artifact as the user gave it (Maven coordinates or a local path).
    pub spec: String,
    /// The resolved version (`None` for a local jar).
    pub version: Option<String>,
}

/// What to run: a runner name, the artifact, the job's arguments.
#[derive(Debug, Clone)]
pub struct Job {
    /// The runner's name as given (`luigi`, `LuigiRunner`, a `runners.<name>` key).
    pub runner: String,
    pub artifact: JobArtifact,
    /// The arguments after the artifact; `{jar_path}`, `{artifact_spec}` and `{version}`
    /// are substituted in them.
    pub args: Vec<String>,
    /// For the java and hadoop runners: the class to run instead of the manifest's.
    pub main_class: Option<String>,
}

/// How the job is supervised.
#[derive(Debug, Clone, Copy)]
pub struct Supervision {
    /// End the job's process group after this long (exit 124). `None`: no limit.
    pub timeout: Option<Duration>,
    /// How long processes get between SIGTERM and SIGKILL, after a timeout and for
    /// processes the job left behind when it exited.
    pub kill_grace: Duration,
    /// Whether greaserun's stdin is a terminal (the caller checks, once): the job then
    /// gets `/dev/null` as stdin, since a job in its own process group that read the
    /// terminal would be stopped (SIGTTIN). Otherwise the job inherits stdin.
    pub stdin_is_terminal: bool,
}

impl Default for Supervision {
    fn default() -> Self {
        Supervision {
            timeout: None,
            kill_grace: Duration::from_secs(10),
            stdin_is_terminal: false,
        }
    }
}

/// How the job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It exited with this status.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// It ran past the timeout and was ended.
    TimedOut,
    /// Its [`Watch`] asked for it to end (a cancel), and it was ended.
    Cancelled,
}

/// The result of a run that started.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// The last [`TAIL_CAP`] bytes of stdout and stderr, as interleaved on greaserun's stdout.
    pub tail: Vec<u8>,
    /// The job's process id (also its process group id).
    pub pid: u32,
    pub started: chrono::DateTime<chrono::Utc>,
    pub ended: chrono::DateTime<chrono::Utc>,
}

impl Outcome {
    /// greaserun's exit code for this outcome: the job's status, 128+n for signal n, 124
    /// for a timeout.
    pub fn exit_code(&self) -> i32 {
        match self.status {
            Status::Exited(c) => c,
            Status::Signaled(n) => exit::SIGNAL_BASE + n,
            Status::TimedOut => exit::TIMEOUT,
            Status::Cancelled => exit::CANCELLED,
        }
    }
}

/// Why a job could not be prepared or started.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("unknown runner {name:?} (available: {available})")]
    UnknownRunner { name: String, available: String },
    #[error("the {runner} runner needs a command: give it after the artifact, e.g. `-- {example}`")]
    NoCommand {
        runner: String,
        example: &'static str,
    },
    #[error("--main-class applies to the java and hadoop runners only, not {runner}")]
    MainClassUnsupported { runner: String },
    #[error("{source_name}: invalid config value for {key}: {message}")]
    BadTemplate {
        source_name: String,
        key: String,
        message: String,
    },
    #[error("cannot read jar {jar}: {message}")]
    BadJar { jar: PathBuf, message: String },
    #[error(
        "jar {jar} has no python/ directory: the python and luigi runners run code packed under python/"
    )]
    NoPythonTree { jar: PathBuf },
    #[error("cannot prepare the job's working directory {path}: {cause}")]
    Scratch {
        path: PathBuf,
        /// Shown in the message, so not exposed as `source()` (it would print twice).
        cause: std::io::Error,
    },
    #[error("{program}: command not found (check the runner's command and PATH)")]
    NotFound { program: String },
    #[error("{program}: cannot execute: {cause}")]
    CannotExecute {
        program: String,
        /// Shown in the message, so not exposed as `source()` (it would print twice).
        cause: std::io::Error,
    },
    #[error("cannot start {program}: {cause}")]
    Spawn {
        program: String,
        /// Shown in the message, so not exposed as `source()` (it would print twice).
        cause: std::io::Error,
    },
    #[error("cannot supervise the job ({what}): {cause}")]
    Supervise {
        what: &'static str,
        /// Shown in the message, so not exposed as `source()` (it would print twice).
        cause: std::io::Error,
    },
}

impl ExecError {
    /// The documented exit code (see [`crate::exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::UnknownRunner { .. }
            | ExecError::NoCommand { .. }
            | ExecError::MainClassUnsupported { .. } => exit::USAGE,
            ExecError::BadTemplate { .. } => exit::CONFIG,
            ExecError::BadJar { .. } | ExecError::NoPythonTree { .. } => exit::DATA_ERR,
            ExecError::Scratch { .. } | ExecError::Spawn { .. } | ExecError::Supervise { .. } => {
                exit::OS_ERR
            }
            ExecError::NotFound { .. } => exit::NOT_FOUND,
            ExecError::CannotExecute { .. } => exit::CANNOT_EXECUTE,
        }
    }
}

/// A shell runner job running `/bin/sh -c script`, prepared with the built-in config: for
/// tests of supervision and of sinks.
#[cfg(test)]
pub(crate) fn shell(script: &str) -> Prepared {
    let job = Job {
        runner: "shell".into(),
        artifact: JobArtifact {
            jar_path: "/x.jar".into(),
            spec: "/x.jar".into(),
            version: None,
        },
        args: vec!["/bin/sh".into(), "-c".into(), script.into()],
        main_class: None,
    };
    prepare(&job, &crate::Config::default()).unwrap()
}
