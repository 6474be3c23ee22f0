//! URLs in messages: the one credential redactor every URL shown to a user goes through
//! (store and repository URLs alike), and the one percent-decoder.

/// `url` with its `user:password@` replaced by `***@`, safe for a message. The authority
/// runs from `://` to the next `/`, and its user info up to the authority's last `@`, so a
/// password holding `@` is hidden whole. A URL without user info is returned as it is.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Decodes `%XX` escapes: an invalid escape is kept as written, and bytes that do not
/// form UTF-8 become U+FFFD.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_up_to_the_last_at_of_the_authority() {
        assert_eq!(redact("http://u:p@h/x"), "http://***@h/x");
        assert_eq!(redact("https://user:p@ss@host/x"), "https://***@host/x");
        assert_eq!(
            redact("etcd://user:se@cret@127.0.0.1:1,h2:2379/p"),
            "etcd://***@127.0.0.1:1,h2:2379/p"
        );
        // An `@` in the path is not user info.
        assert_eq!(redact("https://host/a@b"), "https://host/a@b");
        assert_eq!(redact("https://u:pw@host"), "https://***@host");
        for plain in ["/srv/store", "dir:///srv/store", "etcd://a:2379/sg", ""] {
            assert_eq!(redact(plain), plain);
        }
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("s3cr%21t"), "s3cr!t");
        assert_eq!(percent_decode("a%2Fb%20c%25"), "a/b c%");
        assert_eq!(percent_decode("%C3%BC"), "ü");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }
}
