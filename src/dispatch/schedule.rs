//! Next fire times, as the cron daemon computes them.
//!
//! - Vixie's day rule: if the day-of-month or day-of-week field starts with `*`, a day
//!   must match both; otherwise a day matching either runs.
//! - Times are wall-clock times in the entry's zone: `CRON_TZ` (cronie) or the host's
//!   (`TZ`, else `/etc/localtime`).
//! - Daylight-saving jumps, as Debian cron handles them: a job whose minute and hour
//!   fields are both fixed (neither starts with `*`) runs once: in a skipped hour right
//!   after the jump, in a repeated hour at its first occurrence. Jobs whose minute or
//!   hour starts with `*` keep their interval: they do not run in the skipped hour and
//!   run in both copies of the repeated one.
//! - `@reboot` has no next time. A schedule whose days exist in none of its months
//!   (`0 0 30 2 *`) never fires: [`Schedule::parse_firing`] refuses it and
//!   [`Schedule::never_fires`] lets greaselaunch warn about it.
//! - Not modelled: clock steps of three hours or more (Debian cron then runs nothing it
//!   skipped), and cronie's `RANDOM_DELAY`.
//!
//! Wall-clock matching is croner's (built for five fields: no seconds, no year), fed
//! the numeric values the validator produced.

use chrono::{DateTime, Duration, FixedOffset, LocalResult, NaiveDateTime, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::crontab::{Field, When};

/// A time zone: the host's or a named one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The host's zone through chrono's `Local` (used only when [`Zone::host`] cannot
    /// name it, e.g. a POSIX `TZ` rule string).
    Local,
    Named(chrono_tz::Tz),
}

impl Zone {
    /// The host's zone as a named zone when it can be told (`TZ` naming an IANA zone,
    /// else `/etc/timezone`, else the `/etc/localtime` link), else [`Zone::Local`].
    /// A named zone is preferred because chrono's `Local` resolves wall-clock times in
    /// DST gaps and overlaps with the wrong offset.
    pub fn host() -> Zone {
        if let Ok(tz) = std::env::var("TZ") {
            let name = tz.trim_start_matches(':');
            let name = name.strip_prefix("/usr/share/zoneinfo/").unwrap_or(name);
            return Zone::named(name).unwrap_or(Zone::Local);
        }
        if let Some(z) = std::fs::read_to_string("/etc/timezone")
            .ok()
            .and_then(|t| Zone::named(t.trim()))
        {
            return z;
        }
        std::fs::read_link("/etc/localtime")
            .ok()
            .and_then(|p| {
                let p = p.to_string_lossy().into_owned();
                let i = p.find("zoneinfo/")?;
                Zone::named(&p[i + "zoneinfo/".len()..])
            })
            .unwrap_or(Zone::Local)
    }

    /// A zone by IANA name; `None` if unknown.
    pub fn named(name: &str) -> Option<Zone> {
        name.parse().ok().map(Zone::Named)
    }

    fn local(&self, t: &NaiveDateTime) -> LocalResult<DateTime<FixedOffset>> {
        match self {
            Zone::Local => chrono::Local
                .from_local_datetime(t)
                .map(|d| d.fixed_offset()),
            Zone::Named(z) => z.from_local_datetime(t).map(|d| d.fixed_offset()),
        }
    }

    /// The instant `t` as a time with this zone's offset.
    pub fn at(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        match self {
            Zone::Local => t.with_timezone(&chrono::Local).fixed_offset(),
            Zone::Named(z) => t.with_timezone(z).fixed_offset(),
        }
    }

    /// The zone's name for display.
    pub fn name(&self) -> String {
        match self {
            Zone::Local => "local".into(),
            Zone::Named(z) => z.name().into(),
        }
    }
}

/// A compiled schedule for one entry.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Option<Cron>,
    /// Minute or hour starts with `*`: the job keeps its interval across DST jumps.
    interval: bool,
    /// No day the fields allow exists in any month they allow.
    never: bool,
}

impl Schedule {
    /// Compiles a validated entry's schedule.
    pub fn new(when: &When) -> Schedule {
        let When::Fields { fields, .. } = when else {
            return Schedule {
                cron: None,
                interval: false,
                never: false,
            };
        };
        let list = |f: &Field| {
            f.values()
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let pattern = fields.iter().map(list).collect::<Vec<_>>().join(" ");
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .dom_and_dow(fields[2].star || fields[4].star)
            .build()
            .parse(&pattern)
            .expect("validated fields make a valid pattern");
        Schedule {
            cron: Some(cron),
            interval: fields[0].star || fields[1].star,
            never: no_such_day(&fields[2], &fields[3], &fields[4]),
        }
    }

    /// Whether this schedule never fires: its days of the month exist in none of its
    /// months (`30 2`: 30 February) and the day of the week does not widen it.
    pub fn never_fires(&self) -> bool {
        self.never
    }

    /// Parses `5 fields` or an `@` nickname (as `greasestatus next` takes them).
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let line = format!("{} nobody greaserun x\n", text.trim());
        let c = super::crontab::parse(&line);
        if let Some(e) = c.errors().next() {
            return Err(format!("{} ({})", e.what, e.why));
        }
        match c.entries().next() {
            Some(e) => Ok(Schedule::new(&e.when)),
            None => Err("not a schedule".into()),
        }
    }

    /// [`Schedule::parse`], refusing a schedule that [never fires](Schedule::never_fires).
    pub fn parse_firing(text: &str) -> Result<Schedule, String> {
        let s = Schedule::parse(text)?;
        if s.never_fires() {
            return Err("it never fires: none of its days of the month exist in its months".into());
        }
        Ok(s)
    }

    /// The first fire time strictly after `after`, in `zone`; `None` for `@reboot` or a
    /// schedule that never fires (e.g. 31 February).
    pub fn next_after(&self, after: DateTime<Utc>, zone: Zone) -> Option<DateTime<FixedOffset>> {
        let cron = self.cron.as_ref()?;
        let after_fixed = zone.at(after);
        let later = zone.at(after + Duration::hours(3));
        // Start the wall-clock search early enough to see both copies of a repeated hour.
        let shift = i64::from(
            (after_fixed.offset().local_minus_utc() - later.offset().local_minus_utc()).max(0),
        );
        let transition = after_fixed.offset() != later.offset();
        let start = after_fixed.naive_local() - Duration::seconds(shift);
        let mut t = start;
        let mut best: Option<DateTime<FixedOffset>> = None;
        for _ in 0..100_000 {
            let n = cron.find_next_occurrence(&t, false).ok()?;
            if let Some(b) = best
                && n > b.naive_local() + Duration::hours(2)
            {
                break;
            }
            for c in self.candidates(&n, zone) {
                if c.with_timezone(&Utc) > after && best.is_none_or(|b| c < b) {
                    best = Some(c);
                }
            }
            if best.is_some() && !transition {
                break;
            }
            t = n;
        }
        best
    }

    /// The next `count` fire times after `after`.
    pub fn upcoming(
        &self,
        after: DateTime<Utc>,
        zone: Zone,
        count: usize,
    ) -> Vec<DateTime<FixedOffset>> {
        let mut out = Vec::with_capacity(count);
        let mut t = after;
        while out.len() < count {
            match self.next_after(t, zone) {
                Some(n) => {
                    t = n.with_timezone(&Utc);
                    out.push(n);
                }
                None => break,
            }
        }
        out
    }

    /// The instants a wall-clock match `n` fires at.
    fn candidates(&self, n: &NaiveDateTime, zone: Zone) -> Vec<DateTime<FixedOffset>> {
        match zone.local(n) {
            LocalResult::Single(x) => vec![x],
            LocalResult::Ambiguous(a, b) if self.interval => vec![a, b],
            LocalResult::Ambiguous(a, _) => vec![a],
            LocalResult::None if self.interval => vec![],
            LocalResult::None => {
                // Right after the jump: the first wall-clock minute that exists.
                let mut m = *n;
                for _ in 0..24 * 60 {
                    m += Duration::minutes(1);
                    if let Some(x) = zone.local(&m).earliest() {
                        return vec![x];
                    }
                }
                vec![]
            }
        }
    }
}

/// Vixie's day rule: with both day fields restricted a day matching either runs (every
/// month has every weekday), else a day must match both, so the day of the month must
/// exist in an allowed month (February has 29 days in leap years).
fn no_such_day(dom: &Field, month: &Field, dow: &Field) -> bool {
    const DAYS: [u8; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !dom.star && !dow.star {
        return false;
    }
    let first = dom.values().first().copied().unwrap_or(u8::MAX);
    !month
        .values()
        .iter()
        .any(|m| (1..=12).contains(m) && first <= DAYS[usize::from(*m - 1)])
}

/// Parses a time given on the command line: RFC 3339, or `YYYY-MM-DD[ T]HH:MM[:SS]` in
/// `zone`, or `now`.
pub fn parse_time(text: &str, zone: Zone) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if t == "now" {
        return Ok(Utc::now());
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return zone
                .local(&n)
                .earliest()
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(|| {
                    format!(
                        "{t:?} does not exist in {} (a skipped DST hour)",
                        zone.name()
                    )
                });
        }
    }
    Err(format!(
        "invalid time {t:?} (use RFC 3339 such as 2026-03-29T01:30:00Z, or 2026-03-29 01:30 in the local zone)"
    ))
}

/// The zone for an entry: its `CRON_TZ` if set (and known), else `host`.
pub fn entry_zone(cron_tz: Option<&str>, host: Zone) -> Zone {
    cron_tz.and_then(Zone::named).unwrap_or(host)
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
