//! Human durations as used on command lines and in config: `500ms`, `90s`, `15m`, `2h`,
//! `30d`, or a bare number of seconds.

use std::time::Duration;

/// Parses `N[ms|s|m|h|d]` (a bare number is seconds). Errors name the offending value.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (expected e.g. 90s, 15m, 2h, 1d)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => {
            return Err(format!(
                "invalid duration unit {unit:?} in {text:?} (use ms, s, m, h or d)"
            ));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("invalid duration {text:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
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

/// Serde helper: a duration given as a string (`"1h"`) or a number of seconds.
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
            Raw::Secs(s) if s >= 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s)),
            Raw::Secs(s) => Err(serde::de::Error::custom(format!("invalid duration {s}"))),
            Raw::Text(t) => super::parse(&t).map_err(serde::de::Error::custom),
        }
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
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("7").unwrap(), Duration::from_secs(7));
        assert!(parse("5x").unwrap_err().contains("5x"));
        assert!(parse("").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in ["90s", "2h", "1d", "250ms", "15m"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
