//! How many queued requests this host may start now, by the same guard that greaserun
//! applies to a scheduled run ([`crate::arbitration::guard`]).

use std::path::PathBuf;

use super::PullOptions;
use super::spawn::Children;
use crate::arbitration::guard;

/// How many requests this host may start now: `guard.max_running` minus greaserun jobs
/// running here and this worker's own children; 0 when load or memory is over its limit
/// or the host cannot be measured.
pub(super) fn measure_room(opts: &PullOptions, children: &Children) -> u32 {
    let own: Vec<u32> = children.alive().into_iter().map(|(p, _)| p).collect();
    let exe = opts
        .greaserun
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
    let m = guard::measure_of(&exe, &own).map(|mut m| {
        if opts.greaserun.is_none() {
            m.running = 0;
        }
        m.running += own.len() as u32;
        m
    });
    match guard::judge(m, &opts.guard, &opts.host) {
        Ok(m) => opts.guard.max_running.saturating_sub(m.running),
        Err(guard::GuardError::Refused(r)) => {
            let why: Vec<String> = r.exceeded.iter().map(ToString::to_string).collect();
            tracing::info!("no room for queued requests here: {}", why.join(", "));
            0
        }
        Err(e) => {
            tracing::info!("no room for queued requests here: {e}");
            0
        }
    }
}
