//! Who and where we are: the host name (overridable with `SCALEGREASE_HOSTNAME`, which the
//! farm simulation uses to give each worker process its own identity) and the user name.

/// The environment variable that overrides the host name.
pub const HOSTNAME_ENV: &str = "SCALEGREASE_HOSTNAME";

/// The full host name: `SCALEGREASE_HOSTNAME`, else the configured one, else gethostname(2).
pub fn hostname(configured: Option<&str>) -> String {
    if let Ok(h) = std::env::var(HOSTNAME_ENV)
        && !h.is_empty()
    {
        return h;
    }
    if let Some(h) = configured.filter(|h| !h.is_empty()) {
        return h.to_string();
    }
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The longest host name (RFC 1035's 253 characters of a full name).
pub const MAX_HOSTNAME: usize = 253;

/// Whether `h` may name this host in records and log paths: 1 to [`MAX_HOSTNAME`]
/// letters, digits, `-` and `.`, so no `/`, whitespace or control character; the reason
/// if not.
pub fn check_hostname(h: &str) -> Result<(), String> {
    if h.is_empty() || h.len() > MAX_HOSTNAME {
        return Err(format!("must be 1 to {MAX_HOSTNAME} characters"));
    }
    if let Some(c) = h
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(format!(
            "holds {c:?}; a host name uses only letters, digits, `-` and `.`"
        ));
    }
    if h.starts_with('.') || h.contains("..") {
        return Err("has an empty label (`.` at the start or `..`)".into());
    }
    Ok(())
}

/// The host name up to its first dot, as the original log layout used.
pub fn short(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

/// The name of the effective user, falling back to `$USER`, then the numeric uid.
pub fn user_name() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| uid.to_string())
}

/// Whether the effective user is root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(check_hostname("worker01.farm").is_ok());
        assert!(check_hostname("w7.farm.example.").is_ok());
        for bad in ["", "/abs/path", "a b", "a\nb", "..", "a/../b", "x\u{1b}[2J"] {
            assert!(check_hostname(bad).is_err(), "{bad:?}");
        }
        assert!(check_hostname(&"a".repeat(254)).is_err());
    }
}
