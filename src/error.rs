//! The library's top-level error: one variant per scope, each wrapping that scope's own
//! typed error. Binaries add context with `anyhow` and map this to an exit code with
//! [`Error::exit_code`] (the codes are in [`crate::exit`]).

use crate::config::ConfigError;
use crate::dispatch::error::DispatchError;
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
    Dispatch(#[from] DispatchError),
}

impl Error {
    /// The documented exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => exit::CONFIG,
            Error::Store(e) => store_exit_code(e),
            Error::Dispatch(e) => e.exit_code(),
        }
    }
}

/// The exit code for a store failure.
pub fn store_exit_code(e: &StoreError) -> i32 {
    match e {
        StoreError::Unavailable { .. } | StoreError::Unmarked { .. } => exit::UNAVAILABLE,
        StoreError::Io { .. } => exit::IO_ERR,
        StoreError::BadKey { .. } => exit::SOFTWARE,
        StoreError::BadSetting { .. } => exit::CONFIG,
    }
}

/// Finds the exit code for an `anyhow` error chain: the first scalegrease error in it
/// decides; anything else is [`exit::FAILURE`].
pub fn exit_code_of(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<ConfigError>() {
            return Error::Config(clone_config_kind(e)).exit_code();
        }
        if let Some(e) = cause.downcast_ref::<DispatchError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<StoreError>() {
            return store_exit_code(e);
        }
    }
    exit::FAILURE
}

// ConfigError always maps to one code; this avoids requiring Clone on io::Error.
fn clone_config_kind(e: &ConfigError) -> ConfigError {
    ConfigError::Value {
        path: Default::default(),
        key: String::new(),
        message: e.to_string(),
    }
}
