//! The tools' own messages. Every binary installs [`init`] once, first thing: events go to
//! stderr as `<tool>: <level>: <message>` (filtered by `-v`/`-q`). `init` hands back a
//! [`LogSink`], which the caller holds: once greaserun knows the job's log file it
//! attaches it ([`LogSink::attach`]), and from then on every INFO-or-worse event is also
//! appended there in the log's line format, so the log holds greaserun's own side of the
//! story (artifact resolved, guard, claim, exit status) next to the job's output.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Where the tool's INFO-or-worse events are also written once a log is attached: a
/// handle shared by the caller and the subscriber [`init`] installed. Empty until
/// [`LogSink::attach`]; a sink no subscriber uses (a library caller's) only collects.
#[derive(Clone, Default)]
pub struct LogSink(Arc<Mutex<Option<Box<dyn Write + Send>>>>);

impl LogSink {
    /// From now on, also appends INFO-or-worse events to `path`. Failure to open is
    /// returned (the caller warns; a missing log never stops a job).
    pub fn attach(&self, path: &Path) -> std::io::Result<()> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        self.attach_writer(Box::new(f));
        Ok(())
    }

    /// From now on, also writes INFO-or-worse events to `w`.
    pub fn attach_writer(&self, w: Box<dyn Write + Send>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
    }

    fn write(&self, line: &str) {
        if let Some(w) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = w.write_all(line.as_bytes());
        }
    }
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogSink")
    }
}

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

/// Installs the global subscriber for the tool named `tool` and returns the sink its log
/// file goes to. Call once, first thing in `main`; a second call installs nothing and
/// returns a sink no subscriber writes to.
pub fn init(tool: &'static str, verbosity: Verbosity) -> LogSink {
    let sink = LogSink::default();
    let layer = ToolLayer {
        tool,
        stderr_level: verbosity.max_level(),
        sink: sink.clone(),
    };
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    sink
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
    tool: &'static str,
    stderr_level: Level,
    sink: LogSink,
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
        let tool = self.tool;
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
        if to_file {
            self.sink.write(&log_line(level.as_str(), tool, &v.text));
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

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_layer_writes_info_to_the_sink_it_was_given_and_not_debug() {
        let sink = LogSink::default();
        let layer = ToolLayer {
            tool: "greasetest",
            stderr_level: Level::ERROR,
            sink: sink.clone(),
        };
        let out = Shared::default();
        sink.attach_writer(Box::new(out.clone()));
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, || {
            tracing::info!("claimed");
            tracing::debug!("noise");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with(" INFO:greasetest claimed\n"), "{text}");
        assert!(!text.contains("noise"), "{text}");
    }

    #[test]
    fn log_line_has_the_original_layout() {
        let l = log_line("INFO", "greaserun", "hello");
        let pid = std::process::id().to_string();
        assert!(l.starts_with(&format!("[{pid}] ")), "{l}");
        assert!(l.ends_with(" INFO:greaserun hello\n"), "{l}");
        assert_eq!(l.split(' ').nth(1).unwrap().len(), 8, "{l}");
    }
}
