//! From the store settings to a client: timeouts, TLS (CA, client certificate) and the
//! user whose password comes from an environment variable. Nothing is contacted here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};

use super::failover::Member;
use super::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, EtcdStore, EtcdUrl};
use crate::config::StoreConfig;
use crate::store::StoreError;

impl EtcdStore {
    /// Opens a client for the cluster `cfg` names, checking the settings; no member is
    /// contacted until the first request (which also authenticates). TLS uses `ca_file`
    /// (required) and optionally `cert_file` + `key_file`; the password is read from the
    /// environment variable `password_env` and never printed.
    pub fn connect(cfg: &StoreConfig) -> Result<EtcdStore, StoreError> {
        let url = EtcdUrl::parse(&cfg.url)?;
        let connect_timeout = cfg.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let request_timeout = cfg.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(connect_timeout)
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(3))
            .with_require_leader(true);
        let tls = url.tls || cfg.ca_file.is_some() || cfg.cert_file.is_some();
        if tls {
            opts = opts.with_tls(tls_options(cfg, &url)?);
        }
        if let Some(user) = &cfg.user {
            opts = opts.with_user(user.clone(), password(cfg, user)?);
        }
        let scheme = if tls { "https" } else { "http" };
        let members = url
            .endpoints
            .iter()
            .map(|e| Member::new(e, &format!("{scheme}://{e}")))
            .collect::<Vec<_>>();
        // Processes start on different members, spreading the load over the cluster.
        let first = (crate::util::random::u64() % members.len() as u64) as usize;
        Ok(EtcdStore {
            user: cfg
                .user
                .clone()
                .map(|u| (u, cfg.password_env.clone().unwrap_or_default())),
            url,
            members,
            preferred: AtomicUsize::new(first),
            options: opts,
            request_timeout,
            leases: Mutex::new(HashMap::new()),
            beats: Mutex::new(HashMap::new()),
        })
    }
}

fn bad(value: &str, why: String) -> StoreError {
    StoreError::BadSetting {
        value: value.to_string(),
        why,
    }
}

/// The CA that signed the members' certificates, and our own certificate if configured.
fn tls_options(cfg: &StoreConfig, url: &EtcdUrl) -> Result<TlsOptions, StoreError> {
    let read = |what: &str, path: &str| {
        std::fs::read(path).map_err(|e| bad(path, format!("cannot read store.{what}: {e}")))
    };
    let Some(ca) = &cfg.ca_file else {
        return Err(bad(
            &url.location(),
            "TLS needs store.ca_file, the CA certificate that signed the members' certificates"
                .into(),
        ));
    };
    let t = TlsOptions::new().ca_certificate(Certificate::from_pem(read("ca_file", ca)?));
    match (&cfg.cert_file, &cfg.key_file) {
        (Some(c), Some(k)) => Ok(t.identity(Identity::from_pem(
            read("cert_file", c)?,
            read("key_file", k)?,
        ))),
        (None, None) => Ok(t),
        _ => Err(bad(
            &url.location(),
            "store.cert_file and store.key_file go together".into(),
        )),
    }
}

/// `user`'s password, from the variable `store.password_env` names.
fn password(cfg: &StoreConfig, user: &str) -> Result<String, StoreError> {
    let Some(var) = &cfg.password_env else {
        return Err(bad(
            user,
            "store.user needs store.password_env, the environment variable holding the password"
                .into(),
        ));
    };
    std::env::var(var).map_err(|_| {
        bad(
            var,
            "store.password_env names an environment variable that is not set".into(),
        )
    })
}
