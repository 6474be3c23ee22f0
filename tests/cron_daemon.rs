//! The real cron daemon (Debian cron, installed by scripts/setup): greasesnatch installs
//! a `* * * * *` entry from a launched bundle into the real /etc/cron.d under a unique
//! prefix, and cron runs it. Needs root (to start cron and write /etc/cron.d); skipped
//! with a message otherwise. One wait of up to 150 s (cron re-reads once a minute).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::harness::{World, skip_without, text, wait_for};

const CRON_D: &str = "/etc/cron.d";

/// Removes every file with the test's prefix from /etc/cron.d, also when the test panics.
struct Installed {
    prefix: String,
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Ok(rd) = std::fs::read_dir(CRON_D) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&format!("{}__", self.prefix))
                    || name.starts_with(&format!(".{}", self.prefix))
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

fn cron_running() -> bool {
    Command::new("pgrep")
        .args(["-x", "cron"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn cron_runs_what_greasesnatch_installed() {
    if !scalegrease::util::host::is_root() {
        eprintln!("SKIPPED: the real-cron test needs root (to start cron and write {CRON_D})");
        return;
    }
    if skip_without("cron") {
        return;
    }
    if !cron_running() {
        // Debian's cron daemonises itself; it keeps running for later tests.
        let st = Command::new("cron").status().expect("start cron");
        assert!(st.success(), "cron failed to start");
        wait_for("cron to start", Duration::from_secs(10), || {
            cron_running().then_some(())
        });
    }
    let mut w = World::new();
    let prefix = format!(
        "sgcrontest{}x{:x}",
        std::process::id(),
        scalegrease::util::random::u64() & 0xffff
    );
    let _cleanup = Installed {
        prefix: prefix.clone(),
    };
    w.configure(|c| {
        c["launch"]["crontab_etc_crond"] = serde_json::json!(CRON_D);
        c["launch"]["crontab_unique_prefix"] = serde_json::json!(prefix);
        c["launch"]["allow_root"] = serde_json::json!(true);
        // `touch` is a plain command: workers install those only when allowed.
        c["launch"]["allow_plain_commands"] = serde_json::json!(true);
    });
    w.init_store();
    let ran: PathBuf = w.join("ran");
    let p = w.project(
        "p",
        "com.example",
        "crontest",
        &[(
            "every.cron",
            &format!("* * * * * root touch {}\n", ran.display()),
        )],
    );
    assert!(w.launch(&p, &[]).status.success());
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let file = PathBuf::from(CRON_D).join(format!("{prefix}__com_example__crontest__every_cron"));
    assert!(file.exists(), "{:?}", text(&out));
    wait_for(
        "cron to run the installed entry",
        Duration::from_secs(150),
        || ran.exists().then_some(()),
    );
}
