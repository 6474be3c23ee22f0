//! The job view (`/job/<job>`, `/api/job/<job>`, `/api/ledger/<job>`): the entry's row
//! (as on the farm page), its crontab command, and its slot ledger over the last `days`
//! days, read from the `since` slot on ([`crate::farm::ledger::entry_ledger`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::farm::ledger::{LedgerSlot, entry_ledger, grace_of};
use crate::model::slot::Slot;
use crate::store::Store;
use crate::web::catalog::Catalog;
use crate::web::error::WebError;
use crate::web::view::farm::{JobRow, row};

/// At most this many days of ledger.
pub const MAX_DAYS: u32 = 90;

/// One job.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    #[serde(flatten)]
    pub row: JobRow,
    /// The crontab entry's command and the user it runs as.
    pub command: String,
    pub user: String,
    /// The ledger's span in days, and its slots, oldest first.
    pub days: u32,
    pub ledger: Vec<LedgerSlot>,
    /// How many slots of the ledger are in each state.
    pub counts: BTreeMap<&'static str, usize>,
}

/// The job `job` names exactly (among the `published` entries), with its ledger of the last `days` days.
pub fn job(
    store: &dyn Store,
    cfg: &Config,
    published: &Catalog,
    job: &str,
    days: u32,
    now: DateTime<Utc>,
) -> Result<JobView, WebError> {
    let days = days.clamp(1, MAX_DAYS);
    let p = published
        .entry(job)
        .ok_or_else(|| WebError::NotFound(format!("no published entry has the job {job:?}")))?;
    let row = row(store, cfg, p, published.bundle(p), now)?;
    let since = Slot::at(now - chrono::TimeDelta::days(i64::from(days)));
    let ledger = entry_ledger(store, cfg, p, since, now, grace_of(p))?;
    let mut counts = BTreeMap::new();
    for s in &ledger {
        *counts.entry(s.state.as_str()).or_default() += 1;
    }
    Ok(JobView {
        row,
        command: p.entry.command.clone(),
        user: p.entry.user.clone(),
        days,
        ledger,
        counts,
    })
}
