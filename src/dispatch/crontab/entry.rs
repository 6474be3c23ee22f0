//! Validating one entry line: five time fields or a nickname, the user, the command (at
//! most [`MAX_COMMAND`] characters), and the warnings about its command: an unescaped `%`
//! and a command that does not call greaserun.

use super::fields::{self, FieldError};
use super::validate::{LineDiag, is_blank};
use super::{Entry, Line, When};

/// The longest command both daemons run whole.
pub const MAX_COMMAND: usize = 998;

/// Splits off blank-separated tokens with their byte offsets.
fn tokens(raw: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let rest = &raw[pos..];
        let skip = rest.len() - rest.trim_start_matches(is_blank).len();
        let start = pos + skip;
        if start >= raw.len() {
            return None;
        }
        let len = raw[start..].find(is_blank).unwrap_or(raw.len() - start);
        pos = start + len;
        Some((start, &raw[start..start + len]))
    })
}

pub(super) fn parse_entry(raw: &str, d: &mut LineDiag, cron_tz: Option<String>) -> Line {
    let mut toks = tokens(raw);
    let invalid = || Line::Invalid(raw.to_string());
    let (first_at, first) = toks.next().expect("non-blank line");
    if first.starts_with('-') {
        d.error(
            first_at,
            "leading `-` on an entry",
            "cronie reads it as \"do not log\", Debian cron as a syntax error",
        );
        return invalid();
    }
    let mut ok = true;
    let when = if first.starts_with('@') {
        match fields::nickname(first) {
            None => {
                d.error(
                    first_at,
                    format!("unknown nickname {first:?}"),
                    "use @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly",
                );
                return invalid();
            }
            Some(None) => When::Reboot,
            Some(Some(five)) => {
                let parsed: Vec<_> = five
                    .split(' ')
                    .zip(fields::ALL.iter())
                    .map(|(t, s)| fields::parse(s, t).expect("nicknames are valid"))
                    .collect();
                When::Fields {
                    nickname: Some(first.to_string()),
                    fields: Box::new(parsed.try_into().expect("five fields")),
                }
            }
        }
    } else {
        let mut parsed = Vec::with_capacity(5);
        let mut text = vec![(first_at, first)];
        text.extend(toks.by_ref().take(4));
        if text.len() < 5 {
            d.error(
                raw.len(),
                format!("only {} of 5 time fields", text.len()),
                "an entry is minute, hour, day of month, month, day of week, user, command",
            );
            return invalid();
        }
        for ((at, t), spec) in text.iter().zip(fields::ALL.iter()) {
            match fields::parse(spec, t) {
                Ok(f) => parsed.push(f),
                Err(errs) => {
                    ok = false;
                    for FieldError { offset, what, why } in errs {
                        d.error(at + offset, what, why);
                    }
                }
            }
        }
        if !ok {
            parsed.clear();
            // Keep checking user and command so every problem is reported at once.
        }
        When::Fields {
            nickname: None,
            fields: match parsed.try_into() {
                Ok(f) => Box::new(f),
                Err(_) => Box::new(std::array::from_fn(|i| {
                    fields::parse(&fields::ALL[i], "*").expect("star")
                })),
            },
        }
    };
    let Some((user_at, user)) = toks.next() else {
        d.error(
            raw.len(),
            "missing user and command",
            "cron.d entries name the user to run as, then the command",
        );
        return invalid();
    };
    if user.starts_with('-')
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        d.error(
            user_at,
            format!("invalid user name {user:?}"),
            "cron.d entries name the user to run as before the command",
        );
        ok = false;
    }
    let cmd_at = user_at + user.len();
    let cmd_at = cmd_at + (raw[cmd_at..].len() - raw[cmd_at..].trim_start_matches(is_blank).len());
    let command = &raw[cmd_at..];
    if command.trim().is_empty() {
        d.error(
            raw.len(),
            "missing command",
            "an entry needs a command after the user",
        );
        return invalid();
    }
    let len = command.chars().count();
    if len > MAX_COMMAND {
        d.error(
            cmd_at,
            format!("command of {len} characters"),
            format!("cron truncates commands longer than {MAX_COMMAND} characters"),
        );
        ok = false;
    } else if command.len() > MAX_COMMAND {
        d.error(
            cmd_at,
            format!("command of {} bytes", command.len()),
            format!("cron truncates commands longer than {MAX_COMMAND} bytes"),
        );
        ok = false;
    }
    if !ok {
        return invalid();
    }
    if let Some(p) = unescaped_percent(command) {
        d.warn(
            cmd_at + p,
            "unescaped `%` in command",
            "cron turns it into a newline and feeds the rest to the command's stdin; write `\\%`",
        );
    }
    if !command.contains("greaserun") {
        d.warn(
            cmd_at,
            "entry does not call greaserun",
            "it gets no overload guard, no slot claim and no run record",
        );
    }
    Line::Entry(Entry {
        line: d.line,
        when,
        user: user.to_string(),
        command: command.to_string(),
        cron_tz,
    })
}

/// The 1-based column of the user field of a valid entry line.
pub fn user_column(line: &str) -> usize {
    let mut toks = tokens(line);
    let skip = match toks.next() {
        Some((_, t)) if t.starts_with('@') => 0,
        _ => 4,
    };
    toks.nth(skip)
        .map_or(1, |(at, _)| line[..at].chars().count() + 1)
}

/// The byte offset of the first `%` not preceded by a backslash.
pub fn unescaped_percent(command: &str) -> Option<usize> {
    let b = command.as_bytes();
    (0..b.len()).find(|&i| b[i] == b'%' && (i == 0 || b[i - 1] != b'\\'))
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn user_columns() {
        assert_eq!(user_column("30 2 * * *  batch x"), 13);
        assert_eq!(user_column("@daily\tbatch x"), 8);
    }

    #[test]
    fn escaped_percent_is_fine() {
        assert!(
            parse("* * * * * a greaserun date +\\%F\n")
                .diagnostics
                .is_empty()
        );
        assert_eq!(unescaped_percent("a\\%b%c"), Some(4));
    }
}
