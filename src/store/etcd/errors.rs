//! etcd's errors, classified by their `etcd_client::Error` variant and gRPC status code
//! (never by their text), and the store errors we word from them.

use std::io;

use etcd_client::Error;
use tonic::Code;

use super::EtcdStore;
use crate::store::StoreError;

/// Errors that mean "this member, or the cluster right now, cannot answer": worth another
/// try on another member before the deadline. A watch or keep-alive stream that ended
/// (`WatchError`) is one of them: the member went away under it.
pub(super) fn retryable(e: &Error) -> bool {
    match e {
        Error::TransportError(_) | Error::IoError(_) | Error::WatchError(_) => true,
        Error::GRpcStatus(s) => matches!(
            s.code(),
            Code::Unavailable
                | Code::DeadlineExceeded
                | Code::Unknown
                | Code::Aborted
                | Code::Cancelled
        ),
        _ => false,
    }
}

/// A write named a lease the cluster does not have (expired or revoked): etcd's
/// `ErrGRPCLeaseNotFound` is the only `NotFound` a KV request answers.
pub(super) fn lease_not_found(e: &Error) -> bool {
    matches!(e, Error::GRpcStatus(s) if s.code() == Code::NotFound)
}

/// A grant asked for a lease ID that is taken: etcd's `ErrGRPCLeaseExist`, the only
/// `FailedPrecondition` a grant answers.
pub(super) fn lease_exists(e: &Error) -> bool {
    matches!(e, Error::GRpcStatus(s) if s.code() == Code::FailedPrecondition)
}

/// A keep-alive found its lease gone: the client reports it as `LeaseKeepAliveError`
/// (the member answered with no time to live).
pub(super) fn keep_alive_lost(e: &Error) -> bool {
    matches!(e, Error::LeaseKeepAliveError(_))
}

/// An error with its causes, one line.
pub(super) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = match e.downcast_ref::<Error>() {
        Some(Error::GRpcStatus(st)) => format!("{}: {}", st.code(), st.message()),
        _ => e.to_string(),
    };
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    s
}

impl EtcdStore {
    /// A member refused to let us in (authentication): a setting to fix, not an outage.
    pub(super) fn refused(&self, e: &Error) -> StoreError {
        let (user, var) = self.user.clone().unwrap_or_default();
        StoreError::BadSetting {
            value: self.url.location(),
            why: format!(
                "etcd refused user {user:?}: {} (check store.user and the password in ${var})",
                describe(e)
            ),
        }
    }

    /// No member answered `what key` in time; `last` is the last error seen.
    pub(super) fn unavailable(&self, what: &str, key: &str, last: Option<String>) -> StoreError {
        let last = last
            .map(|l| format!("; last error: {l}"))
            .unwrap_or_default();
        StoreError::Unavailable {
            location: self.url.location(),
            reason: format!(
                "{what} {key}: no answer within {:?} from any of {}{last}",
                self.request_timeout,
                self.url.endpoints.join(", ")
            ),
            hint: "check that a quorum of its members is up and reachable from this host".into(),
        }
    }

    /// A request failed for a reason no other member would change. A request the cluster
    /// refuses to this user makes the store unusable (unavailable, like an unreadable
    /// directory store); any other such failure is an error of that key.
    pub(super) fn failed(&self, what: &'static str, key: &str, e: &Error) -> StoreError {
        if let Error::GRpcStatus(s) = e
            && matches!(s.code(), Code::PermissionDenied | Code::Unauthenticated)
        {
            let user = self.user.as_ref().map_or("", |(u, _)| u.as_str());
            return StoreError::Unavailable {
                location: self.url.location(),
                reason: format!("cannot {what} {key}: {}", describe(e)),
                hint: format!(
                    "check that store.user {user:?} has a role granting read and write on the prefix {}/",
                    self.url.prefix
                ),
            };
        }
        StoreError::Io {
            location: self.url.location(),
            op: what,
            key: key.to_string(),
            error: io::Error::other(describe(e)),
        }
    }
}
