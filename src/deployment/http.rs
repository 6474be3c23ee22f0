//! The http side of a repository: the one ureq agent a resolve shares (timeouts from
//! config, status codes as values, no decompression, at most 5 redirects) and one GET,
//! its status mapped to a [`FetchError`] and its deadline, headers and body, applied.

use std::io::Read;
use std::time::Duration;

use super::repository::{FetchError, Opened};
use crate::config;

/// The HTTP client all repositories of one resolve share (so connections are reused).
pub fn agent(maven: &config::Maven) -> ureq::Agent {
    let t = Some(maven.timeout).filter(|d| !d.is_zero());
    let c = Some(maven.connect_timeout).filter(|d| !d.is_zero());
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(c)
        .timeout_resolve(c)
        .timeout_recv_response(t)
        .timeout_per_read(t)
        .accept_encoding("identity")
        .user_agent(concat!("scalegrease/", env!("CARGO_PKG_VERSION")))
        .max_redirects(5)
        .build()
        .into()
}

pub(super) fn open_http(
    agent: &ureq::Agent,
    auth: Option<&str>,
    url: &str,
    offset: u64,
    within: Option<Duration>,
) -> Result<Opened, FetchError> {
    let mut req = agent.get(url).config().timeout_global(within).build();
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    if offset > 0 {
        req = req.header("Range", format!("bytes={offset}-"));
    }
    let resp = req.call().map_err(|e| classify(&e))?;
    let status = resp.status().as_u16();
    if !matches!(status, 200 | 206) {
        // Read the (small) error body so the connection goes back to the pool: the next
        // request (the next checksum, the jar) then skips the TCP and TLS handshakes.
        let mut body = resp.into_body().into_reader().take(64 << 10);
        let _ = std::io::copy(&mut body, &mut std::io::sink());
        return Err(match status {
            404 | 410 => FetchError::NotFound,
            416 => FetchError::RangeRejected,
            401 | 403 => FetchError::Fatal(format!(
                "HTTP {status}: access denied (check the repository's credentials)"
            )),
            408 | 429 | 500..=599 => FetchError::Transient(format!("HTTP {status}")),
            _ => FetchError::Fatal(format!("unexpected HTTP {status}")),
        });
    }
    let len = resp.body().content_length();
    let mut start = 0;
    if status == 206 {
        let range = resp
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match content_range_start(range) {
            Some(s) if s == offset => start = s,
            _ => {
                return Err(FetchError::Transient(format!(
                    "HTTP 206 with unexpected Content-Range {range:?}"
                )));
            }
        }
    }
    Ok(Opened {
        reader: Box::new(resp.into_body().into_reader()),
        offset: start,
        len,
    })
}

/// `bytes 100-199/200` gives 100.
fn content_range_start(v: &str) -> Option<u64> {
    let r = v.trim().strip_prefix("bytes")?.trim_start();
    r.split('-').next()?.trim().parse().ok()
}

fn classify(e: &ureq::Error) -> FetchError {
    match e {
        ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::Tls(_) => FetchError::Fatal(e.to_string()),
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => {
            FetchError::Unusable(e.to_string())
        }
        _ => FetchError::Transient(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("items 1-2/3"), None);
    }
}
