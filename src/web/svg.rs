//! The job page's pictures, drawn on the server as SVG (no script): the ledger grid (one
//! square per slot, coloured by state, each with a tooltip and a link to its run) with
//! its legend, and the run-duration chart. Every text from the store is XML-escaped here,
//! since the templates insert these as markup.

use std::fmt::Write;

use crate::farm::ledger::{LedgerSlot, SlotState};
use crate::web::view::run_href;

/// At most this many slots are drawn (the newest).
pub const MAX_CELLS: usize = 2000;
/// Squares per row of the grid.
const PER_ROW: usize = 48;
const CELL: usize = 14;

/// Every state, in the legend's order.
pub const LEGEND: [SlotState; 11] = [
    SlotState::Succeeded,
    SlotState::Failed,
    SlotState::Missing,
    SlotState::Running,
    SlotState::Queued,
    SlotState::Due,
    SlotState::Skipped,
    SlotState::Declined,
    SlotState::Dropped,
    SlotState::Abandoned,
    SlotState::Cancelled,
];

/// The fill colour of a state (the legend and the CSS use the same).
pub fn colour(s: SlotState) -> &'static str {
    match s {
        SlotState::Succeeded => "#2e9e44",
        SlotState::Failed => "#d62728",
        SlotState::Missing => "#7b2fbf",
        SlotState::Running => "#1f77b4",
        SlotState::Queued => "#9ecae1",
        SlotState::Due => "#dddddd",
        SlotState::Skipped => "#a6dba0",
        SlotState::Declined => "#ffbb78",
        SlotState::Dropped => "#ff7f0e",
        SlotState::Abandoned => "#8c564b",
        SlotState::Cancelled => "#7f7f7f",
    }
}

/// `s` with `& < > " '` as XML entities.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The ledger grid: the newest [`MAX_CELLS`] slots, oldest first, left to right.
pub fn grid(slots: &[LedgerSlot]) -> String {
    let shown = &slots[slots.len().saturating_sub(MAX_CELLS)..];
    let rows = shown.len().div_ceil(PER_ROW).max(1);
    let (w, h) = (PER_ROW * CELL, rows * CELL);
    let mut o = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="grid" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="slot ledger">"#
    );
    for (i, s) in shown.iter().enumerate() {
        let (x, y) = ((i % PER_ROW) * CELL, (i / PER_ROW) * CELL);
        let tip = format!(
            "{} {}{}",
            s.slot,
            s.state.as_str(),
            s.host
                .as_deref()
                .map(|h| format!(" on {h}"))
                .unwrap_or_default()
        );
        let rect = format!(
            r#"<rect x="{x}" y="{y}" width="{c}" height="{c}" fill="{f}" data-state="{st}"><title>{t}</title></rect>"#,
            c = CELL - 2,
            f = colour(s.state),
            st = s.state.as_str(),
            t = esc(&tip)
        );
        match &s.run_id {
            Some(id) => {
                let _ = write!(
                    o,
                    r#"<a href="{}">{rect}</a>"#,
                    esc(&run_href(&s.job, &s.slot, id))
                );
            }
            None => o.push_str(&rect),
        }
    }
    o.push_str("</svg>");
    o
}

/// The legend: a square and the name of every state.
pub fn legend() -> String {
    let w = 130;
    let mut o = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="legend" width="{}" height="20" role="img" aria-label="legend">"#,
        w * LEGEND.len()
    );
    for (i, s) in LEGEND.iter().enumerate() {
        let _ = write!(
            o,
            r#"<rect x="{x}" y="3" width="12" height="12" fill="{f}"/><text x="{tx}" y="14" font-size="12">{n}</text>"#,
            x = i * w,
            tx = i * w + 16,
            f = colour(*s),
            n = s.as_str()
        );
    }
    o.push_str("</svg>");
    o
}

/// The duration chart: one bar per slot that has a duration (the newest 200), height
/// by seconds, coloured by state, with the longest labelled.
pub fn durations(slots: &[LedgerSlot]) -> String {
    let runs: Vec<&LedgerSlot> = slots.iter().filter(|s| s.duration_secs.is_some()).collect();
    let runs = &runs[runs.len().saturating_sub(200)..];
    let (w, h) = (672usize, 120usize);
    let mut o = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="durations" width="{w}" height="{}" role="img" aria-label="run durations">"#,
        h + 20
    );
    let max = runs
        .iter()
        .filter_map(|s| s.duration_secs)
        .fold(0.0f64, f64::max)
        .max(0.001);
    let bar = (w / runs.len().max(1)).clamp(2, 24);
    for (i, s) in runs.iter().enumerate() {
        let d = s.duration_secs.unwrap_or(0.0);
        let bh = ((d / max) * h as f64).round().max(1.0) as usize;
        let _ = write!(
            o,
            r#"<rect x="{x}" y="{y}" width="{bw}" height="{bh}" fill="{f}"><title>{t}</title></rect>"#,
            x = i * bar,
            y = h - bh,
            bw = bar.saturating_sub(1).max(1),
            f = colour(s.state),
            t = esc(&format!("{} {:.1}s {}", s.slot, d, s.state.as_str()))
        );
    }
    let _ = write!(
        o,
        r##"<line x1="0" y1="{h}" x2="{w}" y2="{h}" stroke="#888"/><text x="0" y="{ty}" font-size="12">{n} runs, longest {max:.1}s</text></svg>"##,
        ty = h + 16,
        n = runs.len()
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_text_in_a_picture_is_escaped() {
        let s = LedgerSlot {
            job: "j".into(),
            slot: "202601010000".into(),
            state: SlotState::Failed,
            scheduled: true,
            run_id: Some("h-1".into()),
            host: Some("<script>alert(1)</script>".into()),
            attempt: None,
            exit_code: Some(1),
            duration_secs: Some(2.0),
            note: None,
            alerts: vec![],
        };
        let g = grid(std::slice::from_ref(&s));
        assert!(!g.contains("<script>"), "{g}");
        assert!(g.contains("&lt;script&gt;") && g.contains(r##"fill="#d62728""##));
        assert!(durations(&[s]).contains("1 runs, longest 2.0s"));
    }
}
