//! Command words: splitting a configured command template into words (POSIX shell quoting,
//! no expansion, by the `shlex` crate), substituting `{jar_path}`, `{artifact_spec}`, `{version}` and `{args}`,
//! and quoting words back for display (`--dry-run` prints a line a shell runs as is).

/// The values substituted into runner commands and job arguments.
#[derive(Debug, Clone, Default)]
pub struct Vars<'a> {
    /// `{jar_path}`: the local jar file.
    pub jar_path: &'a str,
    /// `{artifact_spec}`: the artifact as given (Maven coordinates or a local path).
    pub artifact_spec: &'a str,
    /// `{version}`: the resolved version; empty for a local jar.
    pub version: &'a str,
}

impl Vars<'_> {
    /// Replaces every `{jar_path}`, `{artifact_spec}` and `{version}` in `word`; any other
    /// braces are kept as written (so JSON arguments survive).
    pub fn substitute(&self, word: &str) -> String {
        if !word.contains('{') {
            return word.to_string();
        }
        word.replace("{jar_path}", self.jar_path)
            .replace("{artifact_spec}", self.artifact_spec)
            .replace("{version}", self.version)
    }
}

/// Splits `text` into words the way a POSIX shell would without expanding anything
/// (the `shlex` crate): blanks and newlines separate words, `'...'` is literal, `"..."`
/// keeps `\"`, `\\`, `\$` and `` \` `` escapes, a backslash outside quotes escapes the
/// next character, a backslash-newline is dropped, and a word starting with `#` starts a
/// comment to the end of the line. Errors on an unterminated quote or a trailing
/// backslash.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    shlex::split(text)
        .ok_or_else(|| format!("unterminated quote or trailing backslash in {text:?}"))
}

/// Expands a template's words: a word that is exactly `{args}` becomes the job's arguments
/// (one word each); `{args}` inside a word becomes them joined by spaces; if no word
/// mentions `{args}`, the arguments are appended. All other words get [`Vars::substitute`].
/// The arguments themselves are substituted too.
pub fn expand(template: &[String], args: &[String], vars: &Vars) -> Vec<String> {
    let args: Vec<String> = args.iter().map(|a| vars.substitute(a)).collect();
    let mut out = Vec::with_capacity(template.len() + args.len());
    let mut used_args = false;
    for w in template {
        if w == "{args}" {
            out.extend(args.iter().cloned());
            used_args = true;
        } else if w.contains("{args}") {
            out.push(vars.substitute(&w.replace("{args}", &args.join(" "))));
            used_args = true;
        } else {
            out.push(vars.substitute(w));
        }
    }
    if !used_args {
        out.extend(args);
    }
    out
}

/// Quotes `word` for a POSIX shell: plain words stay as they are, others are single-quoted
/// (`'` written `'\''`). Kept by hand rather than `shlex::try_quote`, which quotes `=` and
/// `'` differently and so would change the `--dry-run` line scripts read.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,^".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(split("hadoop jar").unwrap(), s(&["hadoop", "jar"]));
        assert_eq!(
            split(r#"  a 'b c' "d \"e\" \n" f\ g ''"#).unwrap(),
            s(&["a", "b c", r#"d "e" \n"#, "f g", ""])
        );
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert!(split("a 'b").unwrap_err().contains("unterminated"));
        assert!(split("a \\").is_err());
    }

    #[test]
    fn comments_and_continuations_as_in_a_shell() {
        assert_eq!(split("run a#b #rest").unwrap(), s(&["run", "a#b"]));
        assert_eq!(split("ru\\\nn x '#'").unwrap(), s(&["run", "x", "#"]));
        assert!(split("a \"b").unwrap_err().contains("unterminated"));
    }

    #[test]
    fn substitutes_known_placeholders_only() {
        let v = Vars {
            jar_path: "/j.jar",
            artifact_spec: "g:a:1",
            version: "1",
        };
        assert_eq!(
            v.substitute("{jar_path}|{artifact_spec}|{version}|{x}|{\"a\":1}"),
            "/j.jar|g:a:1|1|{x}|{\"a\":1}"
        );
    }

    #[test]
    fn expands_args_spliced_embedded_or_appended() {
        let v = Vars {
            jar_path: "/j.jar",
            ..Default::default()
        };
        let args = s(&["x y", "{jar_path}"]);
        assert_eq!(
            expand(&s(&["run", "{args}", "--end"]), &args, &v),
            s(&["run", "x y", "/j.jar", "--end"])
        );
        assert_eq!(
            expand(&s(&["run", "--a={args}"]), &args, &v),
            s(&["run", "--a=x y /j.jar"])
        );
        assert_eq!(
            expand(&s(&["run", "{jar_path}"]), &args, &v),
            s(&["run", "/j.jar", "x y", "/j.jar"])
        );
    }

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(quote("/usr/bin/java"), "/usr/bin/java");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME"), "'$HOME'");
        for w in ["a b", "it's", "", "$x;`y`", "\n"] {
            let back = split(&quote(w)).unwrap();
            assert_eq!(back, vec![w.to_string()]);
        }
    }
}
