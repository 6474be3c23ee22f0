//! `greasestatus log`: one run's output, wherever it ran: the whole output from the
//! store when it fit in 64 KiB, else the run's lines from its log file on shared
//! storage, else the stored last 64 KiB. A log file is never read into memory: the view
//! says where the output is, and [`LogView::write_to`] / [`LogView::write_json`] stream
//! it ([`crate::debugging::logcopy`]), so a 1 GB log costs what a small one does.

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use crate::arbitration::records;
use crate::config::Config;
use crate::debugging::latest::pick;
use crate::debugging::logcopy::{JsonText, copy_lines_of_pid};
use crate::debugging::runs::{ViewError, runs};
use crate::model::keys;
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
    /// The output from the store (at most 64 KiB); empty for [`LogSource::File`], whose
    /// lines [`LogView::write_to`] streams from the file.
    pub text: Vec<u8>,
}

impl LogView {
    /// Writes the run's output to `out`, streamed from the log file for
    /// [`LogSource::File`]; returns how many bytes.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<u64> {
        match &self.source {
            LogSource::File(p) => {
                // Whole buffers to `out`, never a write per line.
                let mut buf = io::BufWriter::with_capacity(64 * 1024, out);
                let n = copy_lines_of_pid(std::fs::File::open(p)?, self.run.pid, &mut buf, false)?;
                buf.flush()?;
                Ok(n)
            }
            _ => out.write_all(&self.text).map(|()| self.text.len() as u64),
        }
    }

    /// Writes the view as one pretty-printed JSON object and a newline: `header`,
    /// `path`, `run`, `source` and `text` (the output, invalid UTF-8 replaced), the text
    /// streamed into the string as it is read.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let (source, path) = match &self.source {
            LogSource::Store => ("store", None),
            LogSource::File(p) => ("file", Some(p.as_str())),
            LogSource::Tail { unreadable } => ("tail", unreadable.as_deref()),
            LogSource::None => ("none", None),
        };
        let head = serde_json::json!({
            "header": self.header(),
            "source": source,
            "path": path,
            "run": self.run,
        });
        let head = serde_json::to_string_pretty(&head).map_err(io::Error::other)?;
        // "text" sorts last: the object is the others' followed by it.
        let open = head.strip_suffix("\n}").expect("an object");
        write!(out, "{open},\n  \"text\": \"")?;
        let mut text = JsonText::new(out);
        self.write_to(&mut text)?;
        text.finish()?;
        out.write_all(b"\"\n}\n")
    }

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
    // Prefer a run that ran (or the claim's winner) over a drop or a manual duplicate.
    let chosen = |since: Option<Slot>| -> Result<Option<RunRecord>, ViewError> {
        let all = runs(store, cfg, Some(job), since, now)?;
        let candidates: Vec<&RunRecord> = all
            .iter()
            .filter(|r| slot.is_none_or(|s| r.slot == s.key()))
            .collect();
        Ok(pick(&candidates))
    };
    // The latest run: first from the job's newest slot with a claim or a record, which
    // is where it nearly always is; the whole history only when that one did not run.
    let fast = match slot {
        Some(_) => chosen(slot)?,
        None => {
            let newest = [keys::RUNS, keys::CLAIMS]
                .into_iter()
                .map(|top| records::newest_slot(store, top, job))
                .try_fold(None, |m, s| s.map(|s| m.max(s)))?;
            match newest {
                Some(n) => chosen(Some(n))?.filter(|r| r.claimed && !r.host.is_empty()),
                None => None,
            }
        }
    };
    let run = match fast {
        Some(r) => Some(r),
        None if slot.is_none() => chosen(None)?,
        None => None,
    }
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
        && has_lines_of_pid(p, run.pid)
    {
        return Ok(LogView {
            source: LogSource::File(p.clone()),
            run,
            text: Vec::new(),
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

/// Whether the log file at `path` can be read and has a line of process `pid` (lines
/// start with `[<pid>]`); read up to that line only.
fn has_lines_of_pid(path: &str, pid: u32) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    copy_lines_of_pid(f, pid, &mut Vec::new(), true).is_ok_and(|n| n > 0)
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
        let mut text = Vec::new();
        l.write_to(&mut text).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "[9] 03:00:01 OUT:job mine\n[9] 03:00:02 INFO:greaserun done\n"
        );
        // --json: the same document as a whole-string serialisation would give.
        let mut json = Vec::new();
        l.write_json(&mut json).unwrap();
        let whole = serde_json::json!({
            "header": l.header(),
            "source": "file",
            "path": logf.display().to_string(),
            "run": l.run,
            "text": "[9] 03:00:01 OUT:job mine\n[9] 03:00:02 INFO:greaserun done\n",
        });
        let whole = serde_json::to_string_pretty(&whole).unwrap() + "\n";
        assert_eq!(String::from_utf8(json).unwrap(), whole);
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
