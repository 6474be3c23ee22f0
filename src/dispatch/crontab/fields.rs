//! The five time fields of a crontab entry and the `@` nicknames: what each field accepts
//! (the intersection of Debian cron 3.0pl1 and cronie) and its parsed value, a bit set of
//! the matching values.
//!
//! Accepted per field: a comma list of `*`, `N` or `N-M`, each of the last two optionally
//! followed by `/step`, where `*` and ranges may take a step but a single number may not
//! (Debian rejects `1/20`). Month and weekday fields also take the three-letter English
//! names (`jan`, `mon`, any case). Weekday 7 is Sunday, as in both daemons.

/// One field's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field's name in messages.
    pub name: &'static str,
    /// Smallest value.
    pub min: u8,
    /// Largest value.
    pub max: u8,
    /// Three-letter names for the values `min..`, if any.
    pub names: &'static [&'static str],
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The minute field, 0-59.
pub const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
/// The hour field, 0-23.
pub const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
/// The day-of-month field, 1-31.
pub const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
/// The month field, 1-12 or `jan`-`dec`.
pub const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: MONTHS,
};
/// The day-of-week field, 0-7 (0 and 7 are Sunday) or `sun`-`sat`.
pub const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day of week",
    min: 0,
    max: 7,
    names: DAYS,
};

/// The fields in crontab order.
pub const ALL: [FieldSpec; 5] = [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK];

/// A parsed field: its text as written, the values it matches, and whether it starts with
/// `*` (which decides Vixie's day rule and which jobs keep their interval across DST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub text: String,
    /// Bit `v` set when value `v` matches (weekday 7 is folded into 0).
    pub bits: u64,
    pub star: bool,
}

impl Field {
    /// The matching values, ascending.
    pub fn values(&self) -> Vec<u8> {
        (0..64u8).filter(|v| self.bits & (1u64 << v) != 0).collect()
    }
}

/// Why a field is invalid, with the byte offset of the offending part within the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub offset: usize,
    pub what: String,
    pub why: String,
}

fn err(offset: usize, what: impl Into<String>, why: impl Into<String>) -> FieldError {
    FieldError {
        offset,
        what: what.into(),
        why: why.into(),
    }
}

/// Parses one field. Returns every problem found in its list elements.
pub fn parse(spec: &FieldSpec, text: &str) -> Result<Field, Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/')))
    {
        return Err(vec![err(
            i,
            format!("unexpected character {c:?} in the {} field", spec.name),
            "cron fields take numbers, names, `*`, `,`, `-` and `/` only; `L W # ? +` are not cron syntax",
        )]);
    }
    let mut bits = 0u64;
    let mut offset = 0;
    for element in text.split(',') {
        match element_bits(spec, element, offset) {
            Ok(b) => bits |= b,
            Err(e) => errors.push(e),
        }
        offset += element.len() + 1;
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if spec.max == 7 && bits & (1 << 7) != 0 {
        bits = (bits & !(1 << 7)) | 1;
    }
    Ok(Field {
        text: text.to_string(),
        bits,
        star: text.starts_with('*'),
    })
}

fn element_bits(spec: &FieldSpec, element: &str, at: usize) -> Result<u64, FieldError> {
    let range_text = format!("{}-{}", spec.min, spec.max);
    if element.is_empty() {
        return Err(err(
            at,
            format!("empty list element in the {} field", spec.name),
            "a comma must sit between two values",
        ));
    }
    let (base, step) = match element.split_once('/') {
        None => (element, None),
        Some((b, s)) => (b, Some(s)),
    };
    let step_at = at + base.len() + 1;
    let step = match step {
        None => 1,
        Some(s) if s.contains('/') => {
            return Err(err(
                step_at,
                "more than one `/` in a field element",
                "write one step, as in `*/15`",
            ));
        }
        Some("") => return Err(err(step_at, "missing step after `/`", "write e.g. `*/15`")),
        Some(s) => {
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(
                    step_at,
                    format!("invalid step {s:?}"),
                    "a step is a plain number",
                ));
            }
            match s.parse::<u32>() {
                Ok(0) => return Err(err(step_at, "step 0", "a step must be at least 1")),
                Ok(n) if n <= u32::from(spec.max) + 1 => n,
                _ => {
                    return Err(err(
                        step_at,
                        format!("step {s} is larger than the {} field", spec.name),
                        format!("{} is {range_text}", spec.name),
                    ));
                }
            }
        }
    };
    let (lo, hi) = if base == "*" {
        (u32::from(spec.min), u32::from(spec.max))
    } else if base.starts_with('*') {
        return Err(err(
            at,
            format!("unexpected {base:?}"),
            "`*` stands alone or takes a step, as in `*/5`",
        ));
    } else if let Some((a, b)) = base.split_once('-') {
        let lo = value(spec, a, at)?;
        let hi = value(spec, b, at + a.len() + 1)?;
        if lo > hi {
            return Err(err(
                at,
                format!("reversed range {base}"),
                "Debian cron matches nothing and cronie wraps around; write it as two ranges",
            ));
        }
        (lo, hi)
    } else {
        let v = value(spec, base, at)?;
        if element.contains('/') {
            return Err(err(
                at,
                format!("step on a single number in {element:?}"),
                format!(
                    "Debian cron rejects it; write a range such as `{v}-{}/{step}`",
                    spec.max
                ),
            ));
        }
        (v, v)
    };
    let mut bits = 0u64;
    let mut v = lo;
    while v <= hi {
        bits |= 1u64 << v;
        v += step;
    }
    Ok(bits)
}

fn value(spec: &FieldSpec, text: &str, at: usize) -> Result<u32, FieldError> {
    let range_text = format!("{}-{}", spec.min, spec.max);
    if text.is_empty() {
        return Err(err(
            at,
            format!("missing value in the {} field", spec.name),
            "a range needs a value on each side of `-`",
        ));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(n) if (u32::from(spec.min)..=u32::from(spec.max)).contains(&n) => Ok(n),
            _ => Err(err(
                at,
                format!("{} {text} out of range", spec.name),
                format!("{} is {range_text}", spec.name),
            )),
        };
    }
    let lower = text.to_ascii_lowercase();
    if let Some(i) = spec.names.iter().position(|n| *n == lower) {
        return Ok(u32::from(spec.min) + i as u32);
    }
    let other = if spec.names == MONTHS { DAYS } else { MONTHS };
    let why = if spec.names.is_empty() {
        format!("{} takes numbers only ({range_text})", spec.name)
    } else if other.contains(&lower.as_str()) {
        return Err(err(
            at,
            format!("name {text:?} in the {} field", spec.name),
            format!(
                "it names a {}",
                if other == MONTHS { "month" } else { "weekday" }
            ),
        ));
    } else {
        format!(
            "use a number ({range_text}) or one of the three-letter names {}-{}",
            spec.names[0],
            spec.names[spec.names.len() - 2 + usize::from(spec.names == MONTHS)]
        )
    };
    Err(err(
        at,
        format!("unknown name {text:?} in the {} field", spec.name),
        why,
    ))
}

/// The `@` nicknames both daemons know, with their five-field meaning (`None` for
/// `@reboot`, which has no time).
pub const NICKNAMES: &[(&str, Option<&str>)] = &[
    ("@reboot", None),
    ("@yearly", Some("0 0 1 1 *")),
    ("@annually", Some("0 0 1 1 *")),
    ("@monthly", Some("0 0 1 * *")),
    ("@weekly", Some("0 0 * * 0")),
    ("@daily", Some("0 0 * * *")),
    ("@midnight", Some("0 0 * * *")),
    ("@hourly", Some("0 * * * *")),
];

/// Looks a nickname up (exactly as written: the daemons compare case-sensitively).
pub fn nickname(text: &str) -> Option<Option<&'static str>> {
    NICKNAMES.iter().find(|(n, _)| *n == text).map(|(_, f)| *f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(spec: &FieldSpec, t: &str) -> Vec<u8> {
        parse(spec, t).unwrap().values()
    }

    fn why(spec: &FieldSpec, t: &str) -> String {
        let e = parse(spec, t).unwrap_err();
        format!("{} ({})", e[0].what, e[0].why)
    }

    #[test]
    fn accepts_the_common_forms() {
        assert_eq!(vals(&MINUTE, "*/20"), [0, 20, 40]);
        assert_eq!(vals(&MINUTE, "5,10-12"), [5, 10, 11, 12]);
        assert_eq!(vals(&HOUR, "1-10/4"), [1, 5, 9]);
        assert_eq!(vals(&MONTH, "JAN-mar"), [1, 2, 3]);
        assert_eq!(vals(&DAY_OF_WEEK, "mon-fri"), [1, 2, 3, 4, 5]);
        assert_eq!(vals(&DAY_OF_WEEK, "5-7"), [0, 5, 6]);
        assert!(parse(&MINUTE, "*/5").unwrap().star);
        assert!(!parse(&MINUTE, "0-59").unwrap().star);
    }

    #[test]
    fn rejects_what_either_daemon_rejects() {
        assert!(why(&MINUTE, "60").contains("out of range"));
        assert!(why(&DAY_OF_MONTH, "0").contains("day of month is 1-31"));
        assert!(why(&MINUTE, "1/20").contains("step on a single number"));
        assert!(why(&MINUTE, "*/0").contains("step 0"));
        assert!(why(&DAY_OF_WEEK, "monday").contains("unknown name"));
        assert!(why(&DAY_OF_WEEK, "jan").contains("it names a month"));
        assert!(why(&MONTH, "mon").contains("it names a weekday"));
        assert!(why(&HOUR, "mon").contains("numbers only"));
        assert!(
            why(&DAY_OF_MONTH, "L").contains("unknown name")
                || why(&DAY_OF_MONTH, "L").contains("numbers only")
        );
        assert!(why(&DAY_OF_MONTH, "15W").contains("numbers only"));
        assert!(why(&DAY_OF_WEEK, "5#3").contains("unexpected character"));
        assert!(why(&DAY_OF_WEEK, "?").contains("unexpected character"));
        assert!(why(&MINUTE, "5-1").contains("reversed range"));
        assert!(why(&DAY_OF_WEEK, "sat-sun").contains("reversed range"));
        assert!(why(&MINUTE, "1,,2").contains("empty list element"));
        assert!(why(&MINUTE, "*-5").contains("unexpected"));
        assert!(why(&MINUTE, "*/61").contains("larger than"));
    }

    #[test]
    fn all_errors_of_a_field_are_reported() {
        let e = parse(&MINUTE, "60,1/2,x").unwrap_err();
        assert_eq!(e.len(), 3);
        assert_eq!(e.iter().map(|e| e.offset).collect::<Vec<_>>(), [0, 3, 7]);
    }

    #[test]
    fn nicknames() {
        assert_eq!(nickname("@daily"), Some(Some("0 0 * * *")));
        assert_eq!(nickname("@reboot"), Some(None));
        assert_eq!(nickname("@DAILY"), None);
        assert_eq!(nickname("@every"), None);
    }
}
