//! One file per page or endpoint; each reads the store through
//! [`crate::web::state::AppState::read`] and answers with a page, JSON or text.

pub mod actions;
pub mod assets;
pub mod farm;
pub mod job;
pub mod login;
pub mod metrics;
pub mod run;
