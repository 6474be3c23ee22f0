//! The running winner's heartbeat: a thread that rewrites
//! `heartbeats/<job>/<slot>/<run id>` every `funnel.heartbeat_interval`, so the status
//! views can tell a live run from an abandoned one. After each beat it also reads the
//! run's cancel markers, once they are given ([`Heartbeat::watch_cancel`]), so a cancel
//! costs one read per marker per beat and no thread of its own.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::Utc;

use crate::config::Funnel;
use crate::model::funnel::{Beat, Claimant};
use crate::store::Store;

/// The running winner's heartbeat: a thread that rewrites the heartbeat key every
/// `heartbeat_interval` with [`Store::beat`] (on etcd a lease keep-alive, so the key
/// vanishes soon after its writer dies). Store errors are reported once and retried at the next beat;
/// they never stop the job. Dropping the value stops the thread.
#[derive(Debug)]
pub struct Heartbeat {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    cancel: Cancel,
}

/// The cancel markers a heartbeat reads after each beat, and the first one found.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Mutex<Watched>>);

#[derive(Debug, Default)]
struct Watched {
    keys: Vec<String>,
    found: Option<String>,
}

impl Cancel {
    /// The value of the first cancel marker found (who cancelled), if any.
    pub fn requested(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .found
            .clone()
    }

    /// Reads the markers now (a store error counts as absent); records and returns the
    /// first one present.
    pub fn check(&self, store: &dyn Store) -> Option<String> {
        let keys = {
            let w = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if w.found.is_some() {
                return w.found.clone();
            }
            w.keys.clone()
        };
        let found = keys.iter().find_map(|k| store.get(k).ok().flatten())?;
        let who = String::from_utf8_lossy(&found).trim().to_string();
        self.0.lock().unwrap_or_else(|e| e.into_inner()).found = Some(who.clone());
        Some(who)
    }
}

impl Heartbeat {
    /// Starts the thread, which writes the first beat at once.
    pub fn start(store: Arc<dyn Store>, key: String, me: &Claimant, cfg: &Funnel) -> Heartbeat {
        let ttl = cfg.abandon_after.max(cfg.heartbeat_interval * 2);
        let (host, pid) = (me.host.clone(), me.pid);
        let beat = move |store: &dyn Store| {
            let b = Beat {
                host: host.clone(),
                pid,
                at: Utc::now(),
            };
            store.beat(&key, &serde_json::to_vec(&b).expect("beats serialise"), ttl)
        };
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let cancel = Cancel::default();
        let cancel2 = cancel.clone();
        let interval = cfg.heartbeat_interval.max(Duration::from_millis(10));
        let thread = std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || {
                let (lock, cv) = &*stop2;
                let mut warned = false;
                let mut first = true;
                let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if *stopped {
                        return;
                    }
                    if !first {
                        let (s, _) = cv
                            .wait_timeout(stopped, interval)
                            .unwrap_or_else(|e| e.into_inner());
                        stopped = s;
                        if *stopped {
                            return;
                        }
                    }
                    first = false;
                    match beat(&*store) {
                        Ok(()) => warned = false,
                        Err(e) if !warned => {
                            tracing::warn!("heartbeat not written (will retry): {e}");
                            warned = true;
                        }
                        Err(_) => {}
                    }
                    drop(stopped);
                    cancel2.check(&*store);
                    stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                }
            })
            .expect("spawning the heartbeat thread");
        Heartbeat {
            stop,
            thread: Some(thread),
            cancel,
        }
    }

    /// From the next beat on, also reads `keys` (cancel markers); the returned handle
    /// tells whether one was found.
    pub fn watch_cancel(&self, keys: Vec<String>) -> Cancel {
        self.cancel.0.lock().unwrap_or_else(|e| e.into_inner()).keys = keys;
        self.cancel.clone()
    }

    /// Stops the heartbeat (the key stays, showing the last beat).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use crate::arbitration::claim::tests::{me, setup};
    use crate::arbitration::claim::{Claim, claim};
    use crate::model::funnel::Beat;
    use crate::model::keys::heartbeat as heartbeat_key;
    use crate::model::slot::Slot;
    use std::time::Duration;

    #[test]
    fn heartbeat_refreshes_until_stopped() {
        let (_d, store, cfg) = setup();
        let slot = Slot::now();
        let Claim::Won(hb) = claim(&store, &cfg.funnel, "j", slot, &me("h")).unwrap() else {
            panic!("lost")
        };
        let key = heartbeat_key("j", slot, "h-7");
        let beat = || {
            store
                .get(&key)
                .unwrap()
                .map(|b| serde_json::from_slice::<Beat>(&b).unwrap())
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let first = loop {
            if let Some(b) = beat() {
                break b;
            }
            assert!(std::time::Instant::now() < deadline, "no first beat");
            std::thread::sleep(Duration::from_millis(5));
        };
        loop {
            if beat().unwrap().at > first.at {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no second beat");
            std::thread::sleep(Duration::from_millis(5));
        }
        hb.stop();
    }
}
