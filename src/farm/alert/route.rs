//! Where an event goes: the worker's `alerts` config (webhook, body format, command,
//! kinds), overridden per project by `alerts.projects."group:artifact"`, and the
//! project's own webhook from its bundle (unless `alerts.project_webhooks` is false). A
//! command only ever comes from the worker's own config; nothing read from the store
//! names one.

use crate::config::{AlertFormat, Alerts};
use crate::dispatch::bundle::BundleAlerts;
use crate::farm::alert::event::EventKind;

/// One place an event is delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// POST the event to `url`.
    Webhook { url: String, format: AlertFormat },
    /// Run `alerts.command` with the event on stdin.
    Command(Vec<String>),
    /// POST the event to the project's own webhook (from its bundle).
    Project { url: String, format: AlertFormat },
}

impl Route {
    /// The route's name in an alert's `done` list.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Webhook { .. } => "webhook",
            Route::Command(_) => "command",
            Route::Project { .. } => "project",
        }
    }
}

/// Whether `on` (empty: every kind) takes `kind`.
fn takes(on: &[String], kind: EventKind) -> bool {
    on.is_empty() || on.iter().any(|k| k == kind.as_str())
}

/// The routes an event of `kind` for `project` (`group:artifact`) takes under `cfg`,
/// and the project's own alerts from its bundle.
pub fn routes(
    cfg: &Alerts,
    project: &str,
    kind: EventKind,
    bundle: Option<&BundleAlerts>,
) -> Vec<Route> {
    let mut out = Vec::new();
    if let Some(b) =
        bundle.filter(|b| cfg.project_webhooks && takes(b.on.as_deref().unwrap_or(&[]), kind))
    {
        out.push(Route::Project {
            url: b.webhook.clone(),
            format: b.format.unwrap_or_default(),
        });
    }
    let over = cfg.projects.get(project);
    let on = over.and_then(|p| p.on.as_ref()).unwrap_or(&cfg.on);
    if !takes(on, kind) {
        return out;
    }
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
        let own = BundleAlerts {
            webhook: "http://own/".into(),
            format: None,
            on: Some(vec!["missing".into()]),
        };
        assert_eq!(
            routes(&cfg, "g:jobs", EventKind::Missing, Some(&own)),
            [Route::Project {
                url: "http://own/".into(),
                format: AlertFormat::Json
            }]
        );
        assert!(routes(&cfg, "g:jobs", EventKind::Failed, Some(&own)).is_empty());
        cfg.project_webhooks = false;
        assert!(routes(&cfg, "g:jobs", EventKind::Missing, Some(&own)).is_empty());
        assert_eq!(
            routes(&cfg, "x:y", EventKind::Failed, None),
            [
                Route::Webhook {
                    url: "http://a/".into(),
                    format: AlertFormat::Json
                },
                Route::Command(vec!["notify".into()])
            ]
        );
        assert!(routes(&cfg, "x:y", EventKind::Recovered, None).is_empty());
        assert!(routes(&cfg, "g:jobs", EventKind::Failed, None).is_empty());
        assert_eq!(
            routes(&cfg, "g:jobs", EventKind::Recovered, None),
            [Route::Webhook {
                url: "http://b/".into(),
                format: AlertFormat::Slack
            }]
        );
        assert_eq!(unknown_kinds(&cfg), ["oops"]);
    }
}
