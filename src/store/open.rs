//! From a store setting to a backend: the one place a store URL's scheme is read.

use std::path::Path;

use super::{Store, StoreError, dir};
use crate::config::StoreConfig;
use crate::util::url::redact;

/// The backend a store setting names, by its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend<'a> {
    /// A directory store: a plain path, or `dir://` and a path.
    Dir(&'a Path),
    /// An etcd cluster: `etcd://` or `etcds://` (TLS), and what follows the `://`.
    Etcd { tls: bool, rest: &'a str },
}

impl<'a> Backend<'a> {
    /// Reads the scheme of `url`: `dir://`, `etcd://`, `etcds://`, or none (a path).
    pub fn of(url: &'a str) -> Result<Backend<'a>, StoreError> {
        if let Some(path) = url.strip_prefix("dir://") {
            return Ok(Backend::Dir(Path::new(path)));
        }
        if let Some(rest) = url.strip_prefix("etcds://") {
            return Ok(Backend::Etcd { tls: true, rest });
        }
        if let Some(rest) = url.strip_prefix("etcd://") {
            return Ok(Backend::Etcd { tls: false, rest });
        }
        if url.contains("://") {
            return Err(StoreError::BadSetting {
                value: redact(url),
                why: "use a directory path, dir:///path or etcd://host:port[,host:port]/prefix"
                    .into(),
            });
        }
        if url.is_empty() {
            return Err(StoreError::BadSetting {
                value: url.to_string(),
                why: "empty store location".into(),
            });
        }
        Ok(Backend::Dir(Path::new(url)))
    }
}

/// Opens the store a setting names: a path or `dir://` URL, or `etcd://` (feature `etcd`).
pub fn open(cfg: &StoreConfig) -> Result<Box<dyn Store>, StoreError> {
    match Backend::of(&cfg.url)? {
        Backend::Dir(path) => Ok(Box::new(dir::DirStore::new(path))),
        Backend::Etcd { .. } => open_etcd(cfg),
    }
}

#[cfg(not(feature = "etcd"))]
fn open_etcd(cfg: &StoreConfig) -> Result<Box<dyn Store>, StoreError> {
    Err(StoreError::BadSetting {
        value: redact(&cfg.url),
        why: "this build has no etcd support (rebuild with `--features etcd`)".into(),
    })
}

#[cfg(feature = "etcd")]
fn open_etcd(cfg: &StoreConfig) -> Result<Box<dyn Store>, StoreError> {
    Ok(Box::new(super::etcd::EtcdStore::connect(cfg)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(
            Backend::of("/srv/store").unwrap(),
            Backend::Dir(Path::new("/srv/store"))
        );
        assert_eq!(
            Backend::of("dir:///srv/store").unwrap(),
            Backend::Dir(Path::new("/srv/store"))
        );
        assert_eq!(
            Backend::of("etcds://a:1/p").unwrap(),
            Backend::Etcd {
                tls: true,
                rest: "a:1/p"
            }
        );
        assert_eq!(
            Backend::of("etcd://a/p").unwrap(),
            Backend::Etcd {
                tls: false,
                rest: "a/p"
            }
        );
        for bad in ["", "http://u:pw@h/x"] {
            let e = Backend::of(bad).unwrap_err().to_string();
            assert!(!e.contains("pw"), "{e}");
        }
    }
}
