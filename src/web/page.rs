//! The HTML pages: one askama template struct per page (templates in `templates/`,
//! HTML-escaped by default; only the server-drawn SVG is inserted as markup), rendered
//! through [`Page`], whose render failure is a 500.

use std::sync::Arc;

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use crate::farm::ledger::SlotState;
use crate::web::auth::Session;
use crate::web::error::WebError;
use crate::web::svg;
use crate::web::view::farm::FarmView;
use crate::web::view::job::JobView;
use crate::web::view::run::RunView;
use crate::web::view::{job_href, run_href, seg};

/// At most this many slots are listed in the job page's table (the newest).
pub const MAX_ROWS: usize = 500;

/// A page to render.
pub struct Page<T>(pub T);

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        match self.0.render() {
            Ok(html) => Html(html).into_response(),
            Err(e) => WebError::Render(e).into_response(),
        }
    }
}

/// `/`.
#[derive(Template)]
#[template(path = "farm.html")]
pub struct FarmPage {
    pub view: Arc<FarmView>,
    pub session: Option<Session>,
}

/// `/job/<job>`.
#[derive(Template)]
#[template(path = "job.html")]
pub struct JobPage {
    pub view: JobView,
    pub session: Option<Session>,
    pub queued: Option<String>,
    grid: String,
    legend: String,
    durations: String,
    rows: Vec<SlotRow>,
    rows_cut: bool,
    api_href: String,
}

/// One line of the job page's slot table.
pub struct SlotRow {
    slot: String,
    state: SlotState,
    host: Option<String>,
    attempt: Option<u32>,
    exit_code: Option<i32>,
    duration: Option<String>,
    href: Option<String>,
    /// `*` for a slot the schedule did not fire at (a manual or queued run).
    extra: &'static str,
    /// Why it ended so (or the queued request), and its alerts with their delivery.
    note: String,
}

impl JobPage {
    /// The page for `view`: its pictures drawn, its newest slots first in the table.
    pub fn new(view: JobView, session: Option<Session>, queued: Option<String>) -> JobPage {
        let rows: Vec<SlotRow> = view
            .ledger
            .iter()
            .rev()
            .take(MAX_ROWS)
            .map(|s| SlotRow {
                slot: s.slot.clone(),
                state: s.state,
                host: s.host.clone(),
                attempt: s.attempt,
                exit_code: s.exit_code,
                duration: s.duration_secs.map(|d| format!("{d:.1} s")),
                href: s.run_id.as_ref().map(|id| run_href(&s.job, &s.slot, id)),
                extra: if s.scheduled { "" } else { "*" },
                note: s
                    .note
                    .iter()
                    .cloned()
                    .chain(
                        s.alerts
                            .iter()
                            .map(|a| format!("alert {}: {}", a.event, a.delivery)),
                    )
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect();
        JobPage {
            grid: svg::grid(&view.ledger),
            legend: svg::legend(),
            durations: svg::durations(&view.ledger),
            rows_cut: view.ledger.len() > rows.len(),
            rows,
            api_href: format!("/api/ledger/{}?days={}", seg(&view.row.job), view.days),
            view,
            session,
            queued,
        }
    }
}

/// `/run/<job>/<slot>/<run id>`.
#[derive(Template)]
#[template(path = "run.html")]
pub struct RunPage {
    pub view: RunView,
    pub session: Option<Session>,
    running: bool,
    job_href: String,
}

impl RunPage {
    /// The page for `view`; a running run's page reloads itself every 3 seconds.
    pub fn new(view: RunView, session: Option<Session>) -> RunPage {
        RunPage {
            running: view.run.status == crate::model::record::Status::Running,
            job_href: job_href(&view.run.job),
            view,
            session,
        }
    }
}

/// `/login`.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub session: Option<Session>,
    pub message: Option<String>,
    /// Whether a users file is configured.
    pub enabled: bool,
}
