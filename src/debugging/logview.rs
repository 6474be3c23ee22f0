//! `greasestatus log`: one run's output, wherever it ran: the whole output from the
//! store when it fit in 64 KiB, else the run's lines from its log file on shared
//! storage, else the stored last 64 KiB.

use std::io::BufRead;

use chrono::{DateTime, Utc};

use crate::arbitration::records;
use crate::config::Config;
use crate::debugging::runs::{ViewError, runs};
use crate::model::record::{RunRecord, Status, TAIL_BYTES};
use crate::model::slot::Slot;
use crate::store::Store;

/// Where a shown log came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// The run's whole output, kept in the store (it was under 64 KiB).
    Store,
    /// The run's lines from its log file (shared log directory).
    File(String),
    /// Only the last 64 KiB, from the store: the log file was not readable here.
    Tail { unreadable: Option<String> },
    /// Nothing ran (dropped, declined, skipped, or no output kept).
    None,
}

/// One run's log.
#[derive(Debug, Clone)]
pub struct LogView {
    /// The run, with its status as shown by [`runs`].
    pub run: RunRecord,
    pub source: LogSource,
    pub text: Vec<u8>,
}

impl LogView {
    /// The one-line header printed before the log (to stderr by the binary), with the
    /// store's control characters escaped ([`crate::util::escape`]); the log's bytes
    /// themselves are the job's output and are printed as they are.
    pub fn header(&self) -> String {
        let slot = self
            .run
            .slot()
            .map(|s| s.to_string())
            .unwrap_or(self.run.slot.clone());
        let host = if self.run.host.is_empty() {
            "no host".to_string()
        } else {
            format!("{} (pid {})", self.run.host, self.run.pid)
        };
        let from = match &self.source {
            LogSource::Store => "output from the store".to_string(),
            LogSource::File(p) => format!("from {p}"),
            LogSource::Tail {
                unreadable: Some(p),
            } => {
                format!("last 64 KiB from the store ({p} is not readable here)")
            }
            LogSource::Tail { unreadable: None } => "last 64 KiB from the store".to_string(),
            LogSource::None => self.run.reason.clone().unwrap_or("no output kept".into()),
        };
        let header = format!(
            "{} slot {slot}: {} on {host}: {from}",
            self.run.job, self.run.status
        );
        crate::util::escape::escape(&header).into_owned()
    }
}

/// The log of `job`'s run at `slot` (the latest run by default). The whole output comes
/// from the store when it fit in 64 KiB; otherwise the run's lines from its log file on
/// shared storage; otherwise the stored last 64 KiB.
pub fn log(
    store: &dyn Store,
    cfg: &Config,
    job: &str,
    slot: Option<Slot>,
    now: DateTime<Utc>,
) -> Result<LogView, ViewError> {
    let all = runs(store, cfg, Some(job), slot, now)?;
    let candidates: Vec<&RunRecord> = all
        .iter()
        .filter(|r| slot.is_none_or(|s| r.slot == s.key()))
        .collect();
    // Prefer a run that ran (or the claim's winner) over a drop or a manual duplicate.
    let run = candidates
        .iter()
        .find(|r| r.claimed && !r.host.is_empty())
        .or_else(|| candidates.iter().find(|r| !r.host.is_empty()))
        .or_else(|| candidates.first())
        .copied()
        .cloned()
        .ok_or_else(|| ViewError::NoRun {
            job: job.to_string(),
            at: slot.map(|s| format!(" at slot {s}")).unwrap_or_default(),
        })?;
    if run.host.is_empty() || run.status == Status::Skipped {
        return Ok(LogView {
            run,
            source: LogSource::None,
            text: vec![],
        });
    }
    let tail = records::read_tail(store, &run)?;
    if let Some(t) = &tail
        && t.len() < TAIL_BYTES
    {
        return Ok(LogView {
            run,
            source: LogSource::Store,
            text: t.clone(),
        });
    }
    if let Some(p) = &run.log_path
        && let Some(text) = lines_of_pid(p, run.pid)
    {
        return Ok(LogView {
            source: LogSource::File(p.clone()),
            run,
            text,
        });
    }
    Ok(LogView {
        source: match tail {
            Some(_) => LogSource::Tail {
                unreadable: run.log_path.clone(),
            },
            None => LogSource::None,
        },
        text: tail.unwrap_or_default(),
        run,
    })
}

/// The lines of a log file written by process `pid` (lines start with `[<pid>]`), or
/// `None` when the file cannot be read or has none.
fn lines_of_pid(path: &str, pid: u32) -> Option<Vec<u8>> {
    let f = std::fs::File::open(path).ok()?;
    let prefix = format!("[{pid}]");
    let mut out = Vec::new();
    for line in std::io::BufReader::new(f).split(b'\n') {
        let line = line.ok()?;
        if line.starts_with(prefix.as_bytes()) {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dir::DirStore;
    use std::time::Duration;

    #[test]
    fn a_long_output_comes_from_the_log_file_or_else_the_tail() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::new(d.path().join("store"));
        s.init().unwrap();
        let cfg = Config::default();
        let slot = Slot::parse("2026-11-23T03:00Z").unwrap();
        let logf = d.path().join("2026-11-23.log");
        std::fs::write(
            &logf,
            "[9] 03:00:01 OUT:job mine\n[77] 03:00:01 OUT:job other\n[9] 03:00:02 INFO:greaserun done\n",
        )
        .unwrap();
        let r = RunRecord {
            host: "a".into(),
            pid: 9,
            claimed: true,
            log_path: Some(logf.display().to_string()),
            ..RunRecord::new("j", &slot.key(), Status::Succeeded)
        };
        records::write(&s, &r, Duration::from_secs(60)).unwrap();
        records::write_tail(&s, &r, &vec![b'x'; TAIL_BYTES], Duration::from_secs(60)).unwrap();
        let l = log(&s, &cfg, "j", None, Utc::now()).unwrap();
        assert_eq!(l.source, LogSource::File(logf.display().to_string()));
        assert_eq!(
            String::from_utf8(l.text).unwrap(),
            "[9] 03:00:01 OUT:job mine\n[9] 03:00:02 INFO:greaserun done\n"
        );
        std::fs::remove_file(&logf).unwrap();
        let l = log(&s, &cfg, "j", None, Utc::now()).unwrap();
        assert!(matches!(
            l.source,
            LogSource::Tail {
                unreadable: Some(_)
            }
        ));
        assert_eq!(l.text.len(), TAIL_BYTES);
        assert!(
            l.header().contains("is not readable here"),
            "{}",
            l.header()
        );
    }
}
