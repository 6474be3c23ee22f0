//! The `Backend` switch that runs one behavioural suite against both stores (the
//! directory store and the shared etcd cluster), and the helpers that open, break and
//! inspect a world's store whichever backend it has. Re-exported by [`super::etcd`].

use std::process::Command;
use std::time::Duration;

use scalegrease::config::StoreConfig;
use scalegrease::store::{self, Store};

use super::etcd::{etcd_config, free_ports, shared, unique_prefix};
use super::{World, wait_for};

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
