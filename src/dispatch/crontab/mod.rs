//! The one crontab parser and validator, used by greaselaunch (in CI), greasesnatch (on
//! every worker, which trusts nothing in the store) and greasestatus.
//!
//! Files are in `/etc/cron.d` format: comments, blank lines, environment assignments and
//! entries of five time fields (or an `@` nickname), a user, and a command. What is
//! accepted is what both Debian cron 3.0pl1 and cronie accept; see [`validate`] for the
//! rules and [`Diagnostic`] for the compiler-style messages.

mod entry;
pub mod fields;
#[cfg(test)]
mod fuzz;
pub mod policy;
pub mod print;
pub mod validate;

pub use fields::Field;
pub use validate::parse;

/// A diagnostic's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, at a 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub line: usize,
    pub column: usize,
    /// What is wrong, short.
    pub what: String,
    /// Why it matters or how to fix it.
    pub why: String,
}

impl Diagnostic {
    /// `path:line:column: error: <what> (<why>)`.
    pub fn render(&self, path: &str) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        format!(
            "{path}:{}:{}: {sev}: {} ({})",
            self.line, self.column, self.what, self.why
        )
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// When an entry runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// `@reboot`: at daemon start; no next fire time.
    Reboot,
    /// Five fields, written out or from a nickname (kept in `nickname` for printing).
    Fields {
        nickname: Option<String>,
        fields: Box<[Field; 5]>,
    },
}

impl When {
    /// The schedule as written: the nickname or the five fields joined by spaces.
    pub fn text(&self) -> String {
        match self {
            When::Reboot => "@reboot".into(),
            When::Fields {
                nickname: Some(n), ..
            } => n.clone(),
            When::Fields { fields, .. } => fields
                .iter()
                .map(|f| f.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// A job line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    pub when: When,
    pub user: String,
    pub command: String,
    /// The `CRON_TZ` in effect for this entry (cronie), if any.
    pub cron_tz: Option<String>,
}

/// An environment assignment `NAME=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    /// The value with surrounding quotes removed.
    pub value: String,
    /// The quote character used, if any.
    pub quote: Option<char>,
}

/// One line of a crontab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Blank,
    /// A comment, as written (with its `#`).
    Comment(String),
    Env(EnvVar),
    Entry(Entry),
    /// A line with errors (kept so line numbers stay aligned).
    Invalid(String),
}

/// A parsed crontab: its lines and every diagnostic found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crontab {
    pub lines: Vec<Line>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Crontab {
    /// The entries, in order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry(e) => Some(e),
            _ => None,
        })
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}
