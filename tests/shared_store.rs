//! A directory store several job users share (issue 12, item 8): `greaselaunch
//! --init-store` makes the shared areas sticky and world-writable (or setgid for a group
//! with `--store-group`); jobs of two different system users both claim, record and are
//! shown by greasestatus, none gets 75 for "permission denied", and neither can remove
//! the other's claim. Needs root (useradd); users are named `sgt…` and removed on Drop.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::harness::{World, bin_path, text};

/// A system user (and, with a group, its group membership) made for one test.
struct TestUser {
    name: String,
}

impl TestUser {
    fn new(name: String, group: Option<&str>) -> Option<TestUser> {
        let mut c = Command::new("useradd");
        c.args(["-M", "-N", "-s", "/usr/sbin/nologin"]);
        if let Some(g) = group {
            c.args(["-G", g]);
        }
        let ok = c.arg(&name).status().ok()?.success();
        ok.then_some(TestUser { name })
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

struct TestGroup(String);

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = Command::new("groupdel").arg(&self.0).status();
    }
}

fn root_with_tools() -> bool {
    nix::unistd::Uid::effective().is_root()
        && ["useradd", "setpriv"]
            .iter()
            .all(|t| crate::harness::have(t))
}

/// Opens the world to other users: directories traversable, config readable, logs shared.
fn open_world(w: &World) {
    for d in [w.path(), &w.join("work")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(w.join("logs"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(w.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Runs `bin args` as `user` (its own uid, gid and groups).
fn as_user(w: &World, user: &str, bin: &Path, args: &[&str]) -> std::process::Output {
    let gid = nix::unistd::User::from_name(user).unwrap().unwrap().gid;
    Command::new("setpriv")
        .args([
            "--reuid",
            user,
            "--regid",
            &gid.to_string(),
            "--init-groups",
            "--",
        ])
        .arg(bin)
        .args(args)
        .current_dir(w.join("work"))
        .env("SCALEGREASE_CONFIG", w.config_path())
        .env_remove("SCALEGREASE_STORE")
        .env_remove("SCALEGREASE_HOSTNAME")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn run_job(w: &World, user: &str) -> std::process::Output {
    let args = ["--runner", "shell", "/bin/echo", "--", "echo", user];
    as_user(w, user, &bin_path("greaserun"), &args)
}

/// Two users' jobs against one store made by `--init-store` (`extra`: its options).
fn two_users_share(tag: &str, extra: &[&str], group: Option<&str>) {
    let w = World::new();
    open_world(&w);
    let mut init = vec!["--init-store"];
    init.extend_from_slice(extra);
    let out = w.cmd("greaselaunch").args(&init).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let store = w.store_dir().unwrap();
    let pid = std::process::id();
    let a = TestUser::new(format!("sgt{pid}{tag}a"), group).expect("useradd");
    let b = TestUser::new(format!("sgt{pid}{tag}b"), group).expect("useradd");
    for u in [&a, &b] {
        let out = run_job(&w, &u.name);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", u.name);
        assert!(stdout.contains(&u.name), "{stdout}");
        assert!(!stderr.contains("ermission denied"), "{}: {stderr}", u.name);
    }
    // Both claimed and recorded; every file is readable by all.
    for area in ["claims", "runs"] {
        let files: Vec<_> = walkdir::WalkDir::new(store.join(area))
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .collect();
        for u in [&a, &b] {
            let uid = nix::unistd::User::from_name(&u.name).unwrap().unwrap().uid;
            let own: Vec<_> = files
                .iter()
                .filter(|f| f.metadata().unwrap().uid() == uid.as_raw())
                .collect();
            assert!(!own.is_empty(), "no {area} file of {}", u.name);
            for f in own {
                let m = f.metadata().unwrap();
                assert_eq!(m.mode() & 0o777, 0o644, "{}", f.path().display());
                if let Some(g) = group {
                    let gid = nix::unistd::Group::from_name(g).unwrap().unwrap().gid;
                    assert_eq!(m.gid(), gid.as_raw(), "{}", f.path().display());
                }
            }
        }
    }
    let out = w.cmd("greasestatus").arg("runs").output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for u in [&a, &b] {
        assert!(stdout.contains(&u.name), "{} missing in\n{stdout}", u.name);
    }
    if let Some(g) = group {
        let gid = nix::unistd::Group::from_name(g).unwrap().unwrap().gid;
        let m = std::fs::metadata(store.join("claims")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.gid()), (0o2775, gid.as_raw()));
        // Group members trust each other (and prune each other's old claims).
        return;
    }
    // In the sticky area b cannot remove a's claim.
    let a_uid = nix::unistd::User::from_name(&a.name).unwrap().unwrap().uid;
    let claim = walkdir::WalkDir::new(store.join("claims"))
        .into_iter()
        .flatten()
        .find(|e| e.file_type().is_file() && e.metadata().unwrap().uid() == a_uid.as_raw())
        .unwrap()
        .into_path();
    let rm = as_user(
        &w,
        &b.name,
        Path::new("/bin/rm"),
        &["-f", claim.to_str().unwrap()],
    );
    assert!(!rm.status.success(), "{:?}", text(&rm));
    assert!(claim.exists());
}

#[test]
fn two_users_share_a_sticky_store() {
    if !root_with_tools() {
        return;
    }
    two_users_share("s", &[], None);
    let w = World::new();
    let out = w.cmd("greaselaunch").arg("--init-store").output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let store = w.store_dir().unwrap();
    let mode = |a: &str| std::fs::metadata(store.join(a)).unwrap().mode() & 0o7777;
    assert_eq!(mode("bundles"), 0o755);
    for a in [
        "claims",
        "runs",
        "tails",
        "heartbeats",
        "declines",
        "maintenance",
    ] {
        assert_eq!(mode(a), 0o1777, "{a}");
    }
}

#[test]
fn two_users_share_a_group_store() {
    if !root_with_tools() || !crate::harness::have("groupadd") {
        return;
    }
    let g = TestGroup(format!("sgt{}g", std::process::id()));
    assert!(
        Command::new("groupadd")
            .arg(&g.0)
            .status()
            .unwrap()
            .success()
    );
    two_users_share("g", &["--store-group", &g.0], Some(&g.0));
}
