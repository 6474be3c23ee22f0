//! Slot parameters: date placeholders in a job's arguments and path patterns, filled from
//! the run's slot, so a crontab line says `etl {date-1d}` and every run, including
//! backfilled ones, processes the partition of its own slot.
//!
//! Placeholders (local time, the zone cron runs in):
//! - `{date}` `2026-11-23`, `{datetime}` `2026-11-23T03:00`, `{hour}` `2026-11-23T03`
//!   (Luigi's DateHour form), `{slot:<strftime>}` any format (`{slot:%Y/%m/%d}`).
//! - An offset after the name: `{date-1d}`, `{hour-2h}`, `{slot+1w:%Y%m%d}`; units
//!   `m`, `h` (exact), `d`, `w` (calendar days).
//!
//! Other `{...}` (like the runners' `{jar_path}`) are left as they are. Patterns for
//! `--skip-if-exists` and `--wait-for` also take strftime `%` codes, by slot.

use chrono::format::{Item, StrftimeItems};

use crate::model::slot::{Period, Slot};

/// A placeholder or pattern that names a slot parameter but cannot be filled.
#[derive(Debug, thiserror::Error)]
#[error("invalid slot parameter {placeholder:?} in {text:?}: {why}")]
pub struct ParamError {
    pub placeholder: String,
    pub text: String,
    pub why: String,
}

const NAMES: &[&str] = &["datetime", "date", "hour", "slot"];

/// Fills the slot placeholders in `text`; anything else is copied unchanged.
pub fn fill(text: &str, slot: Slot) -> Result<String, ParamError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let inner = &after[..close];
        match placeholder(inner, slot) {
            Some(Ok(v)) => out.push_str(&v),
            Some(Err(why)) => {
                return Err(ParamError {
                    placeholder: format!("{{{inner}}}"),
                    text: text.to_string(),
                    why,
                });
            }
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Fills a path pattern: slot placeholders, then strftime `%` codes by the slot.
pub fn fill_pattern(pattern: &str, slot: Slot) -> Result<String, ParamError> {
    let filled = fill(pattern, slot)?;
    strftime(&filled, slot).map_err(|why| ParamError {
        placeholder: "%".into(),
        text: pattern.to_string(),
        why,
    })
}

/// Whether `text` holds any slot placeholder (so a job name derived from it is per job,
/// not per slot).
pub fn has_placeholders(text: &str) -> bool {
    let probe = Slot::at(chrono::DateTime::UNIX_EPOCH);
    fill(text, probe).map(|f| f != text).unwrap_or(true)
}

/// `None`: not a slot placeholder; `Some(Err)`: one, but malformed.
fn placeholder(inner: &str, slot: Slot) -> Option<Result<String, String>> {
    let name = NAMES.iter().find(|n| inner.starts_with(**n))?;
    let rest = &inner[name.len()..];
    let (offset, fmt) = match rest.find(':') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    if !offset.is_empty() && !offset.starts_with(['+', '-']) {
        return None; // e.g. {dates} or {hourly}: someone else's placeholder
    }
    Some(render(name, offset, fmt, slot))
}

fn render(name: &str, offset: &str, fmt: Option<&str>, slot: Slot) -> Result<String, String> {
    let mut s = slot;
    if !offset.is_empty() {
        let (sign, body) = offset.split_at(1);
        let p = Period::parse(body).map_err(|e| e.why)?;
        s = s.offset(p, if sign == "-" { -1 } else { 1 });
    }
    let format = match (name, fmt) {
        ("slot", Some(f)) if !f.is_empty() => f,
        ("slot", _) => "%Y-%m-%dT%H:%M",
        (_, Some(_)) => return Err(format!("only {{slot:...}} takes a format, not {{{name}}}")),
        ("date", None) => "%Y-%m-%d",
        ("datetime", None) => "%Y-%m-%dT%H:%M",
        ("hour", None) => "%Y-%m-%dT%H",
        _ => unreachable!("NAMES are all handled"),
    };
    strftime(format, s)
}

/// Formats `format` (strftime) at the slot's local time, refusing unknown `%` codes
/// instead of panicking on them.
fn strftime(format: &str, slot: Slot) -> Result<String, String> {
    if !format.contains('%') {
        return Ok(format.to_string());
    }
    let items: Vec<Item> = StrftimeItems::new(format).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(format!("unknown strftime code in {format:?}"));
    }
    Ok(slot
        .local()
        .format_with_items(items.into_iter())
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Slot {
        // Local time is the process's TZ; use a slot whose local rendering we compute
        // the same way, so the test holds in any zone.
        Slot::parse("2026-03-01T03:30").unwrap()
    }

    #[test]
    fn fills_names_and_offsets() {
        let s = slot();
        assert_eq!(fill("{date}", s).unwrap(), "2026-03-01");
        assert_eq!(fill("{date-1d}", s).unwrap(), "2026-02-28");
        assert_eq!(fill("{datetime}", s).unwrap(), "2026-03-01T03:30");
        assert_eq!(fill("{hour}", s).unwrap(), "2026-03-01T03");
        assert_eq!(fill("{hour-4h}", s).unwrap(), "2026-02-28T23");
        assert_eq!(fill("{slot:%Y/%m/%d}", s).unwrap(), "2026/03/01");
        assert_eq!(fill("{slot+1w:%Y%m%d}", s).unwrap(), "20260308");
        assert_eq!(
            fill("in={date} out={date+1d}", s).unwrap(),
            "in=2026-03-01 out=2026-03-02"
        );
    }

    #[test]
    fn leaves_other_braces_alone() {
        let s = slot();
        for t in [
            "{jar_path}",
            "${HOME}",
            "{",
            "a}b",
            "{dates}",
            "{hourly}",
            "{}",
        ] {
            assert_eq!(fill(t, s).unwrap(), t);
        }
        assert!(!has_placeholders("run {jar_path}"));
        assert!(has_placeholders("run {date-1d}"));
    }

    #[test]
    fn rejects_malformed_parameters() {
        let s = slot();
        assert!(
            fill("{date-1x}", s)
                .unwrap_err()
                .to_string()
                .contains("{date-1x}")
        );
        assert!(fill("{date:%Y}", s).is_err());
        assert!(fill("{slot:%Q}", s).is_err());
    }

    #[test]
    fn patterns_take_strftime_and_placeholders() {
        let s = slot();
        assert_eq!(
            fill_pattern("/d/%Y%m%d/{hour}", s).unwrap(),
            "/d/20260301/2026-03-01T03"
        );
        assert!(fill_pattern("/d/%Q", s).is_err());
    }
}
