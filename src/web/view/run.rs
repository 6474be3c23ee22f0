//! The run view (`/run/<job>/<slot>/<run id>`, `/api/run/...`): the run record (host,
//! version, exit status, timings, attempt, who requested it) and its output: the live
//! output while it runs, else what `greasestatus log` shows, the last [`MAX_OUTPUT`]
//! bytes of it.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::arbitration::records;
use crate::config::Config;
use crate::debugging::latest::pick;
use crate::debugging::runs::{Slots, log, runs_in};
use crate::model::keys;
use crate::model::record::{RunRecord, Status, decode_live};
use crate::model::slot::Slot;
use crate::store::Store;
use crate::web::error::WebError;

/// At most this much output is shown (its end); `greasestatus log` prints all of it.
pub const MAX_OUTPUT: usize = 256 * 1024;

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub run: RunRecord,
    /// The output, invalid UTF-8 replaced.
    pub output: String,
    /// Where it came from: `live`, `store`, `file`, `tail` or `none`.
    pub source: &'static str,
    /// Whether only the end of the output is shown.
    pub truncated: bool,
}

/// The run `run_id` of `job` at `slot` (`-`: the one `greasestatus log` would show).
pub fn run(
    store: &dyn Store,
    cfg: &Config,
    job: &str,
    slot: &str,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<RunView, WebError> {
    let at = Slot::from_key(slot)
        .or_else(|| Slot::parse(slot).ok())
        .ok_or_else(|| WebError::NotFound(format!("{slot:?} is not a slot")))?;
    let all = runs_in(store, cfg, Some(job), Slots::At(at), now)?;
    let here: Vec<&RunRecord> = all.iter().collect();
    let chosen = pick(&here);
    let run = if run_id == "-" {
        chosen.clone()
    } else {
        all.iter().find(|r| r.id() == run_id).cloned()
    }
    .ok_or_else(|| WebError::NotFound(format!("no run {run_id:?} of {job:?} at {slot}")))?;
    let mut out = Tail::default();
    let source = if run.status == Status::Running {
        match store.get(&keys::live(&run.job, &run.slot, &run.id()))? {
            Some(b) => {
                let (_, text) = decode_live(&b).unwrap_or_default();
                out.write_all(&text).ok();
                "live"
            }
            None => "none",
        }
    } else if chosen.as_ref().is_some_and(|c| c.id() == run.id()) {
        let view = log(store, cfg, job, Some(at), now)?;
        view.write_to(&mut out)
            .map_err(|e| WebError::Internal(format!("cannot read the log: {e}")))?;
        match view.source {
            crate::debugging::runs::LogSource::Store => "store",
            crate::debugging::runs::LogSource::File(_) => "file",
            crate::debugging::runs::LogSource::Tail { .. } => "tail",
            crate::debugging::runs::LogSource::None => "none",
        }
    } else {
        match records::read_tail(store, &run)? {
            Some(t) => {
                out.write_all(&t).ok();
                "tail"
            }
            None => "none",
        }
    };
    out.flush().ok();
    Ok(RunView {
        run,
        output: String::from_utf8_lossy(&out.buf).into_owned(),
        source,
        truncated: out.dropped,
    })
}

/// Keeps the last [`MAX_OUTPUT`] bytes written to it.
#[derive(Default)]
struct Tail {
    buf: Vec<u8>,
    dropped: bool,
}

impl Write for Tail {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() > 2 * MAX_OUTPUT {
            let cut = self.buf.len() - MAX_OUTPUT;
            self.buf.drain(..cut);
            self.dropped = true;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.len() > MAX_OUTPUT {
            let cut = self.buf.len() - MAX_OUTPUT;
            self.buf.drain(..cut);
            self.dropped = true;
        }
        Ok(())
    }
}
