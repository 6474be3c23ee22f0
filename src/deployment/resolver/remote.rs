//! Asking the repositories: downloading a file from the first that has it (verified
//! against the strongest checksum it publishes), reading small files with retries, and
//! collecting every repository's answer for a metadata file.

use std::path::Path;

use tracing::{info, warn};

use super::super::DeployError;
use super::super::checksum::{self, Algorithm, Expected};
use super::super::download::{self, Failure};
use super::super::metadata::Metadata;
use super::super::repository::{FetchError, Repo};
use super::super::spec::Coordinates;
use super::{Resolver, with_not_found};

/// Limit for metadata and checksum bodies.
const SMALL_LIMIT: u64 = 8 << 20;

/// What the repositories said about one small file.
pub(super) struct Answers<T> {
    /// (repository index, parsed answer)
    pub(super) found: Vec<(usize, T)>,
    /// URLs that answered without a usable version.
    pub(super) tried: Vec<String>,
    pub(super) unreachable: Vec<String>,
    /// The first hard error (bad data, refusal), reported when nothing was found.
    pub(super) error: Option<DeployError>,
}

impl<T> Answers<T> {
    fn new() -> Answers<T> {
        Answers {
            found: Vec::new(),
            tried: Vec::new(),
            unreachable: Vec::new(),
            error: None,
        }
    }

    /// Notes why the repository at `url` gave no answer: not found, unreachable, or
    /// refused (the first refusal is kept). A fatal failure is returned to the caller.
    fn failed(&mut self, url: String, failure: Failure) -> Result<(), DeployError> {
        match failure {
            Failure::NotFound => self.tried.push(url),
            Failure::Unreachable(m) => self.unreachable.push(format!("{url}: {m}")),
            Failure::Refused(reason) => {
                self.error
                    .get_or_insert(DeployError::Refused { url, reason });
            }
            Failure::Fatal(e) => return Err(e),
        }
        Ok(())
    }
}

impl Resolver {
    /// Downloads `rel` to `path` from the first repository that has it.
    pub(super) fn fetch(
        &self,
        c: &Coordinates,
        fv: &str,
        rel: &str,
        path: &Path,
        prefer: &[usize],
    ) -> Result<String, DeployError> {
        let mut order: Vec<usize> = prefer.to_vec();
        order.extend((0..self.repos.len()).filter(|i| !prefer.contains(i)));
        // Refusals are the only errors kept: a fatal failure returns at once.
        let mut a: Answers<()> = Answers::new();
        for i in order {
            let repo = &self.repos[i];
            let url = repo.url_of(rel);
            let expected = match self.checksum(repo, rel) {
                Ok(e) => e,
                Err(Failure::NotFound) => None,
                Err(f) => {
                    a.failed(url, f)?;
                    continue;
                }
            };
            match download::download(
                repo,
                rel,
                path,
                expected.as_ref(),
                self.artifact,
                self.progress,
            ) {
                Ok(bytes) => {
                    if expected.is_none() {
                        warn!(
                            "{url}: the repository publishes no .sha512, .sha256 or .sha1: used unverified"
                        );
                    }
                    info!(
                        "{}: downloaded {bytes} bytes from {url}",
                        c.with_version(fv)
                    );
                    return Ok(url);
                }
                Err(f) => a.failed(url, f)?,
            }
        }
        if let Some(e) = a.error {
            return Err(e);
        }
        if !a.unreachable.is_empty() {
            return Err(DeployError::Unavailable {
                coordinates: c.with_version(fv).to_string(),
                cache: self.cache.root().to_path_buf(),
                errors: with_not_found(a.unreachable, a.tried),
            });
        }
        Err(DeployError::NotFound {
            coordinates: c.with_version(fv).to_string(),
            tried: a.tried,
        })
    }

    /// The strongest checksum `repo` publishes for `rel`; `Ok(None)` when it has none.
    fn checksum(&self, repo: &Repo, rel: &str) -> Result<Option<Expected>, Failure> {
        for alg in Algorithm::PREFERRED {
            let crel = format!("{rel}.{}", alg.extension());
            match self.read_small(repo, &crel) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    return checksum::parse(&text, alg).map(Some).map_err(|reason| {
                        Failure::Fatal(DeployError::BadChecksum {
                            url: repo.url_of(&crel),
                            reason,
                        })
                    });
                }
                Err(Failure::NotFound) => continue,
                Err(f) => return Err(f),
            }
        }
        Ok(None)
    }

    /// Reads a small file with retries, each within `maven.timeout` as a whole.
    fn read_small(&self, repo: &Repo, rel: &str) -> Result<Vec<u8>, Failure> {
        let mut failures = 0;
        loop {
            match repo.read_small(rel, SMALL_LIMIT, self.small.deadline()) {
                Ok(b) => return Ok(b),
                Err(FetchError::NotFound) => return Err(Failure::NotFound),
                Err(e) => std::thread::sleep(download::retry_after(
                    repo,
                    rel,
                    e,
                    &mut failures,
                    self.small.attempts,
                )?),
            }
        }
    }

    /// Asks every repository for a metadata file and parses what they answer.
    pub(super) fn metadata<T>(
        &self,
        rel: &str,
        pick: impl Fn(&Metadata) -> Result<Option<T>, String>,
    ) -> Answers<T> {
        let mut a = Answers::new();
        for (i, repo) in self.repos.iter().enumerate() {
            let url = repo.url_of(rel);
            match self.read_small(repo, rel) {
                Ok(bytes) => {
                    let parsed = std::str::from_utf8(&bytes)
                        .map_err(|e| e.to_string())
                        .and_then(Metadata::parse)
                        .and_then(|m| pick(&m));
                    match parsed {
                        Ok(Some(t)) => a.found.push((i, t)),
                        Ok(None) => a.tried.push(url),
                        Err(reason) => {
                            warn!("invalid maven-metadata.xml at {url}: {reason}");
                            a.error
                                .get_or_insert(DeployError::BadMetadata { url, reason });
                        }
                    }
                }
                Err(f) => {
                    if let Err(e) = a.failed(url, f) {
                        a.error.get_or_insert(e);
                    }
                }
            }
        }
        for u in &a.unreachable {
            warn!("repository unreachable: {u}");
        }
        a
    }
}
