//! How `greasestatus runs` shows runs: a table for people, JSON for scripts. Every cell
//! of the table comes from the store, so control characters are escaped
//! ([`crate::util::escape`]): no escape sequence reaches the terminal, no newline breaks
//! a row.

use crate::model::record::RunRecord;
use crate::util::escape::escape;

/// The runs as a table, one line each: slot (local time), status, host, duration, exit,
/// version, job, and a note (why it was skipped, dropped or failed to start).
pub fn table(runs: &[RunRecord]) -> String {
    let mut rows = vec![[
        "SLOT".to_string(),
        "STATUS".into(),
        "HOST".into(),
        "DURATION".into(),
        "EXIT".into(),
        "VERSION".into(),
        "JOB".into(),
        "NOTE".into(),
    ]];
    for r in runs {
        let slot = r.slot().map(|s| s.to_string()).unwrap_or(r.slot.clone());
        let exit = match (r.exit_code, r.signal) {
            (_, Some(sig)) => format!("signal {sig}"),
            (Some(c), None) => c.to_string(),
            (None, None) => "-".into(),
        };
        let dur = r
            .duration_s
            .map(|d| format!("{d:.1}s"))
            .unwrap_or_else(|| "-".into());
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        rows.push(
            [
                slot,
                r.status.to_string(),
                dash(&r.host),
                dur,
                exit,
                dash(r.version.as_deref().unwrap_or("")),
                r.job.clone(),
                r.reason.clone().unwrap_or_default(),
            ]
            .map(|c| escape(&c).into_owned()),
        );
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The runs as a JSON array of records (status as shown), newest first.
pub fn json(runs: &[RunRecord]) -> String {
    serde_json::to_string_pretty(runs).expect("records serialise")
}
