//! Exit codes shared by the scalegrease binaries, and the one table that documents them.
//! They are part of the interface (cron mail, CI scripts and monitoring match on them),
//! so they never change meaning.
//!
//! greaserun passes the job's own exit status through; the codes below are what the tools
//! themselves exit with when they fail before, around or instead of running a job. They
//! follow `sysexits.h` where one fits and the shell conventions (124, 126, 127, 128+n)
//! where a job is involved. [`TABLE`] holds each code's name, meaning and the tools that
//! use it: every binary's `--help` ([`help`]) and `docs/exit-codes.md` ([`markdown`],
//! checked by a test) come from it.

/// Success.
pub const OK: i32 = 0;
/// Generic failure: invalid crontabs (greaselaunch), rejected bundles (greasesnatch), an
/// invalid schedule or an unknown job (greasestatus).
pub const FAILURE: i32 = 1;
/// Bad command-line usage (clap's own code).
pub const USAGE: i32 = 2;
/// Bad input data: a checksum mismatch, a corrupt bundle, an unreadable jar.
pub const DATA_ERR: i32 = 65;
/// An input does not exist: a local artifact path, an artifact missing from every repository.
pub const NO_INPUT: i32 = 66;
/// A service is unavailable: the artifact repository or the store, with no fallback.
pub const UNAVAILABLE: i32 = 69;
/// An internal error (a bug in scalegrease).
pub const SOFTWARE: i32 = 70;
/// An operating-system error: cannot create a temp dir, fork, or measure the host.
pub const OS_ERR: i32 = 71;
/// An I/O error on a file we must read or write (cron dir, cache, store).
pub const IO_ERR: i32 = 74;
/// Temporary refusal: the overload guard dropped the run, the store was unavailable for a
/// claim (policy `skip`), or inputs did not appear in time. Cron will try again next slot.
pub const TEMP_FAIL: i32 = 75;
/// Configuration error: the config file is missing, unreadable or invalid.
pub const CONFIG: i32 = 78;
/// A farm-queue request was refused: a duplicate at submission, or by the worker.
pub const REFUSED: i32 = 79;
/// A farm-queue request's deadline passed before any worker had room.
pub const DROPPED: i32 = 80;
/// A run or request was cancelled (`greasedispatch --cancel`, `--concurrency replace`).
pub const CANCELLED: i32 = 81;
/// A farm-queue request's host stopped heartbeating before the run ended.
pub const ABANDONED: i32 = 82;
/// The job ran past `--timeout` and was ended.
pub const TIMEOUT: i32 = 124;
/// The runner's command exists but could not be executed.
pub const CANNOT_EXECUTE: i32 = 126;
/// The runner's command was not found.
pub const NOT_FOUND: i32 = 127;
/// A job killed by signal `n` exits with `SIGNAL_BASE + n`.
pub const SIGNAL_BASE: i32 = 128;

/// One of the five binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// greaserun.
    Run,
    /// greaselaunch.
    Launch,
    /// greasesnatch.
    Snatch,
    /// greasestatus.
    Status,
    /// greasedispatch.
    Dispatch,
}

impl Tool {
    /// Every tool, in the table's column order.
    pub const ALL: [Tool; 5] = [
        Tool::Run,
        Tool::Launch,
        Tool::Snatch,
        Tool::Status,
        Tool::Dispatch,
    ];

    /// The binary's name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Run => "greaserun",
            Tool::Launch => "greaselaunch",
            Tool::Snatch => "greasesnatch",
            Tool::Status => "greasestatus",
            Tool::Dispatch => "greasedispatch",
        }
    }
}

/// One row of the exit-code table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The code as written: a number, `128+n`, or `job` for the job's own status.
    pub code: &'static str,
    /// The constant's name in this module (`-` where the code is the job's).
    pub name: &'static str,
    /// What it means, one sentence.
    pub meaning: &'static str,
    /// The tools that exit with it.
    pub tools: &'static [Tool],
}

const ALL: &[Tool] = &Tool::ALL;
const RUN: &[Tool] = &[Tool::Run];

/// Every exit code a scalegrease tool uses, in the order the help shows them.
pub const TABLE: &[Row] = &[
    Row {
        code: "0",
        name: "OK",
        meaning: "success; greaserun also when another worker had already claimed the slot or --skip-if-exists found its output; greasesnatch also when another greasesnatch holds the lock",
        tools: ALL,
    },
    Row {
        code: "job",
        name: "-",
        meaning: "the job ran and exited with this status (a backfill: its first failure's; greasedispatch --follow: the followed run's)",
        tools: &[Tool::Run, Tool::Dispatch],
    },
    Row {
        code: "1",
        name: "FAILURE",
        meaning: "invalid crontabs, no crontab files, or installed names that collide with another project's (greaselaunch); a rejected bundle (greasesnatch); an invalid schedule, or a job or run the store does not know (greasestatus); an unknown or ambiguous job, an entry that is not a greaserun entry, or an unknown request id (greasedispatch)",
        tools: &[Tool::Launch, Tool::Snatch, Tool::Status, Tool::Dispatch],
    },
    Row {
        code: "2",
        name: "USAGE",
        meaning: "bad usage: an unknown option, runner or time zone, or a malformed value (Maven coordinates, --slot, --backfill, --cron-glob, --prefix, --at)",
        tools: ALL,
    },
    Row {
        code: "65",
        name: "DATA_ERR",
        meaning: "bad data: a checksum mismatch, an invalid maven-metadata.xml, an unreadable jar (greaserun); an invalid pom.xml or scalegrease.toml (greaselaunch)",
        tools: &[Tool::Run, Tool::Launch],
    },
    Row {
        code: "66",
        name: "NO_INPUT",
        meaning: "an input does not exist: the artifact (local path, every repository, or not cached with --offline); no project identity or an unreadable crontab file (greaselaunch)",
        tools: &[Tool::Run, Tool::Launch],
    },
    Row {
        code: "69",
        name: "UNAVAILABLE",
        meaning: "the store is unavailable, does not exist, has no marker file, or this user cannot read or write it (permissions, a read-only mount, an etcd role without access); or the artifact repository is unreachable, loops its redirects or redirects off http(s), and nothing usable is cached",
        tools: ALL,
    },
    Row {
        code: "70",
        name: "SOFTWARE",
        meaning: "internal error (a bug in scalegrease)",
        tools: ALL,
    },
    Row {
        code: "71",
        name: "OS_ERR",
        meaning: "an operating-system error around the job (fork, temp dir, pipes, signals) or the guard cannot read /proc",
        tools: RUN,
    },
    Row {
        code: "74",
        name: "IO_ERR",
        meaning: "an I/O error on one file the tool must read or write: the artifact cache, the cron directory, one store key",
        tools: ALL,
    },
    Row {
        code: "75",
        name: "TEMP_FAIL",
        meaning: "dropped, cron retries next slot: the overload guard refused the run (the slot records the decline), the store was unavailable for a claim under funnel.on_store_unavailable \"skip\", or --wait-for inputs did not appear in time",
        tools: RUN,
    },
    Row {
        code: "78",
        name: "CONFIG",
        meaning: "the config file is missing or invalid (file:line:col), or a repository refused the credentials (401/403); a signing key other users can read (greaselaunch)",
        tools: ALL,
    },
    Row {
        code: "79",
        name: "REFUSED",
        meaning: "a request was refused: a duplicate of one queued, running or finished within the retention window (greasedispatch without --rerun), or by the worker that took it (--follow; the state's reason says why); greaserun: the request it serves is missing, garbled, for another job, not taken by this host, or its slot is claimed elsewhere",
        tools: &[Tool::Run, Tool::Dispatch],
    },
    Row {
        code: "80",
        name: "DROPPED",
        meaning: "the followed request's deadline passed before any worker had room",
        tools: &[Tool::Dispatch],
    },
    Row {
        code: "81",
        name: "CANCELLED",
        meaning: "the run was cancelled (greasedispatch --cancel, or replaced under --concurrency replace)",
        tools: &[Tool::Run, Tool::Dispatch],
    },
    Row {
        code: "82",
        name: "ABANDONED",
        meaning: "the followed run's host stopped heartbeating before the run ended",
        tools: &[Tool::Dispatch],
    },
    Row {
        code: "124",
        name: "TIMEOUT",
        meaning: "the job ran past --timeout and was ended",
        tools: RUN,
    },
    Row {
        code: "126",
        name: "CANNOT_EXECUTE",
        meaning: "the runner's command exists but could not be executed",
        tools: RUN,
    },
    Row {
        code: "127",
        name: "NOT_FOUND",
        meaning: "the runner's command was not found",
        tools: RUN,
    },
    Row {
        code: "128+n",
        name: "SIGNAL_BASE",
        meaning: "the job was killed by signal n (137 for SIGKILL, 143 for SIGTERM)",
        tools: RUN,
    },
];

/// The `Exit status:` section of `tool`'s `--help`: the rows it uses, one per code, each
/// meaning wrapped under itself within 90 columns.
pub fn help(tool: Tool) -> String {
    const INDENT: usize = 10;
    let mut s = String::from("Exit status:");
    for r in TABLE.iter().filter(|r| r.tools.contains(&tool)) {
        let mut line = format!("  {:<7} ", r.code);
        for word in r.meaning.split(' ') {
            if line.len() + word.len() > 90 && line.trim().len() > r.code.len() {
                s.push('\n');
                s.push_str(line.trim_end());
                line = " ".repeat(INDENT);
            }
            line.push_str(word);
            line.push(' ');
        }
        s.push('\n');
        s.push_str(line.trim_end());
    }
    s
}

/// The table as Markdown, as `docs/exit-codes.md` holds it.
pub fn markdown() -> String {
    let mut s = String::from("| code | name | meaning |");
    for t in Tool::ALL {
        s.push_str(&format!(" {} |", t.name()));
    }
    s.push_str("\n| --- | --- | --- |");
    s.push_str(&" :-: |".repeat(Tool::ALL.len()));
    for r in TABLE {
        s.push_str(&format!("\n| {} | `{}` | {} |", r.code, r.name, r.meaning));
        for t in Tool::ALL {
            s.push_str(if r.tools.contains(&t) { " x |" } else { "  |" });
        }
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_table_is_the_source_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/exit-codes.md");
        let doc = std::fs::read_to_string(path).expect("docs/exit-codes.md");
        assert!(
            doc.contains(&markdown()),
            "docs/exit-codes.md's table differs from src/exit.rs; it should read:\n{}",
            markdown()
        );
    }

    #[test]
    fn every_numbered_row_names_its_constant() {
        let consts = [
            ("OK", OK),
            ("FAILURE", FAILURE),
            ("USAGE", USAGE),
            ("DATA_ERR", DATA_ERR),
            ("NO_INPUT", NO_INPUT),
            ("UNAVAILABLE", UNAVAILABLE),
            ("SOFTWARE", SOFTWARE),
            ("OS_ERR", OS_ERR),
            ("IO_ERR", IO_ERR),
            ("TEMP_FAIL", TEMP_FAIL),
            ("CONFIG", CONFIG),
            ("REFUSED", REFUSED),
            ("DROPPED", DROPPED),
            ("CANCELLED", CANCELLED),
            ("ABANDONED", ABANDONED),
            ("TIMEOUT", TIMEOUT),
            ("CANNOT_EXECUTE", CANNOT_EXECUTE),
            ("NOT_FOUND", NOT_FOUND),
        ];
        for (name, code) in consts {
            let row = TABLE.iter().find(|r| r.name == name).expect(name);
            assert_eq!(row.code, code.to_string(), "{name}");
        }
        assert_eq!(consts.len() + 2, TABLE.len(), "a row without a constant");
    }
}
