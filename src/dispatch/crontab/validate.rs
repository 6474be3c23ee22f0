//! Line-by-line parsing and validation of a `/etc/cron.d` file.
//!
//! Rules (each broken rule is one [`Diagnostic`]; all of a file's problems are reported):
//! - `#` comments and blank lines are kept as they are.
//! - `NAME=value` (spaces around `=` allowed, value optionally in matching quotes) sets
//!   the environment of the entries after it; `NAME` is a shell variable name. `CRON_TZ`
//!   must name a known time zone (cronie honours it, Debian cron does not: a warning).
//!   `LD_*`, `BASH_ENV`, `ENV` and a `SHELL` other than `/bin/sh` or `/bin/bash` are
//!   errors ([`super::policy::always_refused`]), as is a line over [`MAX_ENV`] bytes.
//! - A control character other than tab (NUL, escape, DEL, C1 ...) anywhere is an error.
//! - An entry is five time fields ([`super::fields`]) or a nickname, the user, then the
//!   command (at most 998 characters and bytes). A leading `-` (cronie's "do not log") is an error,
//!   since Debian cron rejects it; so is a carriage return (a CRLF file).
//! - Warnings: an unescaped `%` in a command (cron turns it into a newline and feeds the
//!   rest to stdin), an entry that does not call greaserun, and a missing final newline
//!   (cron drops such a last line; greaselaunch adds the newline when publishing).

use super::entry::parse_entry;
pub use super::entry::{MAX_COMMAND, unescaped_percent, user_column};
use super::{Crontab, Diagnostic, EnvVar, Line, Severity};

/// The longest environment line (`NAME=value`, from its first non-blank) Debian cron
/// reads whole: its `MAX_ENVSTR` is 1000 bytes with the terminating NUL.
pub const MAX_ENV: usize = 999;

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

/// Where one line's diagnostics go, with byte offsets turned into 1-based columns.
pub(super) struct LineDiag<'a> {
    pub(super) line: usize,
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
    pub(super) fn error(&mut self, byte: usize, what: impl Into<String>, why: impl Into<String>) {
        self.push(Severity::Error, byte, what, why);
    }
    pub(super) fn warn(&mut self, byte: usize, what: impl Into<String>, why: impl Into<String>) {
        self.push(Severity::Warning, byte, what, why);
    }
}

/// Blanks as cron sees them: space and tab.
pub(super) fn is_blank(c: char) -> bool {
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
    if let Some((i, c)) = raw
        .char_indices()
        .find(|(_, c)| c.is_control() && *c != '\t')
    {
        d.error(
            i,
            format!("control character U+{:04X} in line", u32::from(c)),
            "cron reads lines as C strings (a NUL ends it early) and terminals hide control \
             characters; only tab may appear",
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
    if ok && let Some(why) = super::policy::always_refused(name, &value) {
        d.error(
            start,
            format!("environment {name} is refused"),
            format!("{why}; refused whatever launch.allowed_env says"),
        );
        ok = false;
    }
    let env_len = raw.len() - start;
    if ok && env_len > MAX_ENV {
        d.error(
            start,
            format!("environment line of {env_len} bytes"),
            format!("cron reads at most {MAX_ENV} bytes of an environment line"),
        );
        ok = false;
    }
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
}
