//! The library's top-level error: one variant per scope, each wrapping that scope's own
//! typed error. Binaries add context with `anyhow` and map this to an exit code with
//! [`Error::exit_code`] (the codes are in [`crate::exit`]).

use crate::arbitration::guard::GuardError;
use crate::arbitration::options::SessionError;
use crate::config::ConfigError;
use crate::deployment::DeployError;
use crate::dispatch::error::DispatchError;
use crate::execution::ExecError;
use crate::exit;
use crate::store::StoreError;

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
}

impl Error {
    /// The documented exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => exit::CONFIG,
            Error::Store(e) => e.exit_code(),
            Error::Deploy(e) => e.exit_code(),
            Error::Exec(e) => e.exit_code(),
            Error::Guard(e) => guard_exit_code(e),
            Error::Dispatch(e) => e.exit_code(),
            Error::Funnel(e) => e.exit_code(),
        }
    }
}

fn guard_exit_code(e: &GuardError) -> i32 {
    match e {
        GuardError::Refused(_) => exit::TEMP_FAIL,
        GuardError::Measure(_) => exit::OS_ERR,
    }
}

/// Finds the exit code for an `anyhow` error chain: the first scalegrease error in it
/// decides; anything else is [`exit::FAILURE`].
pub fn exit_code_of(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.exit_code();
        }
        if cause.downcast_ref::<ConfigError>().is_some() {
            return exit::CONFIG;
        }
        if let Some(e) = cause.downcast_ref::<DispatchError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<StoreError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<DeployError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<ExecError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<GuardError>() {
            return guard_exit_code(e);
        }
    }
    exit::FAILURE
}

/// Ends a binary: exits with `result`'s code, or prints the error's whole chain once as
/// `<tool>: error: ...` and exits with [`exit_code_of`] it. Every binary's `main` is this.
pub fn finish(tool: &str, result: anyhow::Result<i32>) -> ! {
    let code = result.unwrap_or_else(|e| {
        eprintln!("{tool}: error: {e:#}");
        exit_code_of(&e)
    });
    std::process::exit(if code < 0 { exit::SOFTWARE } else { code })
}
