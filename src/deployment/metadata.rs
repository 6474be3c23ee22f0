//! `maven-metadata.xml`, the two kinds Maven writes: artifact-level
//! (`group/artifact/maven-metadata.xml`: `<latest>`, `<release>`, `<versions>`) and
//! version-level for snapshots (`group/artifact/X-SNAPSHOT/maven-metadata.xml`:
//! `<snapshotVersions>` per classifier and extension, and the older
//! `<snapshot><timestamp/><buildNumber/>` form).

use serde::Deserialize;

use super::version::{MavenVersion, highest};

/// A parsed `maven-metadata.xml`. Unknown elements are ignored.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Metadata {
    #[serde(rename = "groupId")]
    pub group_id: Option<String>,
    #[serde(rename = "artifactId")]
    pub artifact_id: Option<String>,
    pub version: Option<String>,
    pub versioning: Versioning,
}

/// `<versioning>`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Versioning {
    pub latest: Option<String>,
    pub release: Option<String>,
    pub versions: Versions,
    #[serde(rename = "lastUpdated")]
    pub last_updated: Option<String>,
    pub snapshot: Option<Snapshot>,
    #[serde(rename = "snapshotVersions")]
    pub snapshot_versions: SnapshotVersions,
}

/// `<versions>`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Versions {
    pub version: Vec<String>,
}

/// `<snapshot>`: the newest build of a snapshot version (Maven 2 form, still written).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Snapshot {
    pub timestamp: Option<String>,
    #[serde(rename = "buildNumber")]
    pub build_number: Option<u32>,
    #[serde(rename = "localCopy")]
    pub local_copy: Option<bool>,
}

/// `<snapshotVersions>`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SnapshotVersions {
    #[serde(rename = "snapshotVersion")]
    pub snapshot_version: Vec<SnapshotVersion>,
}

/// One `<snapshotVersion>`: the file version of one classifier and extension.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SnapshotVersion {
    pub classifier: Option<String>,
    pub extension: String,
    pub value: String,
    pub updated: Option<String>,
}

/// A resolved snapshot build: the file version and a sortable "when".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotBuild {
    /// `yyyyMMddHHmmss` (or the timestamp without its dot), for picking the newest across
    /// repositories.
    pub updated: String,
    /// The version in the file name: `1.0-20261123.063745-1`.
    pub value: String,
}

impl Metadata {
    /// Parses metadata XML; the error says what is wrong.
    pub fn parse(xml: &str) -> Result<Metadata, String> {
        quick_xml::de::from_str(xml).map_err(|e| e.to_string())
    }

    /// The version `LATEST` (`release_only == false`) or `RELEASE` names: `<latest>` /
    /// `<release>` when present, else the highest of `<versions>` (releases only for
    /// `RELEASE`).
    pub fn newest(&self, release_only: bool) -> Option<String> {
        let v = &self.versioning;
        let tag = if release_only { &v.release } else { &v.latest };
        if let Some(t) = tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            return Some(t.to_string());
        }
        let candidates = v
            .versions
            .version
            .iter()
            .map(|s| s.trim())
            .filter(|s| !release_only || !s.ends_with("-SNAPSHOT"));
        highest(candidates).map(str::to_string)
    }

    /// The build of snapshot version `base` (e.g. `1.0-SNAPSHOT`) for `classifier` and
    /// `extension`: the matching `<snapshotVersion>`, else the `<snapshot>` timestamp and
    /// build number, else `None` (no remote build: the file is named `base` itself).
    pub fn snapshot_build(
        &self,
        base: &str,
        classifier: &str,
        extension: &str,
    ) -> Option<SnapshotBuild> {
        let v = &self.versioning;
        let matching = v.snapshot_versions.snapshot_version.iter().find(|s| {
            s.classifier.as_deref().unwrap_or("").trim() == classifier
                && s.extension.trim() == extension
        });
        if let Some(s) = matching {
            let value = s.value.trim().to_string();
            let updated = s
                .updated
                .clone()
                .unwrap_or_else(|| timestamp_of(&value).unwrap_or_default());
            return Some(SnapshotBuild { updated, value });
        }
        let snap = v.snapshot.as_ref()?;
        let ts = snap.timestamp.as_deref()?.trim();
        let build = snap.build_number?;
        let stem = base.strip_suffix("-SNAPSHOT").unwrap_or(base);
        Some(SnapshotBuild {
            updated: ts.replace('.', ""),
            value: format!("{stem}-{ts}-{build}"),
        })
    }
}

/// The `yyyyMMddHHmmss` of a timestamped snapshot file version
/// (`1.0-20261123.063745-1` gives `20261123063745`).
pub fn timestamp_of(file_version: &str) -> Option<String> {
    let (rest, build) = file_version.rsplit_once('-')?;
    let (_, ts) = rest.rsplit_once('-')?;
    let (date, time) = ts.split_once('.')?;
    let ok = date.len() == 8
        && time.len() == 6
        && build.chars().all(|c| c.is_ascii_digit())
        && !build.is_empty()
        && date.chars().chain(time.chars()).all(|c| c.is_ascii_digit());
    ok.then(|| format!("{date}{time}"))
}

/// Whether `file_version` is a timestamped build of snapshot `base`, and its
/// `(timestamp, build number)` for ordering builds.
pub fn build_of(base: &str, file_version: &str) -> Option<(String, u64)> {
    let stem = base.strip_suffix("-SNAPSHOT")?;
    let rest = file_version.strip_prefix(stem)?.strip_prefix('-')?;
    let (ts, build) = rest.split_once('-')?;
    let ts_ok = timestamp_of(file_version).is_some() && ts.len() == 15;
    Some((ts.to_string(), build.parse().ok().filter(|_| ts_ok)?))
}

/// Merges the `LATEST`/`RELEASE` answers of several repositories: the highest.
pub fn merge_newest(answers: impl IntoIterator<Item = String>) -> Option<String> {
    answers
        .into_iter()
        .max_by(|a, b| MavenVersion::parse(a).cmp(&MavenVersion::parse(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written by `mvn deploy:deploy-file` (maven-deploy-plugin 2.7) to a file:// repository.
    const ARTIFACT: &str = include_str!("testdata/artifact-metadata.xml");
    const SNAPSHOT: &str = include_str!("testdata/snapshot-metadata.xml");

    #[test]
    fn artifact_level_from_mvn() {
        let m = Metadata::parse(ARTIFACT).unwrap();
        assert_eq!(m.group_id.as_deref(), Some("com.example"));
        assert_eq!(m.versioning.versions.version, ["1.0-SNAPSHOT", "1.1"]);
        // mvn wrote <release> but no <latest>: LATEST is the highest of <versions>.
        assert_eq!(m.newest(true).as_deref(), Some("1.1"));
        assert_eq!(m.newest(false).as_deref(), Some("1.1"));
    }

    #[test]
    fn version_level_from_mvn_differs_per_classifier() {
        let m = Metadata::parse(SNAPSHOT).unwrap();
        let fat = m
            .snapshot_build("1.0-SNAPSHOT", "jar-with-dependencies", "jar")
            .unwrap();
        assert_eq!(fat.value, "1.0-20261123.064113-1");
        let main = m.snapshot_build("1.0-SNAPSHOT", "", "jar").unwrap();
        assert_eq!(main.value, "1.0-20261123.064116-2");
        assert_eq!(main.updated, "20261123064116");
        // A classifier without an entry falls back to <snapshot>.
        let other = m.snapshot_build("1.0-SNAPSHOT", "sources", "jar").unwrap();
        assert_eq!(other.value, "1.0-20261123.064116-2");
    }

    #[test]
    fn old_form_and_missing_parts() {
        let xml = r#"<?xml version="1.0"?><metadata><versioning><snapshot>
            <timestamp>20140102.030405</timestamp><buildNumber>7</buildNumber></snapshot>
            </versioning></metadata>"#;
        let m = Metadata::parse(xml).unwrap();
        let b = m.snapshot_build("2.1-SNAPSHOT", "x", "jar").unwrap();
        assert_eq!(b.value, "2.1-20140102.030405-7");
        assert_eq!(b.updated, "20140102030405");
        let local = Metadata::parse(
            "<metadata><versioning><snapshot><localCopy>true</localCopy></snapshot></versioning></metadata>",
        )
        .unwrap();
        assert_eq!(local.snapshot_build("1-SNAPSHOT", "", "jar"), None);
        let empty = Metadata::parse("<metadata/>").unwrap();
        assert_eq!(empty.newest(false), None);
    }

    #[test]
    fn latest_tag_wins_and_release_skips_snapshots() {
        let xml = "<metadata><versioning><latest>3.0-SNAPSHOT</latest><versions>\
            <version>1.9</version><version>1.10</version><version>3.0-SNAPSHOT</version>\
            </versions></versioning></metadata>";
        let m = Metadata::parse(xml).unwrap();
        assert_eq!(m.newest(false).as_deref(), Some("3.0-SNAPSHOT"));
        assert_eq!(m.newest(true).as_deref(), Some("1.10"));
        assert_eq!(
            merge_newest(["1.2".into(), "1.10".into(), "1.9".into()]).as_deref(),
            Some("1.10")
        );
    }

    #[test]
    fn bad_xml_is_an_error() {
        assert!(Metadata::parse("<metadata><versioning>").is_err());
        assert!(Metadata::parse("not xml").is_err());
    }

    #[test]
    fn timestamps_and_builds() {
        assert_eq!(
            timestamp_of("1.0-20261123.063745-12").as_deref(),
            Some("20261123063745")
        );
        assert_eq!(timestamp_of("1.0-SNAPSHOT"), None);
        assert_eq!(
            build_of("1.0-SNAPSHOT", "1.0-20261123.063745-12"),
            Some(("20261123.063745".into(), 12))
        );
        assert_eq!(build_of("1.0-SNAPSHOT", "1.0.1-20261123.063745-12"), None);
        assert_eq!(build_of("1.0", "1.0-20261123.063745-12"), None);
    }
}
