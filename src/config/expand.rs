//! `$VAR`, `${VAR}` and a leading `~/` in the config's string values, expanded after
//! parsing. An undefined variable is reported (with the key it is in), never left as a
//! literal path.

use super::Config;
use crate::util::env;

impl Config {
    /// Expands variables and `~/` in string values; on an undefined variable, its key
    /// and name.
    pub(super) fn expand(&mut self) -> Result<(), (String, String)> {
        let mut missing = None;
        let mut ex = |key: &str, v: &mut String, as_path: bool| {
            if missing.is_some() {
                return;
            }
            if let Some(name) = undefined_var(v) {
                missing = Some((key.to_string(), name));
            } else if as_path {
                *v = env::expand_path(v);
            } else {
                *v = env::expand(v);
            }
        };
        let c = &mut self.common;
        for (key, v) in [
            ("common.file_logger", &mut c.file_logger),
            ("common.hostname", &mut c.hostname),
        ] {
            if let Some(s) = v {
                ex(key, s, true);
            }
        }
        ex(
            "launch.crontab_etc_crond",
            &mut self.launch.crontab_etc_crond,
            true,
        );
        ex(
            "launch.crontab_unique_prefix",
            &mut self.launch.crontab_unique_prefix,
            false,
        );
        ex("maven.cache_dir", &mut self.maven.cache_dir, true);
        for r in &mut self.maven.repositories {
            ex("maven.repositories.url", &mut r.url, false);
            if let Some(s) = &mut r.credentials_file {
                ex("maven.repositories.credentials_file", s, true);
            }
        }
        for (name, r) in &mut self.runners {
            if let Some(s) = &mut r.command {
                ex(&format!("runners.{name}.command"), s, true);
            }
        }
        for (key, r) in [
            ("LuigiRunner.command", &mut self.luigi_runner),
            ("HadoopRunner.command", &mut self.hadoop_runner),
        ] {
            if let Some(s) = &mut r.command {
                ex(key, s, true);
            }
        }
        if let Some(s) = &mut self.store {
            ex("store.url", &mut s.url, true);
            for (key, v) in [
                ("store.ca_file", &mut s.ca_file),
                ("store.cert_file", &mut s.cert_file),
                ("store.key_file", &mut s.key_file),
                ("store.user", &mut s.user),
            ] {
                if let Some(s) = v {
                    ex(key, s, true);
                }
            }
        }
        missing.map_or(Ok(()), Err)
    }
}

/// The first undefined variable `text` refers to, as written (`${NAME}` or `$NAME`).
fn undefined_var(text: &str) -> Option<String> {
    let missing = std::cell::RefCell::new(None);
    env::expand_with(text, |name| {
        let value = std::env::var(name).ok();
        if value.is_none() && missing.borrow().is_none() {
            *missing.borrow_mut() = Some(name.to_string());
        }
        value
    });
    let name = missing.into_inner()?;
    Some(if text.contains(&format!("${{{name}}}")) {
        format!("${{{name}}}")
    } else {
        format!("${name}")
    })
}
