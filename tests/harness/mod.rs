//! Test harness: a temp dir per test with its own config, store, cron dir, log dir and
//! Maven cache; commands for the real binaries; polling with a deadline (never a fixed
//! sleep); and skips that say why.

#![allow(dead_code)]

pub mod fake_repo;
pub mod maven;
pub mod receiver;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A test's private world. Dropping it removes everything.
pub struct World {
    pub dir: tempfile::TempDir,
    /// The config every command gets through `SCALEGREASE_CONFIG`.
    pub config: serde_json::Value,
}

impl World {
    /// A world with a laptop-style config: everything under the temp dir, no delay.
    pub fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("sg-test-")
            .tempdir()
            .expect("temp dir");
        let p = dir.path();
        for sub in ["store", "cron.d", "logs", "m2", "work"] {
            std::fs::create_dir_all(p.join(sub)).unwrap();
        }
        let config = serde_json::json!({
            "common": {"file_logger": p.join("logs")},
            "launch": {"crontab_etc_crond": p.join("cron.d"), "crontab_unique_prefix": "sgtest"},
            "maven": {"repositories": [], "cache_dir": p.join("m2")},
            "guard": {"max_load_per_cpu": 1000.0, "max_running": 1000, "min_available_memory_mb": 0, "max_delay_s": 0},
            "store": p.join("store"),
        });
        let w = World { dir, config };
        w.write_config();
        w
    }

    /// The temp dir.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the temp dir.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The config file's path.
    pub fn config_path(&self) -> PathBuf {
        self.join("scalegrease.json")
    }

    /// Changes the config with `f` and rewrites the file.
    pub fn configure(&mut self, f: impl FnOnce(&mut serde_json::Value)) {
        f(&mut self.config);
        self.write_config();
    }

    fn write_config(&self) {
        std::fs::write(
            self.config_path(),
            serde_json::to_string_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// A command for one of the crate's binaries, run in `work/`, with this world's config
    /// and a clean scalegrease environment.
    pub fn cmd(&self, bin: &str) -> assert_cmd::Command {
        self.prepare_for(bin);
        let mut c = assert_cmd::Command::new(bin_path(bin));
        c.current_dir(self.join("work"))
            .env("SCALEGREASE_CONFIG", self.config_path())
            .env_remove("SCALEGREASE_STORE")
            .env_remove("SCALEGREASE_HOSTNAME")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info");
        c
    }

    /// Like [`World::cmd`] but a plain `std::process::Command`, for background processes.
    pub fn spawn_cmd(&self, bin: &str) -> Command {
        self.spawn_program(bin, &bin_path(bin))
    }

    /// Like [`World::spawn_cmd`] for tool `bin`, but running `program` (e.g. a copy of
    /// the tool's binary).
    pub fn spawn_program(&self, bin: &str, program: &Path) -> Command {
        self.prepare_for(bin);
        let mut c = Command::new(program);
        c.current_dir(self.join("work"))
            .env("SCALEGREASE_CONFIG", self.config_path())
            .env_remove("SCALEGREASE_STORE")
            .env_remove("SCALEGREASE_HOSTNAME")
            .env("NO_COLOR", "1");
        c
    }

    /// Before a greaserun: a directory store that has never been initialised is
    /// initialised, as on a set-up farm, because greaserun claims its slot there when
    /// stdin is not a terminal (as in these tests) and refuses (75) when it cannot.
    /// Tests of unmarked stores remove the marker after this, or use other tools.
    fn prepare_for(&self, bin: &str) {
        if bin != "greaserun" {
            return;
        }
        if let Some(dir) = self.store_dir()
            && !dir.join(scalegrease::store::dir::MARKER).exists()
        {
            scalegrease::store::Store::init(&scalegrease::store::dir::DirStore::new(dir))
                .expect("store init");
        }
    }

    /// The store setting every command of this world uses (a directory path today; a
    /// backend-parameterised suite changes only this and [`World::store_dir`]).
    pub fn store_location(&self) -> String {
        match &self.config["store"] {
            serde_json::Value::String(s) => s.clone(),
            v => v["url"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// The store's root directory when the backend is the directory store, for fault
    /// injection (removing the marker, truncating a bundle); `None` for other backends,
    /// whose tests then skip those faults.
    pub fn store_dir(&self) -> Option<PathBuf> {
        match scalegrease::store::Backend::of(&self.store_location()) {
            Ok(scalegrease::store::Backend::Dir(p)) => Some(p.to_path_buf()),
            _ => None,
        }
    }

    /// Creates the store (`greaselaunch --init-store`).
    pub fn init_store(&self) {
        let out = self
            .cmd("greaselaunch")
            .arg("--init-store")
            .output()
            .unwrap();
        assert!(out.status.success(), "init store: {:?}", text(&out));
    }

    /// The cron directory greasesnatch writes to.
    pub fn cron_dir(&self) -> PathBuf {
        PathBuf::from(self.config["launch"]["crontab_etc_crond"].as_str().unwrap())
    }

    /// The files in the cron directory (names, sorted), dot files excluded.
    pub fn cron_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.cron_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        v.sort();
        v
    }

    /// Writes a job project under `work/<dir>` with a pom.xml for `group:artifact` and
    /// the crontab files `(name, content)` under src/main/cron; returns its root.
    pub fn project(
        &self,
        dir: &str,
        group: &str,
        artifact: &str,
        crontabs: &[(&str, &str)],
    ) -> PathBuf {
        let root = self.join(&format!("work/{dir}"));
        let _ = std::fs::remove_dir_all(root.join("src/main/cron"));
        self.write(
            &format!("work/{dir}/pom.xml"),
            &format!(
                "<project><groupId>{group}</groupId><artifactId>{artifact}</artifactId></project>\n"
            ),
        );
        std::fs::create_dir_all(root.join("src/main/cron")).unwrap();
        for (name, content) in crontabs {
            self.write(&format!("work/{dir}/src/main/cron/{name}"), content);
        }
        root
    }

    /// Runs greaselaunch in a project dir with extra arguments.
    pub fn launch(&self, project: &Path, args: &[&str]) -> std::process::Output {
        self.cmd("greaselaunch")
            .arg("--project-dir")
            .arg(project)
            .args(["--revision", "rev1"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs greasesnatch with extra arguments.
    pub fn snatch(&self, args: &[&str]) -> std::process::Output {
        self.cmd("greasesnatch").args(args).output().unwrap()
    }

    /// Writes a file under the temp dir, creating parents; returns its path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }
}

/// The path of one of the crate's binaries.
pub fn bin_path(bin: &str) -> PathBuf {
    PathBuf::from(match bin {
        "greaserun" => env!("CARGO_BIN_EXE_greaserun"),
        "greaselaunch" => env!("CARGO_BIN_EXE_greaselaunch"),
        "greasesnatch" => env!("CARGO_BIN_EXE_greasesnatch"),
        "greasestatus" => env!("CARGO_BIN_EXE_greasestatus"),
        "greasedispatch" => env!("CARGO_BIN_EXE_greasedispatch"),
        other => panic!("unknown binary {other}"),
    })
}

/// Polls `f` every few milliseconds (backing off to 200 ms) until it returns `Some` or
/// `deadline` passes; panics with `what` on timeout.
pub fn wait_for<T>(what: &str, deadline: Duration, f: impl FnMut() -> Option<T>) -> T {
    try_wait_for(deadline, f)
        .unwrap_or_else(|| panic!("timed out after {deadline:?} waiting for {what}"))
}

/// Polls `f` as [`wait_for`] does; `None` when `deadline` passes first.
pub fn try_wait_for<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Whether `program` is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Skips the calling test with a message when `program` is missing: returns true to skip.
/// Under CI (`CI=true`) a missing tool is a failure instead, because `scripts/setup`
/// installs everything the suite needs.
pub fn skip_without(program: &str) -> bool {
    if have(program) {
        return false;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{program} is not installed; run scripts/setup");
    }
    eprintln!("SKIPPED: {program} is not installed (scripts/setup installs it)");
    true
}

/// stdout and stderr of an output as text, for assertion messages.
pub fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl World {
    /// The store this world's config names (a directory by default; a backend switch
    /// can point the config elsewhere), opened and initialised. Farm tests use this one
    /// helper so they run unchanged against any backend.
    pub fn store(&self) -> Box<dyn scalegrease::store::Store> {
        let setting: scalegrease::config::UrlOr<scalegrease::config::StoreConfig> =
            serde_json::from_value(self.config["store"].clone()).expect("store setting");
        let setting = setting.0;
        let s = scalegrease::store::open(&setting)
            .unwrap_or_else(|e| panic!("open store {}: {e}", setting.url));
        s.init()
            .unwrap_or_else(|e| panic!("init store {}: {e}", setting.url));
        s
    }
}

pub mod backend;
pub mod etcd;
pub mod etcd_solo;
pub mod farm;
pub mod webdriver;

/// The smallest valid zip file (an empty one): a local "fat jar" for the shell runner.
pub const EMPTY_ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

impl World {
    /// Writes [`EMPTY_ZIP`] to `work/job.jar` and returns its path.
    pub fn empty_jar(&self) -> PathBuf {
        let p = self.join("work/job.jar");
        std::fs::write(&p, EMPTY_ZIP).unwrap();
        p
    }
}
