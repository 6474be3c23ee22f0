//! Alerts: the farm tells people when a slot failed, went missing, was dropped or
//! abandoned, and when a job recovered, with no scheduler machine. Each worker's
//! greasesnatch checks the ledger of a short recent window (the same each minute however
//! long the history is), and the worker that creates an event's key first
//! (`events/<job>/<slot>/<kind>`, an exclusive create) alone queues it; delivery is
//! leased per attempt, retried with backoff, and never blocks a job (greaserun sends
//! nothing). See docs/ledger.md.

pub mod deliver;
pub mod detect;
pub mod event;
pub mod route;
pub mod send;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use deliver::Delivered;
pub use detect::{AlertOptions, Checked, check_round};
pub use event::{Alert, AlertView, EventKind};

use crate::farm::error::FarmError;
use crate::store::Store;

/// What one alert round did: the check, then the delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Round {
    pub checked: Checked,
    pub delivered: Delivered,
}

/// One alert round as greasesnatch runs it: [`check_round`] over the entries `wanted`
/// accepts, then [`deliver::deliver_round`].
pub fn round(
    store: &dyn Store,
    opts: &AlertOptions,
    now: DateTime<Utc>,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Round, FarmError> {
    let checked = check_round(store, opts, now, wanted)?;
    let delivered = deliver::deliver_round(store, opts, Utc::now())?;
    Ok(Round { checked, delivered })
}

#[cfg(test)]
#[path = "alert/tests.rs"]
mod tests;
