//! Where an event goes: the worker's `alerts` config (webhook, body format, command,
//! kinds), overridden per project by `alerts.projects."group:artifact"`. A command only
//! ever comes from the worker's own config; nothing read from the store names one.

use crate::config::{AlertFormat, Alerts};
use crate::farm::alert::event::EventKind;

/// One place an event is delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// POST the event to `url`.
    Webhook { url: String, format: AlertFormat },
    /// Run `alerts.command` with the event on stdin.
    Command(Vec<String>),
}

impl Route {
    /// The route's name in an alert's `done` list.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Webhook { .. } => "webhook",
            Route::Command(_) => "command",
        }
    }
}

/// The routes an event of `kind` for `project` (`group:artifact`) takes under `cfg`.
pub fn routes(cfg: &Alerts, project: &str, kind: EventKind) -> Vec<Route> {
    let over = cfg.projects.get(project);
    let on = over.and_then(|p| p.on.as_ref()).unwrap_or(&cfg.on);
    if !on.is_empty() && !on.iter().any(|k| k == kind.as_str()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(url) = over.and_then(|p| p.webhook.clone()).or(cfg.webhook.clone()) {
        let format = over.and_then(|p| p.format).unwrap_or(cfg.format);
        out.push(Route::Webhook { url, format });
    }
    if !cfg.command.is_empty() && over.and_then(|p| p.command) != Some(false) {
        out.push(Route::Command(cfg.command.clone()));
    }
    out
}

/// The kinds in `alerts.on` (and its per-project overrides) that name no event kind,
/// for a warning.
pub fn unknown_kinds(cfg: &Alerts) -> Vec<String> {
    cfg.projects
        .values()
        .filter_map(|p| p.on.as_ref())
        .chain(std::iter::once(&cfg.on))
        .flatten()
        .filter(|k| EventKind::parse(k).is_none())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProjectAlerts;

    #[test]
    fn a_project_overrides_the_worker_routes() {
        let mut cfg = Alerts {
            webhook: Some("http://a/".into()),
            command: vec!["notify".into()],
            on: vec!["failed".into(), "missing".into()],
            ..Alerts::default()
        };
        cfg.projects.insert(
            "g:jobs".into(),
            ProjectAlerts {
                webhook: Some("http://b/".into()),
                format: Some(AlertFormat::Slack),
                on: Some(vec!["recovered".into(), "oops".into()]),
                command: Some(false),
            },
        );
        assert_eq!(
            routes(&cfg, "x:y", EventKind::Failed),
            [
                Route::Webhook {
                    url: "http://a/".into(),
                    format: AlertFormat::Json
                },
                Route::Command(vec!["notify".into()])
            ]
        );
        assert!(routes(&cfg, "x:y", EventKind::Recovered).is_empty());
        assert!(routes(&cfg, "g:jobs", EventKind::Failed).is_empty());
        assert_eq!(
            routes(&cfg, "g:jobs", EventKind::Recovered),
            [Route::Webhook {
                url: "http://b/".into(),
                format: AlertFormat::Slack
            }]
        );
        assert_eq!(unknown_kinds(&cfg), ["oops"]);
    }
}
