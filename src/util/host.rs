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
