//! The worker's side of the farm queue, through the real binaries on the directory store:
//! greaselaunch publishes a greaserun entry, greasesnatch installs it into the world's
//! cron dir, greasedispatch queues a request, and greasesnatch's pull round starts the
//! installed entry as its user the way cron does (uid, groups, HOME, LOGNAME), exactly
//! once; a request for a job not installed here stays queued; a garbled queue entry is
//! refused and nothing runs; a user the worker's config no longer allows is refused with
//! why; `--watch` starts a request submitted after it started, and with
//! `guard.max_running` 1 a second request waits until the first has ended.
//!
//! Needs root (useradd, setuid); users and groups are named `sgt…` and removed on Drop.
//! The store is shared through its group (`--store-group`), as a farm whose job users
//! write one directory store would set it up.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use scalegrease::arbitration::queue;
use scalegrease::model::record::{RunRecord, Status};
use scalegrease::model::request::{Phase, RequestState};
use scalegrease::store::Store;
use serde_json::{Value, json};

use crate::harness::backend::Backend;
use crate::harness::{World, have, text, wait_for};

pub(crate) const SLOT: &str = "2026-11-23T03:00Z";
pub(crate) const SLOT2: &str = "2026-11-23T04:00Z";
pub(crate) const LONG: Duration = Duration::from_secs(60);

/// A user and its group made for one test (`sgt<pid><tag>`), also in a supplementary
/// group (`…x`), with its home in the world; removed on Drop.
pub(crate) struct JobUser {
    pub(crate) name: String,
    pub(crate) extra: String,
    pub(crate) home: PathBuf,
}

impl JobUser {
    fn new(w: &World, tag: &str) -> JobUser {
        let name = format!("sgt{}{tag}", std::process::id() % 100_000);
        let extra = format!("{name}x");
        let home = w.join(&format!("home-{tag}"));
        std::fs::create_dir_all(&home).unwrap();
        for g in [&name, &extra] {
            assert!(Command::new("groupadd").arg(g).status().unwrap().success());
        }
        wait_for("useradd", Duration::from_secs(30), || {
            let ok = Command::new("useradd")
                .args(["-M", "-g", &name, "-G", &extra, "-s", "/usr/sbin/nologin"])
                .arg("-d")
                .arg(&home)
                .arg(&name)
                .status()
                .unwrap()
                .success();
            ok.then_some(())
        });
        let u = nix::unistd::User::from_name(&name).unwrap().unwrap();
        nix::unistd::chown(&home, Some(u.uid), Some(u.gid)).unwrap();
        JobUser { name, extra, home }
    }

    pub(crate) fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.home.join(file)).ok()
    }
}

impl Drop for JobUser {
    fn drop(&mut self) {
        for _ in 0..50 {
            if Command::new("userdel")
                .arg(&self.name)
                .status()
                .is_ok_and(|s| s.success())
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // userdel removes a user's own group already on most systems.
        for g in [&self.name, &self.extra] {
            if nix::unistd::Group::from_name(g).is_ok_and(|g| g.is_some()) {
                let _ = Command::new("groupdel").arg(g).status();
            }
        }
    }
}

pub(crate) fn root_with_tools() -> bool {
    let ok = nix::unistd::Uid::effective().is_root() && have("useradd") && have("groupadd");
    if !ok {
        eprintln!("SKIPPED: the worker tests need root, useradd and groupadd");
    }
    ok
}

/// A world on the directory store (see [`world_on`]).
pub(crate) fn world(tag: &str, crontab: &str) -> (World, JobUser) {
    world_on(Backend::Dir, tag, crontab).unwrap()
}

/// A world on `backend` (a directory store the job user's group shares), with `crontab`
/// (one line per entry, `{user}`, `{greaserun}`, `{jar}` and `{world}` filled in) published as
/// g:jobs and installed by a greasesnatch that does not pull; `None` when the backend
/// cannot run here.
pub(crate) fn world_on(backend: Backend, tag: &str, crontab: &str) -> Option<(World, JobUser)> {
    let mut w = World::new();
    if !backend.configure(&mut w) {
        eprintln!("SKIPPED on {backend:?}: not available here");
        return None;
    }
    w.configure(|c| c["funnel"] = json!({"heartbeat_interval": "200ms", "abandon_after": "10s"}));
    for d in [w.path(), &w.join("work")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(w.join("logs"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(w.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let u = JobUser::new(&w, tag);
    let mut init = w.cmd("greaselaunch");
    init.arg("--init-store");
    if backend == Backend::Dir {
        init.args(["--store-group", &u.name]);
    }
    let o = init.output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let jar = w.empty_jar();
    let text_ = crontab
        .replace("{user}", &u.name)
        .replace("{greaserun}", env!("CARGO_BIN_EXE_greaserun"))
        .replace("{jar}", jar.to_str().unwrap())
        .replace("{world}", w.path().to_str().unwrap());
    let p = w.project("p", "g", "jobs", &[("q.cron", &text_)]);
    let o = w.launch(&p, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = w.snatch(&["--no-pull"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(w.cron_files().len(), 1);
    Some((w, u))
}

/// `greasedispatch args --json`: the first request's id.
pub(crate) fn dispatch(w: &World, args: &[&str]) -> String {
    let o = w
        .cmd("greasedispatch")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    j["requests"][0]["id"].as_str().unwrap().to_string()
}

/// One-shot greasesnatch --json: the whole output and its "pulled" object.
pub(crate) fn snatch(w: &World) -> (Output, Value) {
    let o = w.snatch(&["--json"]);
    let (out, err) = text(&o);
    let j: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    let pulled = j["pulled"].clone();
    (o, pulled)
}

pub(crate) fn state(s: &dyn Store, id: &str) -> Option<RequestState> {
    queue::state(s, id).unwrap()
}

/// Waits for request `id` to reach a final state.
pub(crate) fn ended(s: &dyn Store, id: &str) -> RequestState {
    wait_for(&format!("request {id} to end"), LONG, || {
        state(s, id).filter(|st| st.phase.is_final())
    })
}

/// The run record the state of a request names.
pub(crate) fn record(s: &dyn Store, st: &RequestState) -> RunRecord {
    let key = st.run.as_deref().expect("a run key");
    serde_json::from_slice(&s.get(key).unwrap().expect("a run record")).unwrap()
}

const ID_JOB: &str = "0 3 * * * {user} {greaserun} --job qw-id --runner shell {jar} -- sh -c 'id -un > $HOME/who; id -Gn >> $HOME/who; pwd > $HOME/pwd; env > $HOME/env; echo x >> $HOME/runs'\n";

#[test]
fn a_request_runs_once_as_the_entry_user_and_others_are_left_or_refused() {
    if !root_with_tools() {
        return;
    }
    let (w, u) = world("a", ID_JOB);
    let s = w.store();
    let id = dispatch(&w, &["qw-id", "--slot", SLOT]);
    // A request for a job this worker has not installed (queued as the front would).
    let other = scalegrease::model::request::Request {
        id: scalegrease::model::request::request_id(chrono::Utc::now(), 7),
        job: "not-here".into(),
        ..queue::get(&*s, &id).unwrap().unwrap()
    };
    queue::submit(&*s, &other).unwrap();
    s.put("queue/20261130T184512Z-0000beef", b"{\"id\": 3", None)
        .unwrap();

    let (o, pulled) = snatch(&w);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(
        (pulled["taken"].as_u64(), pulled["refused"].as_u64()),
        (Some(1), Some(1)),
        "{pulled}"
    );
    let st = ended(&*s, &id);
    assert_eq!(st.phase, Phase::Succeeded, "{st:?}");
    let rec = record(&*s, &st);
    assert_eq!(rec.user, u.name);
    assert_eq!(rec.request.as_deref(), Some(id.as_str()));
    assert_eq!(rec.slot, SLOT);
    let who = u.read("who").unwrap();
    assert_eq!(who.lines().next(), Some(u.name.as_str()), "{who}");
    // Its groups as initgroups sets them: its own and the supplementary one, not root's.
    let groups: Vec<&str> = who.lines().nth(1).unwrap().split(' ').collect();
    assert_eq!(groups, [u.name.as_str(), u.extra.as_str()], "groups: {who}");
    assert_eq!(u.read("pwd").unwrap().trim(), u.home.to_str().unwrap());
    let env = u.read("env").unwrap();
    for want in [
        format!("HOME={}", u.home.display()),
        format!("LOGNAME={}", u.name),
        format!("USER={}", u.name),
        "SHELL=/bin/sh".to_string(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} missing in\n{env}");
    }

    // The other job's request is left queued; the garbled entry was refused and removed.
    assert_eq!(state(&*s, &other.id).unwrap().phase, Phase::Queued);
    let garbled = state(&*s, "20261130T184512Z-0000beef").unwrap();
    assert_eq!(garbled.phase, Phase::Refused);
    assert!(garbled.reason.unwrap().contains("garbled"));
    assert_eq!(
        s.keys("queue").unwrap(),
        [format!("queue/{}", other.id)],
        "only the other job's request is still queued"
    );

    // Exactly once: another round starts nothing, and the job ran one time.
    let (o, pulled) = snatch(&w);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(pulled["taken"].as_u64(), Some(0), "{pulled}");
    assert_eq!(u.read("runs").unwrap(), "x\n");
}

#[test]
fn a_user_the_worker_no_longer_allows_is_refused_with_why() {
    if !root_with_tools() {
        return;
    }
    let (mut w, u) = world("b", ID_JOB);
    let s = w.store();
    let id = dispatch(&w, &["qw-id", "--slot", SLOT]);
    // The worker's policy tightened after the entry was installed: greasesnatch rejects
    // the bundle (its installed file is kept) and refuses the request.
    w.configure(|c| c["launch"]["allowed_users"] = json!(["nobody"]));
    let (o, pulled) = snatch(&w);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert_eq!(pulled["refused"].as_u64(), Some(1), "{pulled}");
    let st = state(&*s, &id).unwrap();
    assert_eq!(st.phase, Phase::Refused);
    let why = st.reason.unwrap();
    assert!(
        why.contains(&u.name) && why.contains("allowed_users"),
        "{why}"
    );
    assert!(s.keys("queue").unwrap().is_empty());
    assert!(s.keys("taken").unwrap().is_empty());
    assert_eq!(u.read("who"), None, "nothing ran");
}

/// A running `greasesnatch --watch`, killed and reaped on Drop.
pub(crate) struct Watcher(pub(crate) Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn watch_starts_a_later_request_and_keeps_to_max_running() {
    if !root_with_tools() {
        return;
    }
    for (i, backend) in Backend::ALL.into_iter().enumerate() {
        watch_on(backend, &format!("c{i}"));
    }
}

fn watch_on(backend: Backend, tag: &str) {
    // The job waits for a gate file in its home, so the test decides when it ends.
    let gated = "0 3 * * * {user} {greaserun} --job qw-gate --runner shell {jar} -- sh -c 'while [ ! -e $HOME/gate ]; do sleep 0.05; done; echo x >> $HOME/runs'\n";
    let Some((mut w, u)) = world_on(backend, tag, gated) else {
        return;
    };
    w.configure(|c| c["guard"]["max_running"] = json!(1));
    let s = w.store();
    let watcher = Watcher(
        w.spawn_cmd("greasesnatch")
            .arg("--watch")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let first = dispatch(&w, &["qw-gate", "--slot", SLOT]);
    wait_for("the first request to run", LONG, || {
        state(&*s, &first).filter(|st| st.phase == Phase::Running)
    });
    let second = dispatch(&w, &["qw-gate", "--slot", SLOT2]);
    // While the first runs, the second stays queued (no room under max_running 1).
    assert_eq!(state(&*s, &second).unwrap().phase, Phase::Queued);
    std::fs::write(u.home.join("gate"), "").unwrap();
    let a = ended(&*s, &first);
    let b = ended(&*s, &second);
    assert_eq!(
        (a.phase, b.phase),
        (Phase::Succeeded, Phase::Succeeded),
        "{backend:?}"
    );
    let (ra, rb) = (record(&*s, &a), record(&*s, &b));
    assert_eq!(
        (ra.status, rb.status),
        (Status::Succeeded, Status::Succeeded)
    );
    assert!(
        rb.start.unwrap() >= ra.end.unwrap(),
        "{backend:?}: the second started {:?}, before the first ended {:?}",
        rb.start,
        ra.end
    );
    assert_eq!(u.read("runs").unwrap(), "x\nx\n");
    drop(watcher);
}
