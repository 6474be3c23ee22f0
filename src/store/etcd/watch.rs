//! Waiting for a change under a prefix: an etcd watch from the listing's revision on,
//! moved to the next member when its member goes away.

use std::cell::Cell;
use std::time::Duration;

use etcd_client::{Error, WatchOptions};
use tokio::time::Instant;

use super::EtcdStore;
use super::failover::{Plan, Stop};
use crate::store::{StoreError, Version};

impl EtcdStore {
    /// [`crate::store::Store::wait_changed`]: `Ok(true)` on the first event (or when the
    /// revision `since` was compacted away), `Ok(false)` when `timeout` passes quietly.
    pub(super) fn watch(
        &self,
        prefix: &str,
        since: Version,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        let watched = if prefix.is_empty() {
            format!("{}/", self.url.prefix)
        } else {
            self.full(prefix)?
        };
        // Whether the current attempt's watch is established (then a quiet timeout is a
        // plain "no change", whatever failed before).
        let established = &Cell::new(false);
        self.block_on(async {
            let plan = Plan {
                deadline: Instant::now() + timeout,
                per_attempt: timeout,
                pause: Duration::from_millis(50),
            };
            let attempt = |c: etcd_client::Client, _| {
                established.set(false);
                let watched = watched.clone();
                async move {
                    let opts = WatchOptions::new()
                        .with_prefix()
                        .with_start_revision(since.0 as i64 + 1);
                    let mut w = c.watch_client().watch(watched, Some(opts)).await?;
                    loop {
                        let Some(resp) = w.message().await? else {
                            return Err(Error::WatchError("the member closed the watch".into()));
                        };
                        if resp.compact_revision() > 0 || !resp.events().is_empty() {
                            // Compacted past `since`: the caller must re-list anyway.
                            return Ok(true);
                        }
                        if resp.canceled() {
                            return Err(Error::WatchError(format!(
                                "watch canceled: {}",
                                resp.cancel_reason()
                            )));
                        }
                        if resp.created() {
                            established.set(true);
                        }
                    }
                }
            };
            match self.failover(&plan, attempt).await {
                Ok(changed) => Ok(changed),
                Err(Stop::Refused(e)) => Err(self.refused(&e)),
                Err(Stop::Failed(e)) => Err(self.failed("watch", prefix, &e)),
                Err(Stop::Exhausted {
                    last,
                    unanswered: Some(_),
                }) if established.get() || last.is_none() => Ok(false),
                Err(Stop::Exhausted { last, .. }) => Err(self.unavailable("watch", prefix, last)),
            }
        })
    }
}
