//! A real HTTP receiver for webhooks on loopback: Python's `http.server`
//! (`receiver.py`) answering each POST with 200 and logging its JSON body, one line per
//! request. [`Receiver::port`] reserves a port first, so a test can point alerts at a
//! receiver that is down and [`Receiver::start`] it later on the same port. Dropping it
//! stops the server.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

/// A receiver's port and log, and its server while it runs.
pub struct Receiver {
    pub port: u16,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Receiver {
    /// A free loopback port and a log under `dir`; the server is not started yet.
    pub fn port(dir: &std::path::Path) -> Receiver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Receiver {
            port,
            log: dir.join(format!("webhooks-{port}.jsonl")),
            child: None,
        }
    }

    /// The URL alerts are POSTed to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/harness/receiver.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.log)
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 runs the webhook receiver");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        wait_for(
            "the webhook receiver to listen",
            Duration::from_secs(20),
            || TcpStream::connect(&addr).ok(),
        );
    }

    /// The bodies received so far, in order.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["body"].clone())
            .collect()
    }

    /// How many bodies report `event` of `job`.
    pub fn count(&self, job: &str, event: &str) -> usize {
        self.bodies()
            .iter()
            .filter(|b| b["job"] == job && b["event"] == event)
            .count()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
