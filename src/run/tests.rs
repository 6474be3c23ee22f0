//! The slot loop over a directory store with a fake job (moved from the funnel session's
//! tests): claims, backfill, skip, wait and the store-unavailable policy.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::*;
use crate::arbitration::options::SessionError;
use crate::arbitration::records;
use crate::config::OnStoreUnavailable;
use crate::exit;
use crate::model::funnel::Claimant;
use crate::model::keys;
use crate::model::record::Status;
use crate::model::slot::Period;
use crate::model::slot::Slot;
use crate::store::Store;
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
            request: None,
        })
}

/// A job that never fails to start: `f` sees its arguments and says how it ended.
struct Fake<F>(F);

impl<F: FnMut(&[String]) -> JobEnd> Execute for Fake<F> {
    fn execute(
        &mut self,
        _job: &str,
        _slot: Slot,
        args: Vec<String>,
        _watch: &mut dyn execution::Watch,
    ) -> Result<JobEnd, Error> {
        Ok((self.0)(&args))
    }
}

/// Runs a session's slots with a fake job.
fn go(s: Session, f: impl FnMut(&[String]) -> JobEnd) -> i32 {
    run_slots(&s, &mut Fake(f), &FarmRun::default()).unwrap()
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
        let code = go(session(&f, opts.clone(), host), |args| {
            ran.push((host, args.to_vec()));
            ok(0)
        });
        assert_eq!(code, 0);
    }
    assert_eq!(ran, [("a", vec!["make".to_string(), "2026-03-01".into()])]);
    let s = session(&f, opts, "a");
    let (recs, _) = records::list(&*f.store, &keys::slot_runs(s.job(), slot)).unwrap();
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
    let code = go(session(&f, opts.clone(), "a"), |args| {
        days.push(args[1].clone());
        ok(if args[1] == "2026-03-07" { 3 } else { 0 })
    });
    assert_eq!(code, 3);
    assert_eq!(days, ["2026-03-04", "2026-03-06", "2026-03-07"]);

    // --keep-going on another host: the failed and claimed slots stay claimed.
    let mut days = Vec::new();
    let opts = SlotOptions {
        keep_going: true,
        ..opts
    };
    let code = go(session(&f, opts, "b"), |args| {
        days.push(args[1].clone());
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
    let (recs, _) = records::list(&*f.store, &keys::slot_runs("j", slot)).unwrap();
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
    let (recs, _) = records::list(&*f.store, &keys::slot_runs("w", slot)).unwrap();
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
    assert!(Session::new(&f.cfg, None, SlotOptions::default(), bad, false, Utc::now()).is_err());
}
