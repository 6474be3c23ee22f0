//! Deployment: getting the job's fat jar onto the worker. Artifact specs (a local path or
//! Maven coordinates), Maven version resolution (`LATEST`, `RELEASE`, `X-SNAPSHOT`, fixed
//! versions) over an ordered list of repositories, verified downloads, and the local
//! Maven-layout cache.
//!
//! Network use is minimal: a cached fixed version costs no request at all; an up-to-date
//! SNAPSHOT costs one metadata request per repository; a new file costs its checksum and
//! its body. When every repository is unreachable, moving versions fall back to the newest
//! cached one with a warning, so an artifact-repository outage stops new versions from
//! rolling out, never jobs from running.

mod cache;
mod checksum;
mod credentials;
mod download;
mod http;
mod metadata;
#[cfg(test)]
mod proptests;
mod repository;
mod resolver;
mod sink;
mod spec;
mod version;

use std::path::{Path, PathBuf};

pub use cache::{Cache, base_version};
pub use checksum::{Algorithm, Expected};
pub use metadata::Metadata;
pub use spec::{ArtifactSpec, Coordinates, VersionKind};
pub use version::{MavenVersion, compare as compare_versions};

use crate::config;
use crate::exit;
use resolver::{Resolver, absolute};

/// What [`resolve`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The jar to run, absolute: a verified file in the cache, or the local file.
    pub jar_path: PathBuf,
    /// The spec: the local path as given, or the full coordinates `g:a:v:p:c`.
    pub spec: String,
    /// The resolved version (`1.2.0`, `1.0-20261123.063745-1`); `None` for a local file.
    pub version: Option<String>,
    /// The coordinates with the version as asked; `None` for a local file.
    pub coordinates: Option<Coordinates>,
    /// The URL the jar was downloaded from by this call (`None`: it was already cached).
    pub downloaded_from: Option<String>,
    /// The repositories could not be reached and this is the newest cached version.
    pub fallback: bool,
}

/// How [`resolve`] may behave.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// Never touch the network: use the cache only.
    pub offline: bool,
    /// Show a progress bar for downloads (only when stderr is a terminal).
    pub progress: bool,
}

/// Why an artifact could not be provided. Messages say what failed, where, and what to do;
/// they never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("invalid artifact {spec:?}: {reason}")]
    BadSpec { spec: String, reason: String },
    #[error("artifact file {path} does not exist")]
    LocalMissing { path: PathBuf },
    #[error("{coordinates} not found in any repository (tried {})", tried.join(", "))]
    NotFound {
        coordinates: String,
        tried: Vec<String>,
    },
    #[error("{coordinates} is not in the cache {cache} and {why}")]
    NotCached {
        coordinates: String,
        cache: PathBuf,
        why: String,
    },
    #[error(
        "{coordinates} is unavailable: {}; nothing usable is cached in {cache} (check the network and maven.repositories)",
        errors.join("; ")
    )]
    Unavailable {
        coordinates: String,
        cache: PathBuf,
        /// `URL: what went wrong`, one per repository asked (unreachable or not found).
        errors: Vec<String>,
    },
    #[error(
        "checksum mismatch for {url}: {algorithm} {actual}, the repository says {expected}; the download was discarded (a corrupt upload or a tampering proxy: re-deploy the artifact)"
    )]
    ChecksumMismatch {
        url: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
    #[error("invalid checksum file {url}: {reason}")]
    BadChecksum { url: String, reason: String },
    #[error("invalid maven-metadata.xml at {url}: {reason}")]
    BadMetadata { url: String, reason: String },
    #[error("{url}: {reason}")]
    Refused { url: String, reason: String },
    #[error("{url}: {reason}: not usable data")]
    BadData { url: String, reason: String },
    #[error(
        "{url}: {reason} (a repository must answer over http or https, without a redirect loop)"
    )]
    Unusable { url: String, reason: String },
    #[error("cannot {op} {path}: {cause} (check maven.cache_dir and its permissions)")]
    Io {
        op: &'static str,
        path: PathBuf,
        /// Shown in the message, so not exposed as `source()` (it would print twice).
        cause: std::io::Error,
    },
    #[error("invalid maven configuration: {reason}")]
    Config { reason: String },
}

impl DeployError {
    /// The documented exit code: 66 not found anywhere, 65 bad data (checksum, metadata,
    /// an oversized file), 69 repositories unreachable with nothing cached or unusable (a
    /// redirect loop or to a non-http scheme), 74 cache I/O, 78 configuration
    /// (also credentials a repository refused), 2 a malformed spec.
    pub fn exit_code(&self) -> i32 {
        match self {
            DeployError::BadSpec { .. } => exit::USAGE,
            DeployError::LocalMissing { .. }
            | DeployError::NotFound { .. }
            | DeployError::NotCached { .. } => exit::NO_INPUT,
            DeployError::Unavailable { .. } => exit::UNAVAILABLE,
            DeployError::ChecksumMismatch { .. }
            | DeployError::BadChecksum { .. }
            | DeployError::BadMetadata { .. }
            | DeployError::BadData { .. } => exit::DATA_ERR,
            DeployError::Unusable { .. } => exit::UNAVAILABLE,
            DeployError::Refused { .. } | DeployError::Config { .. } => exit::CONFIG,
            DeployError::Io { .. } => exit::IO_ERR,
        }
    }

    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> DeployError {
        DeployError::Io {
            op,
            path: path.to_path_buf(),
            cause: source,
        }
    }
}

/// Provides the jar for `spec`: a local file as it is, or Maven coordinates resolved
/// against `maven.repositories` and cached in `maven.cache_dir`.
pub fn resolve(
    spec: &ArtifactSpec,
    maven: &config::Maven,
    opts: &ResolveOptions,
) -> Result<Resolved, DeployError> {
    match spec {
        ArtifactSpec::Local(path) => Ok(Resolved {
            jar_path: absolute(path),
            spec: path.display().to_string(),
            version: None,
            coordinates: None,
            downloaded_from: None,
            fallback: false,
        }),
        ArtifactSpec::Maven(c) => Resolver::new(maven, opts)?.resolve(c),
    }
}
