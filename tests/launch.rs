//! greaselaunch: project identity, publishing, --dry-run, --allow-empty, the store marker.

use crate::harness::etcd as backends;
use crate::harness::{World, text};

const ENTRY: &str = "*/5 * * * * nobody greaserun --runner shell /bin/true\n";

fn projects_json(w: &World) -> serde_json::Value {
    let out = w
        .cmd("greasestatus")
        .args(["projects", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn publishes_one_bundle_with_identity_revision_and_digest() {
    for w in backends::worlds() {
        w.init_store();
        let p = w.project(
            "p",
            "com.example",
            "jobs",
            &[("a.cron", ENTRY), ("b.cron", ENTRY)],
        );
        let out = w.launch(&p, &[]);
        let (stdout, err) = text(&out);
        assert!(out.status.success(), "{err}");
        assert!(
            stdout.contains("published com.example:jobs (2 crontab file(s), revision rev1)"),
            "{stdout}"
        );
        let j = projects_json(&w);
        assert_eq!(j[0]["group"], "com.example");
        assert_eq!(j[0]["artifact"], "jobs");
        assert_eq!(j[0]["crontabs"], 2);
        assert_eq!(j[0]["revision"], "rev1");
        assert!(j[0]["digest"].as_str().unwrap().starts_with("sha256:"));
        assert!(j[0]["launched_by"].as_str().unwrap().contains('@'));
    }
}

#[test]
fn revision_from_git_and_identity_from_scalegrease_toml() {
    let w = World::new();
    w.init_store();
    let root = w.join("work/q");
    w.write(
        "work/q/scalegrease.toml",
        "group = \"org.t\"\nartifact = \"etl\"\ncron_glob = \"cron/**/*.cron\"\n",
    );
    w.write("work/q/cron/deep/x.cron", ENTRY);
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "x"]);
    let out = w
        .cmd("greaselaunch")
        .arg("--project-dir")
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let j = projects_json(&w);
    assert_eq!(j[0]["group"], "org.t");
    assert_eq!(j[0]["artifact"], "etl");
    assert_eq!(j[0]["revision"].as_str().unwrap().len(), 40);
}

#[test]
fn dry_run_and_check_publish_nothing() {
    for w in backends::worlds() {
        w.init_store();
        let p = w.project("p", "g", "a", &[("a.cron", ENTRY)]);
        let out = w.launch(&p, &["--dry-run"]);
        let (stdout, _) = text(&out);
        assert!(out.status.success());
        assert!(stdout.contains("a.cron (1 entries)"), "{stdout}");
        assert!(stdout.contains("would publish g:a"), "{stdout}");
        assert!(w.launch(&p, &["--check"]).status.success());
        assert_eq!(projects_json(&w), serde_json::json!([]));
    }
}

#[test]
fn empty_project_needs_allow_empty() {
    for w in backends::worlds() {
        w.init_store();
        let p = w.project("p", "g", "a", &[]);
        let out = w.launch(&p, &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out).1.contains("--allow-empty"), "{:?}", text(&out));
        let out = w.launch(&p, &["--allow-empty"]);
        assert!(out.status.success(), "{:?}", text(&out));
        assert_eq!(projects_json(&w)[0]["crontabs"], 0);
    }
}

#[test]
fn no_project_identity_is_explained() {
    let w = World::new();
    let out = w.cmd("greaselaunch").arg("--check").output().unwrap();
    assert_eq!(out.status.code(), Some(66));
    assert!(
        text(&out).1.contains("--group and --artifact"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn unmarked_or_missing_store_is_refused_and_only_init_store_creates_one() {
    let w = World::new();
    let p = w.project("p", "g", "a", &[("a.cron", ENTRY)]);
    let Some(dir) = w.store_dir() else {
        return;
    };
    // A store root that exists without its marker may be an unmounted share.
    let _ = std::fs::remove_file(dir.join(".scalegrease-store"));
    let out = w.launch(&p, &[]);
    assert_eq!(out.status.code(), Some(69), "{:?}", text(&out));
    assert!(text(&out).1.contains("no marker file"), "{:?}", text(&out));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    // A root that does not exist (a typo, an unmounted mount point) is an error naming
    // it: only `--init-store` creates a store.
    std::fs::remove_dir(&dir).unwrap();
    let out = w.launch(&p, &[]);
    assert_eq!(out.status.code(), Some(69), "{:?}", text(&out));
    let err = text(&out).1;
    assert!(err.contains(&dir.display().to_string()), "{err}");
    assert!(err.contains("greaselaunch --init-store"), "{err}");
    assert!(!dir.exists());
    w.init_store();
    let out = w.launch(&p, &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(dir.join(".scalegrease-store").exists());
}

#[test]
fn project_allowed_users_are_enforced_at_launch() {
    let w = World::new();
    let p = w.project("p", "g", "a", &[("x.cron", ENTRY)]);
    w.write("work/p/scalegrease.toml", "allowed_users = [\"batch\"]\n");
    let out = w.launch(&p, &["--check"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("src/main/cron/x.cron:1:13: error: user \"nobody\" is not allowed (scalegrease.toml allows batch)"),
        "{err}"
    );
}

#[test]
fn etcd_unmarked_store_is_refused_not_created() {
    let Some(w) = backends::world_on(backends::Backend::Etcd) else {
        return;
    };
    let p = w.project("p", "g", "a", &[("a.cron", ENTRY)]);
    // A cluster or prefix without the marker may be the wrong one: never written to.
    let out = w.launch(&p, &[]);
    assert_eq!(out.status.code(), Some(69), "{:?}", text(&out));
    assert!(text(&out).1.contains("no marker"), "{:?}", text(&out));
    w.init_store();
    assert!(w.launch(&p, &[]).status.success());
    assert_eq!(projects_json(&w)[0]["artifact"], "a");
}
