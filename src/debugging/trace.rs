//! The tools' own messages. Every binary installs [`init`]: events go to stderr as
//! `<tool>: <level>: <message>` (filtered by `-v`/`-q`), and, once greaserun knows the
//! job's log file ([`attach_log_file`]), every INFO-or-worse event is also appended there
//! in the log's line format, so the log holds greaserun's own side of the story (artifact
//! resolved, guard, claim, exit status) next to the job's output.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

static LOG_FILE: Mutex<Option<File>> = Mutex::new(None);
static TOOL: OnceLock<&'static str> = OnceLock::new();

/// How much the tool says on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Errors only (`-q`).
    Quiet,
    /// Warnings and errors (default).
    Normal,
    /// Also progress (`-v`).
    Verbose,
    /// Everything (`-vv`).
    Debug,
}

impl Verbosity {
    /// From the `-q` flag and the number of `-v` flags.
    pub fn from_flags(quiet: bool, verbose: u8) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            _ => Verbosity::Debug,
        }
    }

    fn max_level(self) -> Level {
        match self {
            Verbosity::Quiet => Level::ERROR,
            Verbosity::Normal => Level::WARN,
            Verbosity::Verbose => Level::INFO,
            Verbosity::Debug => Level::TRACE,
        }
    }
}

/// Installs the global subscriber for the tool named `tool`. Call once, first thing.
pub fn init(tool: &'static str, verbosity: Verbosity) {
    let _ = TOOL.set(tool);
    let layer = ToolLayer {
        stderr_level: verbosity.max_level(),
    };
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
}

/// From now on, also appends INFO-or-worse events to `path`. Failure to open is returned
/// (the caller warns; a missing log never stops a job).
pub fn attach_log_file(path: &Path) -> std::io::Result<()> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    *LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    Ok(())
}

/// Formats one log-file line: `[<pid>] <HH:MM:SS> <LEVEL>:<logger> <message>`, the
/// original scalegrease layout, in local time.
pub fn log_line(level: &str, logger: &str, message: &str) -> String {
    format!(
        "[{}] {} {}:{} {}\n",
        std::process::id(),
        chrono::Local::now().format("%H:%M:%S"),
        level,
        logger,
        message
    )
}

struct ToolLayer {
    stderr_level: Level,
}

impl<S: Subscriber> Layer<S> for ToolLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let to_stderr = level <= self.stderr_level;
        let to_file = level <= Level::INFO;
        if !to_stderr && !to_file {
            return;
        }
        let mut v = MessageVisitor::default();
        event.record(&mut v);
        let tool = TOOL.get().copied().unwrap_or("scalegrease");
        if to_stderr {
            let label = level.as_str().to_ascii_lowercase();
            let label = if label == "warn" { "warning" } else { &label };
            let label = if event.metadata().target() == crate::model::NOTICE {
                String::new() // a notice for the user: no level label
            } else {
                format!("{label}: ")
            };
            let _ = writeln!(std::io::stderr().lock(), "{tool}: {label}{}", v.text);
        }
        if to_file && let Some(f) = LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = f.write_all(log_line(level.as_str(), tool, &v.text).as_bytes());
        }
    }
}

#[derive(Default)]
struct MessageVisitor {
    text: String,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.insert_str(0, value);
        } else {
            let _ = write!(self.text, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let msg = format!("{value:?}");
            self.text.insert_str(0, &msg);
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_has_the_original_layout() {
        let l = log_line("INFO", "greaserun", "hello");
        let pid = std::process::id().to_string();
        assert!(l.starts_with(&format!("[{pid}] ")), "{l}");
        assert!(l.ends_with(" INFO:greaserun hello\n"), "{l}");
        assert_eq!(l.split(' ').nth(1).unwrap().len(), 8, "{l}");
    }
}
