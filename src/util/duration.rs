//! Human durations, one grammar for every duration flag (`--timeout`, `--kill-grace`,
//! `--wait-timeout`, `--backfill`, `--every`, `--since`) and every duration in the config:
//! a number and a unit, `500ms`, `90s`, `15m`, `2h`, `30d`, `2w`, decimals allowed
//! (`1.5h`); a bare number is seconds. Nothing longer than [`MAX`] is read, and each
//! setting checks its own [`Range`], so no value can overflow later arithmetic.
//!
//! Hand-written rather than `humantime`: that crate rejects bare numbers and decimals
//! (both documented here), reads `M` and `y` as averaged months and years, and does not
//! say which unit was written, which [`crate::model::slot::Period`] needs (`1d` is a
//! calendar day, `24h` exactly 24 hours).

use std::time::Duration;

/// The unit a duration was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Millis,
    /// `s`, or no unit at all.
    Secs,
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl Unit {
    fn from_suffix(s: &str) -> Option<Unit> {
        Some(match s {
            "ms" => Unit::Millis,
            "" | "s" => Unit::Secs,
            "m" => Unit::Minutes,
            "h" => Unit::Hours,
            "d" => Unit::Days,
            "w" => Unit::Weeks,
            _ => return None,
        })
    }

    fn seconds(self) -> f64 {
        match self {
            Unit::Millis => 0.001,
            Unit::Secs => 1.0,
            Unit::Minutes => 60.0,
            Unit::Hours => 3600.0,
            Unit::Days => 86400.0,
            Unit::Weeks => 7.0 * 86400.0,
        }
    }
}

/// The longest duration the grammar reads at all (100 years of 365 days).
pub const MAX: Duration = days(36_500);

const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86400)
}

/// The values a setting accepts, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub min: Duration,
    pub max: Duration,
}

/// `--timeout`: more than nothing (`0s` would end every job at once), at most a year.
pub const TIMEOUT: Range = Range {
    min: Duration::from_secs(1),
    max: days(365),
};
/// `--kill-grace`: `0s` (KILL at once) to an hour.
pub const KILL_GRACE: Range = Range {
    min: Duration::ZERO,
    max: Duration::from_secs(3600),
};
/// `--wait-timeout`: `0s` (look once) to 30 days.
pub const WAIT_TIMEOUT: Range = Range {
    min: Duration::ZERO,
    max: days(30),
};
/// `--backfill` windows and `--every` steps: a minute (one slot) to 366 days.
pub const BACKFILL: Range = Range {
    min: Duration::from_secs(60),
    max: days(366),
};
/// Every duration in the config file (`funnel.*`, `history.retention`, `maven.*timeout`,
/// `store.*_timeout_s`): `0s` to 10 years.
pub const CONFIG: Range = Range {
    min: Duration::ZERO,
    max: days(3650),
};

impl Range {
    /// `d` if it lies in the range, else why not (naming `text`, as written).
    pub fn check(&self, d: Duration, text: &str) -> Result<Duration, String> {
        if d < self.min || d > self.max {
            return Err(format!("{text:?} is out of range: {}", self.describe()));
        }
        Ok(d)
    }

    /// `use from 1s to 365d`.
    pub fn describe(&self) -> String {
        format!("use from {} to {}", format(self.min), format(self.max))
    }
}

/// Parses `N[ms|s|m|h|d|w]` (a bare number is seconds), at most [`MAX`]. Errors name the
/// offending value.
pub fn parse(text: &str) -> Result<Duration, String> {
    parse_unit(text).map(|(d, _)| d)
}

/// [`parse`] within `range`: a value outside it, however large, is refused with the range.
pub fn parse_in(text: &str, range: Range) -> Result<Duration, String> {
    secs_in(raw(text)?.0, range, text)
}

/// A number of seconds as a duration within `range` (`text` is the value as written).
pub fn secs_in(s: f64, range: Range, text: &str) -> Result<Duration, String> {
    if s.is_finite() && s >= 0.0 && s <= range.max.as_secs_f64() {
        return range.check(secs(s, text)?, text);
    }
    Err(format!("{text:?} is out of range: {}", range.describe()))
}

/// A number as a person would write it (`1e20`, not twenty digits).
pub fn show(n: f64) -> String {
    if n.abs() < 1e15 {
        n.to_string()
    } else {
        format!("{n:e}")
    }
}

/// [`parse`], also returning the unit the duration was written in.
pub fn parse_unit(text: &str) -> Result<(Duration, Unit), String> {
    let (s, unit) = raw(text)?;
    Ok((secs(s, text)?, unit))
}

/// The number of seconds written and the unit, unchecked.
fn raw(text: &str) -> Result<(f64, Unit), String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (expected e.g. 90s, 15m, 2h, 1d, 2w)"))?;
    let unit = Unit::from_suffix(suffix).ok_or_else(|| {
        format!("invalid duration unit {suffix:?} in {text:?} (use ms, s, m, h, d or w)")
    })?;
    Ok((n * unit.seconds(), unit))
}

/// A number of seconds as a duration, if it is finite, not negative and at most [`MAX`].
pub fn secs(s: f64, text: &str) -> Result<Duration, String> {
    if !s.is_finite() || s < 0.0 {
        return Err(format!("invalid duration {text:?}"));
    }
    if s > MAX.as_secs_f64() {
        return Err(format!(
            "duration {text:?} is too long (at most {})",
            format(MAX)
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

/// Formats a duration the way [`parse`] reads it, in the largest exact unit.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    for (unit, n) in [("d", 86400), ("h", 3600), ("m", 60)] {
        if s != 0 && s.is_multiple_of(n) {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

/// Serde helper: a duration given as a string (`"1h"`) or a number of seconds, within
/// [`CONFIG`].
pub mod serde_duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => super::secs_in(s, super::CONFIG, &super::show(s)),
            Raw::Text(t) => super::parse_in(&t, super::CONFIG),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse("2w").unwrap(), Duration::from_secs(14 * 86400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_unit("3w").unwrap().1, Unit::Weeks);
        assert!(parse("5x").unwrap_err().contains("5x"));
        assert!(parse("").is_err());
    }

    #[test]
    fn huge_values_are_errors_not_panics() {
        assert!(
            parse("99999999999999999999999s")
                .unwrap_err()
                .contains("too long")
        );
        assert!(parse("1e300").is_err());
        assert!(parse("36501d").is_err());
        assert!(parse("36500d").is_ok());
        assert!(secs(f64::INFINITY, "inf").is_err());
    }

    #[test]
    fn ranges() {
        assert!(
            parse_in("0s", TIMEOUT)
                .unwrap_err()
                .contains("from 1s to 365d")
        );
        assert!(parse_in("366d", TIMEOUT).is_err());
        assert_eq!(parse_in("2w", TIMEOUT).unwrap(), days(14));
        assert!(parse_in("0s", KILL_GRACE).is_ok());
        let e = parse_in("99999999999999999999999s", TIMEOUT).unwrap_err();
        assert!(e.contains("from 1s to 365d"), "{e}");
    }

    #[test]
    fn formats_round_trip() {
        for s in ["90s", "2h", "1d", "250ms", "15m"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
