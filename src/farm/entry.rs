//! A published entry as the farm queue sees it: a crontab entry whose command is a plain
//! greaserun invocation, parsed with greaserun's own argument struct so its job name is
//! the one greaserun computes. Anything a shell would interpret (pipes, `;`, `&&`,
//! redirects, `$` expansions, globs) is refused: the queue runs only what it can name.

use clap::Parser;

use crate::cli::greaserun::GreaserunArgs;
use crate::dispatch::crontab::{Crontab, Entry, Line, When};
use crate::model::job::job_name;

/// A crontab entry that calls greaserun, with what the queue needs to run it.
#[derive(Debug, Clone)]
pub struct GreaserunEntry {
    /// The job's name: `--job`, or derived as greaserun derives it.
    pub job: String,
    /// greaserun's arguments, parsed.
    pub args: GreaserunArgs,
    /// The user the entry runs as.
    pub user: String,
    /// The command as cron runs it (`\%` unescaped to `%`).
    pub command: String,
    /// The program the command starts, as written (`greaserun` or a path to it).
    pub program: String,
    /// The crontab's environment lines in effect for this entry, in order, then the
    /// command's own `NAME=value` prefixes.
    pub env: Vec<(String, String)>,
    pub when: When,
    pub cron_tz: Option<String>,
    /// The entry's 1-based line in its crontab.
    pub line: usize,
}

/// Every entry of `crontab`, each parsed as a greaserun entry or the reason it is not one.
pub fn entries(crontab: &Crontab) -> Vec<Result<GreaserunEntry, (usize, String)>> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for line in &crontab.lines {
        match line {
            Line::Env(v) => env.push((v.name.clone(), v.value.clone())),
            Line::Entry(e) => out.push(greaserun_entry(e, &env).map_err(|why| (e.line, why))),
            _ => {}
        }
    }
    out
}

/// Parses one entry, `env` being the crontab's environment lines before it.
pub fn greaserun_entry(e: &Entry, env: &[(String, String)]) -> Result<GreaserunEntry, String> {
    let command = e.command.replace("\\%", "%");
    check_plain(&command)?;
    let words =
        shlex::split(&command).ok_or_else(|| "its command has unbalanced quotes".to_string())?;
    let mut env = env.to_vec();
    let mut rest = words.as_slice();
    while let Some((w, tail)) = rest.split_first() {
        match w.split_once('=') {
            Some((name, value)) if is_name(name) => {
                env.push((name.to_string(), value.to_string()));
                rest = tail;
            }
            _ => break,
        }
    }
    let Some(program) = rest.first() else {
        return Err("its command is empty".into());
    };
    if program.rsplit('/').next() != Some("greaserun") {
        return Err(format!("its command runs {program:?}, not greaserun"));
    }
    let args = GreaserunArgs::try_parse_from(rest).map_err(|e| {
        let text = e.to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        format!("its greaserun arguments do not parse: {first}")
    })?;
    let job = args
        .job
        .clone()
        .unwrap_or_else(|| job_name(&args.runner, &args.artifact, &args.args));
    Ok(GreaserunEntry {
        job,
        args,
        user: e.user.clone(),
        command,
        program: program.clone(),
        env,
        when: e.when.clone(),
        cron_tz: e.cron_tz.clone(),
        line: e.line,
    })
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Refuses shell syntax outside single quotes: operators, expansions, globs, comments.
fn check_plain(command: &str) -> Result<(), String> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut word_start = true;
    for (i, c) in command.char_indices() {
        if escaped {
            escaped = false;
            word_start = false;
            continue;
        }
        let bad = match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => {
                quote = None;
                false
            }
            (Some('\''), _) => false,
            (Some(_), '$' | '`') => true,
            (Some(_), '\\') => {
                escaped = true;
                false
            }
            (Some(_), _) => false,
            (None, '\'' | '"') => {
                quote = Some(c);
                false
            }
            (None, '\\') => {
                escaped = true;
                false
            }
            (None, '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '*' | '?' | '[') => true,
            (None, '#' | '~') => word_start,
            _ => false,
        };
        if bad {
            return Err(format!(
                "its command uses shell syntax `{c}` at column {} (the queue runs only a plain `greaserun ...` command)",
                i + 1
            ));
        }
        word_start = quote.is_none() && c.is_whitespace();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Result<GreaserunEntry, (usize, String)> {
        let c = crate::dispatch::crontab::parse(line);
        entries(&c).remove(0)
    }

    #[test]
    fn names_the_job_as_greaserun_does() {
        let e = one("MAILTO=x\n0 3 * * * batch PATH=/bin /usr/local/bin/greaserun --runner shell g:a -- etl --day '{date-1d}' 50\\%\n").unwrap();
        assert_eq!(e.user, "batch");
        assert_eq!(e.args.args, ["etl", "--day", "{date-1d}", "50%"]);
        assert_eq!(e.job, job_name("shell", "g:a", &e.args.args));
        assert_eq!(
            e.env,
            [
                ("MAILTO".into(), "x".into()),
                ("PATH".into(), "/bin".into())
            ]
        );
        let named = one("@daily b greaserun --job nightly -r shell g:a\n").unwrap();
        assert_eq!(named.job, "nightly");
    }

    #[test]
    fn refuses_what_is_not_a_plain_greaserun_command() {
        for (cmd, what) in [
            ("greaserun -r shell g:a | tee x", "`|`"),
            ("greaserun -r shell g:a; rm x", "`;`"),
            ("greaserun -r shell g:a \"$HOME\"", "`$`"),
            ("greaserun -r shell g:a > /tmp/x", "`>`"),
            ("greaserun -r shell g:a *.txt", "`*`"),
            ("echo greaserun", "not greaserun"),
            ("greaserun --no-such-flag g:a", "do not parse"),
        ] {
            let err = one(&format!("* * * * * u {cmd}\n")).unwrap_err().1;
            assert!(err.contains(what), "{cmd}: {err}");
        }
        assert!(one("* * * * * u greaserun -r shell g:a -- 'a|b' \"c d\"\n").is_ok());
    }
}
