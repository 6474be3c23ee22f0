//! `alerts`: where a worker sends the farm's alert events (failed, missing, dropped,
//! abandoned, recovered) and how it checks for them. Every worker should carry the same
//! section: whichever worker notices an event or takes its delivery uses its own.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::util::duration::serde_duration;

/// The body a webhook gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertFormat {
    /// The event document as JSON.
    #[default]
    Json,
    /// `{"text": "..."}`, as Slack's (and Mattermost's, Rocket.Chat's) incoming webhooks
    /// take it.
    Slack,
}

/// `alerts.projects."group:artifact"`: one project's routing, over the section's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectAlerts {
    pub webhook: Option<String>,
    pub format: Option<AlertFormat>,
    pub on: Option<Vec<String>>,
    /// Whether `alerts.command` runs for this project's events (default true).
    pub command: Option<bool>,
}

/// `alerts`: the alert check and delivery greasesnatch runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Alerts {
    /// Whether greasesnatch checks the ledger for events and delivers alerts.
    pub check: bool,
    /// How often `greasesnatch --watch` checks and delivers.
    #[serde(with = "serde_duration")]
    pub interval: Duration,
    /// The URL every event is POSTed to.
    pub webhook: Option<String>,
    pub format: AlertFormat,
    /// A command run per event (argv; the event JSON on stdin).
    pub command: Vec<String>,
    /// How long a webhook request or the command may take.
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
    /// The event kinds sent (default: all).
    pub on: Vec<String>,
    /// The wait before the first retry of a failed delivery, doubled up to `retry_max_delay`.
    #[serde(with = "serde_duration")]
    pub retry_delay: Duration,
    #[serde(with = "serde_duration")]
    pub retry_max_delay: Duration,
    /// How long after the event delivery is retried before it is given up.
    #[serde(with = "serde_duration")]
    pub give_up_after: Duration,
    /// Whether a project's own webhook (its `scalegrease.toml` `[alerts]`, published in
    /// its bundle) is used.
    pub project_webhooks: bool,
    /// Routing per project (`group:artifact`), over the settings above.
    pub projects: BTreeMap<String, ProjectAlerts>,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            check: true,
            interval: Duration::from_secs(60),
            webhook: None,
            format: AlertFormat::Json,
            command: Vec::new(),
            timeout: Duration::from_secs(10),
            on: Vec::new(),
            retry_delay: Duration::from_secs(30),
            retry_max_delay: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(86400),
            project_webhooks: true,
            projects: BTreeMap::new(),
        }
    }
}
