//! Duration flags: one grammar (`2w` everywhere), bounded ranges as usage errors.

use super::{job, run};
use crate::harness::World;

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
