//! One greaserun invocation's passage through the funnel: which job and slots it covers,
//! whether it claims, and for each slot: claim, skip if the outputs exist, wait for the
//! inputs, run (through a closure the pipeline supplies), and record the run.
//!
//! The pipeline (`run.rs`) builds a [`Session`] from its options, checks the guard
//! (calling [`Session::decline`] when over a limit), sleeps the load-weighted delay
//! ([`crate::arbitration::delay::weighted`] by [`crate::arbitration::guard::headroom`]), then calls [`Session::run`] with a
//! closure that resolves and executes the job for one slot's arguments.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Utc;

use crate::arbitration::funnel::{self, Claim, Claimant, Heartbeat};
use crate::arbitration::outputs;
use crate::arbitration::slot::{self, Period, Slot};
use crate::config::{Config, OnStoreUnavailable, StoreConfig};
use crate::debugging::records::{self, RunRecord, Status};
use crate::dispatch::params;
use crate::exit;
use crate::store::{self, Store, StoreError};

/// The funnel's command-line options.
#[derive(Debug, Clone, Default)]
pub struct SlotOptions {
    /// `--job`: the job's name (default: derived, see [`funnel::job_name`]).
    pub job: Option<String>,
    /// `--slot`: the slot (default: the minute greaserun started in).
    pub slot: Option<Slot>,
    /// `--no-claim`: never claim (a manual run beside the farm's).
    pub no_claim: bool,
    /// `--skip-if-exists`: output patterns; all present means the slot is done.
    pub skip_if_exists: Vec<String>,
    /// `--backfill`: the window of slots to repair, ending at the slot.
    pub backfill: Option<Period>,
    /// `--every`: the step between backfill slots (default 1h for an hour window, else 1d).
    pub every: Option<Period>,
    /// `--keep-going`: in a backfill, go on after a failed slot.
    pub keep_going: bool,
    /// `--wait-for`: input patterns to wait for before running.
    pub wait_for: Vec<String>,
    /// `--wait-timeout`: how long to wait for inputs.
    pub wait_timeout: Duration,
    /// `-q`: no notices (claimed elsewhere, skipped) on stderr.
    pub quiet: bool,
}

/// The default `--wait-timeout`.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(3600);

/// What the job is, as written on the command line.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub runner: String,
    pub artifact: String,
    /// Arguments as written (slot placeholders unfilled).
    pub args: Vec<String>,
}

/// One slot's run, handed to the pipeline's execute closure.
#[derive(Debug, Clone)]
pub struct SlotRun {
    pub job: String,
    pub slot: Slot,
    /// The arguments with slot parameters filled.
    pub args: Vec<String>,
}

/// How an executed job ended, as the pipeline reports it.
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
}

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Param(#[from] params::ParamError),
    #[error("--every needs --backfill")]
    EveryWithoutBackfill,
    #[error("--every {every} is longer than --backfill {window}")]
    EveryTooLong { every: Period, window: Period },
}

impl SessionError {
    /// The exit code (all are usage errors).
    pub fn exit_code(&self) -> i32 {
        exit::USAGE
    }
}

/// One invocation's funnel state.
pub struct Session {
    cfg: Config,
    store_cfg: StoreConfig,
    store: OnceLock<Result<Arc<dyn Store>, String>>,
    me: Claimant,
    job: String,
    spec: JobSpec,
    opts: SlotOptions,
    claiming: bool,
    slots: Vec<Slot>,
}

impl Session {
    /// Sets up a session. `started` is when greaserun started (its minute is the slot
    /// unless `--slot` says otherwise); `interactive` is whether stdin is a TTY.
    /// Claims are made unless `--no-claim` is given, or the run is interactive without
    /// `--job` or `--slot`.
    pub fn new(
        cfg: &Config,
        store_flag: Option<&str>,
        opts: SlotOptions,
        spec: JobSpec,
        interactive: bool,
        started: chrono::DateTime<Utc>,
    ) -> Result<Session, SessionError> {
        let last = opts.slot.unwrap_or_else(|| Slot::at(started));
        let slots = match (opts.backfill, opts.every) {
            (None, Some(_)) => return Err(SessionError::EveryWithoutBackfill),
            (None, None) => vec![last],
            (Some(window), every) => {
                let every = every.unwrap_or(match window {
                    Period::Minutes(_) => Period::Minutes(60),
                    Period::Days(_) => Period::Days(1),
                });
                if every.minutes() > window.minutes() {
                    return Err(SessionError::EveryTooLong { every, window });
                }
                slot::window(last, window, every)
            }
        };
        // Malformed placeholders fail now, not in the middle of a backfill.
        for a in &spec.args {
            params::fill(a, last)?;
        }
        for p in opts.skip_if_exists.iter().chain(&opts.wait_for) {
            params::fill_pattern(p, last)?;
        }
        let job = opts
            .job
            .clone()
            .unwrap_or_else(|| funnel::job_name(&spec.runner, &spec.artifact, &spec.args));
        let claiming =
            !opts.no_claim && (!interactive || opts.job.is_some() || opts.slot.is_some());
        Ok(Session {
            store_cfg: cfg.store_config(store_flag),
            cfg: cfg.clone(),
            store: OnceLock::new(),
            me: Claimant::me(cfg.hostname()),
            job,
            spec,
            opts,
            claiming,
            slots,
        })
    }

    /// Uses an already open store (tests, benchmarks, a pipeline that opened one).
    pub fn with_store(self, store: Arc<dyn Store>) -> Session {
        let _ = self.store.set(Ok(store));
        self
    }

    /// Overrides who claims (tests and benchmarks simulating several workers).
    pub fn with_claimant(mut self, me: Claimant) -> Session {
        self.me = me;
        self
    }

    /// The job's name.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// The slots this invocation covers, oldest first.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Whether this invocation claims its slots.
    pub fn claiming(&self) -> bool {
        self.claiming
    }

    fn store(&self) -> Result<Arc<dyn Store>, String> {
        self.store
            .get_or_init(|| {
                let s = store::open(&self.store_cfg).map_err(|e| e.to_string())?;
                s.check().map_err(|e| e.to_string())?;
                Ok(Arc::from(s))
            })
            .clone()
    }

    fn notice(&self, msg: &str) {
        if !self.opts.quiet {
            eprintln!("greaserun: {msg}");
        }
    }

    /// Records that this host declined the scheduled slot, `reason` being the guard's
    /// (e.g. `load 3.2 > 2.0`). Does nothing when not claiming; a store failure is a
    /// warning (the run is refused either way).
    pub fn decline(&self, reason: &str) {
        if !self.claiming {
            return;
        }
        let slot = *self.slots.last().expect("a session has a slot");
        self.notice(&format!("{} slot {slot}: declined: {reason}", self.job));
        let r = self.store().map_err(|e| e.to_string()).and_then(|s| {
            funnel::decline(&*s, &self.cfg.funnel, &self.job, slot, &self.me, reason)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = r {
            tracing::warn!("decline of {} slot {slot} not recorded: {e}", self.job);
        }
    }

    /// Runs every slot that needs it through the funnel, oldest first, calling `execute`
    /// for those this host wins. Returns greaserun's exit code: 0 when every slot ran
    /// well or was claimed elsewhere or skipped; otherwise the first failure's code
    /// (75 when the store is unavailable under policy `skip` or inputs never appeared).
    /// A backfill stops at its first failure unless `--keep-going`.
    ///
    /// When `execute` fails (the job could not even start), the run is recorded `failed`
    /// with the error as its reason; the error is returned at once, or with
    /// `--keep-going` printed and counted with the code `code_of` gives it.
    pub fn run<E: std::fmt::Display>(
        &self,
        execute: &mut dyn FnMut(&SlotRun) -> Result<JobEnd, E>,
        code_of: impl Fn(&E) -> i32,
    ) -> Result<i32, E> {
        let mut first_failure = 0;
        for slot in self.pending_slots() {
            let code = match self.run_slot(slot, execute) {
                Ok(code) => code,
                Err(e) if self.opts.keep_going => {
                    eprintln!("greaserun: error: {} slot {slot}: {e}", self.job);
                    code_of(&e)
                }
                Err(e) => {
                    self.prune();
                    return Err(e);
                }
            };
            if code != 0 {
                if first_failure == 0 {
                    first_failure = code;
                }
                if !self.opts.keep_going {
                    break;
                }
            }
        }
        self.prune();
        Ok(first_failure)
    }

    /// Prunes the store if no one did this interval (after the job, never delaying it).
    fn prune(&self) {
        if let Ok(s) = self.store() {
            match funnel::maybe_prune(&*s, &self.cfg) {
                Ok(Some(p)) => tracing::debug!("pruned: {p:?}"),
                Ok(None) => {}
                Err(e) => tracing::warn!("pruning the store failed (harmless): {e}"),
            }
        }
    }

    /// The slots to run: all of them, or for a backfill those whose outputs are missing
    /// (no succeeded record, when no `--skip-if-exists` pattern says what the output is).
    fn pending_slots(&self) -> Vec<Slot> {
        if self.opts.backfill.is_none() {
            return self.slots.clone();
        }
        let mut out = Vec::new();
        for &slot in &self.slots {
            let done = if self.opts.skip_if_exists.is_empty() {
                match self.store() {
                    Ok(s) => records::succeeded(&*s, &self.job, slot).unwrap_or(false),
                    Err(_) => false,
                }
            } else {
                matches!(outputs::missing(&self.opts.skip_if_exists, slot), Ok(None))
            };
            if !done {
                out.push(slot);
            }
        }
        tracing::info!(
            "backfill of {}: {} of {} slots missing",
            self.job,
            out.len(),
            self.slots.len()
        );
        out
    }

    fn unavailable(&self, slot: Slot, why: &str) -> Option<i32> {
        match self.cfg.funnel.on_store_unavailable {
            OnStoreUnavailable::Skip => {
                eprintln!(
                    "greaserun: not running {} slot {slot}: cannot claim it: {why} (funnel.on_store_unavailable is \"skip\", so a duplicate run is never risked)",
                    self.job
                );
                Some(exit::TEMP_FAIL)
            }
            OnStoreUnavailable::Run => {
                tracing::warn!(
                    "running {} slot {slot} unclaimed: {why} (funnel.on_store_unavailable is \"run\")",
                    self.job
                );
                None
            }
        }
    }

    fn run_slot<E: std::fmt::Display>(
        &self,
        slot: Slot,
        execute: &mut dyn FnMut(&SlotRun) -> Result<JobEnd, E>,
    ) -> Result<i32, E> {
        let args: Vec<String> = self
            .spec
            .args
            .iter()
            .map(|a| params::fill(a, slot).expect("checked in Session::new"))
            .collect();
        let store = self.store();
        let mut claimed = false;
        let mut heartbeat: Option<Heartbeat> = None;
        if self.claiming {
            match &store {
                Err(e) => {
                    if let Some(code) = self.unavailable(slot, e) {
                        return Ok(code);
                    }
                }
                Ok(s) => match funnel::claim(s, &self.cfg.funnel, &self.job, slot, &self.me) {
                    Ok(Claim::Won(hb)) => {
                        claimed = true;
                        heartbeat = Some(hb);
                    }
                    Ok(Claim::Taken(c)) => {
                        self.notice(&format!(
                            "{} slot {slot}: already claimed by {} at {}",
                            self.job,
                            c.host,
                            c.at.with_timezone(&chrono::Local)
                                .format("%Y-%m-%dT%H:%M:%S%:z")
                        ));
                        return Ok(exit::OK);
                    }
                    Err(e @ StoreError::BadKey { .. }) => {
                        eprintln!("greaserun: error: {e}");
                        return Ok(exit::SOFTWARE);
                    }
                    Err(e) => {
                        if let Some(code) = self.unavailable(slot, &e.to_string()) {
                            return Ok(code);
                        }
                    }
                },
            }
        }
        let store = store.ok();
        if heartbeat.is_none()
            && let Some(s) = &store
        {
            let key = funnel::heartbeat_key(&self.job, slot, &self.me.run_id());
            heartbeat = Some(Heartbeat::start(s.clone(), key, &self.me, &self.cfg.funnel));
        }
        let mut rec = RunRecord {
            job: self.job.clone(),
            slot: slot.key(),
            status: Status::Running,
            host: self.me.host.clone(),
            pid: self.me.pid,
            user: self.me.user.clone(),
            claimed,
            runner: self.spec.runner.clone(),
            artifact: self.spec.artifact.clone(),
            version: None,
            args: args.clone(),
            start: Some(Utc::now()),
            end: None,
            exit_code: None,
            signal: None,
            duration_s: None,
            log_path: None,
            reason: None,
            declines: vec![],
        };
        let save = |rec: &RunRecord, tail: Option<&[u8]>| {
            let Some(s) = &store else { return };
            let ret = self.cfg.history.retention;
            let r = records::write(&**s, rec, ret)
                .and_then(|_| tail.map_or(Ok(()), |t| records::write_tail(&**s, rec, t, ret)));
            if let Err(e) = r {
                tracing::warn!("run record of {} slot {slot} not written: {e}", self.job);
            }
        };

        if let Ok(None) = outputs::missing(&self.opts.skip_if_exists, slot)
            && !self.opts.skip_if_exists.is_empty()
        {
            let first =
                params::fill_pattern(&self.opts.skip_if_exists[0], slot).unwrap_or_default();
            rec.status = Status::Skipped;
            rec.end = rec.start;
            rec.reason = Some(format!("outputs exist: {first}"));
            save(&rec, None);
            self.notice(&format!(
                "{} slot {slot}: skipped, outputs exist ({first})",
                self.job
            ));
            return Ok(exit::OK);
        }

        // The running record is written beside the job's start, not before it; the final
        // record waits for it, so it is never overwritten by the older state.
        let running = store.as_ref().map(|s| {
            let (s, r, ret) = (s.clone(), rec.clone(), self.cfg.history.retention);
            std::thread::spawn(move || records::write(&*s, &r, ret))
        });
        let settle =
            |running: Option<std::thread::JoinHandle<Result<(), StoreError>>>| match running
                .map(|h| h.join())
            {
                Some(Ok(Err(e))) => {
                    tracing::warn!(
                        "running record of {} slot {slot} not written: {e}",
                        self.job
                    )
                }
                Some(Err(_)) => tracing::warn!("writing the running record panicked"),
                _ => {}
            };
        if !self.opts.wait_for.is_empty() {
            let timeout = self.opts.wait_timeout;
            match outputs::wait_for(&self.opts.wait_for, slot, timeout) {
                Ok(Ok(())) => {}
                Ok(Err(path)) | Err(params::ParamError { text: path, .. }) => {
                    let why = format!(
                        "inputs did not appear within {}: {path}",
                        crate::util::duration::format(timeout)
                    );
                    eprintln!("greaserun: not running {} slot {slot}: {why}", self.job);
                    self.finish(
                        &mut rec,
                        Status::Failed,
                        Some(exit::TEMP_FAIL),
                        None,
                        Some(why),
                    );
                    settle(running);
                    save(&rec, None);
                    return Ok(exit::TEMP_FAIL);
                }
            }
        }

        let end = match execute(&SlotRun {
            job: self.job.clone(),
            slot,
            args,
        }) {
            Ok(end) => end,
            Err(e) => {
                self.finish(&mut rec, Status::Failed, None, None, Some(e.to_string()));
                settle(running);
                save(&rec, None);
                return Err(e);
            }
        };
        let status = if end.code == 0 {
            Status::Succeeded
        } else {
            Status::Failed
        };
        rec.version = end.version.clone();
        rec.log_path = end.log_path.as_ref().map(|p| p.display().to_string());
        self.finish(
            &mut rec,
            status,
            end.exit_code,
            end.signal,
            end.reason.clone(),
        );
        settle(running);
        save(&rec, Some(&end.tail));
        drop(heartbeat);
        Ok(end.code)
    }

    fn finish(
        &self,
        rec: &mut RunRecord,
        status: Status,
        exit_code: Option<i32>,
        signal: Option<i32>,
        reason: Option<String>,
    ) {
        let end = Utc::now();
        rec.status = status;
        rec.end = Some(end);
        rec.exit_code = exit_code;
        rec.signal = signal;
        rec.reason = reason;
        rec.duration_s = rec
            .start
            .map(|s| end.signed_duration_since(s).as_seconds_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dir::DirStore;

    struct Farm {
        _dir: tempfile::TempDir,
        root: PathBuf,
        store: Arc<dyn Store>,
        cfg: Config,
    }

    fn farm() -> Farm {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let s = DirStore::new(root.join("store"));
        s.init().unwrap();
        let mut cfg = Config::default();
        cfg.funnel.heartbeat_interval = Duration::from_millis(50);
        Farm {
            _dir: dir,
            root,
            store: Arc::new(s),
            cfg,
        }
    }

    fn spec() -> JobSpec {
        JobSpec {
            runner: "shell".into(),
            artifact: "/x/job.jar".into(),
            args: vec!["make".into(), "{date}".into()],
        }
    }

    fn session(f: &Farm, opts: SlotOptions, host: &str) -> Session {
        Session::new(&f.cfg, None, opts, spec(), false, Utc::now())
            .unwrap()
            .with_store(f.store.clone())
            .with_claimant(Claimant {
                host: host.into(),
                pid: 1,
                user: "u".into(),
            })
    }

    /// Runs a session with an infallible execute closure.
    fn go(s: Session, mut f: impl FnMut(&SlotRun) -> JobEnd) -> i32 {
        s.run(&mut |r| Ok::<_, String>(f(r)), |_| 1).unwrap()
    }

    fn ok(code: i32) -> JobEnd {
        JobEnd {
            code,
            exit_code: Some(code),
            tail: b"out\n".to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn claim_rules() {
        let f = farm();
        let mk = |opts: SlotOptions, tty: bool| {
            Session::new(&f.cfg, None, opts, spec(), tty, Utc::now()).unwrap()
        };
        assert!(mk(SlotOptions::default(), false).claiming());
        assert!(!mk(SlotOptions::default(), true).claiming());
        let job = SlotOptions {
            job: Some("j".into()),
            ..Default::default()
        };
        assert!(mk(job.clone(), true).claiming());
        let no = SlotOptions {
            no_claim: true,
            ..job
        };
        assert!(!mk(no, false).claiming());
    }

    #[test]
    fn second_worker_finds_the_slot_claimed() {
        let f = farm();
        let slot = Slot::parse("2026-03-01T03:00").unwrap();
        let opts = SlotOptions {
            slot: Some(slot),
            ..Default::default()
        };
        let mut ran = Vec::new();
        for host in ["a", "b", "c"] {
            let code = go(session(&f, opts.clone(), host), |r| {
                ran.push((host, r.args.clone()));
                ok(0)
            });
            assert_eq!(code, 0);
        }
        assert_eq!(ran, [("a", vec!["make".to_string(), "2026-03-01".into()])]);
        let s = session(&f, opts, "a");
        let (recs, _) = records::list(&*f.store, &records::slot_prefix(s.job(), slot)).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].status, Status::Succeeded);
        assert_eq!(recs[0].host, "a");
    }

    #[test]
    fn backfill_runs_missing_slots_oldest_first_and_stops_at_failure() {
        let f = farm();
        let out = f.root.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let last = Slot::parse("2026-03-10T03:00").unwrap();
        for d in ["2026-03-05", "2026-03-08"] {
            std::fs::write(out.join(d), "x").unwrap();
        }
        let opts = SlotOptions {
            slot: Some(last),
            backfill: Some(Period::Days(7)),
            skip_if_exists: vec![format!("{}/{{date}}", out.display())],
            ..Default::default()
        };
        let mut days = Vec::new();
        let code = go(session(&f, opts.clone(), "a"), |r| {
            days.push(r.args[1].clone());
            ok(if r.args[1] == "2026-03-07" { 3 } else { 0 })
        });
        assert_eq!(code, 3);
        assert_eq!(days, ["2026-03-04", "2026-03-06", "2026-03-07"]);

        // --keep-going on another host: the failed and claimed slots stay claimed.
        let mut days = Vec::new();
        let opts = SlotOptions {
            keep_going: true,
            ..opts
        };
        let code = go(session(&f, opts, "b"), |r| {
            days.push(r.args[1].clone());
            ok(0)
        });
        assert_eq!(code, 0);
        assert_eq!(days, ["2026-03-09", "2026-03-10"]);
    }

    #[test]
    fn skip_if_exists_records_skipped_and_wait_for_times_out() {
        let f = farm();
        let slot = Slot::parse("2026-03-01T03:00").unwrap();
        let done = f.root.join("done");
        std::fs::write(&done, "x").unwrap();
        let opts = SlotOptions {
            job: Some("j".into()),
            slot: Some(slot),
            skip_if_exists: vec![done.display().to_string()],
            ..Default::default()
        };
        let code = go(session(&f, opts, "a"), |_| panic!("must not run"));
        assert_eq!(code, 0);
        let (recs, _) = records::list(&*f.store, &records::slot_prefix("j", slot)).unwrap();
        assert_eq!(recs[0].status, Status::Skipped);

        let opts = SlotOptions {
            job: Some("w".into()),
            slot: Some(slot),
            wait_for: vec![f.root.join("never").display().to_string()],
            wait_timeout: Duration::ZERO,
            ..Default::default()
        };
        let code = go(session(&f, opts, "a"), |_| panic!("must not run"));
        assert_eq!(code, exit::TEMP_FAIL);
        let (recs, _) = records::list(&*f.store, &records::slot_prefix("w", slot)).unwrap();
        assert_eq!(recs[0].status, Status::Failed);
        assert!(
            recs[0]
                .reason
                .as_ref()
                .unwrap()
                .contains("inputs did not appear")
        );
    }

    #[test]
    fn unavailable_store_skips_or_runs_by_policy() {
        let mut f = farm();
        let gone = f.root.join("nothing-here");
        let opts = SlotOptions {
            job: Some("j".into()),
            ..Default::default()
        };
        let mk = |cfg: &Config| {
            Session::new(
                cfg,
                Some(gone.to_str().unwrap()),
                opts.clone(),
                spec(),
                false,
                Utc::now(),
            )
            .unwrap()
        };
        assert_eq!(go(mk(&f.cfg), |_| panic!("must not run")), exit::TEMP_FAIL);
        f.cfg.funnel.on_store_unavailable = OnStoreUnavailable::Run;
        let mut ran = false;
        assert_eq!(
            go(mk(&f.cfg), |_| {
                ran = true;
                ok(0)
            }),
            0
        );
        assert!(ran);
    }

    #[test]
    fn bad_options_are_usage_errors() {
        let f = farm();
        let every = SlotOptions {
            every: Some(Period::Days(1)),
            ..Default::default()
        };
        assert!(matches!(
            Session::new(&f.cfg, None, every, spec(), false, Utc::now()),
            Err(SessionError::EveryWithoutBackfill)
        ));
        let mut bad = spec();
        bad.args.push("{date-1q}".into());
        assert!(
            Session::new(&f.cfg, None, SlotOptions::default(), bad, false, Utc::now()).is_err()
        );
    }
}
