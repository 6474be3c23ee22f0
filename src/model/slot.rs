//! Slots: the scheduled minute a run belongs to. Cron starts every worker's greaserun in
//! the same minute; that minute, truncated, before any random delay, is the slot, and the
//! funnel lets one worker run each (job, slot). `--slot` sets it for manual runs and
//! backfill.
//!
//! A slot is an instant (UTC) at a whole minute. In store keys it is written in UTC
//! (`2026-11-23T03:00Z`, sortable); to people it is shown in local time (the zone cron
//! runs in, `TZ`), and `--slot` reads local time unless an offset is given.

use std::fmt;

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// The format of a slot in store keys.
const KEY_FORMAT: &str = "%Y-%m-%dT%H:%MZ";

/// One scheduled minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(DateTime<Utc>);

/// Why a slot or period could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid {what} {text:?}: {why}")]
pub struct SlotError {
    pub what: &'static str,
    pub text: String,
    pub why: String,
}

impl Slot {
    /// The slot containing `t` (truncated to the minute).
    pub fn at(t: DateTime<Utc>) -> Slot {
        let secs = t.timestamp().div_euclid(60) * 60;
        Slot(DateTime::from_timestamp(secs, 0).expect("a minute of a valid time is valid"))
    }

    /// The slot of the current minute.
    pub fn now() -> Slot {
        Slot::at(Utc::now())
    }

    /// The slot's instant.
    pub fn time(&self) -> DateTime<Utc> {
        self.0
    }

    /// The slot in local time (the process's `TZ`).
    pub fn local(&self) -> DateTime<Local> {
        self.0.with_timezone(&Local)
    }

    /// The slot as a store key segment, e.g. `2026-11-23T03:00Z`.
    pub fn key(&self) -> String {
        self.0.format(KEY_FORMAT).to_string()
    }

    /// Reads a slot back from [`Slot::key`].
    pub fn from_key(key: &str) -> Option<Slot> {
        NaiveDateTime::parse_from_str(key, KEY_FORMAT)
            .ok()
            .map(|n| Slot(n.and_utc()))
    }

    /// Reads `--slot`: RFC 3339 (`2026-11-23T03:00:00+01:00`, `...Z`), the key form,
    /// or local `YYYY-MM-DDTHH:MM[:SS]`, `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DD`
    /// (midnight). Seconds are truncated.
    pub fn parse(text: &str) -> Result<Slot, SlotError> {
        let t = text.trim();
        let err = |why: &str| SlotError {
            what: "slot",
            text: text.to_string(),
            why: why.to_string(),
        };
        if let Ok(d) = DateTime::parse_from_rfc3339(t) {
            return Ok(Slot::at(d.with_timezone(&Utc)));
        }
        if let Some(s) = Slot::from_key(t) {
            return Ok(s);
        }
        for fmt in [
            "%Y-%m-%dT%H:%M%:z",
            "%Y-%m-%d %H:%M%:z",
            "%Y-%m-%dT%H:%M%z",
            "%Y-%m-%d %H:%M%z",
        ] {
            if let Ok(d) = DateTime::parse_from_str(t, fmt) {
                return Ok(Slot::at(d.with_timezone(&Utc)));
            }
        }
        let naive = [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| err("expected e.g. 2026-11-23T03:00 (local time) or RFC 3339"))?;
        let local = Local
            .from_local_datetime(&naive)
            .earliest()
            .ok_or_else(|| err("that local time does not exist (a DST gap)"))?;
        Ok(Slot::at(local.with_timezone(&Utc)))
    }

    /// This slot moved by `secs` seconds (negative: earlier).
    pub fn offset_secs(&self, secs: i64) -> Slot {
        Slot::at(self.0 + chrono::TimeDelta::seconds(secs))
    }

    /// This slot moved by whole local calendar days (keeps the wall-clock time across
    /// DST changes; a wall-clock time that does not exist that day moves forward).
    pub fn offset_days(&self, days: i64) -> Slot {
        let local = self.local().naive_local();
        let moved = local + chrono::TimeDelta::days(days);
        let t = Local
            .from_local_datetime(&moved)
            .earliest()
            .or_else(|| {
                Local
                    .from_local_datetime(&(moved + chrono::TimeDelta::hours(1)))
                    .earliest()
            })
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|| self.0 + chrono::TimeDelta::days(days));
        Slot::at(t)
    }

    /// This slot moved by `p` (calendar days and weeks, exact hours and minutes).
    pub fn offset(&self, p: Period, times: i64) -> Slot {
        match p {
            Period::Days(d) => self.offset_days(d * times),
            Period::Minutes(m) => self.offset_secs(m * 60 * times),
        }
    }
}

impl fmt::Display for Slot {
    /// Local time to the minute with its offset, e.g. `2026-11-23T03:00+01:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.local();
        debug_assert_eq!(l.second(), 0);
        write!(f, "{}", l.format("%Y-%m-%dT%H:%M%:z"))
    }
}

/// A step between slots (`--every`, offsets, backfill windows): whole local days (and
/// weeks), or exact minutes (and hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(i64),
    Minutes(i64),
}

impl Period {
    /// Reads `<N>d`, `<N>w`, `<N>h` or `<N>m` (N positive; the duration grammar of
    /// [`crate::util::duration`], days and weeks kept as calendar days).
    pub fn parse(text: &str) -> Result<Period, SlotError> {
        use crate::util::duration::{self, Unit};
        let err = |why: String| SlotError {
            what: "period",
            text: text.to_string(),
            why,
        };
        let (d, unit) = duration::parse_unit(text).map_err(err)?;
        let (secs, whole) = (d.as_secs(), d.subsec_nanos() == 0);
        match unit {
            _ if d.is_zero() => Err(err("must be greater than zero".into())),
            Unit::Days | Unit::Weeks if whole && secs % 86400 == 0 => {
                Ok(Period::Days((secs / 86400) as i64))
            }
            Unit::Minutes | Unit::Hours if whole && secs % 60 == 0 => {
                Ok(Period::Minutes((secs / 60) as i64))
            }
            Unit::Millis | Unit::Secs => Err(err("use d, w, h or m (e.g. 30d, 1h)".into())),
            _ => Err(err("expected whole days or whole minutes".into())),
        }
    }

    /// The nominal length in minutes (a day is 1440), for counting slots in a window.
    pub fn minutes(&self) -> i64 {
        match self {
            Period::Days(d) => d * 1440,
            Period::Minutes(m) => *m,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Days(d) => write!(f, "{d}d"),
            Period::Minutes(m) if m % 60 == 0 => write!(f, "{}h", m / 60),
            Period::Minutes(m) => write!(f, "{m}m"),
        }
    }
}

/// The slots of a backfill window ending at `last`: `last`, `last - every`, ... covering
/// `window` (`--backfill 30d --every 1d` gives 30 slots: `last` and the 29 before),
/// returned oldest first.
pub fn window(last: Slot, window: Period, every: Period) -> Vec<Slot> {
    let count = (window.minutes() / every.minutes()).max(1);
    let mut out: Vec<Slot> = (0..count).map(|k| last.offset(every, -k)).collect();
    out.reverse();
    out.dedup();
    out
}

/// The slots of a backfill: [`window`] with `every` defaulting to 1h for an hour window,
/// else 1d, as greaserun's and greasedispatch's `--backfill` take them. A step longer
/// than the window is `Err((every, window))`.
pub fn backfill(
    last: Slot,
    span: Period,
    every: Option<Period>,
) -> Result<Vec<Slot>, (Period, Period)> {
    let every = every.unwrap_or(match span {
        Period::Minutes(_) => Period::Minutes(60),
        Period::Days(_) => Period::Days(1),
    });
    if every.minutes() > span.minutes() {
        return Err((every, span));
    }
    Ok(window(last, span, every))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn truncates_to_the_minute() {
        let s = Slot::at(utc("2026-11-23T03:00:59.9Z"));
        assert_eq!(s.key(), "2026-11-23T03:00Z");
        assert_eq!(Slot::from_key(&s.key()), Some(s));
    }

    #[test]
    fn parses_rfc3339_and_key_forms() {
        let want = Slot::at(utc("2026-11-23T02:00:00Z"));
        assert_eq!(Slot::parse("2026-11-23T03:00:00+01:00").unwrap(), want);
        assert_eq!(Slot::parse("2026-11-23T03:00+01:00").unwrap(), want);
        assert_eq!(Slot::parse("2026-11-23T02:00Z").unwrap(), want);
        assert_eq!(Slot::parse("2026-11-23T02:00:30Z").unwrap(), want);
        assert!(Slot::parse("yesterday").is_err());
        assert!(Slot::parse("2026-11-23").is_ok());
        assert!(Slot::parse("2026-11-23 03:15").is_ok());
    }

    #[test]
    fn periods() {
        assert_eq!(Period::parse("30d").unwrap(), Period::Days(30));
        assert_eq!(Period::parse("2w").unwrap(), Period::Days(14));
        assert_eq!(Period::parse("1h").unwrap(), Period::Minutes(60));
        assert!(Period::parse("0d").is_err());
        assert!(Period::parse("5").is_err());
        assert!(Period::parse("5y").is_err());
        assert_eq!(Period::Minutes(120).to_string(), "2h");
    }

    #[test]
    fn window_is_oldest_first_and_counts_slots() {
        let last = Slot::at(utc("2026-11-23T03:00:00Z"));
        let w = window(last, Period::Days(3), Period::Days(1));
        assert_eq!(w.len(), 3);
        assert_eq!(w[2], last);
        assert!(w[0] < w[1] && w[1] < w[2]);
        let h = window(last, Period::Days(1), Period::Minutes(60));
        assert_eq!(h.len(), 24);
        assert_eq!(h[0], last.offset_secs(-23 * 3600));
    }
}
