//! Sending one alert: a JSON POST (the event document, or a Slack-compatible
//! `{"text": ...}`) with a timeout, or the worker's configured command with the event on
//! stdin and `SCALEGREASE_*` variables, killed at the timeout. Each returns why it
//! failed, in words, for the alert's `last_error`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::AlertFormat;
use crate::farm::alert::event::Alert;

/// The body a webhook of `format` gets.
pub fn body(alert: &Alert, format: AlertFormat) -> Vec<u8> {
    match format {
        AlertFormat::Json => serde_json::to_vec(alert).expect("an alert serialises"),
        AlertFormat::Slack => {
            serde_json::to_vec(&serde_json::json!({ "text": text(alert) })).expect("JSON")
        }
    }
}

/// The event in a few lines for chat: what, which job and slot, where, why, and the end
/// of the output in a code block.
pub fn text(a: &Alert) -> String {
    let mut t = format!(
        "scalegrease: {} {} slot {} ({})",
        a.job, a.event, a.slot, a.project
    );
    if let Some(h) = &a.host {
        t.push_str(&format!(" on {h}"));
    }
    if let Some(c) = a.exit_code {
        t.push_str(&format!(", exit {c}"));
    }
    if let Some(r) = &a.reason {
        t.push_str(&format!(": {r}"));
    }
    if let Some(x) = a.excerpt.as_deref().filter(|x| !x.is_empty()) {
        let start = x.len().saturating_sub(500);
        let start = (start..x.len())
            .find(|i| x.is_char_boundary(*i))
            .unwrap_or(0);
        t.push_str(&format!("\n```\n{}\n```", x[start..].replace("```", "'''")));
    }
    t
}

/// POSTs the alert to `url`; a status other than 2xx is an error.
pub fn webhook(
    url: &str,
    format: AlertFormat,
    alert: &Alert,
    timeout: Duration,
) -> Result<(), String> {
    let t = Some(timeout);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(t)
        .user_agent(concat!("scalegrease/", env!("CARGO_PKG_VERSION")))
        .max_redirects(0)
        .build()
        .into();
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(&body(alert, format)[..])
        .map_err(|e| format!("POST {}: {e}", redact(url)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("POST {}: HTTP {status}", redact(url)))
    }
}

/// The URL without its path and query (a Slack webhook's path is its secret).
pub fn redact(url: &str) -> String {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let host = rest.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{}{host}/…", &url[..i + 3])
        }
        None => "<webhook>".into(),
    }
}

/// Runs `argv` with the event JSON on stdin and `SCALEGREASE_EVENT`, `_JOB`, `_SLOT`,
/// `_PROJECT`, `_HOST`, `_EXIT_CODE` set; killed after `timeout`. Exit 0 is success.
pub fn command(argv: &[String], alert: &Alert, timeout: Duration) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("alerts.command is empty")?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("SCALEGREASE_EVENT", alert.event.as_str())
        .env("SCALEGREASE_JOB", &alert.job)
        .env("SCALEGREASE_SLOT", &alert.slot)
        .env("SCALEGREASE_PROJECT", &alert.project)
        .env("SCALEGREASE_HOST", alert.host.as_deref().unwrap_or(""))
        .env(
            "SCALEGREASE_EXIT_CODE",
            alert.exit_code.map(|c| c.to_string()).unwrap_or_default(),
        );
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {program:?}: {e}"))?;
    let body = serde_json::to_vec(alert).expect("an alert serialises");
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin is fine.
        let _ = stdin.write_all(&body);
    }
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(4096).read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).trim().to_string()
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program:?} did not end within {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program:?}: {e}")),
        }
    };
    let said = reader.join().unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program:?} ended with {status}: {said}"))
    }
}
