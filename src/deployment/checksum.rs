//! Checksums as repositories publish them beside each file (`.sha512`, `.sha256`, `.sha1`,
//! asked for strongest first), their text formats, and a hasher fed while a download streams.

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// A checksum algorithm a repository may publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha512,
    Sha256,
    Sha1,
}

impl Algorithm {
    /// Strongest first: the order in which checksum files are asked for.
    pub const PREFERRED: [Algorithm; 3] = [Algorithm::Sha512, Algorithm::Sha256, Algorithm::Sha1];

    /// The checksum file's extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Algorithm::Sha512 => "sha512",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha1 => "sha1",
        }
    }

    /// Hex digits in a digest.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha512 => 128,
            Algorithm::Sha256 => 64,
            Algorithm::Sha1 => 40,
        }
    }

    /// A fresh hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            Algorithm::Sha512 => Hasher::Sha512(Box::default()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha1 => Hasher::Sha1(Sha1::new()),
        }
    }
}

/// An expected digest, parsed from a checksum file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub algorithm: Algorithm,
    /// Lower-case hex.
    pub hex: String,
}

/// Parses a checksum file's text: bare hex, upper or lower case, optionally followed by
/// a file name (`hash  name`, `hash *name`), or BSD style (`SHA1 (name) = hash`). The
/// first whitespace-separated token of the right length made of hex digits is the digest.
pub fn parse(text: &str, algorithm: Algorithm) -> Result<Expected, String> {
    let want = algorithm.hex_len();
    text.split_whitespace()
        .find(|t| t.len() == want && t.chars().all(|c| c.is_ascii_hexdigit()))
        .map(|t| Expected {
            algorithm,
            hex: t.to_ascii_lowercase(),
        })
        .ok_or_else(|| {
            let shown: String = text.chars().take(80).collect();
            format!(
                "no {want}-digit hex {} digest in {shown:?}",
                algorithm.extension()
            )
        })
}

/// A running digest.
pub enum Hasher {
    Sha512(Box<Sha512>),
    Sha256(Sha256),
    Sha1(Sha1),
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha512(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha1(h) => h.update(bytes),
        }
    }

    /// The digest as lower-case hex.
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha512(h) => hex::encode(h.finalize()),
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha1(h) => hex::encode(h.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA1: &str = "f572d396fae9206628714fb2ce00f72e94f2258f"; // "hello\n"

    #[test]
    fn formats_real_repositories_use() {
        let up = HELLO_SHA1.to_uppercase();
        for text in [
            HELLO_SHA1.to_string(),
            format!("{HELLO_SHA1}\n"),
            up.clone(),
            format!("{HELLO_SHA1}  job-1.0.jar\n"),
            format!("{up} *job-1.0.jar"),
            format!("SHA1 (job-1.0.jar) = {HELLO_SHA1}"),
        ] {
            let e = parse(&text, Algorithm::Sha1).unwrap();
            assert_eq!(e.hex, HELLO_SHA1, "{text:?}");
        }
    }

    #[test]
    fn wrong_length_or_garbage_is_an_error() {
        assert!(parse("abc", Algorithm::Sha1).is_err());
        let e = parse(HELLO_SHA1, Algorithm::Sha256).unwrap_err();
        assert!(e.contains("64-digit"), "{e}");
        assert!(parse("<html>404</html>", Algorithm::Sha512).is_err());
    }

    #[test]
    fn hashers_match_known_digests() {
        let mut h = Algorithm::Sha1.hasher();
        h.update(b"hel");
        h.update(b"lo\n");
        assert_eq!(h.finish_hex(), HELLO_SHA1);
        let mut h = Algorithm::Sha256.hasher();
        h.update(b"hello\n");
        assert_eq!(
            h.finish_hex(),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(Algorithm::Sha512.hasher().finish_hex().len(), 128);
    }
}
