//! Line-by-line parsing and validation of a `/etc/cron.d` file.
//!
//! Rules (each broken rule is one [`Diagnostic`]; all of a file's problems are reported):
//! - `#` comments and blank lines are kept as they are.
//! - `NAME=value` (spaces around `=` allowed, value optionally in matching quotes) sets
//!   the environment of the entries after it; `NAME` is a shell variable name. `CRON_TZ`
//!   must name a known time zone (cronie honours it, Debian cron does not: a warning).
//! - An entry is five time fields ([`super::fields`]) or a nickname, the user, then the
//!   command (at most 998 characters). A leading `-` (cronie's "do not log") is an error,
//!   since Debian cron rejects it; so is a carriage return (a CRLF file).
//! - Warnings: an unescaped `%` in a command (cron turns it into a newline and feeds the
//!   rest to stdin), an entry that does not call greaserun, and a missing final newline
//!   (cron drops such a last line; greaselaunch adds the newline when publishing).

use super::fields::{self, FieldError};
use super::{Crontab, Diagnostic, Entry, EnvVar, Line, Severity, When};

/// The longest command both daemons run whole.
pub const MAX_COMMAND: usize = 998;

/// Parses and validates a crontab's text.
pub fn parse(text: &str) -> Crontab {
    let mut lines = Vec::new();
    let mut diagnostics = Vec::new();
    let mut cron_tz: Option<String> = None;
    let pieces: Vec<&str> = text.split('\n').collect();
    let count = if text.ends_with('\n') || text.is_empty() {
        pieces.len() - 1
    } else {
        pieces.len()
    };
    for (i, raw) in pieces.iter().take(count).enumerate() {
        let mut d = LineDiag {
            line: i + 1,
            raw,
            out: &mut diagnostics,
        };
        let line = parse_line(raw, &mut d, &mut cron_tz);
        lines.push(line);
    }
    if count > 0 && !text.ends_with('\n') {
        let last = pieces[count - 1];
        diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            line: count,
            column: last.chars().count() + 1,
            what: "no newline at end of file".into(),
            why: "cron drops a last line without one; greaselaunch adds it when publishing".into(),
        });
    }
    diagnostics.sort_by_key(|d| (d.line, d.column));
    Crontab { lines, diagnostics }
}

struct LineDiag<'a> {
    line: usize,
    raw: &'a str,
    out: &'a mut Vec<Diagnostic>,
}

impl LineDiag<'_> {
    fn push(
        &mut self,
        severity: Severity,
        byte: usize,
        what: impl Into<String>,
        why: impl Into<String>,
    ) {
        let byte = byte.min(self.raw.len());
        self.out.push(Diagnostic {
            severity,
            line: self.line,
            column: self.raw[..byte].chars().count() + 1,
            what: what.into(),
            why: why.into(),
        });
    }
    fn error(&mut self, byte: usize, what: impl Into<String>, why: impl Into<String>) {
        self.push(Severity::Error, byte, what, why);
    }
    fn warn(&mut self, byte: usize, what: impl Into<String>, why: impl Into<String>) {
        self.push(Severity::Warning, byte, what, why);
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn parse_line(raw: &str, d: &mut LineDiag, cron_tz: &mut Option<String>) -> Line {
    if let Some(i) = raw.find('\r') {
        d.error(
            i,
            "carriage return in line",
            "cron keeps it as part of the line; save the file with LF line endings",
        );
        return Line::Invalid(raw.to_string());
    }
    let start = raw.len() - raw.trim_start_matches(is_blank).len();
    let body = &raw[start..];
    if body.is_empty() {
        return Line::Blank;
    }
    if body.starts_with('#') {
        return Line::Comment(raw.to_string());
    }
    let name_end = body
        .find(|c: char| is_blank(c) || c == '=')
        .unwrap_or(body.len());
    if body[name_end..]
        .trim_start_matches(is_blank)
        .starts_with('=')
    {
        return parse_env(raw, start, name_end, d, cron_tz);
    }
    parse_entry(raw, d, cron_tz.clone())
}

fn parse_env(
    raw: &str,
    start: usize,
    name_len: usize,
    d: &mut LineDiag,
    cron_tz: &mut Option<String>,
) -> Line {
    let name = &raw[start..start + name_len];
    let eq = start + name_len + raw[start + name_len..].find('=').expect("checked");
    let valid_name = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut ok = true;
    if !valid_name {
        d.error(
            start,
            format!("invalid environment variable name {name:?}"),
            "use letters, digits and `_`, not starting with a digit",
        );
        ok = false;
    }
    let vstart = eq + 1 + (raw[eq + 1..].len() - raw[eq + 1..].trim_start_matches(is_blank).len());
    let value_raw = raw[vstart..].trim_end_matches(is_blank);
    let (value, quote) = match value_raw.chars().next() {
        Some(q @ ('"' | '\'')) => {
            if value_raw.len() >= 2 && value_raw.ends_with(q) {
                (value_raw[1..value_raw.len() - 1].to_string(), Some(q))
            } else {
                d.error(
                    vstart,
                    format!("unterminated {q} quote"),
                    "a quoted value must end with the same quote",
                );
                ok = false;
                (value_raw.to_string(), None)
            }
        }
        _ => (value_raw.to_string(), None),
    };
    if ok && name == "CRON_TZ" {
        if value.parse::<chrono_tz::Tz>().is_err() {
            d.error(
                vstart,
                format!("unknown time zone {value:?}"),
                "CRON_TZ takes an IANA zone name such as Europe/Stockholm",
            );
            ok = false;
        } else {
            d.warn(
                start,
                "CRON_TZ is honoured by cronie only",
                "Debian cron runs these entries in the host's time zone",
            );
            *cron_tz = Some(value.clone());
        }
    }
    if !ok {
        return Line::Invalid(raw.to_string());
    }
    Line::Env(EnvVar {
        name: name.to_string(),
        value,
        quote,
    })
}

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

fn parse_entry(raw: &str, d: &mut LineDiag, cron_tz: Option<String>) -> Line {
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
    use super::*;

    fn render(text: &str) -> String {
        parse(text)
            .diagnostics
            .iter()
            .map(|d| d.render("jobs.cron") + "\n")
            .collect()
    }

    #[test]
    fn accepts_a_good_file() {
        let c = parse(
            "# nightly\nMAILTO = \"ops@example.com\"\nPATH=/usr/bin:/bin\n\n30 2 * * mon-fri batch greaserun --runner shell x\n@daily batch greaserun --runner shell y\n@reboot batch greaserun z\n",
        );
        assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
        assert_eq!(c.entries().count(), 3);
        assert_eq!(
            c.lines[1],
            Line::Env(EnvVar {
                name: "MAILTO".into(),
                value: "ops@example.com".into(),
                quote: Some('"')
            })
        );
    }

    #[test]
    fn reports_every_error_compiler_style() {
        insta::assert_snapshot!(render(
            "61 2 * * * batch greaserun a\n*/0 1/20 * jan monday batch greaserun b\n* * * * * batch\n* * * *\n-* * * * * batch greaserun c\n@every batch greaserun d\n* * * * * /usr/bin/true\n* * * * * batch echo 50%\nCRON_TZ=Mars/Olympus\nX=\"open\n5 L * * * batch greaserun e\n* * * * * batch greaserun f"
        ));
    }

    #[test]
    fn long_command_and_crlf() {
        let long = format!("* * * * * batch greaserun {}\n", "x".repeat(990));
        assert!(render(&long).contains("command of 1000 characters"));
        assert!(render("* * * * * batch greaserun x\r\n").contains("carriage return"));
    }

    #[test]
    fn cron_tz_applies_to_following_entries() {
        let c =
            parse("* * * * * a greaserun x\nCRON_TZ=Europe/Stockholm\n* * * * * a greaserun y\n");
        let tz: Vec<_> = c.entries().map(|e| e.cron_tz.clone()).collect();
        assert_eq!(tz, [None, Some("Europe/Stockholm".to_string())]);
        assert!(!c.has_errors());
    }

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
