//! The integration tests: one binary, one module per feature, all driving the real
//! binaries (`CARGO_BIN_EXE_*`) through the small harness in `harness/`.

mod harness;

mod abandoned_claim;
mod bad_input;
mod ci_examples;
mod cli;
mod config;
mod cron_daemon;
mod crontab;
mod deployment;
mod deployment_faults;
mod dispatch_follow;
mod dispatch_front;
mod escaping;
mod farm_queue;
mod fs_safety;
mod fs_safety_store;
mod funnel;
mod funnel_etcd;
mod funnel_inputs;
mod guard_trust;
mod history;
mod hostile_repo;
mod launch;
mod policy;
mod queue_greaserun;
mod queue_greaserun_cancel;
mod queue_status;
mod queue_worker;
mod queue_worker_housekeeping;
mod readme;
mod runner_logs;
mod runners;
mod shared_store;
mod signals;
mod signing;
mod snatch;
mod snatch_watch;
mod status;
mod store;
mod store_etcd;
mod store_etcd_auth;
mod store_faults;
mod store_urls;
mod web;
