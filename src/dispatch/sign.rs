//! Signed bundles: Ed25519 key pairs for CI, the signature greaselaunch adds to a bundle,
//! and the check greasesnatch makes against `launch.trusted_keys` (see docs/security.md).
//!
//! A public key is one line, `scalegrease-ed25519 <base64 of 32 bytes> <comment>`; the
//! private key file holds `scalegrease-ed25519-private <base64 seed> <comment>` and must
//! not be group- or world-readable. The signature covers [`Bundle::signed_bytes`]:
//! everything a worker acts on (project, crontabs, launched_at, launched_by, revision).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::bundle::{Bundle, BundleSignature};
use super::error::DispatchError;
pub use crate::config::TrustedKeySetting;

/// The first word of a public-key line.
pub const PUBLIC_TAG: &str = "scalegrease-ed25519";
/// The first word of a private key file.
pub const PRIVATE_TAG: &str = "scalegrease-ed25519-private";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn key_err(path: &Path, why: impl Into<String>) -> DispatchError {
    DispatchError::SigningKey {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// Writes a new key pair: `path` (private, mode 0600, created exclusively) and
/// `path.pub` (the public-key line). Returns the public-key line.
pub fn generate(path: &Path, comment: &str) -> Result<String, DispatchError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| key_err(path, format!("no randomness: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    let comment = comment.replace(char::is_whitespace, "_");
    let public = format!(
        "{PUBLIC_TAG} {} {comment}",
        b64().encode(key.verifying_key().as_bytes())
    );
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    let write = |p: &Path, text: &str, mode: u32| -> Result<(), DispatchError> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(p)
            .map_err(|e| key_err(p, format!("cannot create it: {e}")))?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .and_then(|()| f.write_all(text.as_bytes()))
            .and_then(|()| f.sync_all())
            .map_err(|e| key_err(p, format!("cannot write it: {e}")))
    };
    if pub_path.exists() {
        return Err(key_err(&pub_path, "already exists; not overwritten"));
    }
    let private = format!("{PRIVATE_TAG} {} {comment}\n", b64().encode(seed));
    write(path, &private, 0o600)?;
    write(&pub_path, &format!("{public}\n"), 0o644)?;
    Ok(public)
}

/// Reads a private key file, refusing one that is group- or world-readable.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, DispatchError> {
    let meta =
        std::fs::metadata(path).map_err(|e| key_err(path, format!("cannot read it: {e}")))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(key_err(
            path,
            format!(
                "mode {mode:04o} lets other users read the private key (chmod 600 {})",
                path.display()
            ),
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| key_err(path, format!("cannot read it: {e}")))?;
    let mut words = text.split_whitespace();
    let seed = match (words.next(), words.next()) {
        (Some(PRIVATE_TAG), Some(seed)) => b64().decode(seed).ok(),
        _ => None,
    };
    let seed: [u8; 32] = seed
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| key_err(path, format!("not a {PRIVATE_TAG} key file")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Signs `b` in place with `key`.
pub fn sign(b: &mut Bundle, key: &SigningKey) {
    let sig = key.sign(&b.signed_bytes());
    b.signature = Some(BundleSignature {
        key: b64().encode(key.verifying_key().as_bytes()),
        sig: b64().encode(sig.to_bytes()),
    });
}

/// A public-key line, as `launch.trusted_keys` holds it.
pub fn parse_public(line: &str) -> Result<VerifyingKey, String> {
    let mut words = line.split_whitespace();
    if words.next() != Some(PUBLIC_TAG) {
        return Err(format!("a trusted key must start with {PUBLIC_TAG:?}"));
    }
    let bytes: [u8; 32] = words
        .next()
        .and_then(|k| b64().decode(k).ok())
        .and_then(|k| k.try_into().ok())
        .ok_or("the key is not 32 bytes of base64")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 key: {e}"))
}

/// A trusted key, parsed.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    key: VerifyingKey,
    /// `None`: every group. A pattern `com.example.*` allows `com.example` and its
    /// subgroups; any other pattern allows exactly that group.
    groups: Option<Vec<String>>,
}

impl TrustedKey {
    /// Parses a setting; the error says what is wrong with it.
    pub fn from_setting(s: &TrustedKeySetting) -> Result<TrustedKey, String> {
        Ok(match s {
            TrustedKeySetting::All(line) => TrustedKey {
                key: parse_public(line)?,
                groups: None,
            },
            TrustedKeySetting::Limited { key, groups } => TrustedKey {
                key: parse_public(key)?,
                groups: Some(groups.clone()),
            },
        })
    }

    fn allows(&self, group: &str) -> bool {
        self.groups
            .as_ref()
            .is_none_or(|gs| gs.iter().any(|g| crate::model::group::matches(g, group)))
    }
}

/// A short name of a key for messages: the first 16 characters of its base64.
pub fn key_id(b64_key: &str) -> String {
    b64_key.chars().take(16).collect()
}

/// Checks `b`'s signature against `trusted`: `Err(why)` when it is unsigned, signed by a
/// key not trusted (or not for its group), or the signature does not match.
pub fn verify(b: &Bundle, trusted: &[TrustedKey]) -> Result<(), String> {
    let s = b
        .signature
        .as_ref()
        .ok_or("unsigned, and launch.trusted_keys is set")?;
    let id = key_id(&s.key);
    let key = b64()
        .decode(&s.key)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or_else(|| format!("signed by a malformed key {id}"))?;
    let matching: Vec<&TrustedKey> = trusted
        .iter()
        .filter(|t| t.key.as_bytes() == &key)
        .collect();
    if matching.is_empty() {
        return Err(format!(
            "signed by key {id}, which is not in launch.trusted_keys"
        ));
    }
    if !matching.iter().any(|t| t.allows(&b.group_id)) {
        return Err(format!(
            "signed by key {id}, which is not trusted for group {}",
            b.group_id
        ));
    }
    let sig = b64()
        .decode(&s.sig)
        .ok()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
        .map(|s| Signature::from_bytes(&s))
        .ok_or("malformed signature")?;
    matching[0]
        .key
        .verify(&b.signed_bytes(), &sig)
        .map_err(|_| format!("bad signature (key {id}): the bundle was altered or forged"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::bundle::CrontabFile;
    use crate::dispatch::project::Project;

    fn bundle(group: &str) -> Bundle {
        let p = Project {
            group: group.into(),
            artifact: "jobs".into(),
        };
        let c = vec![CrontabFile {
            name: "a.cron".into(),
            content: "* * * * * u greaserun x\n".into(),
        }];
        Bundle::new(&p, c, "2026-11-23T06:00:00Z".into(), "ci@b".into(), None)
    }

    #[test]
    fn sign_verify_tamper_groups() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("k");
        let line = generate(&path, "ci key").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(generate(&path, "x").is_err());
        let key = load_signing_key(&path).unwrap();
        let all = TrustedKey::from_setting(&TrustedKeySetting::All(line.clone())).unwrap();
        let mut b = bundle("com.example.sub");
        assert!(
            verify(&b, std::slice::from_ref(&all))
                .unwrap_err()
                .contains("unsigned")
        );
        sign(&mut b, &key);
        verify(&b, std::slice::from_ref(&all)).unwrap();
        let limited = |g: &str| {
            TrustedKey::from_setting(&TrustedKeySetting::Limited {
                key: line.clone(),
                groups: vec![g.into()],
            })
            .unwrap()
        };
        verify(&b, &[limited("com.example.*")]).unwrap();
        assert!(verify(&b, &[limited("com.example")]).is_err());
        assert!(verify(&b, &[limited("com.ex.*")]).is_err());
        let mut t = b.clone();
        t.launched_by = "evil".into();
        assert!(verify(&t, &[all]).unwrap_err().contains("bad signature"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(
            load_signing_key(&path)
                .unwrap_err()
                .to_string()
                .contains("0640")
        );
    }
}
