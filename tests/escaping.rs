//! Output is safe to print (issue 12, item 12): escape sequences a store writer puts in
//! a run record's host, job and note are shown escaped by `greasestatus runs` and in
//! `greasestatus log`'s header, while the log itself is the job's output, byte for byte;
//! host names and `--job` names are checked where they enter.

use std::time::Duration;

use crate::harness::{World, text};
use scalegrease::arbitration::records;
use scalegrease::model::record::{RunRecord, Status};
use scalegrease::model::slot::Slot;

const ESC: char = '\u{1b}';

#[test]
fn store_fields_are_escaped_and_the_log_is_the_jobs_bytes() {
    let w = World::new();
    w.init_store();
    let job = format!("evil{ESC}[31m");
    let rec = RunRecord {
        host: format!("h{ESC}[2J"),
        pid: 42,
        reason: Some(format!("note{ESC}]0;owned\u{7}\nSLOT FAKE ROW")),
        ..RunRecord::new(&job, &Slot::now().key(), Status::Failed)
    };
    let store = crate::harness::etcd::store_of(&w);
    let week = Duration::from_secs(7 * 86400);
    records::write(store.as_ref(), &rec, week).unwrap();
    let output = format!("the job's own {ESC}[1mbold{ESC}[0m output\n").into_bytes();
    records::write_tail(store.as_ref(), &rec, &output, week).unwrap();

    let out = w.cmd("greasestatus").arg("runs").output().unwrap();
    let (o, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(!o.contains(ESC) && !o.contains('\u{7}'), "{o:?}");
    assert!(o.contains("h\\u{1b}[2J"), "{o}");
    assert!(o.contains("evil\\u{1b}[31m"), "{o}");
    assert!(
        o.contains("note\\u{1b}]0;owned\\u{7}\\nSLOT FAKE ROW"),
        "{o}"
    );
    assert_eq!(o.lines().count(), 2, "one header and one row: {o}");

    let out = w.cmd("greasestatus").args(["log", &job]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(out.stdout, output, "the log is printed as the job wrote it");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains(ESC), "{err:?}");
    assert!(err.contains("evil\\u{1b}[31m slot"), "{err}");
    assert!(err.contains("on h\\u{1b}[2J (pid 42)"), "{err}");
}

#[test]
fn host_names_are_validated() {
    let mut w = World::new();
    w.init_store();
    for bad in ["/abs/path", "a b", "evil\u{1b}[2J", "../up"] {
        let out = w
            .cmd("greaserun")
            .env("SCALEGREASE_HOSTNAME", bad)
            .args(["--runner", "shell", "/bin/true", "--", "/bin/true"])
            .output()
            .unwrap();
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(78), "{bad:?}: {err}");
        assert!(
            err.contains(&format!(
                "invalid host name {bad:?} from SCALEGREASE_HOSTNAME"
            )),
            "{err}"
        );
    }
    let logs_before = std::fs::read_dir(w.join("logs")).unwrap().count();
    w.configure(|c| c["common"]["hostname"] = serde_json::json!("x/y"));
    let out = w.cmd("greasestatus").arg("runs").output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("invalid host name \"x/y\" from common.hostname in"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(w.join("logs")).unwrap().count(),
        logs_before
    );
    // A good name passes.
    w.configure(|c| c["common"]["hostname"] = serde_json::json!("w7.farm.example"));
    let out = w.cmd("greasestatus").arg("runs").output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
}

#[test]
fn job_names_are_printable_without_slashes() {
    let w = World::new();
    w.init_store();
    for bad in ["a/b", "x\u{1b}[2J", "line\nbreak", ""] {
        let out = w
            .cmd("greaserun")
            .args([
                "--job",
                bad,
                "--runner",
                "shell",
                "/bin/true",
                "--",
                "/bin/true",
            ])
            .output()
            .unwrap();
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        assert!(err.contains("a job name"), "{err}");
    }
    let out = w
        .cmd("greaserun")
        .args([
            "--job",
            "nightly etl",
            "--runner",
            "shell",
            "/bin/true",
            "--",
            "/bin/true",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
}
