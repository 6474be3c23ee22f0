//! The library's top-level error, and the failure a binary ends with.
//!
//! [`Error`] has one variant per scope, each wrapping that scope's own typed error, and
//! delegates [`Error::exit_code`] to it: every scope's error says its own code (the codes
//! are in [`crate::exit`]). A binary turns any of them into a [`Failure`], which fixes the
//! code as the error enters the binary, takes context as it goes up, and is printed once by
//! the binary's `main`. Nothing here prints.

use std::fmt::Display;

use crate::arbitration::guard::GuardError;
use crate::arbitration::options::SessionError;
use crate::cli::status::UsageError;
use crate::config::ConfigError;
use crate::debugging::runs::ViewError;
use crate::deployment::DeployError;
use crate::dispatch::error::DispatchError;
use crate::execution::ExecError;
use crate::exit;
use crate::farm::error::FarmError;
use crate::store::StoreError;
use crate::web::WebError;

/// Any failure of a scalegrease operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error(transparent)]
    Funnel(#[from] SessionError),
    #[error(transparent)]
    View(#[from] ViewError),
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Farm(#[from] FarmError),
    #[error(transparent)]
    Web(#[from] WebError),
}

impl Error {
    /// The documented exit code for this failure: the scope's own.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(e) => e.exit_code(),
            Error::Store(e) => e.exit_code(),
            Error::Deploy(e) => e.exit_code(),
            Error::Exec(e) => e.exit_code(),
            Error::Guard(e) => e.exit_code(),
            Error::Dispatch(e) => e.exit_code(),
            Error::Funnel(e) => e.exit_code(),
            Error::View(e) => e.exit_code(),
            Error::Usage(e) => e.exit_code(),
            Error::Farm(e) => e.exit_code(),
            Error::Web(e) => e.exit_code(),
        }
    }
}

/// How a binary ends when it does not succeed: an exit code, fixed where the error
/// arose, and the message to print once (none when the tool already said it, or when
/// greaserun passes a job's status through).
#[derive(Debug)]
pub struct Failure {
    code: i32,
    message: Option<String>,
}

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: i32, message: impl Display) -> Failure {
        Failure {
            code,
            message: Some(message.to_string()),
        }
    }

    /// A usage error found after clap parsed the line (exit 2).
    pub fn usage(message: impl Display) -> Failure {
        Failure::new(exit::USAGE, message)
    }

    /// An error that is no scalegrease error (serializing, formatting): a bug, exit 70.
    pub fn software(error: impl std::error::Error) -> Failure {
        Failure::new(exit::SOFTWARE, chain(&error))
    }

    /// Prefixes the message with `context` (`<context>: <message>`); the code stays.
    pub fn context(mut self, context: impl Display) -> Failure {
        self.message = self.message.map(|m| format!("{context}: {m}"));
        self
    }

    /// The exit code; never negative.
    pub fn code(&self) -> i32 {
        if self.code < 0 {
            exit::SOFTWARE
        } else {
            self.code
        }
    }

    /// The message to print, when there is one.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(e: E) -> Failure {
        let e: Error = e.into();
        Failure::new(e.exit_code(), chain(&e))
    }
}

impl From<std::io::Error> for Failure {
    /// Writing the tool's own output failed (stdout closed, disk full): exit 74.
    fn from(e: std::io::Error) -> Failure {
        Failure::new(exit::IO_ERR, chain(&e))
    }
}

/// Extension for results on their way out of a binary: add context to the failure.
pub trait Context<T> {
    /// On error, converts it to a [`Failure`] and prefixes its message with `context()`.
    fn with_context<C: Display>(self, context: impl FnOnce() -> C) -> Result<T, Failure>;
}

impl<T, E: Into<Failure>> Context<T> for Result<T, E> {
    fn with_context<C: Display>(self, context: impl FnOnce() -> C) -> Result<T, Failure> {
        self.map_err(|e| e.into().context(context()))
    }
}

/// `error: source: source's source ...`, the whole chain on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut s = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        s.push_str(": ");
        s.push_str(&e.to_string());
        next = e.source();
    }
    s
}

/// The exit code and the message (if any) to end a binary with: `result`'s code, or the
/// failure's. The binary prints the message as `<tool>: error: <message>` and exits.
pub fn outcome(result: Result<i32, Failure>) -> (i32, Option<String>) {
    match result {
        Ok(code) if code < 0 => (exit::SOFTWARE, None),
        Ok(code) => (code, None),
        Err(f) => (f.code(), f.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_keeps_its_code_through_context() {
        let e = StoreError::Unmarked {
            location: "/s".into(),
            marker: ".m".into(),
        };
        let f = Failure::from(ViewError::Store(e)).context("log of x");
        assert_eq!(f.code(), exit::UNAVAILABLE);
        assert!(f.message().unwrap().starts_with("log of x: store /s"));
    }

    #[test]
    fn an_io_error_is_printed_with_its_chain_once() {
        let e = std::io::Error::other("disk full");
        let (code, msg) = outcome(Err(e.into()));
        assert_eq!((code, msg.as_deref()), (exit::IO_ERR, Some("disk full")));
    }
}
