//! The worker's user policy for installed entries: `launch.allowed_users` and
//! `launch.allow_root`, then the user database (Debian cron ignores a whole file that
//! names a user it does not know).

use std::collections::HashMap;

use super::SnatchOptions;

/// The worker's user policy, with the user database looked up once per name.
pub(super) struct UserCheck<'a> {
    opts: &'a SnatchOptions,
    seen: HashMap<String, Result<(), String>>,
}

impl<'a> UserCheck<'a> {
    pub(super) fn new(opts: &'a SnatchOptions) -> Self {
        UserCheck {
            opts,
            seen: HashMap::new(),
        }
    }

    pub(super) fn check(&mut self, user: &str) -> Result<(), String> {
        if let Some(r) = self.seen.get(user) {
            return r.clone();
        }
        let o = self.opts;
        let listed = o.allowed_users.iter().any(|u| u == user);
        let r = if user == "root" && !(o.allow_root || listed) {
            Err("is not allowed on this worker (root needs launch.allow_root)".to_string())
        } else if !o.allowed_users.is_empty() && !listed && user != "root" {
            Err(format!(
                "is not allowed on this worker (launch.allowed_users is {})",
                o.allowed_users.join(", ")
            ))
        } else {
            match nix::unistd::User::from_name(user) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(
                    "does not exist on this worker (Debian cron would ignore the whole file)"
                        .to_string(),
                ),
                Err(e) => Err(format!("cannot be looked up: {e}")),
            }
        };
        self.seen.insert(user.to_string(), r.clone());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn users() {
        let mut o = SnatchOptions {
            cron_dir: PathBuf::new(),
            prefix: "p".into(),
            allowed_users: vec![],
            allow_root: false,
            dry_run: false,
            wait: false,
            trusted_keys: vec![],
        };
        let mut u = UserCheck::new(&o);
        assert!(u.check("root").is_err());
        assert!(u.check("nobody").is_ok());
        assert!(
            u.check("no-such-user-sg")
                .unwrap_err()
                .contains("does not exist")
        );
        o.allowed_users = vec!["daemon".into()];
        let mut u = UserCheck::new(&o);
        assert!(u.check("nobody").unwrap_err().contains("allowed_users"));
        assert!(u.check("daemon").is_ok());
        o.allow_root = true;
        assert!(UserCheck::new(&o).check("root").is_ok());
    }
}
