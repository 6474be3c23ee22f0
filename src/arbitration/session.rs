//! One greaserun invocation's funnel: which job and slots it covers, whether it claims,
//! and, for one slot at a time, the steps the pipeline (`run.rs`) takes in order: claim
//! ([`Session::claim`]), heartbeat, the start record ([`Session::record`]), skip if the
//! outputs exist, wait for the inputs. Each step returns a value; the pipeline decides
//! what comes next. Declining a slot the guard refused is [`Session::decline`].

use std::sync::{Arc, OnceLock};

use chrono::Utc;

use crate::arbitration::claim::{self, Claim};
use crate::arbitration::heartbeat::Heartbeat;
use crate::arbitration::options::{JobSpec, SessionError, SlotOptions};
use crate::arbitration::records::{self, Recorder};
use crate::arbitration::{outputs, prune};
use crate::config::{Config, OnStoreUnavailable, StoreConfig};
use crate::exit;
use crate::model::NOTICE;
use crate::model::funnel::{ClaimInfo, Claimant};
use crate::model::job::job_name;
use crate::model::keys;
use crate::model::params;
use crate::model::record::{RunRecord, Status};
use crate::model::slot::{self, Slot};
use crate::store::{self, Store, StoreError};

/// The outcome of the claim step for one slot.
#[derive(Debug)]
pub enum Claimed {
    /// This host holds the slot; the heartbeat runs while the value lives.
    Won(Heartbeat),
    /// The run goes ahead without a claim (not claiming, or the store is unavailable and
    /// `funnel.on_store_unavailable` is `run`).
    Unclaimed,
    /// Another run holds the slot (the loser was told who).
    Elsewhere(ClaimInfo),
    /// The slot is not run here; greaserun's code for it.
    NotHere(i32),
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
            (Some(window), every) => slot::backfill(last, window, every)
                .map_err(|(every, window)| SessionError::EveryTooLong { every, window })?,
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
            .unwrap_or_else(|| job_name(&spec.runner, &spec.artifact, &spec.args));
        let claiming =
            !opts.no_claim && (!interactive || opts.job.is_some() || opts.slot.is_some());
        Ok(Session {
            store_cfg: cfg.store_config(store_flag),
            cfg: cfg.clone(),
            store: OnceLock::new(),
            me: claim::me(cfg.hostname()),
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

    /// Claims for farm-queue request `id`: a claim an earlier greaserun of the same
    /// request made is taken over ([`claim::claim`]).
    pub fn with_request(mut self, id: &str) -> Session {
        self.me.request = Some(id.to_string());
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

    /// The scheduled slot (the last of a backfill window).
    pub fn slot(&self) -> Slot {
        *self.slots.last().expect("a session has a slot")
    }

    /// Whether this invocation claims its slots.
    pub fn claiming(&self) -> bool {
        self.claiming
    }

    /// Whether a backfill goes on after a failed slot (`--keep-going`).
    pub fn keep_going(&self) -> bool {
        self.opts.keep_going
    }

    /// The job's arguments for `slot`, slot parameters filled.
    pub fn args(&self, slot: Slot) -> Vec<String> {
        self.spec
            .args
            .iter()
            .map(|a| params::fill(a, slot).expect("checked in Session::new"))
            .collect()
    }

    /// The store, opened and checked on first use (the error says why it cannot be).
    pub fn store(&self) -> Result<Arc<dyn Store>, String> {
        self.store
            .get_or_init(|| {
                let s = store::open(&self.store_cfg).map_err(|e| e.to_string())?;
                s.check().map_err(|e| e.to_string())?;
                Ok(Arc::from(s))
            })
            .clone()
    }

    /// Records that this host declined the scheduled slot, `reason` being the guard's
    /// (e.g. `load 3.2 > 2.0`). Does nothing when not claiming; a store failure is a
    /// warning (the run is refused either way).
    pub fn decline(&self, reason: &str) {
        if !self.claiming {
            return;
        }
        let slot = self.slot();
        tracing::warn!(target: NOTICE, "{} slot {slot}: declined: {reason}", self.job);
        let r = self.store().and_then(|s| {
            claim::decline(&*s, &self.cfg.funnel, &self.job, slot, &self.me, reason)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = r {
            tracing::warn!("decline of {} slot {slot} not recorded: {e}", self.job);
        }
    }

    /// The slots to run: all of them, or for a backfill those whose outputs are missing
    /// (no succeeded record, when no `--skip-if-exists` pattern says what the output is).
    pub fn pending_slots(&self) -> Vec<Slot> {
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

    /// The claim step: claims `slot` when this invocation claims. A slot claimed
    /// elsewhere is not run here (the loser is told who holds it and, when that run is
    /// abandoned, how to run the slot anyway).
    pub fn claim(&self, slot: Slot) -> Claimed {
        if !self.claiming {
            return Claimed::Unclaimed;
        }
        let s = match self.store() {
            Ok(s) => s,
            Err(e) => return self.unavailable(slot, &e),
        };
        match claim::claim(&s, &self.cfg.funnel, &self.job, slot, &self.me) {
            Ok(Claim::Won(hb)) => Claimed::Won(hb),
            Ok(Claim::Taken(c)) => {
                tracing::warn!(target: NOTICE, "{}", self.taken(&*s, &c, slot));
                Claimed::Elsewhere(c)
            }
            Err(e @ StoreError::BadKey { .. }) => {
                tracing::error!("{e}");
                Claimed::NotHere(exit::SOFTWARE)
            }
            Err(e) => self.unavailable(slot, &e.to_string()),
        }
    }

    /// What a loser is told: who holds the slot since when, and for an abandoned run,
    /// since when it is silent and how to run the slot anyway.
    fn taken(&self, store: &dyn Store, c: &ClaimInfo, slot: Slot) -> String {
        let local = |t: chrono::DateTime<Utc>| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        };
        let mut msg = format!(
            "{} slot {slot}: already claimed by {} at {}",
            self.job,
            c.host,
            local(c.at)
        );
        if let Ok(Some(last)) = claim::abandoned(store, &self.cfg.funnel, c, Utc::now()) {
            msg.push_str(&format!(
                "; that run is abandoned: {}'s heartbeat lapsed at {} (funnel.abandon_after {}) and nothing reruns it by itself; to run the slot anyway, rerun with --no-claim --job '{}' --slot {}",
                c.host,
                local(last),
                crate::util::duration::format(self.cfg.funnel.abandon_after),
                self.job,
                slot.key()
            ));
        }
        msg
    }

    fn unavailable(&self, slot: Slot, why: &str) -> Claimed {
        match self.cfg.funnel.on_store_unavailable {
            OnStoreUnavailable::Skip => {
                tracing::error!(
                    target: NOTICE,
                    "not running {} slot {slot}: cannot claim it: {why} (funnel.on_store_unavailable is \"skip\", so a duplicate run is never risked)",
                    self.job
                );
                Claimed::NotHere(exit::TEMP_FAIL)
            }
            OnStoreUnavailable::Run => {
                tracing::warn!(
                    "running {} slot {slot} unclaimed: {why} (funnel.on_store_unavailable is \"run\")",
                    self.job
                );
                Claimed::Unclaimed
            }
        }
    }

    /// The funnel settings (heartbeat interval, abandon_after).
    pub fn funnel(&self) -> &crate::config::Funnel {
        &self.cfg.funnel
    }

    /// This run's id, `<host>-<pid>`.
    pub fn run_id(&self) -> String {
        self.me.run_id()
    }

    /// `user@host` of this run (who queues its retries and rescues).
    pub fn who(&self) -> String {
        format!("{}@{}", self.me.user, self.me.host)
    }

    /// The heartbeat of a run that goes ahead unclaimed (none without a store).
    pub fn heartbeat(&self, slot: Slot) -> Option<Heartbeat> {
        let s = self.store().ok()?;
        let key = keys::heartbeat(&self.job, slot, &self.me.run_id());
        Some(Heartbeat::start(s, key, &self.me, &self.cfg.funnel))
    }

    /// The run's `running` record, started now, and the recorder that keeps it.
    pub fn record(&self, slot: Slot, args: Vec<String>, claimed: bool) -> (RunRecord, Recorder) {
        let rec = RunRecord {
            host: self.me.host.clone(),
            pid: self.me.pid,
            user: self.me.user.clone(),
            claimed,
            runner: self.spec.runner.clone(),
            artifact: self.spec.artifact.clone(),
            args,
            start: Some(Utc::now()),
            ..RunRecord::new(&self.job, &slot.key(), Status::Running)
        };
        let recorder = Recorder::new(self.store().ok(), self.cfg.history.retention);
        (rec, recorder)
    }

    /// The skip step: the first `--skip-if-exists` output (filled) when every one exists
    /// for `slot`; `None` when the slot must run.
    pub fn outputs_exist(&self, slot: Slot) -> Option<String> {
        let patterns = &self.opts.skip_if_exists;
        if patterns.is_empty() || !matches!(outputs::missing(patterns, slot), Ok(None)) {
            return None;
        }
        Some(params::fill_pattern(&patterns[0], slot).unwrap_or_default())
    }

    /// The wait step: waits up to `--wait-timeout` for the `--wait-for` inputs of `slot`,
    /// or until `stop` says so (a cancel); the error says which did not appear.
    pub fn wait_for_inputs(&self, slot: Slot, stop: &dyn Fn() -> bool) -> Result<(), String> {
        if self.opts.wait_for.is_empty() {
            return Ok(());
        }
        let timeout = self.opts.wait_timeout;
        match outputs::wait_for(&self.opts.wait_for, slot, timeout, stop) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(path)) | Err(params::ParamError { text: path, .. }) => Err(format!(
                "inputs did not appear within {}: {path}",
                crate::util::duration::format(timeout)
            )),
        }
    }

    /// Prunes the store if no one did this interval (after the job, never delaying it).
    pub fn prune(&self) {
        if let Ok(s) = self.store() {
            match prune::maybe_prune(&*s, &self.cfg) {
                Ok(Some(p)) => tracing::debug!("pruned: {p:?}"),
                Ok(None) => {}
                Err(e) => tracing::warn!("pruning the store failed (harmless): {e}"),
            }
        }
    }
}
