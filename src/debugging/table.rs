//! How `greasestatus runs` shows runs: a table for people, JSON for scripts. Every cell
//! of the table comes from the store, so control characters are escaped
//! ([`crate::util::escape`]): no escape sequence reaches the terminal, no newline breaks
//! a row. [`layout`] aligns the columns of any such table (the queue view uses it too).

use crate::model::record::RunRecord;
use crate::util::escape::escape;

/// The runs as a table, one line each: slot (local time), status, host, duration, exit,
/// version, who requested it (`#<attempt> <user@host>`, `-` for a plain scheduled run),
/// job, and a note (why it was skipped, dropped, cancelled or failed to start).
pub fn table(runs: &[RunRecord]) -> String {
    let mut rows = vec![
        [
            "SLOT",
            "STATUS",
            "HOST",
            "DURATION",
            "EXIT",
            "VERSION",
            "REQUESTED",
            "JOB",
            "NOTE",
        ]
        .map(String::from)
        .to_vec(),
    ];
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
        rows.push(vec![
            slot,
            r.status.to_string(),
            dash(&r.host),
            dur,
            exit,
            dash(r.version.as_deref().unwrap_or("")),
            requested(r),
            r.job.clone(),
            r.reason.clone().unwrap_or_default(),
        ]);
    }
    layout(&rows)
}

/// The REQUESTED cell: `#<attempt> <requested_by>` for a run of the farm queue (or a
/// later attempt), `-` for a first scheduled run.
pub fn requested(r: &RunRecord) -> String {
    match (r.attempt, r.requested_by.as_deref()) {
        (Some(n), Some(by)) => format!("#{n} {by}"),
        (None, Some(by)) => by.to_string(),
        (Some(n), None) if n > 1 || r.request.is_some() => format!("#{n}"),
        _ => "-".into(),
    }
}

/// `-` for an empty cell.
pub fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}

/// Rows (the first is the header) as aligned text: every cell escaped, columns two
/// spaces apart, the last column unpadded, trailing blanks trimmed.
pub fn layout(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c).into_owned()).collect())
        .collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::Status;

    #[test]
    fn requested_runs_show_attempt_and_requester() {
        let cron = RunRecord {
            host: "w1".into(),
            attempt: Some(1),
            ..RunRecord::new("j", "2026-11-23T03:00Z", Status::Succeeded)
        };
        let asked = RunRecord {
            host: "w2".into(),
            request: Some("20261130T184512Z-00003f9a".into()),
            attempt: Some(2),
            requested_by: Some("alice@laptop".into()),
            reason: Some("cancelled by alice@laptop".into()),
            ..RunRecord::new("j", "2026-11-23T04:00Z", Status::Cancelled)
        };
        let retry = RunRecord {
            attempt: Some(3),
            ..RunRecord::new("j", "2026-11-23T05:00Z", Status::Failed)
        };
        assert_eq!(requested(&cron), "-");
        assert_eq!(requested(&asked), "#2 alice@laptop");
        assert_eq!(requested(&retry), "#3");
        let t = table(&[asked.clone(), cron]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0].find("REQUESTED"), lines[1].find("#2 "), "{t}");
        assert!(
            lines[1].contains("cancelled") && lines[1].contains("#2 alice@laptop  j"),
            "{t}"
        );
        assert!(
            lines[2].contains(" -  ") && lines[2].contains("succeeded"),
            "{t}"
        );
        let j = json(&[asked]);
        for field in [
            "\"attempt\": 2",
            "\"requested_by\": \"alice@laptop\"",
            "\"request\": \"20261130T184512Z-00003f9a\"",
            "\"status\": \"cancelled\"",
        ] {
            assert!(j.contains(field), "{field} in {j}");
        }
    }

    #[test]
    fn layout_aligns_and_escapes() {
        let t = layout(&[
            vec!["A".into(), "B".into()],
            vec!["long\x1b[31m".into(), "x\ny".into()],
        ]);
        assert!(!t.contains('\x1b') && t.lines().count() == 2, "{t}");
        let l: Vec<&str> = t.lines().collect();
        assert_eq!(l[0].find('B'), l[1].find('x'), "{t}");
    }
}
