//! Turning serde_json's view of the config text into messages people read: positions
//! (line and column), JSON kinds and serde's type names in plain words.

/// Where `var` (`${NAME}` or `$NAME`, not followed by more of a name) is in the file.
pub(super) fn find_var(text: &str, var: &str) -> Option<usize> {
    text.match_indices(var).map(|(i, _)| i).find(|&i| {
        var.ends_with('}')
            || !text[i + var.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The 1-based line and column of byte `offset` in `text`.
pub(super) fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// What a JSON value is, for messages.
pub(super) fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde's Rust type names in people's words (`expected f64` → `expected a number`).
pub(super) fn plain(msg: &str) -> String {
    msg.replace("expected f64", "expected a number")
        .replace("expected u32", "expected a whole number")
        .replace("expected u64", "expected a whole number")
}

/// serde_json appends " at line L column C"; we print the position in front instead.
pub(super) fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
