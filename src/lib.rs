//! scalegrease: schedule, deploy, run and debug batch jobs on a farm of worker machines,
//! with no dedicated scheduler machine to operate.
//!
//! The library is split by scope, as the original design asked, so that one implementation
//! can change without touching users:
//!
//! - [`model`]: the shared vocabulary below the scopes: slots, job names, run records,
//!   the funnel's records and the store's key layout (types and pure functions).
//! - [`dispatch`]: crontab parsing and validation, next fire times, launch and snatch.
//! - [`arbitration`]: the overload guard, the random start delay, the per-slot claim.
//! - [`deployment`]: artifact specs, Maven resolution, download and cache.
//! - [`execution`]: runners, process supervision, signals and timeouts.
//! - [`debugging`]: logs, run records and status.
//! - [`store`]: one trait for the central store, with a directory and an etcd backend.
//! - [`farm`]: the farm queue's front (greasedispatch) and the worker's pull
//!   (greasesnatch), over the queue's store operations in `arbitration`.
//! - [`web`]: `greasestatus serve`, the status web page, its JSON API and `/metrics`.
//! - [`run`]: the greaserun pipeline, the order of a run in one place.
//!
//! The scopes form layers: each imports only from below it, in the order util, model,
//! config, store, deployment and execution, arbitration, dispatch, debugging, cli, farm,
//! web, error, run (checked by a unit test in `model`).
//!
//! Below them, [`config`], [`util`] and [`exit`] (the one exit-code table every scope's
//! errors take their codes from); above them, [`run`] (the greaserun pipeline), [`cli`]
//! (the options every tool shares, and logging set up once) and [`error`] (one error that
//! delegates its exit code to the scope's own).
//!
//! The binaries in `src/bin/` only parse arguments into their options, call into this
//! library, print what it returns, and exit with the code the error carries. The library
//! prints nothing itself: it logs `tracing` events and writes to what it is handed.

pub mod arbitration;
pub mod cli;
pub mod config;
pub mod debugging;
pub mod deployment;
pub mod dispatch;
pub mod error;
pub mod execution;
pub mod exit;
pub mod farm;
pub mod model;
pub mod run;
pub mod store;
pub mod util;
pub mod web;

pub use config::Config;
pub use error::Error;
