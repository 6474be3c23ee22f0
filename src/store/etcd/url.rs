//! The `etcd://` and `etcds://` store URL: members and key prefix, in normal form for
//! messages.

use crate::store::{Backend, StoreError, check_key};
use crate::util::url::redact;

/// The key prefix when the URL names none.
pub const DEFAULT_PREFIX: &str = "scalegrease";

/// The parts of an `etcd://` or `etcds://` store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdUrl {
    /// `etcds://`: TLS.
    pub tls: bool,
    /// `host:port` of each member, as given (port 2379 when omitted).
    pub endpoints: Vec<String>,
    /// The key prefix, without slashes at either end.
    pub prefix: String,
}

impl EtcdUrl {
    /// Parses `etcd[s]://host[:port][,host[:port]...][/prefix]`. Credentials in the URL are
    /// refused (they would end up in messages): use `store.user` and `store.password_env`.
    pub fn parse(url: &str) -> Result<EtcdUrl, StoreError> {
        let bad = |why: &str| StoreError::BadSetting {
            value: redact(url),
            why: why.to_string(),
        };
        let Ok(Backend::Etcd { tls, rest }) = Backend::of(url) else {
            return Err(bad("an etcd store URL starts with etcd:// or etcds://"));
        };
        let (hosts, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if hosts.contains('@') {
            return Err(bad(
                "credentials do not belong in the URL: set store.user and store.password_env",
            ));
        }
        let mut endpoints = Vec::new();
        for h in hosts.split(',') {
            let h = h.trim();
            if h.is_empty() {
                return Err(bad("empty endpoint: list members as host:port,host:port"));
            }
            let has_port = match h.rfind(']') {
                Some(i) => h[i..].contains(':'),
                None => h.contains(':'),
            };
            if has_port {
                let port = &h[h.rfind(':').expect("has a colon") + 1..];
                if port.parse::<u16>().is_err() {
                    return Err(bad(&format!("bad port in endpoint {h:?}")));
                }
                endpoints.push(h.to_string());
            } else {
                endpoints.push(format!("{h}:2379"));
            }
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            DEFAULT_PREFIX.to_string()
        } else {
            check_key(prefix).map_err(|e| bad(&format!("bad key prefix: {e}")))?;
            prefix.to_string()
        };
        Ok(EtcdUrl {
            tls,
            endpoints,
            prefix,
        })
    }

    /// The URL in normal form (what messages show).
    pub fn location(&self) -> String {
        let scheme = if self.tls { "etcds" } else { "etcd" };
        format!("{scheme}://{}/{}", self.endpoints.join(","), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = EtcdUrl::parse("etcd://a:1,b,[::1]:3/sg/farm").unwrap();
        assert_eq!(u.endpoints, ["a:1", "b:2379", "[::1]:3"]);
        assert_eq!(u.prefix, "sg/farm");
        assert!(!u.tls);
        assert_eq!(u.location(), "etcd://a:1,b:2379,[::1]:3/sg/farm");
        let u = EtcdUrl::parse("etcds://a:2379").unwrap();
        assert!(u.tls);
        assert_eq!(u.prefix, DEFAULT_PREFIX);
        for bad in [
            "etcd://",
            "etcd://a:x/p",
            "etcd://a,,b/p",
            "etcd://a/.p",
            "http://a",
        ] {
            assert!(EtcdUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_in_url_are_refused_and_never_shown() {
        let e = EtcdUrl::parse("etcd://me:secret@a:2379/p")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("store.password_env"), "{e}");
        // A password holding `@`: no part of it shows.
        let e = EtcdUrl::parse("etcd://user:se@cret@127.0.0.1:1/p")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("cret") && !e.contains("se@"), "{e}");
        assert!(e.contains("127.0.0.1:1"), "{e}");
    }
}
