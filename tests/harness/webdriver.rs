//! A small W3C WebDriver client for the web tests: starts the real `chromedriver`
//! (Debian chromium-driver) on a free loopback port, opens one headless Debian chromium
//! session with a profile in the test's temp dir, and speaks the protocol's JSON over
//! HTTP (ureq + serde_json). Stops the session and the driver on `Drop`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::wait_for;

/// The W3C key of an element reference in a response.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session.
pub struct Browser {
    driver: Child,
    base: String,
    agent: ureq::Agent,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless chromium whose profile lives under `dir`.
    pub fn start(dir: &Path) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/setup installs chromium-driver)");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut b = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            agent,
        };
        wait_for("chromedriver to answer", Duration::from_secs(30), || {
            b.agent
                .get(format!("{}/status", b.base))
                .call()
                .ok()
                .filter(|r| r.status() == 200)
        });
        let profile = dir.join("chromium-profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,1024",
                    format!("--user-data-dir={}", profile.display())],
            }
        }}});
        let v = b.call("POST", "/session", Some(caps));
        let id = v["sessionId"].as_str().expect("a session id").to_string();
        b.base = format!("{}/session/{id}", b.base);
        b
    }

    /// One WebDriver command; returns its `value`, panicking on an error answer.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.try_call(method, path, body);
        assert!(status < 300, "WebDriver {method} {path}: {status} {v}");
        v
    }

    /// One WebDriver command: its HTTP status and `value`.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, b) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or(json!({})).to_string()),
        }
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = resp.status().as_u16();
        let body = resp.into_body().read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        (status, v["value"].clone())
    }

    /// Loads `url` and waits for it.
    pub fn open(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// The visible text of the element `css` selects, if there is one. A page that
    /// reloads itself (a live run page) can replace the element between the find and the
    /// read ("stale element reference"): then it is found again, a few times.
    pub fn text(&self, css: &str) -> Option<String> {
        for _ in 0..5 {
            let id = self.find(css)?;
            let (status, v) = self.try_call("GET", &format!("/element/{id}/text"), None);
            if status < 300 {
                return Some(v.as_str().unwrap_or_default().to_string());
            }
            assert_eq!(v["error"], "stale element reference", "{css}: {status} {v}");
        }
        panic!("{css}: the element went stale five times in a row");
    }

    /// The element `css` selects, if there is one.
    pub fn find(&self, css: &str) -> Option<String> {
        let (status, v) = self.try_call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        (status == 200).then(|| {
            v[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("{css}: {v}"))
                .to_string()
        })
    }

    /// How many elements `css` selects.
    pub fn count(&self, css: &str) -> usize {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array().map_or(0, Vec::len)
    }

    /// Clicks the element `css` selects.
    pub fn click(&self, css: &str) {
        let id = self.find(css).unwrap_or_else(|| panic!("no element {css}"));
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Types `text` into the element `css` selects.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).unwrap_or_else(|| panic!("no element {css}"));
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    /// The text of an open alert dialog, if one is open.
    pub fn alert(&self) -> Option<String> {
        let (status, v) = self.try_call("GET", "/alert/text", None);
        (status == 200).then(|| v.as_str().unwrap_or_default().to_string())
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_string()
    }

    /// Saves a PNG screenshot of the page to `path`; returns its size in bytes.
    pub fn screenshot(&self, path: &Path) -> usize {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, &png).unwrap();
        png.len()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.try_call("DELETE", "", None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
