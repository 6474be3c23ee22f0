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
use scalegrease::store::{self, Store};

use super::{World, wait_for};

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
        .args([
            "--logger",
            "zap",
            "--log-outputs",
            "stderr",
            "--log-level",
            "warn",
        ])
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

fn free_ports(n: usize) -> Vec<u16> {
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

/// A one-member cluster with extra flags (TLS, auth tests), killed when dropped.
pub struct Solo {
    /// `127.0.0.1:<client port>`.
    pub endpoint: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Solo {
    /// Starts one member listening on `<scheme>://127.0.0.1:<free port>` with `extra`
    /// flags, and waits until it accepts TCP connections (TLS may still be refused).
    pub fn start(scheme: &str, extra: &[String]) -> Solo {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::Builder::new()
            .prefix("sg-etcd-solo-")
            .tempdir()
            .unwrap();
        let ports = free_ports(2);
        let endpoint = format!("127.0.0.1:{}", ports[0]);
        let client = format!("{scheme}://{endpoint}");
        let peer = format!("http://127.0.0.1:{}", ports[1]);
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let mut cmd = Command::new("etcd");
        cmd.args(["--name", "solo", "--data-dir"])
            .arg(dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("solo={peer}")])
            .args([
                "--logger",
                "zap",
                "--log-outputs",
                "stderr",
                "--log-level",
                "warn",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn().expect("start etcd");
        let solo = Solo {
            endpoint,
            child,
            dir,
        };
        wait_for("the etcd member to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(&solo.endpoint).ok()
        });
        solo
    }

    /// A path in the member's temp dir (for certificates).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `etcdctl` against this member with `args`; panics on failure.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoint])
            .args(args)
            .output()
            .unwrap();
        let (o, e) = super::text(&out);
        assert!(out.status.success(), "etcdctl {args:?}: {o}{e}");
        o
    }
}

impl Drop for Solo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// Which store a behavioural test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Dir,
    Etcd,
}

impl Backend {
    /// Every backend, in the order tests run them.
    pub const ALL: [Backend; 2] = [Backend::Dir, Backend::Etcd];

    /// The store setting for a fresh, uninitialised store of this backend in `w` (the
    /// world's `store/` dir, or a new prefix on the shared cluster); `None` when this
    /// backend cannot run here.
    pub fn store_config(self, w: &World) -> Option<StoreConfig> {
        match self {
            Backend::Dir => Some(StoreConfig::from_url(w.join("store").display().to_string())),
            Backend::Etcd => Some(etcd_config(shared()?.url(&unique_prefix()))),
        }
    }

    /// Points `w`'s config at a fresh store of this backend; false when it cannot run here.
    pub fn configure(self, w: &mut World) -> bool {
        let Some(cfg) = self.store_config(w) else {
            return false;
        };
        w.configure(|c| c["store"] = store_json(&cfg));
        true
    }
}

/// A store setting as the config file spells it.
pub fn store_json(cfg: &StoreConfig) -> serde_json::Value {
    let mut v = serde_json::json!({"url": cfg.url});
    if let Some(t) = cfg.connect_timeout {
        v["connect_timeout_s"] = t.as_secs_f64().into();
    }
    if let Some(t) = cfg.request_timeout {
        v["request_timeout_s"] = t.as_secs_f64().into();
    }
    v
}

/// Opens the store `cfg` names, panicking with the reason if it cannot.
pub fn open(cfg: &StoreConfig) -> Box<dyn Store> {
    store::open(cfg).unwrap_or_else(|e| panic!("open {}: {e}", cfg.url))
}

/// Runs `test` once per backend that can run here, each in a fresh world, naming the
/// backend on failure.
pub fn each_backend(test: impl Fn(Backend, World)) {
    for b in Backend::ALL {
        let mut w = World::new();
        if !b.configure(&mut w) {
            continue;
        }
        eprintln!("--- backend {b:?}");
        test(b, w);
    }
}

/// Waits (30 s at most) until `f` holds, polling.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    wait_for(what, Duration::from_secs(30), || f().then_some(()));
}

/// A fresh world whose store is a fresh store of backend `b` (not yet initialised);
/// `None` when `b` cannot run here.
pub fn world_on(b: Backend) -> Option<World> {
    let mut w = World::new();
    b.configure(&mut w).then_some(w)
}

/// The store `w`'s config names, opened through the library (to corrupt or inspect it).
pub fn store_of(w: &World) -> Box<dyn Store> {
    let cfg = scalegrease::Config::load(&w.config_path())
        .unwrap()
        .store_config(None);
    open(&cfg)
}

/// The backend `w`'s store is on.
pub fn backend_of(w: &World) -> Backend {
    if w.store_location().starts_with("etcd") {
        Backend::Etcd
    } else {
        Backend::Dir
    }
}

/// Removes the store's marker behind scalegrease's back (an unmounted share, a wrong
/// cluster or prefix look like this).
pub fn remove_marker(w: &World) {
    let loc = w.store_location();
    match backend_of(w) {
        Backend::Dir => {
            std::fs::remove_file(w.store_dir().unwrap().join(".scalegrease-store")).unwrap()
        }
        Backend::Etcd => {
            let rest = loc.split_once("://").unwrap().1;
            let (eps, prefix) = rest.split_once('/').unwrap();
            let out = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args([
                    "--endpoints",
                    eps,
                    "del",
                    &format!("{prefix}/.scalegrease-store"),
                ])
                .output()
                .unwrap();
            assert!(out.status.success(), "{:?}", super::text(&out));
        }
    }
}

/// Makes the store unreachable: the directory moves away, or the members are ones nobody
/// runs.
pub fn lose_store(w: &mut World) {
    match backend_of(w) {
        Backend::Dir => {
            let dir = w.store_dir().unwrap();
            std::fs::rename(&dir, w.join("elsewhere")).unwrap();
        }
        Backend::Etcd => {
            let ports = free_ports(3);
            let eps: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
            let cfg = etcd_config(format!("etcd://{}/sg", eps.join(",")));
            w.configure(|c| c["store"] = store_json(&cfg));
        }
    }
}

/// A fresh world per backend that can run here, each on a fresh uninitialised store.
pub fn worlds() -> Vec<World> {
    Backend::ALL
        .into_iter()
        .filter_map(|b| {
            let w = world_on(b)?;
            eprintln!("--- backend {b:?}");
            Some(w)
        })
        .collect()
}
