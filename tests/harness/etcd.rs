//! A real etcd cluster for the tests, and the `Backend` switch that runs one behavioural
//! suite against both stores.
//!
//! [`shared`] starts one 3-member cluster (Debian `etcd`, loopback, free ports, a temp data
//! dir) per test-binary run; each test gets its own key prefix on it, so tests run in
//! parallel. Tests that kill members start a [`Cluster`] of their own. Members are children
//! of a keeper thread that never ends and are started with `PR_SET_PDEATHSIG`, so they die
//! with the test process however it ends; data dirs of earlier runs whose process is gone
//! are removed on the next start.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::Duration;

use scalegrease::config::StoreConfig;

pub use super::backend::*;
pub use super::etcd_solo::Solo;

/// How every member started here logs: warnings and errors, to stderr.
pub const LOG_ARGS: [&str; 6] = [
    "--logger",
    "zap",
    "--log-outputs",
    "stderr",
    "--log-level",
    "warn",
];

/// Members per cluster.
pub const MEMBERS: usize = 3;

enum Cmd {
    Start(usize, bool, mpsc::Sender<std::io::Result<()>>),
    Kill(usize, mpsc::Sender<()>),
}

/// A running 3-member cluster on 127.0.0.1.
pub struct Cluster {
    /// `127.0.0.1:<client port>` of each member.
    pub endpoints: Vec<String>,
    dir: PathBuf,
    keeper: Mutex<Option<mpsc::Sender<Cmd>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Cluster {
    /// Starts a new cluster and waits until every member is healthy. Panics with the
    /// members' logs if it does not come up.
    pub fn start() -> Cluster {
        remove_stale_dirs();
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sg-etcd-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ports = free_ports(2 * MEMBERS);
        let endpoints: Vec<String> = (0..MEMBERS)
            .map(|i| format!("127.0.0.1:{}", ports[i]))
            .collect();
        let peers: Vec<String> = (0..MEMBERS)
            .map(|i| format!("http://127.0.0.1:{}", ports[MEMBERS + i]))
            .collect();
        let initial = (0..MEMBERS)
            .map(|i| format!("m{i}={}", peers[i]))
            .collect::<Vec<_>>()
            .join(",");
        let (tx, rx) = mpsc::channel::<Cmd>();
        let (d, eps) = (dir.clone(), endpoints.clone());
        let thread = std::thread::Builder::new()
            .name("etcd-keeper".into())
            .spawn(move || keeper(rx, &d, &eps, &peers, &initial))
            .unwrap();
        let c = Cluster {
            endpoints,
            dir,
            keeper: Mutex::new(Some(tx)),
            thread: Some(thread),
        };
        for i in 0..MEMBERS {
            c.send_start(i, true);
        }
        c.wait_healthy(&c.endpoints);
        c
    }

    fn send_start(&self, i: usize, new: bool) {
        let (tx, rx) = mpsc::channel();
        self.send(Cmd::Start(i, new, tx));
        rx.recv().unwrap().expect("start etcd member");
    }

    fn send(&self, cmd: Cmd) {
        let keeper = self.keeper.lock().unwrap();
        keeper.as_ref().expect("cluster running").send(cmd).unwrap();
    }

    /// The store URL for `prefix` on this cluster.
    pub fn url(&self, prefix: &str) -> String {
        format!("etcd://{}/{prefix}", self.endpoints.join(","))
    }

    /// Kills member `i` with SIGKILL (its data is kept) and waits until it has exited.
    pub fn kill(&self, i: usize) {
        let (tx, rx) = mpsc::channel();
        self.send(Cmd::Kill(i, tx));
        rx.recv().unwrap();
    }

    /// Starts member `i` again on its data and waits until it is healthy.
    pub fn restart(&self, i: usize) {
        self.send_start(i, false);
        self.wait_healthy(&self.endpoints[i..=i]);
    }

    /// Waits until every member in `endpoints` answers a health check (which needs a
    /// leader, so a quorum).
    pub fn wait_healthy(&self, endpoints: &[String]) {
        let eps = endpoints.join(",");
        let ok = (|| {
            for _ in 0..300 {
                let st = Command::new("etcdctl")
                    .env("ETCDCTL_API", "3")
                    .args([
                        "--endpoints",
                        &eps,
                        "--dial-timeout",
                        "1s",
                        "--command-timeout",
                        "2s",
                        "endpoint",
                        "health",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                if st.is_ok_and(|s| s.success()) {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        })();
        if !ok {
            panic!(
                "etcd members {eps} did not become healthy within 30 s\n{}",
                self.logs()
            );
        }
    }

    /// The index of the member that is leader now, if the running members agree on one.
    pub fn leader(&self) -> Option<usize> {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args([
                "--endpoints",
                &self.endpoints.join(","),
                "--command-timeout",
                "2s",
            ])
            .args(["endpoint", "status", "-w", "json"])
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v.as_array()?.iter().find_map(|e| {
            let st = &e["Status"];
            let me = st["header"]["member_id"].as_u64()?;
            (me == st["leader"].as_u64()?)
                .then(|| {
                    self.endpoints
                        .iter()
                        .position(|x| Some(x.as_str()) == e["Endpoint"].as_str())
                })
                .flatten()
        })
    }

    /// The members' logs, for failure messages.
    pub fn logs(&self) -> String {
        (0..MEMBERS)
            .map(|i| {
                let t =
                    std::fs::read_to_string(self.dir.join(format!("m{i}.log"))).unwrap_or_default();
                let tail: Vec<&str> = t.lines().rev().take(15).collect();
                format!(
                    "--- m{i}.log (tail)\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Closing the channel ends the keeper, which kills and reaps the members.
        drop(self.keeper.get_mut().unwrap().take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn keeper(
    rx: mpsc::Receiver<Cmd>,
    dir: &Path,
    endpoints: &[String],
    peers: &[String],
    initial: &str,
) {
    let mut kids: Vec<Option<Child>> = (0..MEMBERS).map(|_| None).collect();
    for cmd in rx {
        match cmd {
            Cmd::Start(i, new, reply) => {
                let r = spawn_member(dir, i, &endpoints[i], &peers[i], initial, new);
                let _ = reply.send(r.map(|c| kids[i] = Some(c)));
            }
            Cmd::Kill(i, reply) => {
                if let Some(mut c) = kids[i].take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                let _ = reply.send(());
            }
        }
    }
    for c in kids.iter_mut().flatten() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn spawn_member(
    dir: &Path,
    i: usize,
    client: &str,
    peer: &str,
    initial: &str,
    new: bool,
) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let data = dir.join(format!("m{i}"));
    std::fs::create_dir_all(&data)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("m{i}.log")))?;
    let client = format!("http://{client}");
    let mut cmd = Command::new("etcd");
    cmd.args(["--name", &format!("m{i}")])
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", peer])
        .args(["--initial-advertise-peer-urls", peer])
        .args(["--initial-cluster", initial])
        .args([
            "--initial-cluster-state",
            if new { "new" } else { "existing" },
        ])
        .args(["--initial-cluster-token", &dir.display().to_string()])
        .args(LOG_ARGS)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn()
}

pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// Removes `sg-etcd-<pid>-*` data dirs of test runs whose process is gone.
fn remove_stale_dirs() {
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("sg-etcd-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Whether this build and machine can run etcd tests; prints why not (and fails under CI,
/// where `scripts/setup` installs etcd and `scripts/test` builds with `--features etcd`).
pub fn available() -> bool {
    if !cfg!(feature = "etcd") {
        eprintln!("SKIPPED etcd backend: built without `--features etcd`");
        return false;
    }
    !super::skip_without("etcd") && !super::skip_without("etcdctl")
}

/// The cluster shared by every test of this run that does not kill members; `None` (after
/// saying why) when etcd cannot run here.
pub fn shared() -> Option<&'static Cluster> {
    static SHARED: OnceLock<Option<Cluster>> = OnceLock::new();
    SHARED
        .get_or_init(|| available().then(Cluster::start))
        .as_ref()
}

/// A key prefix no other test of any run uses.
pub fn unique_prefix() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        scalegrease::util::random::u64() & 0xffff
    )
}

/// Store settings for etcd tests: short timeouts so failure tests finish quickly.
pub fn etcd_config(url: String) -> StoreConfig {
    StoreConfig {
        url,
        connect_timeout: Some(Duration::from_secs(1)),
        request_timeout: Some(Duration::from_secs(3)),
        ..Default::default()
    }
}

/// [`etcd_config`] with the default request timeout (5 s), which rides out a leader
/// election on a loaded machine: for tests that kill a member and expect success.
pub fn etcd_config_through_elections(url: String) -> StoreConfig {
    StoreConfig {
        request_timeout: None,
        ..etcd_config(url)
    }
}
