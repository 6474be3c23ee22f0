//! greasestatus's values that clap cannot check, validated into typed values once: the
//! time zone (`--tz`), the time to evaluate at (`--at`), a run's slot (`--slot`), the
//! start of a history (`--since`) and the web server's address (`--listen`). A bad one is a [`UsageError`] (exit 2) naming the flag.

use chrono::{DateTime, Utc};

use crate::debugging::runs;
use crate::dispatch::schedule::{self, Zone};
use crate::exit;
use crate::model::slot::Slot;

/// A value given on the command line that does not parse; the message names the flag.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// Always [`exit::USAGE`].
    pub fn exit_code(&self) -> i32 {
        exit::USAGE
    }
}

/// `--tz`: an IANA zone name; the host's zone (TZ, /etc/timezone, /etc/localtime) when
/// none is given.
pub fn zone(name: Option<&str>) -> Result<Zone, UsageError> {
    match name {
        None => Ok(Zone::host()),
        Some(t) => {
            Zone::named(t).ok_or_else(|| UsageError(format!("unknown time zone {t:?} for --tz")))
        }
    }
}

/// `--at`: RFC 3339, or `YYYY-MM-DD HH:MM` in `zone`; now when none is given.
pub fn at(text: Option<&str>, zone: Zone) -> Result<DateTime<Utc>, UsageError> {
    match text {
        None => Ok(Utc::now()),
        Some(t) => schedule::parse_time(t, zone).map_err(|e| UsageError(format!("--at: {e}"))),
    }
}

/// `--slot`: local time or RFC 3339; `None` (the latest run) when none is given.
pub fn slot(text: Option<&str>) -> Result<Option<Slot>, UsageError> {
    text.map(|t| Slot::parse(t).map_err(|e| UsageError(format!("--slot: {e}"))))
        .transpose()
}

/// `--since`: a time or an age before `now`; `None` (all history kept) when none is given.
pub fn since(text: Option<&str>, now: DateTime<Utc>) -> Result<Option<Slot>, UsageError> {
    text.map(|t| runs::parse_since(t, now).map_err(|e| UsageError(e.to_string())))
        .transpose()
}

/// `--listen` (else the config's `web.listen`): `HOST:PORT` or `[IPv6]:PORT`.
pub fn listen(flag: Option<&str>, configured: &str) -> Result<std::net::SocketAddr, UsageError> {
    let text = flag.unwrap_or(configured);
    text.parse().map_err(|_| {
        let from = if flag.is_some() {
            "--listen"
        } else {
            "web.listen"
        };
        UsageError(format!(
            "{from}: {text:?} is not an address and port such as 127.0.0.1:8080 or [::1]:8080"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_usage_errors_naming_their_flag() {
        let e = zone(Some("Mars/Olympus")).unwrap_err();
        assert_eq!(e.exit_code(), exit::USAGE);
        assert!(e.0.contains("--tz"), "{e}");
        assert!(
            at(Some("soon"), Zone::Local)
                .unwrap_err()
                .0
                .starts_with("--at: ")
        );
        assert!(slot(Some("x")).unwrap_err().0.starts_with("--slot: "));
        assert!(
            since(Some("x"), Utc::now())
                .unwrap_err()
                .0
                .contains("--since")
        );
        assert_eq!(slot(None).unwrap(), None);
        assert!(
            listen(Some("localhost"), "")
                .unwrap_err()
                .0
                .starts_with("--listen: ")
        );
        assert!(
            listen(None, "x:1")
                .unwrap_err()
                .0
                .starts_with("web.listen: ")
        );
        assert_eq!(listen(None, "127.0.0.1:8080").unwrap().port(), 8080);
    }
}
