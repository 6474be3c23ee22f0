//! The `--concurrency` step, after the slot's claim and before the job: with `forbid`,
//! another live run of the job means this slot is skipped; with `replace`, the live runs
//! are asked to end (their cancel markers) and waited for (up to `--kill-grace` plus two
//! heartbeat intervals, polled), then this one runs.

use std::time::{Duration, Instant};

use crate::arbitration::options::Concurrency;
use crate::arbitration::overlap::{self, LiveRun};
use crate::arbitration::session::Session;
use crate::execution::TICK;
use crate::model::NOTICE;
use crate::run::FarmRun;

/// Why this slot must be skipped (`forbid` found a live run), or `None` to run it.
pub fn step(session: &Session, farm: &FarmRun) -> Option<String> {
    if farm.concurrency == Concurrency::Allow {
        return None;
    }
    let store = session.store().ok()?;
    let (job, me) = (session.job(), session.run_id());
    let live = |what: &str| match overlap::live_runs(&*store, session.funnel(), job, &me) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("--concurrency {what}: cannot list the job's live runs: {e}");
            vec![]
        }
    };
    match farm.concurrency {
        Concurrency::Allow => None,
        Concurrency::Forbid => {
            let runs = live("forbid");
            let first = runs.first()?;
            Some(format!("--concurrency forbid: {first} is still alive"))
        }
        Concurrency::Replace => {
            let runs = live("replace");
            if runs.is_empty() {
                return None;
            }
            let by = format!("{} (--concurrency replace, run {me})", session.who());
            for r in &runs {
                tracing::warn!(target: NOTICE, "--concurrency replace: cancelling {r}");
                if let Err(e) = overlap::cancel(&*store, job, r, &by) {
                    tracing::warn!("cannot cancel {r}: {e}");
                }
            }
            let wait = farm.kill_grace + session.funnel().heartbeat_interval * 2 + TICK * 2;
            let deadline = Instant::now() + wait;
            loop {
                let left: Vec<LiveRun> = live("replace")
                    .into_iter()
                    .filter(|r| runs.contains(r))
                    .collect();
                if left.is_empty() {
                    break;
                }
                if Instant::now() >= deadline {
                    tracing::warn!(
                        "--concurrency replace: {} still alive after {}; running anyway",
                        left[0],
                        crate::util::duration::format(wait)
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            None
        }
    }
}
