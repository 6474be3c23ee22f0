//! `fake`: a fault-injecting HTTP repository on loopback (std `TcpListener`, one thread
//! per connection, `Connection: close`). It is only for faults a real server will not
//! produce on demand: a 5xx, a connection dropped mid-body, a server that ignores `Range`.
//! It serves files put into it, honours `Range: bytes=N-`, and records every request.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the next request for a path gets instead of the normal answer (used once each).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and an empty body.
    Status(u16),
    /// Send the headers of the full answer and this many body bytes, then close.
    DropAfter(usize),
    /// Ignore the `Range` header (answer 200 with the whole file).
    IgnoreRange,
    /// Answer nothing for this long, then close (a hung server: the client times out).
    Stall(std::time::Duration),
    /// Send the headers, then the body one byte per this interval (a trickling server:
    /// no single read times out).
    Trickle(std::time::Duration),
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    faults: HashMap<String, VecDeque<Fault>>,
    requests: Vec<Request>,
}

/// The fake repository server.
pub struct FakeRepo {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FakeRepo {
    /// Starts a fake on a free loopback port.
    pub fn start() -> FakeRepo {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st);
                });
            }
        });
        FakeRepo { port, state, stop }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Serves `bytes` at `path` (a path relative to the repository root).
    pub fn put(&self, path: &str, bytes: impl Into<Vec<u8>>) {
        let key = format!("/{}", path.trim_start_matches('/'));
        self.state.lock().unwrap().files.insert(key, bytes.into());
    }

    /// Queues a fault for the next request of `path`.
    pub fn fault(&self, path: &str, fault: Fault) {
        let key = format!("/{}", path.trim_start_matches('/'));
        let mut st = self.state.lock().unwrap();
        st.faults.entry(key).or_default().push_back(fault);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests for paths ending in `suffix`.
    pub fn requests_for(&self, suffix: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with(suffix))
            .collect()
    }

    /// Stops accepting connections: later requests get "connection refused".
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Drop for FakeRepo {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A URL on loopback where nothing listens (connection refused).
pub fn down_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (mut range, mut authorization) = (None, None);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(v.trim().to_string()),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let (fault, file) = {
        let mut st = state.lock().unwrap();
        st.requests.push(Request {
            path: path.clone(),
            range: range.clone(),
            authorization,
        });
        let fault = st.faults.get_mut(&path).and_then(|q| q.pop_front());
        (fault, st.files.get(&path).cloned())
    };
    let mut out = conn;
    if let Some(Fault::Stall(d)) = fault {
        std::thread::sleep(d);
        return Ok(());
    }
    if let Some(Fault::Status(code)) = fault {
        return write!(
            out,
            "HTTP/1.1 {code} Fault\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
    let Some(body) = file else {
        return write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    };
    let start = match (&range, &fault) {
        (_, Some(Fault::IgnoreRange)) => None,
        (Some(r), _) => r
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok()),
        (None, _) => None,
    };
    let (status, slice, extra) = match start {
        Some(s) if s >= body.len() => {
            return write!(
                out,
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                body.len()
            );
        }
        Some(s) => (
            "206 Partial Content",
            &body[s..],
            format!(
                "Content-Range: bytes {s}-{}/{}\r\n",
                body.len() - 1,
                body.len()
            ),
        ),
        None => ("200 OK", &body[..], String::new()),
    };
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n{extra}Connection: close\r\n\r\n",
        slice.len()
    )?;
    match fault {
        Some(Fault::DropAfter(n)) => {
            out.write_all(&slice[..n.min(slice.len())])?;
            out.flush()?;
            out.shutdown(Shutdown::Both)
        }
        Some(Fault::Trickle(every)) => {
            for b in slice {
                out.write_all(&[*b])?;
                out.flush()?;
                std::thread::sleep(every);
            }
            Ok(())
        }
        _ => out.write_all(slice),
    }
}
