//! Alerts: the farm tells people when a slot failed, went missing, was dropped or
//! abandoned, and when a job recovered, with no scheduler machine. Each worker's
//! greasesnatch checks the ledger of a short recent window (the same each minute however
//! long the history is), and the worker that creates an event's key first
//! (`events/<job>/<slot>/<kind>`, an exclusive create) alone queues it; delivery is
//! leased per attempt, retried with backoff, and never blocks a job. See docs/ledger.md.

pub mod event;

pub use event::{Alert, AlertView, EventKind};
