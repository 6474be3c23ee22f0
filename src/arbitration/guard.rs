//! The overload guard: before a job starts, measure the host (1-minute load average per
//! CPU, greaserun jobs already running here, available memory) against `guard.*` in config.
//! A run over any limit is dropped, never started: overcommitting a host makes every job
//! on it slow or kills it, while a dropped run is retried by the next slot.
//!
//! Measurements come straight from `/proc` (a few small reads, well under a millisecond),
//! so the guard costs nothing worth skipping on a healthy host.
//!
//! A running job is a process running this very greaserun binary (its `/proc/<pid>/exe`
//! is the same file, device and inode, as ours) that has a child. A process merely named
//! `greaserun` does not count, whoever runs it: another user can add to the count only by
//! really running greaserun with a child, which is real load. The kernel shows a
//! process's exe only to its user and root, so a greaserun running as a job user counts
//! that user's jobs, and one running as root counts everybody's; see docs/security.md.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

use crate::config::Guard;

/// What the guard measured on this host.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// 1-minute load average.
    pub load1: f64,
    /// CPUs available to this process.
    pub cpus: usize,
    /// Other processes of this greaserun binary on this host that are running a job
    /// (have a child), among those this user may inspect.
    pub running: u32,
    /// `MemAvailable`, in MiB.
    pub available_mb: u64,
}

impl Measurement {
    /// The load average per CPU.
    pub fn load_per_cpu(&self) -> f64 {
        self.load1 / self.cpus.max(1) as f64
    }
}

/// One limit a measurement exceeded.
#[derive(Debug, Clone, PartialEq)]
pub enum Exceeded {
    Load { per_cpu: f64, max: f64 },
    Running { running: u32, max: u32 },
    Memory { available_mb: u64, min_mb: u64 },
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exceeded::Load { per_cpu, max } => write!(
                f,
                "load {per_cpu:.2} per CPU > {max:.2} (guard.max_load_per_cpu)"
            ),
            Exceeded::Running { running, max } => {
                write!(f, "running jobs {running} >= {max} (guard.max_running)")
            }
            Exceeded::Memory {
                available_mb,
                min_mb,
            } => write!(
                f,
                "available memory {available_mb} MiB < {min_mb} MiB (guard.min_available_memory_mb)"
            ),
        }
    }
}

/// The guard's refusal: every limit that was exceeded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("overload guard dropped this run on {host}: {}; cron tries again at the next slot (use --force to run anyway)", list(.exceeded))]
pub struct Refusal {
    pub host: String,
    pub exceeded: Vec<Exceeded>,
}

fn list(e: &[Exceeded]) -> String {
    e.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compares a measurement with the limits; returns every exceeded one.
pub fn evaluate(m: &Measurement, limits: &Guard) -> Vec<Exceeded> {
    let mut out = Vec::new();
    let per_cpu = m.load_per_cpu();
    if per_cpu > limits.max_load_per_cpu {
        out.push(Exceeded::Load {
            per_cpu,
            max: limits.max_load_per_cpu,
        });
    }
    if m.running >= limits.max_running {
        out.push(Exceeded::Running {
            running: m.running,
            max: limits.max_running,
        });
    }
    if m.available_mb < limits.min_available_memory_mb {
        out.push(Exceeded::Memory {
            available_mb: m.available_mb,
            min_mb: limits.min_available_memory_mb,
        });
    }
    out
}

/// How much room the host has, from 0 (at or over a limit) to 1 (idle): the smallest
/// headroom of the three limits. The funnel weights its start delay by this.
pub fn headroom(m: &Measurement, limits: &Guard) -> f64 {
    let load = 1.0 - m.load_per_cpu() / limits.max_load_per_cpu;
    let running = if limits.max_running == 0 {
        0.0
    } else {
        1.0 - m.running as f64 / limits.max_running as f64
    };
    let memory = if limits.min_available_memory_mb == 0 {
        1.0
    } else {
        1.0 - limits.min_available_memory_mb as f64 / m.available_mb.max(1) as f64
    };
    load.min(running).min(memory).clamp(0.0, 1.0)
}

/// Measures this host from `/proc`.
pub fn measure() -> io::Result<Measurement> {
    measure_of(std::path::Path::new("/proc/self/exe"), &[])
}

/// [`measure`], counting running jobs of the binary at `exe` (greasesnatch counts
/// greaserun's) other than the processes in `exclude` (the caller's own children, which
/// it counts itself).
pub fn measure_of(exe: &std::path::Path, exclude: &[u32]) -> io::Result<Measurement> {
    let loadavg = fs::read_to_string("/proc/loadavg")?;
    let load1 = loadavg
        .split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/loadavg: {loadavg:?}")))?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Measurement {
        load1,
        cpus,
        running: running_jobs(exe, exclude)?,
        available_mb: available_mb()?,
    })
}

/// Checks this host against `limits`, measuring it now.
pub fn check(limits: &Guard, host: &str) -> Result<Measurement, GuardError> {
    judge(measure(), limits, host)
}

/// Checks a measurement already taken (or the error of taking it) against `limits`.
pub fn judge(
    m: io::Result<Measurement>,
    limits: &Guard,
    host: &str,
) -> Result<Measurement, GuardError> {
    let m = m.map_err(GuardError::Measure)?;
    let exceeded = evaluate(&m, limits);
    if exceeded.is_empty() {
        Ok(m)
    } else {
        Err(GuardError::Refused(Refusal {
            host: host.to_string(),
            exceeded,
        }))
    }
}

/// Why the guard did not let a run start.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(transparent)]
    Refused(Refusal),
    #[error(
        "overload guard cannot measure this host from /proc: {0} (use --force to run without the guard)"
    )]
    /// The OS error is in the message, so not exposed as `source()`.
    Measure(io::Error),
}

impl GuardError {
    /// The documented exit code: 75 refused (cron retries), 71 cannot measure the host.
    pub fn exit_code(&self) -> i32 {
        match self {
            GuardError::Refused(_) => crate::exit::TEMP_FAIL,
            GuardError::Measure(_) => crate::exit::OS_ERR,
        }
    }
}

fn available_mb() -> io::Result<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib / 1024)
        .ok_or_else(|| io::Error::other("no MemAvailable in /proc/meminfo"))
}

/// Counts other processes of this binary that are running a job, i.e. have a child
/// process. One that is still sleeping its random delay or resolving its artifact does
/// not count, nor does a process whose exe this user may not see (another user's, when
/// not root), nor one merely named `greaserun`.
fn running_jobs(exe: &std::path::Path, exclude: &[u32]) -> io::Result<u32> {
    let me = std::process::id();
    let exe = fs::metadata(exe)?;
    let ours = (exe.dev(), exe.ino());
    let mut n = 0;
    for entry in fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || exclude.contains(&pid) {
            continue;
        }
        // Kernel threads, exited processes and other users' have no exe to see here.
        let Ok(theirs) = fs::metadata(entry.path().join("exe")) else {
            continue;
        };
        if (theirs.dev(), theirs.ino()) != ours {
            continue;
        }
        let children = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"));
        // Without CONFIG_PROC_CHILDREN, count every greaserun: err on the side of room.
        if children.map_or(true, |c| !c.trim().is_empty()) {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Guard {
        Guard {
            max_load_per_cpu: 2.0,
            max_running: 4,
            min_available_memory_mb: 512,
            max_delay_s: 60.0,
        }
    }

    #[test]
    fn within_limits_passes() {
        let m = Measurement {
            load1: 3.0,
            cpus: 2,
            running: 3,
            available_mb: 1024,
        };
        assert!(evaluate(&m, &limits()).is_empty());
        assert!((headroom(&m, &limits()) - 0.25).abs() < 1e-9);
    }

    #[test]
    fn every_exceeded_limit_is_named() {
        let m = Measurement {
            load1: 6.4,
            cpus: 2,
            running: 4,
            available_mb: 100,
        };
        let e = evaluate(&m, &limits());
        assert_eq!(e.len(), 3);
        let r = Refusal {
            host: "w1".into(),
            exceeded: e,
        };
        let s = r.to_string();
        assert!(s.contains("load 3.20 per CPU > 2.00"), "{s}");
        assert!(s.contains("running jobs 4 >= 4"), "{s}");
        assert!(s.contains("available memory 100 MiB < 512 MiB"), "{s}");
        assert_eq!(headroom(&m, &limits()), 0.0);
    }

    #[test]
    fn measures_this_host() {
        let m = measure().unwrap();
        assert!(m.cpus >= 1 && m.available_mb > 0 && m.load1 >= 0.0);
    }
}
