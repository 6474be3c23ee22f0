//! `$VAR` and `${VAR}` expansion in config values, as the original scalegrease did with
//! Python's `os.path.expandvars`: an undefined variable is left as written. A leading `~/`
//! becomes `$HOME/`.

/// Expands `$NAME` and `${NAME}` from the process environment; unknown names stay as they
/// are, so a literal `$` in a command survives.
pub fn expand(text: &str) -> String {
    expand_with(text, |name| std::env::var(name).ok())
}

/// Like [`expand`], also turning a leading `~/` into the home directory.
pub fn expand_path(text: &str) -> String {
    let t = expand(text);
    match (t.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => t,
    }
}

/// [`expand`] with a caller-supplied lookup (for tests).
pub fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        match (valid, valid.then(|| lookup(name)).flatten()) {
            (true, Some(value)) => out.push_str(&value),
            _ => out.push_str(&rest[pos..pos + 1 + consumed]),
        }
        rest = &rest[pos + 1 + consumed..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(name: &str) -> Option<String> {
        (name == "A").then(|| "x".to_string())
    }

    #[test]
    fn expands_known_and_keeps_unknown() {
        assert_eq!(expand_with("$A/${A}/$B/${B}", look), "x/x/$B/${B}");
        assert_eq!(expand_with("cost $5 and ${", look), "cost $5 and ${");
        assert_eq!(expand_with("$A_b", look), "$A_b");
        assert_eq!(expand_with("plain", look), "plain");
        assert_eq!(expand_with("$", look), "$");
    }
}
