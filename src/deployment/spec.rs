//! Artifact specs as given on greaserun's command line: an existing local file, or Maven
//! coordinates `group:artifact[:version[:packaging[:classifier]]]` with the original
//! scalegrease's defaults (`LATEST`, `jar`, `jar-with-dependencies`), and where such an
//! artifact lives in a Maven-layout repository or cache.

use std::fmt;
use std::path::{Path, PathBuf};

use super::DeployError;

/// The version used when the spec names none.
pub const DEFAULT_VERSION: &str = "LATEST";
/// The packaging used when the spec names none.
pub const DEFAULT_PACKAGING: &str = "jar";
/// The classifier used when the spec names none: the fat jar the original built.
pub const DEFAULT_CLASSIFIER: &str = "jar-with-dependencies";

/// What greaserun was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactSpec {
    /// An existing file on this host, used as it is.
    Local(PathBuf),
    /// An artifact to resolve from the Maven repositories and cache.
    Maven(Coordinates),
}

/// Maven coordinates. `classifier` may be empty (the main artifact).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Coordinates {
    pub group: String,
    pub artifact: String,
    pub version: String,
    pub packaging: String,
    pub classifier: String,
}

/// What kind of version a spec asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionKind {
    /// The newest version of any kind (`LATEST`).
    Latest,
    /// The newest release (`RELEASE`).
    Release,
    /// A moving `X-SNAPSHOT` version.
    Snapshot,
    /// A fixed version: immutable once published.
    Fixed,
}

impl ArtifactSpec {
    /// Parses a spec: an existing local file is [`ArtifactSpec::Local`]; anything else must
    /// be coordinates. Errors name the offending value.
    pub fn parse(text: &str) -> Result<ArtifactSpec, DeployError> {
        let path = Path::new(text);
        if !text.is_empty() && path.is_file() {
            return Ok(ArtifactSpec::Local(path.to_path_buf()));
        }
        if looks_like_path(text) {
            return Err(DeployError::LocalMissing {
                path: path.to_path_buf(),
            });
        }
        Coordinates::parse(text).map(ArtifactSpec::Maven)
    }
}

/// A spec with a slash, or one naming a `.jar` without any colon, is meant as a file.
fn looks_like_path(text: &str) -> bool {
    text.contains('/') || (!text.contains(':') && text.ends_with(".jar"))
}

impl Coordinates {
    /// Parses `group:artifact[:version[:packaging[:classifier]]]`, filling in defaults. An
    /// explicitly empty classifier (`g:a:1.0:jar:`) means the main artifact.
    pub fn parse(text: &str) -> Result<Coordinates, DeployError> {
        let bad = |reason: &str| DeployError::BadSpec {
            spec: text.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() < 2 {
            return Err(bad(
                "not an existing file, and not Maven coordinates group:artifact[:version[:packaging[:classifier]]]",
            ));
        }
        if parts.len() > 5 {
            return Err(bad("too many ':'-separated parts (at most 5)"));
        }
        let part = |i: usize, default: &str| parts.get(i).copied().unwrap_or(default).to_string();
        let c = Coordinates {
            group: part(0, ""),
            artifact: part(1, ""),
            version: part(2, DEFAULT_VERSION),
            packaging: part(3, DEFAULT_PACKAGING),
            classifier: part(4, DEFAULT_CLASSIFIER),
        };
        for (name, value, may_be_empty) in [
            ("group", &c.group, false),
            ("artifact", &c.artifact, false),
            ("version", &c.version, false),
            ("packaging", &c.packaging, false),
            ("classifier", &c.classifier, true),
        ] {
            if value.is_empty() && !may_be_empty {
                return Err(bad(&format!("empty {name}")));
            }
            if !value.is_empty() && !is_safe_part(value) {
                return Err(bad(&format!(
                    "invalid {name} {value:?} (letters, digits and . _ - + ~ only)"
                )));
            }
        }
        if c.group.split('.').any(str::is_empty) {
            return Err(bad(&format!("invalid group {:?}", c.group)));
        }
        Ok(c)
    }

    /// What kind of version this asks for.
    pub fn version_kind(&self) -> VersionKind {
        version_kind(&self.version)
    }

    /// The artifact's directory relative to a repository root: `com/example/job`.
    pub fn artifact_dir(&self) -> String {
        format!("{}/{}", self.group.replace('.', "/"), self.artifact)
    }

    /// The directory of one version (`base` is e.g. `1.0-SNAPSHOT`, never a timestamp).
    pub fn version_dir(&self, base: &str) -> String {
        format!("{}/{base}", self.artifact_dir())
    }

    /// The file name of this artifact at `file_version` (a release or a timestamped
    /// snapshot version such as `1.0-20261123.063745-1`).
    pub fn file_name(&self, file_version: &str) -> String {
        let classifier = if self.classifier.is_empty() {
            String::new()
        } else {
            format!("-{}", self.classifier)
        };
        format!(
            "{}-{file_version}{classifier}.{}",
            self.artifact, self.packaging
        )
    }

    /// The path relative to a repository root of this artifact's file: `base` is the
    /// version directory's version, `file_version` the one in the file name.
    pub fn file_path(&self, base: &str, file_version: &str) -> String {
        format!(
            "{}/{}",
            self.version_dir(base),
            self.file_name(file_version)
        )
    }

    /// These coordinates with another version.
    pub fn with_version(&self, version: &str) -> Coordinates {
        Coordinates {
            version: version.to_string(),
            ..self.clone()
        }
    }
}

/// Whether `part` is safe as one component of a cache path and a URL: letters, digits and
/// `. _ - + ~`, not empty, not starting with a dot. Versions read from repository metadata
/// must pass this too, so a corrupt or hostile `maven-metadata.xml` cannot make greaserun
/// write outside its cache.
pub fn is_safe_part(part: &str) -> bool {
    !part.is_empty()
        && !part.starts_with('.')
        && part
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._-+~".contains(ch))
}

/// What kind of version `v` is.
pub fn version_kind(v: &str) -> VersionKind {
    match v {
        "LATEST" => VersionKind::Latest,
        "RELEASE" => VersionKind::Release,
        _ if v.ends_with("-SNAPSHOT") => VersionKind::Snapshot,
        _ => VersionKind::Fixed,
    }
}

impl fmt::Display for Coordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}:{}",
            self.group, self.artifact, self.version, self.packaging, self.classifier
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in() {
        let c = Coordinates::parse("com.example:job").unwrap();
        assert_eq!(
            c.to_string(),
            "com.example:job:LATEST:jar:jar-with-dependencies"
        );
        let c = Coordinates::parse("com.example:job:1.0-SNAPSHOT:zip:bin").unwrap();
        assert_eq!(c.to_string(), "com.example:job:1.0-SNAPSHOT:zip:bin");
        assert_eq!(c.version_kind(), VersionKind::Snapshot);
        let c = Coordinates::parse("g:a:1.2:jar:").unwrap();
        assert_eq!(c.classifier, "");
        assert_eq!(c.file_path("1.2", "1.2"), "g/a/1.2/a-1.2.jar");
    }

    #[test]
    fn layout_paths() {
        let c = Coordinates::parse("com.example:job:1.0-SNAPSHOT").unwrap();
        assert_eq!(
            c.file_path("1.0-SNAPSHOT", "1.0-20261123.063745-1"),
            "com/example/job/1.0-SNAPSHOT/job-1.0-20261123.063745-1-jar-with-dependencies.jar"
        );
    }

    #[test]
    fn errors_name_the_value() {
        for (spec, want) in [
            ("job", "not an existing file"),
            ("a:b:c:d:e:f", "too many"),
            ("g::1.0", "empty artifact"),
            ("g:a b", "invalid artifact \"a b\""),
            ("g:a%b", "invalid artifact"),
            ("g..h:a", "invalid group"),
        ] {
            let e = ArtifactSpec::parse(spec).unwrap_err().to_string();
            assert!(e.contains(spec) && e.contains(want), "{spec}: {e}");
        }
    }

    #[test]
    fn local_files() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("job.jar");
        std::fs::write(&jar, b"x").unwrap();
        let s = jar.to_str().unwrap();
        assert_eq!(ArtifactSpec::parse(s).unwrap(), ArtifactSpec::Local(jar));
        let missing = dir.path().join("nope.jar");
        let e = ArtifactSpec::parse(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, DeployError::LocalMissing { .. }), "{e}");
        assert!(matches!(
            ArtifactSpec::parse("job.jar"),
            Err(DeployError::LocalMissing { .. })
        ));
    }
}
