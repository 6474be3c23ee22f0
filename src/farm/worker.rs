//! What greasesnatch does on a worker besides one install round: the rounds after it
//! (a pull round of the farm queue, an alert round of the slot ledger) and `--watch`,
//! which runs all three for ever on their own threads. Nothing here prints: every line
//! for the operator goes to a [`Say`] callback as a [`Line`], and the binary decides
//! where it goes. Each loop reports a store failure once (and again only when it
//! changes) and says when the store is usable again; failures never end a loop.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{CONFIG_ENV, Config, STORE_ENV};
use crate::dispatch::snatch::SnatchOptions;
use crate::dispatch::watch as dispatch_watch;
use crate::farm::alert::{self, AlertOptions};
use crate::farm::holders;
use crate::farm::pull::spawn::PassThrough;
use crate::farm::pull::{self, PullOptions};
use crate::store::Store;
use crate::util::host;

/// A line for the operator: a summary (`Out`, stdout) or a failure or rejection (`Err`,
/// stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Out(String),
    Err(String),
}

/// Where a worker's lines go; called from several threads under `--watch`.
pub type Say<'a> = &'a (dyn Fn(Line) + Sync);

/// The pull rounds' options: this worker's name, guard and funnel settings, and what
/// every started job gets passed (the store's URL, the config file, the host name).
/// greaserun is looked for beside the running program.
pub fn pull_options(opts: &SnatchOptions, config: &Config, store_url: &str) -> PullOptions {
    let mut pass = vec![(STORE_ENV.to_string(), store_url.to_string())];
    if let Some(path) = &config.source {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        pass.push((CONFIG_ENV.to_string(), path.to_string_lossy().into_owned()));
    }
    if let Ok(h) = std::env::var(host::HOSTNAME_ENV) {
        pass.push((host::HOSTNAME_ENV.to_string(), h));
    }
    let greaserun: Option<PathBuf> = std::env::current_exe()
        .ok()
        .and_then(|me| Some(me.parent()?.join("greaserun")))
        .filter(|p| p.is_file());
    PullOptions {
        snatch: opts.clone(),
        host: host::hostname(config.common.hostname.as_deref()),
        guard: config.guard.clone(),
        funnel: config.funnel.clone(),
        history_retention: config.history.retention,
        pass: PassThrough(pass),
        greaserun,
    }
}

/// `--watch`: install rounds forever (a line for each that changed or rejected
/// something, and for the first), with `pull` a thread of pull rounds as the queue
/// changes, and with `alerts` a thread of alert rounds every `alerts.interval`.
pub fn watch(
    s: &dyn Store,
    opts: &SnatchOptions,
    pull: Option<&PullOptions>,
    alerts: Option<&AlertOptions>,
    say: Say,
) -> ! {
    std::thread::scope(|scope| {
        if let Some(p) = pull {
            scope.spawn(move || watch_pull(s, p, say));
        }
        if let Some(a) = alerts {
            scope.spawn(move || {
                loop {
                    alert_round(s, a, false, say);
                    std::thread::sleep(a.config.alerts.interval.max(Duration::from_secs(1)));
                }
            });
        }
        watch_install(s, opts, say)
    })
}

/// Lines written to it go to `say` as [`Line::Err`]: the install rounds' rejections.
struct ErrLines<'a>(Say<'a>, Vec<u8>);

impl Write for ErrLines<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.extend_from_slice(buf);
        while let Some(i) = self.1.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.1.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line[..i]);
            (self.0)(Line::Err(crate::util::escape::escape(&text).into_owned()));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn watch_install(s: &dyn Store, opts: &SnatchOptions, say: Say) -> ! {
    let mut last_error: Option<String> = None;
    let mut first = true;
    let mut out = ErrLines(say, Vec::new());
    dispatch_watch::watch(s, opts, dispatch_watch::RESYNC, &mut out, |r| match r {
        Ok(summary) => {
            if last_error.take().is_some() {
                say(Line::Err(
                    "greasesnatch: store and cron directory usable again".into(),
                ));
            }
            let changed = summary.installed + summary.updated + summary.removed > 0
                || !summary.rejected.is_empty();
            if changed || first {
                say(Line::Out(format!("greasesnatch: {summary}")));
            }
            first = false;
        }
        Err(e) => {
            let msg = format!("{e:#}");
            if last_error.as_deref() != Some(msg.as_str()) {
                say(Line::Err(format!(
                    "greasesnatch: error: {msg} (retrying every second)"
                )));
                last_error = Some(msg);
            }
        }
    })
}

/// The pull thread of `--watch`: a line per round that did something, each new store
/// failure once.
fn watch_pull(s: &dyn Store, opts: &PullOptions, say: Say) -> ! {
    let mut last_error: Option<String> = None;
    pull::watch::watch(s, opts, |r| match r {
        Ok(p) => {
            if last_error.take().is_some() {
                say(Line::Err("greasesnatch: queue usable again".into()));
            }
            if p.any() {
                say(Line::Out(format!("greasesnatch: requests: {p}")));
            }
        }
        Err(e) => {
            let msg = format!("{e:#}");
            if last_error.as_deref() != Some(msg.as_str()) {
                say(Line::Err(format!(
                    "greasesnatch: error: pull round: {msg} (retrying every second)"
                )));
                last_error = Some(msg);
            }
        }
    })
}

/// One alert round (check, then deliver), over the entries this worker checks (with
/// placement, those it ranks among the first `replicas + 1` for): a line when it sent
/// or tried to send something (with `quiet`, only for deliveries that failed), a
/// warning when the store failed under it.
pub fn alert_round(s: &dyn Store, a: &AlertOptions, quiet: bool, say: Say) -> Option<alert::Round> {
    let l = &a.config.launch;
    let wanted = holders::checked_here(s, &a.host, l.replicas, l.member_ttl)
        .inspect_err(|e| tracing::warn!("placement members: {e}; checking every entry"))
        .unwrap_or_else(|_| Box::new(|_| true));
    match alert::round(s, a, chrono::Utc::now(), &*wanted) {
        Ok(r) => {
            let d = r.delivered;
            if (!quiet && d.any()) || d.retrying + d.gave_up > 0 {
                say(Line::Out(format!(
                    "greasesnatch: alerts: {} new event(s); {d}",
                    r.checked.events
                )));
            }
            Some(r)
        }
        Err(e) => {
            tracing::warn!("alert round: {e}");
            None
        }
    }
}
