//! The job log's layout and line prefixes, an unwritable log directory, and --dry-run,
//! through the real greaserun with local jars (helpers in runners.rs).

use std::path::Path;

use crate::harness::{World, text};
use crate::runners::*;

#[test]
fn the_log_has_the_original_layout_and_prefixes() {
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    let out = w
        .cmd("greaserun")
        .args(["-D", "--force", "--runner", "ShellRunner", s(jar), "--"])
        .args([
            "sh",
            "-c",
            "echo to-stdout; echo to-stderr >&2; printf no-newline",
        ])
        .env("SCALEGREASE_HOSTNAME", "w7.farm.example")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("to-stdout\n") && stdout.contains("to-stderr\n"));
    let files = log_files(&w);
    assert_eq!(files.len(), 1, "{files:?}");
    let rel = files[0]
        .strip_prefix(w.join("logs"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let user = scalegrease::util::host::user_name();
    let want_dir = format!("{user}/w7/runner/shell/");
    assert!(rel.starts_with(&want_dir), "{rel}");
    let file = Path::new(&rel).file_name().unwrap().to_str().unwrap();
    assert!(
        chrono::NaiveDate::parse_from_str(file, "%Y-%m-%d.log").is_ok(),
        "{rel}"
    );
    assert!(
        rel.contains(&format!("/{}/", jar.file_name().unwrap().to_str().unwrap())),
        "{rel}"
    );

    let log = std::fs::read_to_string(&files[0]).unwrap();
    let mut kinds = Vec::new();
    for line in log.lines() {
        // [<pid>] <HH:MM:SS> <LEVEL>:<logger> <message>
        let (pid, rest) = line
            .strip_prefix('[')
            .and_then(|l| l.split_once("] "))
            .expect(line);
        assert!(pid.parse::<u32>().is_ok(), "{line}");
        let (time, rest) = rest.split_once(' ').expect(line);
        assert!(
            chrono::NaiveTime::parse_from_str(time, "%H:%M:%S").is_ok(),
            "{line}"
        );
        let (tag, _) = rest.split_once(' ').unwrap_or((rest, ""));
        kinds.push(tag.to_string());
    }
    for want in [
        "OUT:job to-stdout",
        "ERR:job to-stderr",
        "OUT:job no-newline",
    ] {
        assert!(log.contains(want), "{want:?} missing in\n{log}");
    }
    assert!(
        kinds.iter().any(|k| k.ends_with(":greaserun")),
        "greaserun's own lines: {log}"
    );
}

#[test]
fn an_unwritable_log_dir_still_runs_the_job_with_a_warning() {
    let Some(jar) = fat_jar() else { return };
    let mut w = World::new();
    let blocker = w.write("not-a-dir", "a file where the log dir should be\n");
    w.configure(|c| c["common"]["file_logger"] = serde_json::json!(blocker.join("logs")));
    let out = greaserun(
        &w,
        &["--runner", "shell", s(jar), "--", "echo", "still ran"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("still ran"), "{stdout}");
    assert!(
        stderr.contains("warning") && stderr.contains("log"),
        "{stderr}"
    );
}

#[test]
fn dry_run_prints_the_exact_command_and_runs_nothing() {
    let Some(jar) = fat_jar() else { return };
    let w = World::new();
    let marker = w.join("ran");
    let out = greaserun(
        &w,
        &[
            "--dry-run",
            "--runner",
            "shell",
            s(jar),
            "--",
            "touch",
            s(&marker),
            "it's",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout.trim_end(),
        format!("touch {} 'it'\\''s'", s(&marker))
    );
    assert!(!marker.exists());
}
