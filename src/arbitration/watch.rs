//! What a running job's watch does in the store (see `execution::Watch`): it rewrites
//! `live/<job>/<slot>/<run id>` about once a second when the output grew, as JSON
//! `{"end": <bytes written so far>, "data": "<base64 of the last <= 64 KiB>"}`, for
//! `greasedispatch --follow`; and it ends the job when the heartbeat found a cancel
//! marker ([`Cancel`]). The live key is written by a thread of its own through a
//! one-slot channel, so a slow store never stalls the job's output, and at most two
//! copies of the tail exist at once; [`RunWatch::finish`] removes the key (and it
//! expires after `funnel.retention` should greaserun die first).

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::arbitration::heartbeat::Cancel;
use crate::execution::{Tail, Watch};
use crate::model::record::encode_live;
use crate::store::Store;

/// A running job's watch: its cancel handle and its live-output writer.
pub struct RunWatch {
    cancel: Option<Cancel>,
    live: Option<Live>,
    written: u64,
}

struct Live {
    store: Arc<dyn Store>,
    key: String,
    tx: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl RunWatch {
    /// A watch ending the job when `cancel` finds a marker, and writing live output to
    /// `live` (store, key, and how long the key lives) when given.
    pub fn new(
        cancel: Option<Cancel>,
        live: Option<(Arc<dyn Store>, String, Duration)>,
    ) -> RunWatch {
        let live = live.map(|(store, key, ttl)| {
            let (tx, rx) = sync_channel::<Vec<u8>>(1);
            let (s, k) = (store.clone(), key.clone());
            let thread = std::thread::Builder::new()
                .name("live-output".into())
                .spawn(move || {
                    let mut warned = false;
                    for doc in rx {
                        if let Err(e) = s.put(&k, &doc, Some(ttl))
                            && !std::mem::replace(&mut warned, true)
                        {
                            tracing::warn!("live output not written (will retry): {e}");
                        }
                    }
                })
                .ok();
            Live {
                store,
                key,
                tx: Some(tx),
                thread,
            }
        });
        RunWatch {
            cancel,
            live,
            written: 0,
        }
    }

    /// Stops the writer and removes the live key, if one was written (call once the final
    /// tail is written).
    pub fn finish(&mut self) {
        let Some(mut live) = self.live.take() else {
            return;
        };
        drop(live.tx.take());
        if let Some(t) = live.thread.take() {
            let _ = t.join();
        }
        if self.written == 0 {
            return; // nothing was written: no store operation for short jobs
        }
        if let Err(e) = live.store.delete(&live.key) {
            tracing::debug!("live output {} not removed (pruning will): {e}", live.key);
        }
    }
}

impl Drop for RunWatch {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Watch for RunWatch {
    fn tick(&mut self, total: u64, tail: &Tail) -> Option<String> {
        if let Some(tx) = self.live.as_ref().and_then(|l| l.tx.as_ref())
            && total > self.written
            && tx.try_send(encode_live(total, &tail.to_vec())).is_ok()
        {
            self.written = total;
        }
        let who = self.cancel.as_ref()?.requested()?;
        Some(format!("cancelled by {who}"))
    }
}
