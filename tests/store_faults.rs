//! Store faults a user or an operator causes, through the real store and the real
//! binaries: leases revoked under a writer (etcd), a directory store the tool may not read
//! or write.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use scalegrease::store::Created;

use crate::harness::etcd::{self as cluster, Solo, etcd_config};
use crate::harness::{self, World, text};

/// Revokes every lease of `solo`'s cluster (what an operator's `etcdctl lease revoke` or a
/// lease expiring under a long-lived process does).
fn revoke_all_leases(solo: &Solo) {
    let listed = solo.etcdctl(&["lease", "list"]);
    let ids: Vec<&str> = listed
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!ids.is_empty(), "no lease to revoke: {listed}");
    for id in ids {
        solo.etcdctl(&["lease", "revoke", id]);
    }
}

#[test]
fn etcd_writes_with_a_ttl_survive_their_lease_being_revoked() {
    if !cluster::available() {
        return;
    }
    let solo = Solo::start("http", &[]);
    let s = cluster::open(&etcd_config(format!("etcd://{}/sg", solo.endpoint)));
    s.init().unwrap();
    let hour = Some(Duration::from_secs(3600));
    s.put("runs/a", b"1", hour).unwrap();
    s.beat("heartbeats/h", b"alive", Duration::from_secs(3600))
        .unwrap();
    revoke_all_leases(&solo);
    assert_eq!(s.get("runs/a").unwrap(), None, "revoking removes its keys");
    // The process still knows the revoked leases: each write finds its lease gone and
    // takes a fresh one.
    s.put("runs/b", b"2", hour).unwrap();
    assert_eq!(s.get("runs/b").unwrap().as_deref(), Some(&b"2"[..]));
    revoke_all_leases(&solo);
    assert_eq!(s.create("claims/c", b"3", hour).unwrap(), Created::Created);
    assert_eq!(s.get("claims/c").unwrap().as_deref(), Some(&b"3"[..]));
    s.beat("heartbeats/h", b"again", Duration::from_secs(3600))
        .unwrap();
    assert_eq!(
        s.get("heartbeats/h").unwrap().as_deref(),
        Some(&b"again"[..])
    );
}

/// A command running `wrapper` (a program and its arguments) with one of the binaries and
/// its arguments after it, in `w`'s world as [`World::cmd`] sets it up.
fn wrapped(w: &World, wrapper: &[&str], bin: &str) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(wrapper[0]);
    c.args(&wrapper[1..])
        .arg(harness::bin_path(bin))
        .current_dir(w.join("work"))
        .env("SCALEGREASE_CONFIG", w.config_path())
        .env_remove("SCALEGREASE_STORE")
        .env("NO_COLOR", "1");
    c
}

/// A command for one of the binaries run as a user the file system can refuse: `nobody`
/// (through `setpriv`) when the tests run as root, who may read and write any file; the
/// test's own user otherwise. `w`'s files are opened up so that user can reach them.
fn unprivileged(w: &World, bin: &str) -> assert_cmd::Command {
    let open_up = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    open_up(w.path(), 0o755);
    open_up(&w.config_path(), 0o644);
    for dir in ["logs", "cron.d", "work"] {
        open_up(&w.join(dir), 0o777);
    }
    if nix::unistd::Uid::effective().is_root() {
        let setpriv = [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
        ];
        wrapped(w, &setpriv, bin)
    } else {
        w.cmd(bin)
    }
}

/// Asserts a store failure exits 69 (unavailable) and says where, why (the OS error once)
/// and what to do.
fn assert_unavailable(out: &std::process::Output, path: &Path, os_error: &str, hint: &str) {
    let (o, err) = text(out);
    assert_eq!(out.status.code(), Some(69), "stdout {o:?}, stderr {err:?}");
    assert!(err.contains("is unavailable"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert_eq!(err.matches(os_error).count(), 1, "{err}");
    assert!(err.contains(hint), "{err}");
    assert!(!err.contains("check that it is mounted"), "{err}");
}

#[test]
fn an_unreadable_bundles_directory_makes_the_store_unavailable() {
    if harness::skip_without("setpriv") {
        return;
    }
    let w = World::new();
    w.init_store();
    let bundles = w.join("store/bundles");
    std::fs::create_dir_all(&bundles).unwrap();
    std::fs::set_permissions(&bundles, std::fs::Permissions::from_mode(0o000)).unwrap();
    // The rest of the store is open to that user, so its membership beat (written before
    // the bundles are read) succeeds and the bundles directory is what fails.
    std::fs::set_permissions(w.join("store"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = unprivileged(&w, "greasesnatch").output().unwrap();
    assert_unavailable(
        &out,
        &bundles,
        "Permission denied (os error 13)",
        "may read and write the store",
    );
    assert!(w.cron_files().is_empty());
}

#[test]
fn a_store_this_user_may_not_write_is_unavailable() {
    if harness::skip_without("setpriv") {
        return;
    }
    let w = World::new();
    w.init_store();
    let project = w.project("p", "com.example", "jobs", &[("a.cron", "0 * * * * u x\n")]);
    let out = unprivileged(&w, "greaselaunch")
        .arg("--project-dir")
        .arg(&project)
        .output()
        .unwrap();
    assert_unavailable(
        &out,
        &w.join("store"),
        "Permission denied (os error 13)",
        "may read and write the store",
    );
}

#[test]
fn a_store_mounted_read_only_is_unavailable() {
    let w = World::new();
    w.init_store();
    let project = w.project("p", "com.example", "jobs", &[("a.cron", "0 * * * * u x\n")]);
    let store = w.join("store");
    // A read-only bind mount of the store in a mount namespace of this command only.
    let script = format!(
        "mount --bind {s} {s} && mount -o remount,bind,ro {s} && exec \"$@\"",
        s = store.display()
    );
    let probe = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script, "sh", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        // Needs root (or a user namespace) and mount(8); the permission tests above cover
        // the same exit code without them.
        eprintln!("SKIPPED: cannot make a read-only bind mount here (unshare -m)");
        return;
    }
    let out = wrapped(
        &w,
        &["unshare", "-m", "sh", "-c", &script, "sh"],
        "greaselaunch",
    )
    .arg("--project-dir")
    .arg(&project)
    .output()
    .unwrap();
    assert_unavailable(
        &out,
        &store,
        "Read-only file system (os error 30)",
        "remount it read-write",
    );
}

#[test]
fn an_unreachable_etcd_store_says_what_to_check_in_its_own_words() {
    if !cluster::available() {
        return;
    }
    // A port nobody listens on: bind, note, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut w = World::new();
    w.configure(|c| {
        c["store"] = serde_json::json!({
            "url": format!("etcd://127.0.0.1:{port}/p"),
            "connect_timeout_s": 1,
            "request_timeout_s": 1,
        });
    });
    let out = w.cmd("greasestatus").arg("projects").output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(
        err.contains("check that a quorum of its members is up"),
        "{err}"
    );
    assert!(!err.contains("mounted"), "{err}");
}

#[test]
fn an_etcd_user_without_write_permission_finds_the_store_unavailable() {
    if !cluster::available() {
        return;
    }
    let solo = Solo::start("http", &[]);
    let url = format!("etcd://{}/sg", solo.endpoint);
    cluster::open(&etcd_config(url.clone())).init().unwrap();
    for args in [
        &["user", "add", "root", "--new-user-password", "root-pw"][..],
        &["user", "add", "reader", "--new-user-password", "reader-pw"],
        &["role", "add", "sg-read"],
        &[
            "role",
            "grant-permission",
            "sg-read",
            "read",
            "sg/",
            "--prefix=true",
        ],
        &["user", "grant-role", "reader", "sg-read"],
        &["auth", "enable"],
    ] {
        solo.etcdctl(args);
    }
    let mut w = World::new();
    w.configure(|c| {
        c["store"] = serde_json::json!({
            "url": url, "user": "reader", "password_env": "SG_TEST_READER_PW",
        });
    });
    let project = w.project("p", "com.example", "jobs", &[("a.cron", "0 * * * * u x\n")]);
    let out = w
        .cmd("greaselaunch")
        .arg("--project-dir")
        .arg(&project)
        .env("SG_TEST_READER_PW", "reader-pw")
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("permission denied"), "{err}");
    assert!(
        err.contains("check that store.user \"reader\" has a role granting read and write"),
        "{err}"
    );
    assert!(
        !err.contains("reader-pw") && !err.contains("mounted"),
        "{err}"
    );
}
