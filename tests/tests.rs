//! The integration tests: one binary, one module per feature, all driving the real
//! binaries (`CARGO_BIN_EXE_*`) through the small harness in `harness/`.

mod harness;

mod abandoned_claim;
mod bad_input;
mod cli;
mod config;
mod cron_daemon;
mod crontab;
mod deployment;
mod funnel;
mod guard_trust;
mod hostile_repo;
mod launch;
mod readme;
mod runners;
mod signals;
mod snatch;
mod status;
mod store;
mod store_faults;
mod store_urls;
