//! Project-group patterns, as `launch.trusted_keys` and `launch.allowed_users` limit a key
//! or a user to some projects: one grammar for both.

/// Whether `pattern` covers the project group `group`: `com.example` matches only itself;
/// `com.example.*` matches `com.example` and every group below it (`com.example.etl`, not
/// `com.examples`); any other pattern ending in `*` matches by prefix (`com.ex*`).
pub fn matches(pattern: &str, group: &str) -> bool {
    if let Some(base) = pattern.strip_suffix(".*") {
        return group == base || group.strip_prefix(base).is_some_and(|r| r.starts_with('.'));
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => group.starts_with(prefix),
        None => pattern == group,
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn exact_subgroups_and_prefixes() {
        assert!(matches("com.example", "com.example"));
        assert!(!matches("com.example", "com.example.etl"));
        assert!(matches("com.example.*", "com.example"));
        assert!(matches("com.example.*", "com.example.etl"));
        assert!(!matches("com.example.*", "com.examples"));
        assert!(matches("com.ex*", "com.examples"));
        assert!(matches("*", "anything"));
    }
}
