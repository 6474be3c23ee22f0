//! The worker's content policy, checked by greasesnatch on top of [`super::parse`]
//! (which refuses what no worker may install: see [`always_refused`]):
//! - an entry whose command does not call greaserun is refused unless
//!   `launch.allow_plain_commands`;
//! - environment lines come from an allow-list: `MAILTO`, `CRON_TZ`, `TZ`, `SHELL`
//!   (`/bin/sh` or `/bin/bash`, the parser checks), `PATH` made only of
//!   [`SYSTEM_PATH`] directories, and the names in `launch.allowed_env` (`"*"`: any name;
//!   a listed `PATH` may hold any directory). Names in [`always_refused`] stay refused
//!   even when listed.

use super::validate::is_blank;
use super::{Crontab, Diagnostic, Line, Severity};

/// The directories a `PATH` line may name without `launch.allowed_env` listing `PATH`.
pub const SYSTEM_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Environment names allowed by default.
const DEFAULT_ENV: &[&str] = &["MAILTO", "CRON_TZ", "TZ", "SHELL", "PATH"];

/// Why an environment assignment is refused everywhere, whatever the config: the dynamic
/// loader's `LD_*`, the shell start-up files `BASH_ENV` and `ENV`, and a `SHELL` other
/// than `/bin/sh` or `/bin/bash`.
pub fn always_refused(name: &str, value: &str) -> Option<&'static str> {
    if name.starts_with("LD_") {
        Some("LD_* variables make the dynamic loader load or search other code")
    } else if name == "BASH_ENV" || name == "ENV" {
        Some("the shell runs the file it names before every command")
    } else if name == "SHELL" && value != "/bin/sh" && value != "/bin/bash" {
        Some("cron runs commands with SHELL; only /bin/sh and /bin/bash are allowed")
    } else {
        None
    }
}

/// The worker's settings for crontab content.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub allow_plain_commands: bool,
    pub allowed_env: &'a [String],
}

/// The policy's errors for one parsed crontab (`text` is what was parsed).
pub fn check(parsed: &Crontab, text: &str, policy: Policy) -> Vec<Diagnostic> {
    let raw: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    let mut error = |line: usize, column: usize, what: String, why: String| {
        out.push(Diagnostic {
            severity: Severity::Error,
            line,
            column,
            what,
            why,
        })
    };
    let listed = |n: &str| policy.allowed_env.iter().any(|a| a == n || a == "*");
    for (i, l) in parsed.lines.iter().enumerate() {
        let line = raw.get(i).copied().unwrap_or("");
        let indent = line.chars().take_while(|c| is_blank(*c)).count() + 1;
        match l {
            Line::Env(v) => {
                if v.name == "PATH" && !listed("PATH") {
                    if let Some(d) = v.value.split(':').find(|d| !SYSTEM_PATH.contains(d)) {
                        error(
                            i + 1,
                            indent,
                            format!("PATH names {d:?}, not a system directory"),
                            format!(
                                "a worker allows only {} unless launch.allowed_env lists PATH",
                                SYSTEM_PATH.join(":")
                            ),
                        );
                    }
                } else if !DEFAULT_ENV.contains(&v.name.as_str()) && !listed(&v.name) {
                    error(
                        i + 1,
                        indent,
                        format!("environment {} is not allowed on this worker", v.name),
                        "allowed: MAILTO, CRON_TZ, TZ, SHELL, PATH and launch.allowed_env".into(),
                    );
                }
            }
            Line::Entry(e) if !policy.allow_plain_commands && !e.command.contains("greaserun") => {
                let column = line.len().saturating_sub(e.command.len());
                error(
                    e.line,
                    line[..column.min(line.len())].chars().count() + 1,
                    "entry does not call greaserun".into(),
                    "a worker installs plain commands only with launch.allow_plain_commands".into(),
                );
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn errors(text: &str, env: &[&str], plain: bool) -> Vec<String> {
        let env: Vec<String> = env.iter().map(|s| s.to_string()).collect();
        let policy = Policy {
            allow_plain_commands: plain,
            allowed_env: &env,
        };
        check(&parse(text), text, policy)
            .iter()
            .map(|d| d.render("c"))
            .collect()
    }

    #[test]
    fn default_allow_list() {
        let ok =
            "MAILTO=a@b\nTZ=UTC\nSHELL=/bin/bash\nPATH=/usr/bin:/bin\n* * * * * a greaserun x\n";
        assert!(errors(ok, &[], false).is_empty());
        let e = errors(
            "PATH=/tmp:/bin\n  HOME=/x\n* * * * * a  /bin/true\n",
            &[],
            false,
        );
        assert!(
            e[0].starts_with("c:1:1: error: PATH names \"/tmp\""),
            "{e:?}"
        );
        assert!(e[1].starts_with("c:2:3: error: environment HOME"), "{e:?}");
        assert!(
            e[2].starts_with("c:3:14: error: entry does not call"),
            "{e:?}"
        );
        assert!(
            errors(
                "HOME=/x\nPATH=/tmp\n* * * * * a true\n",
                &["HOME", "PATH"],
                true
            )
            .is_empty()
        );
        assert!(errors("FOO=1\n", &["*"], false).is_empty());
    }

    #[test]
    fn parser_refuses_always() {
        let r = |t: &str| parse(t).errors().map(|d| d.render("c")).collect::<Vec<_>>();
        assert!(r("LD_PRELOAD=/x.so\n")[0].starts_with("c:1:1: error: environment LD_PRELOAD"));
        assert!(r(" BASH_ENV=/x\n")[0].starts_with("c:1:2: error: environment BASH_ENV"));
        assert!(r("SHELL=/bin/zsh\n")[0].contains("allowed_env"));
        assert!(r("SHELL=/bin/sh\nENV=x\n")[0].starts_with("c:2:1"));
        let long = format!("X={}\n", "v".repeat(200_000));
        assert!(r(&long)[0].contains("environment line of 200002 bytes"));
        assert!(
            r("* * * * * a greaserun safe\0; rm -rf /x\n")[0]
                .starts_with("c:1:27: error: control character U+0000")
        );
        assert!(r("# \x1b[2J\n")[0].contains("U+001B"));
        let wide = format!("* * * * * a greaserun {}\n", "é".repeat(600));
        assert!(r(&wide)[0].contains("bytes"));
    }
}
