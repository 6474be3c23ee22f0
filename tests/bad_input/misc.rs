//! Schedules that never fire, OS errors printed once, the kernel-random start delay.

use super::run;
use crate::harness::{World, text};

#[test]
fn a_schedule_that_never_fires_is_an_error_in_next_and_a_warning_in_launch() {
    let w = World::new();
    let (code, out, err) = run(&w, "greasestatus", &["next", "0 0 30 2 *"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("\"0 0 30 2 *\"") && err.contains("never fires"),
        "{err}"
    );
    let (code, out, err) = run(&w, "greasestatus", &["next", "0 0 29 2 *"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("-02-29"), "{out}");

    let p = w.project(
        "proj",
        "com.example",
        "job",
        &[(
            "jobs.cron",
            "0 1 * * * nobody greaserun -r shell x\n0 0  30 2 * nobody greaserun -r shell x\n",
        )],
    );
    let out = w.launch(&p, &["--check"]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("src/main/cron/jobs.cron:2:6: warning: this entry never fires"),
        "{err}"
    );
    assert_eq!(err.matches("never fires").count(), 1, "{err}");
}

/// Each `<message> (os error N)` in `text`, the message taken from the preceding `: `.
fn os_errors(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("(os error ") {
        let end = i + text[i..].find(')').unwrap() + 1;
        let start = text[..i].rfind(": ").map_or(0, |s| s + 2);
        out.push(text[start..end].to_string());
    }
    out
}

#[test]
fn os_errors_are_printed_once() {
    let mut w = World::new();
    let afile = w.write("afile", "not a directory\n");
    let afile = afile.to_str().unwrap().to_owned();
    let mut outputs = Vec::new();
    let missing = w.join("missing.json");
    let out = w
        .cmd("greaserun")
        .arg("-c")
        .arg(&missing)
        .args(["-D", "-r", "shell", &afile, "--", "/bin/true"])
        .output()
        .unwrap();
    outputs.push(("missing config", out));
    let out = w
        .cmd("greaserun")
        .args([
            "-D",
            "--force",
            "--no-claim",
            "-r",
            "shell",
            &afile,
            "--",
            &afile,
        ])
        .output()
        .unwrap();
    outputs.push(("job not executable", out));
    w.configure(|c| {
        c["maven"]["cache_dir"] = serde_json::json!(format!("{afile}/m2"));
        c["maven"]["repositories"] = serde_json::json!([format!("file://{afile}/repo")]);
        c["launch"]["crontab_etc_crond"] = serde_json::json!(format!("{afile}/cron"));
    });
    let out = w
        .cmd("greaserun")
        .args([
            "-D",
            "--force",
            "--no-claim",
            "-r",
            "shell",
            "g:a:1.0",
            "--",
            "/bin/true",
        ])
        .output()
        .unwrap();
    outputs.push(("cache under a file", out));
    outputs.push(("cron dir under a file", w.snatch(&[])));
    outputs.push((
        "status with cron dir under a file",
        w.cmd("greasestatus").output().unwrap(),
    ));
    for (what, out) in outputs {
        let (_, err) = text(&out);
        assert!(!out.status.success(), "{what}: {err}");
        let found = os_errors(&err);
        assert!(!found.is_empty(), "{what}: no OS error shown: {err}");
        for e in found {
            assert_eq!(
                err.matches(&e).count(),
                1,
                "{what}: {e:?} printed twice: {err}"
            );
        }
    }
}

#[test]
fn the_random_start_delay_comes_from_the_kernel_and_stays_in_its_window() {
    let mut w = World::new();
    w.configure(|c| c["guard"]["max_delay_s"] = serde_json::json!(0.4));
    let artifact = w.config_path().to_str().unwrap().to_owned();
    for _ in 0..3 {
        let out = w
            .cmd("greaserun")
            .args([
                "-v",
                "--force",
                "--no-claim",
                "-r",
                "shell",
                &artifact,
                "--",
                "/bin/true",
            ])
            .output()
            .unwrap();
        let (_, err) = text(&out);
        assert!(out.status.success(), "{err}");
        let secs: f64 = err
            .split("waiting a random ")
            .nth(1)
            .and_then(|rest| rest.split('s').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no delay reported: {err}"));
        assert!(
            (0.0..=0.4).contains(&secs),
            "{secs} outside [0, 0.4]: {err}"
        );
    }
}
