//! Supervision tests: exit statuses, signals, timeouts and leftover processes, run
//! against real `/bin/sh` jobs.

use super::super::{Job, JobArtifact, prepare, shell};
use super::*;
use crate::execution::group::tests::group_members;
use crate::execution::output::Recorder;
use std::time::Duration;

fn sup(timeout_ms: Option<u64>) -> Supervision {
    Supervision {
        timeout: timeout_ms.map(Duration::from_millis),
        kill_grace: Duration::from_secs(5),
        stdin_is_terminal: false,
    }
}

#[test]
fn passes_exit_status_and_output() {
    let mut log = Recorder::default();
    let o = run(
        shell("echo out; echo err >&2; printf partial; exit 3"),
        &sup(None),
        &mut log,
    )
    .unwrap();
    assert_eq!(o.status, Status::Exited(3));
    assert_eq!(o.exit_code(), 3);
    let tail = String::from_utf8(o.tail.clone()).unwrap();
    // stdout and stderr are separate pipes: their relative order is not kept.
    assert!(tail.contains("out\n") && tail.contains("err\n"), "{tail}");
    assert!(tail.contains("partial"), "{tail}");
    // The sink gets each stream as written (debugging::log's tests check the log lines).
    assert_eq!(log.stdout, b"out\npartial");
    assert_eq!(log.stderr, b"err\n");
    assert!(log.finished && log.failures.is_empty());
    assert!(o.ended >= o.started);
}

#[test]
fn a_signal_death_is_128_plus_n() {
    let o = run(shell("kill -KILL $$"), &sup(None), &mut Recorder::default()).unwrap();
    assert_eq!(o.status, Status::Signaled(9));
    assert_eq!(o.exit_code(), 137);
}

#[test]
fn not_found_and_not_executable() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = shell("");
    p.argv = vec!["/nonexistent/prog".into()];
    let e = run(p, &sup(None), &mut Recorder::default()).unwrap_err();
    assert_eq!(e.exit_code(), 127, "{e}");
    let f = dir.path().join("noexec");
    std::fs::write(&f, "#!/bin/sh\n").unwrap();
    let mut p = shell("");
    p.argv = vec![f.to_string_lossy().into_owned()];
    let e = run(p, &sup(None), &mut Recorder::default()).unwrap_err();
    assert_eq!(e.exit_code(), 126, "{e}");
}

#[test]
fn timeout_ends_the_whole_group() {
    // A grandchild that ignores nothing and a child that traps TERM into a wait.
    let o = run(
        shell("sleep 300 & sleep 300 & echo started; wait"),
        &sup(Some(300)),
        &mut Recorder::default(),
    )
    .unwrap();
    assert_eq!(o.status, Status::TimedOut);
    assert_eq!(o.exit_code(), 124);
    assert!(
        group_members(o.pid).is_empty(),
        "{:?}",
        group_members(o.pid)
    );
}

#[test]
fn timeout_escalates_to_kill() {
    let s = Supervision {
        timeout: Some(Duration::from_millis(200)),
        kill_grace: Duration::from_millis(200),
        stdin_is_terminal: false,
    };
    let o = run(
        shell("trap '' TERM; sh -c 'trap \"\" TERM; sleep 300' & sleep 300"),
        &s,
        &mut Recorder::default(),
    )
    .unwrap();
    assert_eq!(o.status, Status::TimedOut);
    assert!(group_members(o.pid).is_empty());
}

#[test]
fn leftovers_are_ended_when_the_job_exits() {
    let o = run(
        shell("sleep 300 >/dev/null 2>&1 & echo bye"),
        &sup(None),
        &mut Recorder::default(),
    )
    .unwrap();
    assert_eq!(o.status, Status::Exited(0));
    assert!(group_members(o.pid).is_empty());
}

#[test]
fn much_output_keeps_a_bounded_tail() {
    let o = run(
        shell("head -c 3000000 /dev/zero | tr '\\0' 'a'; echo; echo end"),
        &sup(None),
        &mut Recorder::default(),
    )
    .unwrap();
    assert_eq!(o.tail.len(), super::super::TAIL_CAP);
    assert!(o.tail.ends_with(b"aaa\nend\n"));
}

#[test]
fn the_scratch_dir_is_removed_after_a_failing_run() {
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("p.jar");
    super::super::scratch::tests::write_jar(
        &jar,
        &[("python/m.py", "import sys; sys.exit(4)\n", 0o644)],
    );
    let job = Job {
        runner: "python".into(),
        artifact: JobArtifact {
            jar_path: jar.clone(),
            spec: "g:p:1".into(),
            version: Some("1".into()),
        },
        args: vec![
            "/bin/sh".into(),
            "-c".into(),
            "pwd; test -f m.py && exit 4".into(),
        ],
        main_class: None,
    };
    let p = prepare(&job, &crate::Config::default()).unwrap();
    let cwd = p.cwd.clone().unwrap();
    let o = run(p, &sup(None), &mut Recorder::default()).unwrap();
    assert_eq!(o.status, Status::Exited(4));
    assert!(!cwd.exists());
}

#[test]
fn a_terminal_stdin_is_not_passed_on() {
    let s = Supervision {
        stdin_is_terminal: true,
        ..sup(None)
    };
    let mut log = Recorder::default();
    let o = run(shell("readlink /proc/$$/fd/0"), &s, &mut log).unwrap();
    assert_eq!(o.status, Status::Exited(0));
    assert_eq!(log.stdout, b"/dev/null\n");
}
