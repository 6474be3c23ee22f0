//! The worker's run-as policy for installed entries, decided by uid, not by name:
//! - a user must exist (Debian cron ignores a whole file that names an unknown user);
//! - uid 0 only with `launch.allow_root`, whatever the account is called (a
//!   `useradd -o -u 0 toor` alias is root);
//! - with `launch.allowed_users` empty, any account with a uid at or above `UID_MIN` from
//!   `/etc/login.defs` (1000 when absent or unreadable); otherwise only the listed users
//!   (`"*"`: any account at or above `UID_MIN`), each optionally limited to project groups.
//!
//! [`UserCheck::check_crontab`] also applies the content policy
//! ([`crontab::policy`]); any error rejects the project's bundle.

use std::collections::HashMap;

use super::SnatchOptions;
use crate::dispatch::crontab::{self, Crontab, policy::Policy};

/// Where the account policy's `UID_MIN` comes from.
pub(super) const LOGIN_DEFS: &str = "/etc/login.defs";

/// `UID_MIN` when login.defs does not say.
pub(super) const DEFAULT_UID_MIN: u32 = 1000;

/// The worker's user policy, with the user database looked up once per name (also
/// applied by the farm queue's worker before it starts a request's entry).
pub struct UserCheck<'a> {
    opts: &'a SnatchOptions,
    uid_min: u32,
    seen: HashMap<String, Result<u32, String>>,
}

/// `UID_MIN` from login.defs text: the last `UID_MIN` line whose value parses (decimal,
/// `0x` hex or `0` octal, as login.defs' `getdef_num`), else [`DEFAULT_UID_MIN`].
pub(super) fn uid_min(text: &str) -> u32 {
    let mut found = DEFAULT_UID_MIN;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("UID_MIN") {
            continue;
        }
        let v = words.next().unwrap_or("").trim_matches('"');
        let n = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            u32::from_str_radix(h, 16)
        } else if v.len() > 1 && v.starts_with('0') {
            u32::from_str_radix(&v[1..], 8)
        } else {
            v.parse()
        };
        match n {
            Ok(n) => found = n,
            Err(_) => tracing::warn!("{LOGIN_DEFS}: ignoring UID_MIN {v:?}"),
        }
    }
    found
}

impl<'a> UserCheck<'a> {
    /// The policy of `opts`, with `UID_MIN` read from login.defs.
    pub fn new(opts: &'a SnatchOptions) -> Self {
        let text = std::fs::read_to_string(LOGIN_DEFS).unwrap_or_default();
        Self::with_uid_min(opts, uid_min(&text))
    }

    pub(super) fn with_uid_min(opts: &'a SnatchOptions, uid_min: u32) -> Self {
        UserCheck {
            opts,
            uid_min,
            seen: HashMap::new(),
        }
    }

    fn uid(&mut self, user: &str) -> Result<u32, String> {
        self.seen
            .entry(user.to_string())
            .or_insert_with(|| match nix::unistd::User::from_name(user) {
                Ok(Some(u)) => Ok(u.uid.as_raw()),
                Ok(None) => Err(
                    "does not exist on this worker (Debian cron would ignore the whole file)"
                        .to_string(),
                ),
                Err(e) => Err(format!("cannot be looked up: {e}")),
            })
            .clone()
    }

    /// Whether entries of a project of `group` may run as `user`; the reason if not.
    pub fn check(&mut self, user: &str, group: &str) -> Result<(), String> {
        let uid = self.uid(user)?;
        let o = self.opts;
        if uid == 0 {
            return match (o.allow_root, user) {
                (true, _) => Ok(()),
                (false, "root") => {
                    Err("is not allowed on this worker (root needs launch.allow_root)".into())
                }
                (false, _) => Err(
                    "has uid 0, an alias of root, and is not allowed on this worker (root needs \
                     launch.allow_root)"
                        .into(),
                ),
            };
        }
        let high = uid >= self.uid_min;
        if o.allowed_users.is_empty() {
            return if high {
                Ok(())
            } else {
                Err(format!(
                    "has uid {uid}, below UID_MIN {} (a system account; list it in \
                     launch.allowed_users to allow it)",
                    self.uid_min
                ))
            };
        }
        let names = |r: &&crate::config::UserRule| r.user() == user || (r.user() == "*" && high);
        if o.allowed_users
            .iter()
            .filter(names)
            .any(|r| r.applies_to(group))
        {
            return Ok(());
        }
        if o.allowed_users.iter().any(|r| names(&r)) {
            return Err(format!(
                "is allowed by launch.allowed_users only for other project groups than {group}"
            ));
        }
        let list: Vec<&str> = o.allowed_users.iter().map(|r| r.user()).collect();
        Err(format!(
            "is not allowed on this worker (launch.allowed_users is {})",
            list.join(", ")
        ))
    }

    /// Every entry's user and the content policy for one crontab of a project of
    /// `group`: the first error as `file:line:col: error: ...`, with how many there were.
    pub(super) fn check_crontab(
        &mut self,
        file: &str,
        text: &str,
        parsed: &Crontab,
        group: &str,
    ) -> Result<(), String> {
        let policy = Policy {
            allow_plain_commands: self.opts.allow_plain_commands,
            allowed_env: &self.opts.allowed_env,
        };
        let mut errors: Vec<(usize, usize, String)> = crontab::policy::check(parsed, text, policy)
            .iter()
            .map(|d| (d.line, d.column, d.render(file)))
            .collect();
        let raw: Vec<&str> = text.split('\n').collect();
        for e in parsed.entries() {
            if let Err(why) = self.check(&e.user, group) {
                let line = raw.get(e.line - 1).copied().unwrap_or("");
                let column = crontab::validate::user_column(line);
                errors.push((
                    e.line,
                    column,
                    format!(
                        "{file}:{}: user {:?} {why} (at {file}:{}:{column})",
                        e.line, e.user, e.line
                    ),
                ));
            }
        }
        errors.sort();
        match errors.first() {
            None => Ok(()),
            Some((_, _, first)) if errors.len() == 1 => Err(first.clone()),
            Some((_, _, first)) => Err(format!(
                "{} errors under this worker's policy, first: {first}",
                errors.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn users() {
        let mut o = SnatchOptions::new(PathBuf::new(), "p");
        let mut u = UserCheck::new(&o);
        assert!(u.check("root", "g").is_err());
        assert!(u.check("nobody", "g").is_ok());
        assert!(
            u.check("daemon", "g")
                .unwrap_err()
                .contains("below UID_MIN")
        );
        assert!(
            u.check("no-such-user-sg", "g")
                .unwrap_err()
                .contains("does not exist")
        );
        o.allowed_users = vec!["daemon".into()];
        let mut u = UserCheck::new(&o);
        assert!(
            u.check("nobody", "g")
                .unwrap_err()
                .contains("allowed_users")
        );
        assert!(u.check("daemon", "g").is_ok());
        o.allow_root = true;
        assert!(UserCheck::new(&o).check("root", "g").is_ok());
        o.allowed_users = vec![
            "*".into(),
            crate::config::UserRule::Scoped {
                user: "bin".into(),
                groups: vec!["com.example*".into()],
            },
        ];
        let mut u = UserCheck::new(&o);
        assert!(u.check("nobody", "org.other").is_ok());
        assert!(u.check("bin", "com.example.etl").is_ok());
        assert!(
            u.check("bin", "org.other")
                .unwrap_err()
                .contains("only for")
        );
    }

    #[test]
    fn login_defs() {
        assert_eq!(uid_min(""), 1000);
        assert_eq!(uid_min("# UID_MIN 5\nUID_MIN\t\t 2000 # x\n"), 2000);
        assert_eq!(uid_min("UID_MIN 0x10\n"), 16);
        assert_eq!(uid_min("UID_MIN 010\nUID_MIN bad\n"), 8);
        assert_eq!(uid_min("UID_MAX 60000\n"), 1000);
    }
}
