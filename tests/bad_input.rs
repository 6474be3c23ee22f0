//! Input a new user gets wrong, through the real binaries: out-of-range durations, broken
//! or surprising config files, schedules that never fire, deployment failures with the
//! documented exit codes, and OS errors printed once.

use crate::harness::{World, text};

/// Runs `bin` with `args` in `w`; returns (exit code, stdout, stderr).
fn run(w: &World, bin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = w.cmd(bin).args(args).output().unwrap();
    let (o, e) = text(&out);
    (out.status.code(), o, e)
}

/// greaserun running `/bin/true` with `extra` flags (the config file stands in as the
/// shell runner's artifact).
fn job<'a>(w: &'a World, extra: &[&'a str]) -> Vec<&'a str> {
    let artifact = w.config_path().to_str().unwrap().to_owned().leak();
    let mut v = vec!["-D", "--force", "--job", "t"];
    v.extend_from_slice(extra);
    v.extend(["-r", "shell", &*artifact, "--", "/bin/true"]);
    v
}

#[test]
fn every_duration_flag_reads_weeks() {
    let w = World::new();
    for flag in ["--timeout", "--wait-timeout"] {
        let (code, _, err) = run(&w, "greaserun", &job(&w, &[flag, "2w"]));
        assert_eq!(code, Some(0), "{flag} 2w: {err}");
    }
    let (code, _, err) = run(
        &w,
        "greaserun",
        &job(&w, &["--backfill", "2w", "--every", "1w"]),
    );
    assert_eq!(code, Some(0), "--backfill 2w --every 1w: {err}");
}

#[test]
fn out_of_range_duration_flags_are_usage_errors_naming_the_flag_and_range() {
    let w = World::new();
    for (flag, value, range) in [
        ("--timeout", "0s", "from 1s to 365d"),
        ("--timeout", "99999999999999999999999s", "from 1s to 365d"),
        ("--timeout", "1e300", "ms, s, m, h, d or w"),
        ("--kill-grace", "2h", "from 0s to 1h"),
        ("--wait-timeout", "31d", "from 0s to 30d"),
        ("--backfill", "100000d", "from 1m to 366d"),
        ("--backfill", "99999999999999999999w", "from 1m to 366d"),
    ] {
        let (code, _, err) = run(
            &w,
            "greaserun",
            &[
                "-D",
                "--force",
                "--no-claim",
                flag,
                value,
                "-r",
                "shell",
                "/bin/true",
            ],
        );
        assert_eq!(code, Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(flag) && err.contains(range),
            "{flag} {value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, _, err) = run(
        &w,
        "greaserun",
        &[
            "-D",
            "--backfill",
            "1d",
            "--every",
            "0m",
            "-r",
            "shell",
            "/bin/true",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--every"), "{err}");
}
