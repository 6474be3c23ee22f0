//! Who may press Run now: the users file (`web.users`: `name:$argon2id$...` lines, made
//! with `greasestatus passwd NAME`; refused when group or others can read it, like a
//! signing key), signed-in sessions kept in memory (a random id in an `HttpOnly;
//! SameSite=Strict` cookie), and each session's random CSRF token, which every write
//! form carries in a hidden field and every POST must match.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::http::HeaderMap;

use crate::web::error::WebError;

/// The session cookie's name.
pub const COOKIE: &str = "scalegrease_session";
/// How long a session lasts after signing in.
pub const SESSION_LIFE: Duration = Duration::from_secs(12 * 3600);
/// At most this many live sessions (the oldest is dropped past it).
const MAX_SESSIONS: usize = 10_000;

/// The users who may sign in, by name, with their argon2 PHC hash.
#[derive(Debug, Default, Clone)]
pub struct Users(HashMap<String, String>);

impl Users {
    /// Reads a users file: one `name:hash` a line; blank lines and `#` comments skipped.
    /// Refused when group or others may read it, or a line is not `name:$argon2...`.
    pub fn load(path: &Path) -> Result<Users, WebError> {
        let err = |why: String| WebError::Users {
            path: path.display().to_string(),
            why,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "mode {mode:04o} lets other users read the password hashes (chmod 600 {})",
                path.display()
            )));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((name, hash)) if !name.is_empty() && PasswordHash::new(hash).is_ok() => {
                    users.insert(name.to_string(), hash.to_string());
                }
                _ => {
                    return Err(err(format!(
                        "line {}: not `name:$argon2id$...` (make one with `greasestatus passwd NAME`)",
                        n + 1
                    )));
                }
            }
        }
        Ok(Users(users))
    }

    /// Whether anyone can sign in at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `password` is `name`'s (an argon2 verification: tens of milliseconds, so
    /// call it off the async threads).
    pub fn verify(&self, name: &str, password: &str) -> bool {
        let Some(hash) = self.0.get(name) else {
            return false;
        };
        PasswordHash::new(hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    }
}

/// An argon2id hash of `password` with a fresh random salt, as a PHC string.
pub fn hash(password: &str) -> Result<String, WebError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| WebError::Internal(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| WebError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| WebError::Internal(format!("cannot hash the password: {e}")))
}

/// A random token of 32 bytes, hex: session ids and CSRF tokens.
pub fn token() -> Result<String, WebError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| WebError::Internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// Whether two tokens are equal, in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// A signed-in user's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    /// The token every write form must carry.
    pub csrf: String,
    expires: Instant,
}

/// The live sessions, by id.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    /// Starts a session for `user`; returns its id (the cookie's value).
    pub fn start(&self, user: &str) -> Result<String, WebError> {
        let id = token()?;
        let s = Session {
            user: user.to_string(),
            csrf: token()?,
            expires: Instant::now() + SESSION_LIFE,
        };
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(old) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            map.remove(&old);
        }
        map.insert(id.clone(), s);
        Ok(id)
    }

    /// The live session the request's cookie names, if any.
    pub fn of(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers)?;
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| (id.clone(), s.clone()))
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

/// The session id in the request's `Cookie` header.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value that stores session `id` (empty and expired to sign out).
pub fn set_cookie(id: Option<&str>) -> String {
    match id {
        Some(id) => format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            SESSION_LIFE.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

/// Refuses a POST whose `Origin` header names another site than `Host` (a second check
/// beside the token and the SameSite cookie; browsers send Origin on every POST).
pub fn same_origin(headers: &HeaderMap) -> Result<(), WebError> {
    let get = |h| headers.get(h).and_then(|v| v.to_str().ok());
    match (
        get(axum::http::header::ORIGIN),
        get(axum::http::header::HOST),
    ) {
        (Some(origin), Some(host)) if origin != "null" => {
            let o = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            if o == host {
                Ok(())
            } else {
                Err(WebError::Forbidden(format!(
                    "a form from {origin} may not write here"
                )))
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        let users = Users([("ann".to_string(), h)].into_iter().collect());
        assert!(users.verify("ann", "s3cret"));
        assert!(!users.verify("ann", "s3cret "));
        assert!(!users.verify("bob", "s3cret"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }

    #[test]
    fn a_users_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("users");
        std::fs::write(&p, format!("ann:{}\n", hash("x").unwrap())).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            Users::load(&p)
                .unwrap_err()
                .to_string()
                .contains("chmod 600")
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Users::load(&p).unwrap().verify("ann", "x"));
        std::fs::write(&p, "ann:plain\n").unwrap();
        assert!(Users::load(&p).unwrap_err().to_string().contains("line 1"));
    }
}
