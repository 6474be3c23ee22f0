//! Delivering pending alerts, a few per round so a round stays short: each due alert
//! (`alerts/<id>`, its `next_try` passed) is leased for one attempt by one worker
//! (`alertleases/<id>/<n>`, an exclusive create; a lease older than [`LEASE`] is passed
//! over by taking attempt n+1), sent along its routes, and then marked delivered, given
//! up, or rescheduled with exponential backoff (`alerts.retry_delay` doubling to
//! `alerts.retry_max_delay`, until `alerts.give_up_after` after the event). Only the
//! routes that failed are retried. Nothing here ever runs inside a job's path.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Alerts;
use crate::farm::alert::detect::AlertOptions;
use crate::farm::alert::event::Alert;
use crate::farm::alert::route::{Route, routes};
use crate::farm::alert::send;
use crate::model::keys;
use crate::store::{Created, Store, StoreError};

/// The most alerts one round tries to deliver.
pub const PER_ROUND: usize = 20;
/// How long a delivery lease holds off other workers beyond the delivery's timeout.
pub const LEASE: Duration = Duration::from_secs(60);

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub sent: usize,
    pub retrying: usize,
    pub gave_up: usize,
    /// Events no route is configured for (recorded as not delivered, for the ledger).
    pub unrouted: usize,
}

impl Delivered {
    /// Whether the round sent or tried to send anything.
    pub fn any(&self) -> bool {
        self.sent + self.retrying + self.gave_up > 0
    }
}

impl std::fmt::Display for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} to retry, {} given up",
            self.sent, self.retrying, self.gave_up
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Lease {
    host: String,
    until: DateTime<Utc>,
}

/// The wait before retry `n` (1 for the first): `retry_delay` doubled per retry, at
/// most `retry_max_delay`.
pub fn backoff(cfg: &Alerts, n: u32) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(30));
    cfg.retry_delay
        .saturating_mul(factor)
        .min(cfg.retry_max_delay)
}

/// One delivery round: at most [`PER_ROUND`] due alerts.
pub fn deliver_round(
    store: &dyn Store,
    opts: &AlertOptions,
    now: DateTime<Utc>,
) -> Result<Delivered, StoreError> {
    let mut out = Delivered::default();
    let mut tried = 0;
    for marker in store.list(keys::ALERTS)? {
        if tried == PER_ROUND {
            break;
        }
        let id = marker.key.rsplit('/').next().unwrap_or("").to_string();
        let event_key = String::from_utf8_lossy(&marker.value).into_owned();
        let Some(alert) = read(store, &event_key)? else {
            store.delete(&marker.key)?;
            continue;
        };
        if alert.delivered_at.is_some() || alert.gave_up.is_some() {
            store.delete(&marker.key)?;
            continue;
        }
        if alert.next_try > now {
            continue;
        }
        let Some(n) = lease(store, opts, &id, alert.attempts, now)? else {
            continue;
        };
        // Read again under the lease: another worker may have finished it meanwhile.
        let Some(mut alert) = read(store, &event_key)? else {
            continue;
        };
        if alert.delivered_at.is_some() || alert.gave_up.is_some() || alert.attempts >= n {
            continue;
        }
        tried += 1;
        let routed = attempt(&opts.config.alerts, &mut alert, n, now);
        store.put(
            &event_key,
            &serde_json::to_vec(&alert).expect("an alert serialises"),
            Some(opts.config.history.retention),
        )?;
        if alert.delivered_at.is_some() || alert.gave_up.is_some() {
            store.delete(&marker.key)?;
            for k in store.keys(&format!("{}/{id}", keys::ALERT_LEASES))? {
                store.delete(&k)?;
            }
        }
        match (&alert.delivered_at, &alert.gave_up) {
            _ if !routed => out.unrouted += 1,
            (Some(_), _) => out.sent += 1,
            (None, Some(_)) => out.gave_up += 1,
            (None, None) => out.retrying += 1,
        }
    }
    Ok(out)
}

fn read(store: &dyn Store, key: &str) -> Result<Option<Alert>, StoreError> {
    Ok(store
        .get(key)?
        .and_then(|v| serde_json::from_slice::<Alert>(&v).ok()))
}

/// Takes the lease on the next attempt after `attempts`, passing over leases that
/// expired (their holder died); `None` when another worker holds a live one.
fn lease(
    store: &dyn Store,
    opts: &AlertOptions,
    id: &str,
    attempts: u32,
    now: DateTime<Utc>,
) -> Result<Option<u32>, StoreError> {
    let hold = opts.config.alerts.timeout * 2 + LEASE;
    let until = now + chrono::TimeDelta::from_std(hold).unwrap_or(chrono::TimeDelta::MAX);
    let body = serde_json::to_vec(&Lease {
        host: opts.host.clone(),
        until,
    })
    .expect("JSON");
    for n in attempts + 1..=attempts + 10 {
        match store.create(&keys::alert_lease(id, n), &body, Some(hold))? {
            Created::Created => return Ok(Some(n)),
            Created::Exists(v) => {
                let live = serde_json::from_slice::<Lease>(&v).is_ok_and(|l| l.until > now);
                if live {
                    return Ok(None);
                }
            }
        }
    }
    Ok(None)
}

/// Delivery attempt `n` of `alert` along the routes not yet done; updates its state.
/// False when no route is configured for it (it is then given up at once).
fn attempt(cfg: &Alerts, alert: &mut Alert, n: u32, now: DateTime<Utc>) -> bool {
    alert.attempts = n;
    let routes = routes(cfg, &alert.project, alert.event);
    if routes.is_empty() {
        alert.gave_up = Some("no alert route configured for this event".into());
        return false;
    }
    let mut errors = Vec::new();
    for r in &routes {
        if alert.done.iter().any(|d| d == r.name()) {
            continue;
        }
        let sent = match r {
            Route::Webhook { url, format } => send::webhook(url, *format, alert, cfg.timeout),
            Route::Command(argv) => send::command(argv, alert, cfg.timeout),
        };
        match sent {
            Ok(()) => alert.done.push(r.name().to_string()),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        alert.delivered_at = Some(now);
        alert.last_error = None;
        return true;
    }
    let error = errors.join("; ");
    tracing::warn!(job = %alert.job, slot = %alert.slot, event = %alert.event, "alert delivery failed: {error}");
    alert.last_error = Some(error);
    let age = now.signed_duration_since(alert.detected_at);
    let limit = chrono::TimeDelta::from_std(cfg.give_up_after).unwrap_or(chrono::TimeDelta::MAX);
    if age >= limit {
        alert.gave_up = Some(format!(
            "still failing after {n} attempts over {}",
            crate::util::duration::format(cfg.give_up_after)
        ));
    } else {
        let wait = chrono::TimeDelta::from_std(backoff(cfg, n)).unwrap_or(chrono::TimeDelta::MAX);
        alert.next_try = now + wait;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let cfg = Alerts::default();
        let b: Vec<u64> = [1, 2, 3, 8, 40]
            .map(|n| backoff(&cfg, n).as_secs())
            .to_vec();
        assert_eq!(b, [30, 60, 120, 3600, 3600]);
    }
}
