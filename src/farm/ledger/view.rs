//! How `greasestatus ledger` shows the ledger: a table for people (one line per slot,
//! like `greasestatus runs`, every cell escaped by [`layout`]) and JSON for scripts
//! (the [`JobLedger`] documents, which the web page's API serves too).

use crate::debugging::table::layout;
use crate::farm::ledger::JobLedger;

/// The ledgers as a table: slot (local time), state, host, duration, exit, attempt,
/// alerts (`<event> <delivery>`), job and a note; a slot off the schedule is marked `*`
/// after its time.
pub fn table(ledgers: &[JobLedger]) -> String {
    let mut rows = vec![
        [
            "SLOT", "STATE", "HOST", "DURATION", "EXIT", "ATTEMPT", "ALERTS", "JOB", "NOTE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let dash = |o: Option<String>| o.unwrap_or_else(|| "-".into());
    for l in ledgers {
        for s in &l.slots {
            let when = s.slot().map(|t| t.to_string()).unwrap_or(s.slot.clone());
            let alerts = s
                .alerts
                .iter()
                .map(|a| format!("{} {}", a.event, a.delivery))
                .collect::<Vec<_>>()
                .join("; ");
            rows.push(vec![
                if s.scheduled { when } else { when + " *" },
                s.state.to_string(),
                dash(s.host.clone()),
                dash(s.duration_secs.map(|d| format!("{d:.1}s"))),
                dash(s.exit_code.map(|c| c.to_string())),
                dash(s.attempt.map(|n| format!("#{n}"))),
                if alerts.is_empty() {
                    "-".into()
                } else {
                    alerts
                },
                l.job.clone(),
                s.note.clone().unwrap_or_default(),
            ]);
        }
    }
    layout(&rows)
}

/// The ledgers as one pretty JSON array of [`JobLedger`].
pub fn json(ledgers: &[JobLedger]) -> String {
    serde_json::to_string_pretty(ledgers).expect("ledgers serialise")
}
