//! A job project's identity (Maven group and artifact) and its project-level settings.
//!
//! Identity, per part, in order of precedence: `--group`/`--artifact`, then
//! `scalegrease.toml` at the project root, then `pom.xml` (`groupId`, inherited from
//! `<parent>` when absent; `artifactId`). `scalegrease.toml` may also hold the project's
//! defaults for greaselaunch:
//!
//! ```toml
//! group = "com.example"
//! artifact = "nightly-jobs"
//! cron_glob = "src/main/cron/**/*.cron"   # default src/main/cron/*.cron
//! allowed_users = ["batch"]               # entries for other users fail the launch
//!
//! [alerts]                                # published in the bundle (docs/ledger.md)
//! webhook = "https://hooks.example.com/x"
//! format = "slack"                        # or "json" (the default)
//! on = ["failed", "missing"]              # default: every event kind
//! ```

use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use serde::Deserialize;

use super::error::DispatchError;

/// The project-level settings file at a project's root.
pub const PROJECT_FILE: &str = "scalegrease.toml";

/// A project: Maven group and artifact.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Project {
    pub group: String,
    pub artifact: String,
}

impl std::fmt::Display for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.group, self.artifact)
    }
}

impl Project {
    /// Checks both parts are Maven-style ids (`[A-Za-z0-9_.-]+`) without `__`, which
    /// separates the parts of installed file names and store keys.
    pub fn check(&self) -> Result<(), String> {
        for (what, v) in [("group", &self.group), ("artifact", &self.artifact)] {
            if v.is_empty()
                || v.starts_with('.')
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            {
                return Err(format!(
                    "{what} {v:?} must be non-empty, use only A-Z a-z 0-9 _ . - and not start with a dot"
                ));
            }
            if v.contains("__") {
                return Err(format!(
                    "{what} {v:?} must not contain \"__\" (it separates the parts of installed file names)"
                ));
            }
        }
        Ok(())
    }
}

/// `scalegrease.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    pub group: Option<String>,
    pub artifact: Option<String>,
    pub cron_glob: Option<String>,
    pub allowed_users: Option<Vec<String>>,
    /// The project's alert webhook, published in its bundle.
    pub alerts: Option<super::bundle::BundleAlerts>,
}

impl ProjectFile {
    /// Reads `dir/scalegrease.toml` if present.
    pub fn load(dir: &Path) -> Result<Option<ProjectFile>, DispatchError> {
        let path = dir.join(PROJECT_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(DispatchError::Read {
                    path,
                    cause: source,
                });
            }
        };
        let file: ProjectFile = toml::from_str(&text).map_err(|e| DispatchError::ProjectFile {
            path: path.clone(),
            why: e.to_string().trim().replace('\n', " "),
        })?;
        if let Some(a) = &file.alerts
            && !(a.webhook.starts_with("https://") || a.webhook.starts_with("http://"))
        {
            return Err(DispatchError::ProjectFile {
                path,
                why: "[alerts] webhook must be an http:// or https:// URL".into(),
            });
        }
        Ok(Some(file))
    }
}

/// Reads `groupId` (or the parent's) and `artifactId` from a `pom.xml`.
pub fn read_pom(path: &Path) -> Result<(Option<String>, Option<String>), DispatchError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, None)),
        Err(source) => {
            return Err(DispatchError::Read {
                path: path.to_path_buf(),
                cause: source,
            });
        }
    };
    let bad = |why: String| DispatchError::ProjectFile {
        path: path.to_path_buf(),
        why,
    };
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut stack: Vec<String> = Vec::new();
    let (mut group, mut parent_group, mut artifact) = (None, None, None);
    loop {
        match reader.read_event() {
            Err(e) => {
                return Err(bad(format!(
                    "invalid XML at byte {}: {e}",
                    reader.error_position()
                )));
            }
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => stack.push(e.local_name().as_ref().to_string()),
            Ok(Event::End(_)) => {
                stack.pop();
            }
            Ok(Event::Text(t)) => {
                let value = t.xml10_content().trim().to_string();
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                match path.as_slice() {
                    ["project", "groupId"] => group = Some(value),
                    ["project", "artifactId"] => artifact = Some(value),
                    ["project", "parent", "groupId"] => parent_group = Some(value),
                    _ => {}
                }
            }
            Ok(_) => {}
        }
    }
    for v in [&group, &parent_group, &artifact].into_iter().flatten() {
        if v.contains("${") {
            return Err(bad(format!(
                "{v:?} uses a property, which greaselaunch does not resolve (set group and artifact in {PROJECT_FILE})"
            )));
        }
    }
    Ok((group.or(parent_group), artifact))
}

/// A project's identity and settings, resolved from flags, `scalegrease.toml` and `pom.xml`.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub project: Project,
    pub settings: ProjectFile,
    /// Where each part came from, for messages.
    pub source: String,
}

/// Resolves the project rooted at `dir` (flag > scalegrease.toml > pom.xml, per part).
pub fn resolve(
    dir: &Path,
    group: Option<&str>,
    artifact: Option<&str>,
) -> Result<Resolved, DispatchError> {
    let settings = ProjectFile::load(dir)?.unwrap_or_default();
    let pom: PathBuf = dir.join("pom.xml");
    let need_pom = (group.is_none() && settings.group.is_none())
        || (artifact.is_none() && settings.artifact.is_none());
    let (pom_group, pom_artifact) = if need_pom {
        read_pom(&pom)?
    } else {
        (None, None)
    };
    let pick = |flag: Option<&str>, toml: &Option<String>, pom: Option<String>| {
        flag.map(|f| (f.to_string(), "flag"))
            .or_else(|| toml.clone().map(|t| (t, PROJECT_FILE)))
            .or_else(|| pom.map(|p| (p, "pom.xml")))
    };
    let g = pick(group, &settings.group, pom_group);
    let a = pick(artifact, &settings.artifact, pom_artifact);
    let (Some((group, gs)), Some((artifact, as_))) = (g, a) else {
        return Err(DispatchError::NoProject {
            dir: dir.to_path_buf(),
            why: "no group or artifact found".into(),
        });
    };
    let project = Project { group, artifact };
    project.check().map_err(|why| DispatchError::NoProject {
        dir: dir.to_path_buf(),
        why,
    })?;
    Ok(Resolved {
        project,
        settings,
        source: if gs == as_ {
            gs.to_string()
        } else {
            format!("{gs} and {as_}")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pom_with_parent_group() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("pom.xml"),
            r#"<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent><groupId>com.example</groupId><artifactId>parent</artifactId></parent>
  <artifactId>nightly</artifactId>
  <dependencies><dependency><groupId>x</groupId><artifactId>y</artifactId></dependency></dependencies>
</project>"#,
        )
        .unwrap();
        let r = resolve(d.path(), None, None).unwrap();
        assert_eq!(r.project.to_string(), "com.example:nightly");
        assert_eq!(r.source, "pom.xml");
        let r = resolve(d.path(), Some("org.other"), None).unwrap();
        assert_eq!(r.project.to_string(), "org.other:nightly");
    }

    #[test]
    fn toml_wins_over_pom_and_rejects_typos() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("pom.xml"),
            "<project><groupId>a</groupId><artifactId>b</artifactId></project>",
        )
        .unwrap();
        std::fs::write(
            d.path().join(PROJECT_FILE),
            "group = \"g\"\ncron_glob = \"cron/*.cron\"\n",
        )
        .unwrap();
        let r = resolve(d.path(), None, None).unwrap();
        assert_eq!(r.project.to_string(), "g:b");
        assert_eq!(r.settings.cron_glob.as_deref(), Some("cron/*.cron"));
        std::fs::write(d.path().join(PROJECT_FILE), "gruop = \"g\"\n").unwrap();
        assert!(
            resolve(d.path(), None, None)
                .unwrap_err()
                .to_string()
                .contains("gruop")
        );
    }

    #[test]
    fn missing_and_bad_identity() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(
            resolve(d.path(), None, None),
            Err(DispatchError::NoProject { .. })
        ));
        assert!(resolve(d.path(), Some("a__b"), Some("c")).is_err());
        assert!(resolve(d.path(), Some("a b"), Some("c")).is_err());
    }
}
