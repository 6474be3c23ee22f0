//! One configured Maven repository: `http://`, `https://` (requests in [`super::http`],
//! bodies streamed) or `file://` (read in place). Basic-auth
//! credentials (read in [`super::credentials`]) are sent only to that repository's host
//! and never appear in a message: every URL shown is [`Repo::url_of`], which has no
//! credentials in it.
//!
//! Every request has two limits: `maven.timeout` for each read, and a [`Budget`]: a
//! deadline for the whole file (`maven.timeout` for metadata and checksums, each attempt;
//! `maven.request_timeout` for an artifact, every retry and resume included), so a
//! repository trickling one byte a second cannot hold a run forever.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::DeployError;
use super::credentials::{basic, credentials};
pub use super::http::agent;
use super::http::open_http;
use crate::config;
use crate::util::url::redact;

/// Why one request failed.
#[derive(Debug)]
pub enum FetchError {
    /// 404/410, or no such file.
    NotFound,
    /// Worth retrying: connection refused or reset, timeout, 5xx, 408, 429, a body cut short.
    Transient(String),
    /// Not worth retrying (401, 403, other 4xx, a file we cannot read).
    Fatal(String),
    /// The server rejected our `Range` (416): start again from byte 0.
    RangeRejected,
    /// The answer is unusable as data (larger than a small file may be).
    BadData(String),
    /// The repository cannot be used as configured (a redirect loop, or a redirect to a
    /// scheme other than http and https).
    Unusable(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NotFound => write!(f, "not found"),
            FetchError::Transient(m)
            | FetchError::Fatal(m)
            | FetchError::BadData(m)
            | FetchError::Unusable(m) => write!(f, "{m}"),
            FetchError::RangeRejected => write!(f, "range not satisfiable"),
        }
    }
}

/// How often and how long one file may be asked for.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Attempts that make no progress, in a row.
    pub attempts: u32,
    /// The whole file: every attempt, resume and backoff included; zero means no limit.
    pub within: Duration,
    /// The config key `within` comes from, for messages.
    pub key: &'static str,
}

impl Budget {
    /// The deadline of a file asked for now.
    pub fn deadline(&self) -> Option<Instant> {
        (!self.within.is_zero()).then(|| Instant::now() + self.within)
    }

    /// Why a file was given up on at its deadline.
    pub fn expired(&self) -> String {
        format!(
            "no complete answer within {} ({}; the repository is too slow or trickling)",
            crate::util::duration::format(self.within),
            self.key
        )
    }
}

/// Time left before `deadline`, or a transient error when none is.
fn remaining(deadline: Option<Instant>) -> Result<Option<Duration>, FetchError> {
    match deadline {
        None => Ok(None),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(FetchError::Transient("deadline passed".into())),
        },
    }
}

/// An open response body.
pub struct Opened {
    pub reader: Box<dyn Read + Send>,
    /// Where the body starts in the file: the requested offset when the server honoured
    /// the range, else 0.
    pub offset: u64,
    /// The body's length, when known.
    pub len: Option<u64>,
}

enum Kind {
    Http {
        agent: ureq::Agent,
        /// `Basic ...`, never shown.
        auth: Option<String>,
    },
    File(PathBuf),
}

/// A repository ready to be asked for files.
pub struct Repo {
    /// The base URL without credentials or trailing slash, for requests and messages.
    base: String,
    kind: Kind,
}

impl fmt::Debug for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Repo({})", self.base)
    }
}

impl Repo {
    /// Prepares a configured repository: checks the URL and loads credentials.
    pub fn new(r: &config::Repository, agent: &ureq::Agent) -> Result<Repo, DeployError> {
        let raw = r.url.trim().trim_end_matches('/');
        let bad = |reason: String| DeployError::Config { reason };
        if let Some(path) = raw.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad(format!(
                    "repository URL {raw}: a file URL needs an absolute path (file:///dir)"
                )));
            }
            return Ok(Repo {
                base: raw.to_string(),
                kind: Kind::File(PathBuf::from(path)),
            });
        }
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(bad(format!(
                "repository URL {:?} has no scheme (use http://, https:// or file://)",
                redact(raw)
            )));
        };
        if scheme != "http" && scheme != "https" {
            return Err(bad(format!(
                "repository URL {}: unsupported scheme {scheme:?} (use http://, https:// or file://)",
                redact(raw)
            )));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(bad(format!("repository URL {}: no host", redact(raw))));
        }
        let base = format!("{scheme}://{host}{path}");
        let user_pass = credentials(r, userinfo, &base)?;
        let loopback = ["127.0.0.1", "[::1]", "localhost"]
            .iter()
            .any(|h| host == *h || host.starts_with(&format!("{h}:")));
        if user_pass.is_some() && scheme == "http" && !loopback {
            tracing::warn!("repository {base}: credentials are sent unencrypted over http");
        }
        Ok(Repo::http(
            base,
            agent.clone(),
            user_pass.map(|up| basic(&up)),
        ))
    }

    fn http(base: String, agent: ureq::Agent, auth: Option<String>) -> Repo {
        Repo {
            base,
            kind: Kind::Http { agent, auth },
        }
    }

    /// The full URL of `rel`, safe to show.
    pub fn url_of(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base)
    }

    /// The base URL, safe to show.
    #[cfg(test)]
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Opens `rel` from byte `offset` on (a `Range` request when `offset > 0`); over
    /// http the request, headers and body, ends at `deadline`.
    pub fn open(
        &self,
        rel: &str,
        offset: u64,
        deadline: Option<Instant>,
    ) -> Result<Opened, FetchError> {
        match &self.kind {
            Kind::File(root) => open_file(&root.join(rel), offset),
            Kind::Http { agent, auth } => open_http(
                agent,
                auth.as_deref(),
                &self.url_of(rel),
                offset,
                remaining(deadline)?,
            ),
        }
    }

    /// Reads a small file (metadata, checksum) whole, up to `limit` bytes, by `deadline`.
    pub fn read_small(
        &self,
        rel: &str,
        limit: u64,
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>, FetchError> {
        let opened = self.open(rel, 0, deadline)?;
        let mut buf = Vec::new();
        opened
            .reader
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| FetchError::Transient(format!("reading the body: {e}")))?;
        if buf.len() as u64 > limit {
            return Err(FetchError::BadData(format!("larger than {limit} bytes")));
        }
        Ok(buf)
    }
}

fn open_file(path: &std::path::Path, offset: u64) -> Result<Opened, FetchError> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FetchError::NotFound),
        Err(e) => return Err(FetchError::Fatal(e.to_string())),
    };
    let meta = f.metadata().map_err(|e| FetchError::Fatal(e.to_string()))?;
    if !meta.is_file() {
        return Err(FetchError::NotFound);
    }
    let len = meta.len();
    if offset > len {
        return Err(FetchError::RangeRejected);
    }
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| FetchError::Fatal(e.to_string()))?;
    Ok(Opened {
        reader: Box::new(f),
        offset,
        len: Some(len - offset),
    })
}

/// Backoff before retry number `attempt` (1-based): exponential from 250 ms, capped at
/// 10 s, with full jitter in its upper half.
pub fn backoff(attempt: u32) -> Duration {
    let base = 250u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(10_000);
    let jittered = base as f64 * (0.5 + 0.5 * crate::util::random::unit());
    Duration::from_millis(jittered as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::deployment::credentials::tests::repo;

    #[test]
    fn credentials_never_in_urls() {
        let agent = agent(&config::Maven::default());
        let r = Repo::new(
            &repo("https://bob:s3cr%21t@repo.example.com/maven2/"),
            &agent,
        )
        .unwrap();
        assert_eq!(r.url(), "https://repo.example.com/maven2");
        assert!(!format!("{r:?}").contains("s3cr"));
        match &r.kind {
            Kind::Http { auth, .. } => {
                assert_eq!(auth.as_deref(), Some(basic("bob:s3cr!t").as_str()))
            }
            Kind::File(_) => unreachable!(),
        }
        assert_eq!(redact("http://u:p@h/x"), "http://***@h/x");
        // A password holding `@` is hidden whole.
        let e = Repo::new(&repo("ftp://user:p@ss@host/x"), &agent)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("ss@") && !e.contains(":p"), "{e}");
        let r = Repo::new(&repo("https://user:p@ss@host/x"), &agent).unwrap();
        assert_eq!(r.url(), "https://host/x");
        let e = Repo::new(&repo("ftp://u:pw@h/x"), &agent)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("pw"), "{e}");
    }

    #[test]
    fn file_repositories_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jar"), b"0123456789").unwrap();
        let agent = agent(&config::Maven::default());
        let url = format!("file://{}", dir.path().display());
        let r = Repo::new(&repo(&url), &agent).unwrap();
        let mut o = r.open("a.jar", 4, None).unwrap();
        let mut s = String::new();
        o.reader.read_to_string(&mut s).unwrap();
        assert_eq!((s.as_str(), o.offset, o.len), ("456789", 4, Some(6)));
        assert!(matches!(
            r.open("b.jar", 0, None),
            Err(FetchError::NotFound)
        ));
        assert!(Repo::new(&repo("file://rel/dir"), &agent).is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= Duration::from_millis(250));
        assert!(backoff(3) >= Duration::from_millis(500));
        assert!(backoff(30) <= Duration::from_secs(10));
    }
}
