//! A bundle: everything greaselaunch publishes for one project, as one JSON value under
//! the store key `bundles/<group>__<artifact>`.
//!
//! ```json
//! {"version": 1, "group_id": "com.example", "artifact_id": "jobs",
//!  "crontabs": [{"name": "nightly.cron", "content": "30 2 * * * batch greaserun ...\n"}],
//!  "launched_at": "2026-11-23T06:00:00Z", "launched_by": "ci@build1",
//!  "revision": "3f2a...", "digest": "sha256:..."}
//! ```
//!
//! It extends the original scalegrease launch message (`version`, `group_id`,
//! `artifact_id`, `crontabs`). The digest is SHA-256 over the bundle's JSON with an empty
//! `digest`, so a truncated or altered bundle is detected on every worker. It is not a
//! secret: authenticity comes from the optional `signature` (see [`super::sign`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::project::Project;
use crate::model::keys;

/// The bundle format version.
pub const VERSION: u32 = 1;

/// One crontab file of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrontabFile {
    /// The file's name relative to the cron glob's base (e.g. `nightly.cron`).
    pub name: String,
    pub content: String,
}

/// A published bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub version: u32,
    pub group_id: String,
    pub artifact_id: String,
    pub crontabs: Vec<CrontabFile>,
    /// RFC 3339 UTC.
    pub launched_at: String,
    /// `user@host`.
    pub launched_by: String,
    /// The source revision (`git rev-parse HEAD`), if known.
    pub revision: Option<String>,
    /// `sha256:<hex>` over the bundle with an empty digest and no signature.
    pub digest: String,
    /// The Ed25519 signature over [`Bundle::signed_bytes`] (see [`super::sign`]), when
    /// greaselaunch was given a signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<BundleSignature>,
    /// The project's own alert routing (`[alerts]` of its scalegrease.toml), covered by
    /// the digest and the signature; absent (and so out of both) when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<BundleAlerts>,
}

/// A project's own alert routing: a webhook URL, its body format and the event kinds
/// sent. Never a command: a store writer must not run code on the farm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleAlerts {
    pub webhook: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<crate::config::AlertFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<String>>,
}

/// A bundle's signature: the signer's public key and the signature, both base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleSignature {
    pub key: String,
    pub sig: String,
}

/// What a signature covers: everything a worker acts on, in a fixed field order.
#[derive(Serialize)]
struct Signed<'a> {
    version: u32,
    group_id: &'a str,
    artifact_id: &'a str,
    crontabs: &'a [CrontabFile],
    launched_at: &'a str,
    launched_by: &'a str,
    revision: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<&'a BundleAlerts>,
}

impl Bundle {
    /// A new bundle with its digest computed.
    pub fn new(
        project: &Project,
        crontabs: Vec<CrontabFile>,
        launched_at: String,
        launched_by: String,
        revision: Option<String>,
    ) -> Bundle {
        let mut b = Bundle {
            version: VERSION,
            group_id: project.group.clone(),
            artifact_id: project.artifact.clone(),
            crontabs,
            launched_at,
            launched_by,
            revision,
            digest: String::new(),
            signature: None,
            alerts: None,
        };
        b.digest = b.compute_digest();
        b
    }

    /// This bundle with the project's alert routing, its digest recomputed.
    pub fn with_alerts(mut self, alerts: Option<BundleAlerts>) -> Bundle {
        self.alerts = alerts;
        self.digest = self.compute_digest();
        self
    }

    /// The project this bundle is for.
    pub fn project(&self) -> Project {
        Project {
            group: self.group_id.clone(),
            artifact: self.artifact_id.clone(),
        }
    }

    /// The digest this bundle's content should carry.
    pub fn compute_digest(&self) -> String {
        let mut copy = self.clone();
        copy.digest.clear();
        copy.signature = None;
        let json = serde_json::to_vec(&copy).expect("a bundle serialises");
        format!("sha256:{}", hex::encode(Sha256::digest(&json)))
    }

    /// The canonical bytes a signature covers: a domain tag, then the JSON of the
    /// version, project, crontabs, launched_at, launched_by, revision and (when set)
    /// alerts.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = b"scalegrease-bundle-v1\0".to_vec();
        let signed = Signed {
            version: self.version,
            group_id: &self.group_id,
            artifact_id: &self.artifact_id,
            crontabs: &self.crontabs,
            launched_at: &self.launched_at,
            launched_by: &self.launched_by,
            revision: self.revision.as_deref(),
            alerts: self.alerts.as_ref(),
        };
        out.extend(serde_json::to_vec(&signed).expect("a bundle serialises"));
        out
    }

    /// Parses a stored bundle and checks its version, digest and key.
    pub fn decode(key: &str, bytes: &[u8]) -> Result<Bundle, String> {
        if bytes.is_empty() {
            // The directory store gives an entry it refused to follow (a symlink, a fifo)
            // as empty, after a warning naming it.
            return Err(
                "not a valid bundle: the entry is empty, or is not a regular file and was not read"
                    .into(),
            );
        }
        let b: Bundle = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a valid bundle ({} bytes): {e}", bytes.len()))?;
        if b.version != VERSION {
            return Err(format!(
                "bundle format version {} is not {VERSION} (upgrade scalegrease on this worker)",
                b.version
            ));
        }
        let want = b.compute_digest();
        if b.digest != want {
            return Err(format!(
                "digest mismatch: the bundle says {} but its content hashes to {want}",
                b.digest
            ));
        }
        if key != key_for(&b.project()) {
            return Err(format!(
                "bundle for {} is stored under the wrong key",
                b.project()
            ));
        }
        Ok(b)
    }

    /// The bundle as stored.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a bundle serialises")
    }
}

/// The store key of a project's bundle.
pub fn key_for(project: &Project) -> String {
    keys::bundle(&project.group, &project.artifact)
}

/// The project a bundle key names (even when the bundle itself is unreadable).
pub fn project_of_key(key: &str) -> Option<Project> {
    let name = key.strip_prefix(keys::BUNDLES)?.strip_prefix('/')?;
    let (group, artifact) = name.split_once("__")?;
    Some(Project {
        group: group.to_string(),
        artifact: artifact.to_string(),
    })
}

/// Replaces every character outside `[A-Za-z0-9_-]` with `_` (cron ignores other names).
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The beginning of every installed file name of `project`.
pub fn installed_prefix(prefix: &str, project: &Project) -> String {
    format!(
        "{}__{}__{}__",
        sanitize(prefix),
        sanitize(&project.group),
        sanitize(&project.artifact)
    )
}

/// The installed file name `<prefix>__<group>__<artifact>__<name>`, sanitised.
pub fn installed_name(prefix: &str, project: &Project, name: &str) -> String {
    format!("{}{}", installed_prefix(prefix, project), sanitize(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project {
            group: "com.example".into(),
            artifact: "jobs".into(),
        }
    }

    fn bundle() -> Bundle {
        Bundle::new(
            &project(),
            vec![CrontabFile {
                name: "nightly.cron".into(),
                content: "* * * * * a greaserun x\n".into(),
            }],
            "2026-11-23T06:00:00Z".into(),
            "ci@build".into(),
            Some("abc".into()),
        )
    }

    #[test]
    fn round_trip_and_digest() {
        let b = bundle();
        let key = key_for(&b.project());
        assert_eq!(key, "bundles/com.example__jobs");
        assert_eq!(Bundle::decode(&key, &b.encode()).unwrap(), b);
        assert_eq!(project_of_key(&key), Some(project()));
        let mut tampered = b.clone();
        tampered.crontabs[0].content = "* * * * * root rm -rf /\n".into();
        let bytes = serde_json::to_vec(&tampered).unwrap();
        assert!(
            Bundle::decode(&key, &bytes)
                .unwrap_err()
                .contains("digest mismatch")
        );
        let enc = b.encode();
        assert!(
            Bundle::decode(&key, &enc[..enc.len() / 2])
                .unwrap_err()
                .contains("not a valid bundle")
        );
        assert!(
            Bundle::decode("bundles/x__y", &enc)
                .unwrap_err()
                .contains("wrong key")
        );
    }

    #[test]
    fn stored_format() {
        // Compatible with the original launch message: version, group_id, artifact_id,
        // crontabs [{name, content}]; the rest is added.
        insta::assert_snapshot!(String::from_utf8(bundle().encode()).unwrap());
    }

    #[test]
    fn names() {
        assert_eq!(
            installed_name("scalegrease", &project(), "sub/nightly.cron"),
            "scalegrease__com_example__jobs__sub_nightly_cron"
        );
    }
}
