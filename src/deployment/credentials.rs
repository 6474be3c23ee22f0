//! A repository's basic-auth credentials: from two environment variables, a credentials
//! file, or the URL's `user:password@`, in that order. The credentials file is a secret:
//! it is refused (exit 78, naming the file and its mode) when its group or others may
//! read it, as ssh refuses a private key others can read. The mode is taken from the
//! opened file, so a swap between the check and the read cannot slip a readable file in.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use super::DeployError;
use crate::config;
use crate::util::env::expand_path;
use crate::util::url::percent_decode;

/// `user:password` from the environment, the credentials file, or the URL, in that order.
pub(super) fn credentials(
    r: &config::Repository,
    userinfo: Option<&str>,
    base: &str,
) -> Result<Option<String>, DeployError> {
    let bad = |reason: String| DeployError::Config { reason };
    if r.username_env.is_some() || r.password_env.is_some() {
        let var = |name: &Option<String>, what: &str| -> Result<String, DeployError> {
            let Some(name) = name else {
                return Err(bad(format!(
                    "repository {base}: username_env and password_env must be set together ({what} missing)"
                )));
            };
            std::env::var(name).map_err(|_| {
                bad(format!(
                    "repository {base}: environment variable {name} (the {what}) is not set"
                ))
            })
        };
        let user = var(&r.username_env, "user name")?;
        let pass = var(&r.password_env, "password")?;
        return Ok(Some(format!("{user}:{pass}")));
    }
    if let Some(file) = &r.credentials_file {
        let path = expand_path(file);
        let text = read_secret(&path).map_err(|reason| {
            bad(format!(
                "repository {base}: credentials file {path}: {reason}"
            ))
        })?;
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        if !line.contains(':') {
            return Err(bad(format!(
                "repository {base}: credentials file {path} must hold user:password on its first line"
            )));
        }
        return Ok(Some(line.to_string()));
    }
    Ok(userinfo.map(percent_decode))
}

/// Reads a file that holds a secret, refusing one its group or others may read.
fn read_secret(path: &str) -> Result<String, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read it: {}", e.kind()))?;
    let meta = f
        .metadata()
        .map_err(|e| format!("cannot read it: {}", e.kind()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "mode {mode:04o} lets its group or others read the secret; refused (chmod 600 {path})"
        ));
    }
    let mut text = String::new();
    f.read_to_string(&mut text)
        .map_err(|e| format!("cannot read it: {}", e.kind()))?;
    Ok(text)
}

/// `Basic <base64(user:password)>`.
pub(super) fn basic(user_pass: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(user_pass);
    format!("Basic {encoded}")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A repository setting with only a URL (the deployment scope's tests share it).
    pub(in crate::deployment) fn repo(url: &str) -> config::Repository {
        config::Repository {
            url: url.into(),
            username_env: None,
            password_env: None,
            credentials_file: None,
        }
    }

    #[test]
    fn basic_auth_encoding() {
        assert_eq!(
            basic("Aladdin:open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic("a:b"), "Basic YTpi");
        assert_eq!(basic("ab:c"), "Basic YWI6Yw==");
    }

    #[test]
    fn credentials_from_env_and_file() {
        let mut r = repo("http://h/r");
        r.username_env = Some("SG_TEST_REPO_USER_UNSET".into());
        r.password_env = Some("SG_TEST_REPO_PASS_UNSET".into());
        let e = credentials(&r, None, "http://h/r").unwrap_err().to_string();
        assert!(e.contains("SG_TEST_REPO_USER_UNSET"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("creds");
        std::fs::write(&f, "alice:pa:ss\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut r = repo("http://h/r");
        r.credentials_file = Some(f.to_str().unwrap().into());
        let up = credentials(&r, None, "http://h/r").unwrap();
        assert_eq!(up.as_deref(), Some("alice:pa:ss"));
    }

    #[test]
    fn readable_credentials_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("creds");
        std::fs::write(&f, "alice:secret\n").unwrap();
        let mut r = repo("http://h/r");
        r.credentials_file = Some(f.to_str().unwrap().into());
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = credentials(&r, None, "http://h/r").unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::CONFIG);
            let s = e.to_string();
            assert!(s.contains(&format!("mode {mode:04o}")), "{s}");
            assert!(
                s.contains(f.to_str().unwrap()) && !s.contains("secret\n"),
                "{s}"
            );
        }
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(credentials(&r, None, "http://h/r").is_ok());
    }
}
