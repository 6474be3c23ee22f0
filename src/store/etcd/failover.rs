//! Trying the members in turn: the one loop every request and every watch goes through.
//!
//! Each member has a client of its own (rather than one balanced channel over all) so that
//! a dead member costs one failed attempt, not a share of every retry: a balancer favours
//! the member that fails fastest. An attempt that fails in a way another member or a
//! moment later may not (see [`retryable`]) moves on to the next member at once; after a
//! round of all of them, a pause (backing off to 400 ms). A member that answers becomes
//! the first tried next time.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use etcd_client::Client;
use tokio::runtime::Runtime;
use tokio::time::Instant;

use super::EtcdStore;
use super::errors::{describe, retryable};
use crate::store::StoreError;

/// The longest pause between rounds of attempts.
const MAX_PAUSE: Duration = Duration::from_millis(400);

/// One member and its client.
pub(super) struct Member {
    pub(super) endpoint: String,
    uri: String,
    client: Mutex<Option<Client>>,
}

impl Member {
    /// Member `endpoint` (`host:port`), reached at `uri`; not connected yet.
    pub(super) fn new(endpoint: &str, uri: &str) -> Member {
        Member {
            endpoint: endpoint.to_string(),
            uri: uri.to_string(),
            client: Mutex::new(None),
        }
    }
}

/// How one operation spends its time.
pub(super) struct Plan {
    /// When the operation gives up.
    pub(super) deadline: Instant,
    /// The most one attempt (one member) may take.
    pub(super) per_attempt: Duration,
    /// The first pause after a round of failed attempts.
    pub(super) pause: Duration,
}

/// Why the attempts stopped without an answer.
pub(super) enum Stop {
    /// Connecting failed for a reason no other member changes (authentication, TLS).
    Refused(etcd_client::Error),
    /// The request failed for a reason no other member changes.
    Failed(etcd_client::Error),
    /// Time ran out.
    Exhausted {
        /// The last member's error (`endpoint: error`) before the end.
        last: Option<String>,
        /// When the deadline cut an attempt short: `endpoint: no answer within ...`.
        unanswered: Option<String>,
    },
}

/// Why an attempt failed: connecting (authentication included) or the request itself.
enum Failure {
    Connect(etcd_client::Error),
    Request(etcd_client::Error),
}

/// The process's runtime: current-thread, made once, driven by whichever thread blocks on it.
fn runtime() -> Result<&'static Runtime, String> {
    static RT: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the etcd client runtime: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

impl EtcdStore {
    /// Runs `fut` to completion on the process's runtime.
    pub(super) fn block_on<T>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let rt = runtime().map_err(|reason| StoreError::Unavailable {
            location: self.url.location(),
            reason,
            hint: "check this process's limits on open files and threads".into(),
        })?;
        rt.block_on(fut)
    }

    /// Runs `f` (one attempt: a member's client and the attempt's number) under the
    /// request timeout, trying member after member as [`EtcdStore::failover`] does; `what`
    /// and `key` name the operation in errors.
    pub(super) fn call<T, F, Fut>(
        &self,
        what: &'static str,
        key: &str,
        f: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut(Client, u32) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        self.block_on(async {
            let plan = Plan {
                deadline: Instant::now() + self.request_timeout,
                // One member must not take all the time, but a live one may be waiting out
                // an election (about a second): give it two thirds of the time.
                per_attempt: (self.request_timeout * 2 / 3).max(Duration::from_secs(1)),
                pause: Duration::from_millis(20),
            };
            self.failover(&plan, f).await.map_err(|stop| match stop {
                Stop::Refused(e) => self.refused(&e),
                Stop::Failed(e) => self.failed(what, key, &e),
                Stop::Exhausted { last, unanswered } => {
                    self.unavailable(what, key, unanswered.or(last))
                }
            })
        })
    }

    /// Runs `f` on one member after another, starting with the preferred one, until one
    /// answers, one fails for good, or `plan`'s deadline passes.
    pub(super) async fn failover<T, F, Fut>(&self, plan: &Plan, mut f: F) -> Result<T, Stop>
    where
        F: FnMut(Client, u32) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let n = self.members.len();
        let start = self.preferred.load(Ordering::Relaxed);
        let mut pause = plan.pause;
        let mut last: Option<String> = None;
        let mut attempt: u32 = 0;
        loop {
            let i = (start + attempt as usize) % n;
            let endpoint = &self.members[i].endpoint;
            let until = plan.deadline.min(Instant::now() + plan.per_attempt);
            let one = async {
                let c = self.client(i).await.map_err(Failure::Connect)?;
                f(c, attempt).await.map_err(Failure::Request)
            };
            match tokio::time::timeout_at(until, one).await {
                Ok(Ok(v)) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(v);
                }
                Ok(Err(Failure::Connect(e) | Failure::Request(e))) if retryable(&e) => {
                    last = Some(format!("{endpoint}: {}", describe(&e)));
                }
                Ok(Err(Failure::Connect(e))) => return Err(Stop::Refused(e)),
                Ok(Err(Failure::Request(e))) => return Err(Stop::Failed(e)),
                Err(_) => {
                    let silent = format!("{endpoint}: no answer within {:?}", plan.per_attempt);
                    if until == plan.deadline {
                        return Err(Stop::Exhausted {
                            last,
                            unanswered: Some(silent),
                        });
                    }
                    last = Some(silent);
                }
            }
            attempt += 1;
            let now = Instant::now();
            let round_done = (attempt as usize).is_multiple_of(n);
            if now >= plan.deadline || (round_done && now + pause >= plan.deadline) {
                return Err(Stop::Exhausted {
                    last,
                    unanswered: None,
                });
            }
            if round_done {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }

    /// Member `i`'s client, connecting (and authenticating) on first use.
    async fn client(&self, i: usize) -> Result<Client, etcd_client::Error> {
        let m = &self.members[i];
        if let Some(c) = m.client.lock().expect("member client").clone() {
            return Ok(c);
        }
        let c = Client::connect([m.uri.as_str()], Some(self.options.clone())).await?;
        *m.client.lock().expect("member client") = Some(c.clone());
        Ok(c)
    }
}
