//! Text from the store made safe to print on a terminal: every control character (C0,
//! DEL and C1, which include ESC and CSI, so no escape sequence reaches the terminal, and
//! newline, so no record breaks a table's rows) is shown as a Rust-style escape
//! (`\n`, `\t`, `\r`, `\u{1b}`). Everything else, backslashes included, is kept as is.

use std::borrow::Cow;

/// `s` with its control characters escaped; borrowed when there are none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_controls_only() {
        assert_eq!(escape("w1.farm"), "w1.farm");
        assert_eq!(escape("a\u{1b}[2Jb\nc\td"), "a\\u{1b}[2Jb\\nc\\td");
        assert_eq!(escape("\u{9b}31m\u{7f}\0"), "\\u{9b}31m\\u{7f}\\u{0}");
        assert_eq!(escape("é \\ x"), "é \\ x");
    }
}
