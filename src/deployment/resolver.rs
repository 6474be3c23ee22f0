//! The resolution itself: which repositories to ask for what, in which order, and what to
//! do with their answers (merge metadata, prefer the repository that listed a version,
//! fall back to the cache when none can be reached).

use std::path::{Path, PathBuf};

use tracing::{debug, info, warn};

mod remote;

use super::cache::{Cache, base_version};
use super::metadata;
use super::repository::{self, Budget, Repo};
use super::spec::{self, Coordinates, VersionKind};
use super::{DeployError, ResolveOptions, Resolved};
use crate::config;
use crate::util::env::expand_path;
use remote::Answers;

/// The unreachable repositories' errors followed by the URLs that answered "not found".
fn with_not_found(mut errors: Vec<String>, not_found: Vec<String>) -> Vec<String> {
    errors.extend(not_found.into_iter().map(|u| format!("{u}: not found")));
    errors
}

/// `path` made absolute against the working directory (runners may change directory).
pub(super) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

pub(super) struct Resolver {
    cache: Cache,
    repos: Vec<Repo>,
    offline: bool,
    progress: bool,
    /// A metadata or checksum file, retries included.
    small: Budget,
    /// An artifact, retries and resumes included.
    artifact: Budget,
}

impl Resolver {
    pub(super) fn new(
        maven: &config::Maven,
        opts: &ResolveOptions,
    ) -> Result<Resolver, DeployError> {
        let agent = repository::agent(maven);
        let repos = maven
            .repositories
            .iter()
            .map(|r| Repo::new(r, &agent))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Resolver {
            cache: Cache::new(absolute(Path::new(&expand_path(&maven.cache_dir)))),
            repos,
            offline: opts.offline,
            progress: opts.progress,
            small: Budget {
                attempts: maven.attempts.max(1),
                within: maven.timeout,
                key: "maven.timeout",
            },
            artifact: Budget {
                attempts: maven.attempts.max(1),
                within: maven.request_timeout,
                key: "maven.request_timeout",
            },
        })
    }

    /// Why the network is not used, if it is not.
    fn no_network(&self) -> Option<&'static str> {
        if self.offline {
            Some("--offline was given")
        } else if self.repos.is_empty() {
            Some("no repositories are configured (maven.repositories)")
        } else {
            None
        }
    }

    pub(super) fn resolve(&self, c: &Coordinates) -> Result<Resolved, DeployError> {
        match c.version_kind() {
            VersionKind::Fixed => self.fixed(c, &c.version, &[]),
            VersionKind::Snapshot => self.snapshot(c, &c.version),
            VersionKind::Latest => self.newest(c, false),
            VersionKind::Release => self.newest(c, true),
        }
    }

    fn resolved(&self, c: &Coordinates, fv: &str, path: PathBuf) -> Resolved {
        Resolved {
            jar_path: path,
            spec: c.to_string(),
            version: Some(fv.to_string()),
            coordinates: Some(c.clone()),
            downloaded_from: None,
            fallback: false,
        }
    }

    /// A fixed file version (a release, or a timestamped snapshot build): from the cache
    /// when there, else downloaded, asking the repositories in `prefer` first.
    fn fixed(&self, c: &Coordinates, fv: &str, prefer: &[usize]) -> Result<Resolved, DeployError> {
        let rel = c.file_path(&base_version(fv), fv);
        let path = self.cache.path(&rel);
        if path.is_file() {
            debug!("{c}: using cached {}", path.display());
            return Ok(self.resolved(c, fv, path));
        }
        if let Some(why) = self.no_network() {
            return Err(DeployError::NotCached {
                coordinates: c.with_version(fv).to_string(),
                cache: self.cache.root().to_path_buf(),
                why: why.to_string(),
            });
        }
        let _lock = self.cache.lock(&path)?;
        if path.is_file() {
            debug!("{c}: another process downloaded {}", path.display());
            return Ok(self.resolved(c, fv, path));
        }
        let url = self.fetch(c, fv, &rel, &path, prefer)?;
        Ok(Resolved {
            downloaded_from: Some(url),
            ..self.resolved(c, fv, path)
        })
    }

    /// `X-SNAPSHOT`: the newest build any repository's version-level metadata names for
    /// this classifier and extension.
    fn snapshot(&self, c: &Coordinates, base: &str) -> Result<Resolved, DeployError> {
        if let Some(why) = self.no_network() {
            return self.cached_newest(c, Some(base), false, why, None);
        }
        let rel = format!("{}/maven-metadata.xml", c.version_dir(base));
        let answers = self.metadata(&rel, |m| {
            match m.snapshot_build(base, &c.classifier, &c.packaging) {
                Some(b) if !spec::is_safe_part(&b.value) => {
                    Err(format!("invalid snapshot version {:?}", b.value))
                }
                b => Ok(Some(b)),
            }
        });
        let newest = answers
            .found
            .iter()
            .filter_map(|(i, b)| b.as_ref().map(|b| (*i, b)))
            .max_by(|x, y| x.1.cmp(y.1))
            .map(|(_, b)| b.clone());
        let fv = match (newest, answers.found.is_empty()) {
            (Some(b), _) => b.value,
            // Metadata without builds: a non-unique snapshot, stored under its own name.
            (None, false) => base.to_string(),
            (None, true) => return self.nothing_found(c, Some(base), false, answers),
        };
        let prefer: Vec<usize> = answers
            .found
            .iter()
            .filter(|(_, b)| b.as_ref().map(|b| b.value.as_str()) == Some(fv.as_str()))
            .map(|(i, _)| *i)
            .collect();
        self.fixed_or_fallback(c, &fv, &prefer, Some(base), false)
    }

    /// `LATEST` / `RELEASE`: from the artifact-level metadata of every repository, merged.
    fn newest(&self, c: &Coordinates, release_only: bool) -> Result<Resolved, DeployError> {
        if let Some(why) = self.no_network() {
            return self.cached_newest(c, None, release_only, why, None);
        }
        let rel = format!("{}/maven-metadata.xml", c.artifact_dir());
        let answers = self.metadata(&rel, |m| match m.newest(release_only) {
            Some(v) if !spec::is_safe_part(&v) || matches!(v.as_str(), "LATEST" | "RELEASE") => {
                Err(format!("invalid version {v:?}"))
            }
            v => Ok(v),
        });
        let Some(v) = metadata::merge_newest(answers.found.iter().map(|(_, v)| v.clone())) else {
            return self.nothing_found(c, None, release_only, answers);
        };
        debug!("{c}: {} is {v}", c.version);
        let prefer: Vec<usize> = answers
            .found
            .iter()
            .filter(|(_, x)| *x == v)
            .map(|(i, _)| *i)
            .collect();
        let cv = c.with_version(&v);
        if spec::version_kind(&v) == VersionKind::Snapshot {
            return self.snapshot(&cv, &v).map(|r| Resolved {
                coordinates: Some(c.clone()),
                spec: c.to_string(),
                ..r
            });
        }
        self.fixed_or_fallback(c, &v, &prefer, None, release_only)
    }

    /// [`Self::fixed`], falling back to the cache when the repositories became unreachable.
    fn fixed_or_fallback(
        &self,
        c: &Coordinates,
        fv: &str,
        prefer: &[usize],
        snapshot_base: Option<&str>,
        release_only: bool,
    ) -> Result<Resolved, DeployError> {
        match self.fixed(c, fv, prefer) {
            Err(DeployError::Unavailable { errors, .. }) => {
                self.unreachable_fallback(c, snapshot_base, release_only, errors)
            }
            other => other,
        }
    }

    /// No repository named a version: a fallback when some were unreachable, else an error.
    fn nothing_found<T>(
        &self,
        c: &Coordinates,
        snapshot_base: Option<&str>,
        release_only: bool,
        answers: Answers<T>,
    ) -> Result<Resolved, DeployError> {
        if !answers.unreachable.is_empty() {
            let errors = with_not_found(answers.unreachable, answers.tried);
            return self.unreachable_fallback(c, snapshot_base, release_only, errors);
        }
        if let Some(e) = answers.error {
            return Err(e);
        }
        Err(DeployError::NotFound {
            coordinates: c.to_string(),
            tried: answers.tried,
        })
    }

    /// [`Self::cached_newest`] because the repositories could not be reached (`errors`).
    fn unreachable_fallback(
        &self,
        c: &Coordinates,
        snapshot_base: Option<&str>,
        release_only: bool,
        errors: Vec<String>,
    ) -> Result<Resolved, DeployError> {
        let why = "the repositories could not be reached";
        self.cached_newest(c, snapshot_base, release_only, why, Some(errors))
    }

    /// The newest cached version for a moving version. `errors` is `Some` when this is a
    /// fallback from unreachable repositories (warned about), `None` for offline use.
    fn cached_newest(
        &self,
        c: &Coordinates,
        snapshot_base: Option<&str>,
        release_only: bool,
        why: &str,
        errors: Option<Vec<String>>,
    ) -> Result<Resolved, DeployError> {
        let found = match snapshot_base {
            Some(base) => self
                .cache
                .newest_snapshot_build(c, base)
                .map(|fv| (base.to_string(), fv)),
            None => self.cache.newest_version(c, release_only),
        };
        let Some((v, fv)) = found else {
            return Err(match errors {
                Some(errors) => DeployError::Unavailable {
                    coordinates: c.to_string(),
                    cache: self.cache.root().to_path_buf(),
                    errors,
                },
                None => DeployError::NotCached {
                    coordinates: c.to_string(),
                    cache: self.cache.root().to_path_buf(),
                    why: why.to_string(),
                },
            });
        };
        let path = self.cache.path(&c.file_path(&v, &fv));
        if errors.is_some() {
            warn!(
                "{c}: {why}; using the newest cached version {fv} ({}); newer versions may exist",
                path.display()
            );
        } else {
            info!("{c}: {why}; using the newest cached version {fv}");
        }
        Ok(Resolved {
            fallback: errors.is_some(),
            ..self.resolved(c, &fv, path)
        })
    }
}
