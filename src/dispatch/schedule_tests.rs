//! Tests of [`super`]: fire times across zones, DST jumps and schedules that never fire.

use super::*;

fn next(expr: &str, at: &str, zone: &str, n: usize) -> Vec<String> {
    let z = Zone::named(zone).unwrap();
    Schedule::parse(expr)
        .unwrap()
        .upcoming(parse_time(at, z).unwrap(), z, n)
        .iter()
        .map(|d| d.to_rfc3339())
        .collect()
}

#[test]
fn vixie_day_rule() {
    // Neither starts with `*`: the 13th OR any Friday.
    assert_eq!(
        next("0 0 13 * 5", "2026-11-01T00:00:00Z", "UTC", 3),
        [
            "2026-11-06T00:00:00+00:00",
            "2026-11-13T00:00:00+00:00",
            "2026-11-20T00:00:00+00:00"
        ]
    );
    // `*/2` in day of month starts with `*`: both must match (odd day AND Friday).
    assert_eq!(
        next("0 0 */2 * 5", "2026-11-01T00:00:00Z", "UTC", 2),
        ["2026-11-13T00:00:00+00:00", "2026-11-27T00:00:00+00:00"]
    );
    assert_eq!(
        next("0 0 * * 7", "2026-11-23T00:00:00Z", "UTC", 1),
        ["2026-11-29T00:00:00+00:00"]
    );
}

#[test]
fn spring_forward() {
    // Europe/Stockholm 2026-03-29: 02:00 CET jumps to 03:00 CEST.
    let z = "Europe/Stockholm";
    // Fixed time in the skipped hour: right after the jump.
    assert_eq!(
        next("30 2 * * *", "2026-03-29T00:00:00+01:00", z, 2),
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]
    );
    // Every 30 minutes keeps its interval: nothing in the skipped hour.
    assert_eq!(
        next("*/30 * * * *", "2026-03-29T01:00:00+01:00", z, 3),
        [
            "2026-03-29T01:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T03:30:00+02:00"
        ]
    );
    assert_eq!(
        next("0 * * * *", "2026-03-29T01:00:00+01:00", z, 1),
        ["2026-03-29T03:00:00+02:00"]
    );
}

#[test]
fn fall_back() {
    // Europe/Stockholm 2026-10-25: 03:00 CEST goes back to 02:00 CET.
    let z = "Europe/Stockholm";
    // A fixed time in the repeated hour runs once.
    assert_eq!(
        next("30 2 * * *", "2026-10-25T00:00:00+02:00", z, 2),
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    );
    // Hourly runs in both copies.
    assert_eq!(
        next("30 * * * *", "2026-10-25T01:45:00+02:00", z, 3),
        [
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-25T03:30:00+01:00"
        ]
    );
    // Starting inside the first copy still sees the second.
    assert_eq!(
        next("*/20 * * * *", "2026-10-25T02:30:00+02:00", z, 4),
        [
            "2026-10-25T02:40:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:20:00+01:00",
            "2026-10-25T02:40:00+01:00"
        ]
    );
}

#[test]
fn reboot_and_never() {
    assert!(
        Schedule::parse("@reboot")
            .unwrap()
            .next_after(Utc::now(), Zone::Local)
            .is_none()
    );
    assert!(
        Schedule::parse("0 0 31 2 *")
            .unwrap()
            .next_after(Utc::now(), Zone::Local)
            .is_none()
    );
    assert!(Schedule::parse("0 0 L * *").is_err());
}

#[test]
fn times() {
    let z = Zone::named("Europe/Stockholm").unwrap();
    assert_eq!(
        parse_time("2026-01-01 12:00", z).unwrap().to_rfc3339(),
        "2026-01-01T11:00:00+00:00"
    );
    assert!(
        parse_time("2026-03-29 02:30", z)
            .unwrap_err()
            .contains("skipped")
    );
    assert!(parse_time("tomorrow", z).is_err());
}

#[test]
fn schedules_that_never_fire() {
    for expr in ["0 0 30 2 *", "0 0 31 4,6 *", "0 0 31 2 *"] {
        assert!(Schedule::parse(expr).unwrap().never_fires(), "{expr}");
        let e = Schedule::parse_firing(expr).unwrap_err();
        assert!(e.contains("never fires"), "{expr}: {e}");
    }
    for expr in [
        "0 0 29 2 *",
        "0 0 31 2,3 *",
        "0 0 30 2 1",
        "0 0 * 2 1",
        "@reboot",
    ] {
        assert!(Schedule::parse_firing(expr).is_ok(), "{expr}");
    }
}
