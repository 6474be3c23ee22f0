//! Signed bundles (issue 12): key generation, workers that install only bundles signed by
//! a trusted key (and not older than the installed one), key rotation, the warning when
//! no key is trusted, name collisions on both sides, and no store created by accident.
//! Every rejection leaves the cron directory byte for byte as it was.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use scalegrease::dispatch::bundle::{self, Bundle};
use scalegrease::dispatch::project::Project;

use crate::harness::{World, text, wait_for};

fn entry(what: &str) -> String {
    format!("*/5 * * * * nobody greaserun --runner shell /bin/echo {what}\n")
}

/// Every dot-free file in the cron dir (the installed files and the state file), bytes.
fn cron_bytes(w: &World) -> BTreeMap<String, Vec<u8>> {
    w.cron_files()
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(w.cron_dir().join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// `greaselaunch --generate-key keys/<name>`; returns (private key path, public line).
pub(crate) fn keygen(w: &World, name: &str) -> (PathBuf, String) {
    std::fs::create_dir_all(w.join("keys")).unwrap();
    let key = w.join(&format!("keys/{name}"));
    let out = w
        .cmd("greaselaunch")
        .arg("--generate-key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let line = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
    (key, line.trim_end().to_string())
}

fn trust(w: &mut World, keys: serde_json::Value) {
    w.configure(|c| c["launch"]["trusted_keys"] = keys);
}

fn signed_launch(w: &World, project: &Path, key: &Path) -> std::process::Output {
    let out = w.launch(project, &["--signing-key", key.to_str().unwrap()]);
    assert!(out.status.success(), "{:?}", text(&out));
    out
}

/// Runs greasesnatch expecting one rejection whose reason contains `why`, and the cron
/// dir unchanged byte for byte.
fn rejected(w: &World, why: &str) {
    let before = cron_bytes(w);
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rejected com.example:jobs: "), "{err}");
    assert!(err.contains(why), "{why:?} in {err}");
    assert_eq!(cron_bytes(w), before);
}

fn store_bundle(w: &World) -> Vec<u8> {
    let key = bundle::key_for(&project("com.example"));
    w.store().get(&key).unwrap().expect("a bundle")
}

fn put_bundle(w: &World, bytes: &[u8]) {
    let key = bundle::key_for(&project("com.example"));
    w.store().put(&key, bytes, None).unwrap();
}

fn project(group: &str) -> Project {
    Project {
        group: group.into(),
        artifact: "jobs".into(),
    }
}

#[test]
fn generated_keys_have_safe_modes_and_are_never_overwritten() {
    let w = World::new();
    w.init_store();
    let (key, line) = keygen(&w, "ci");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key), 0o600);
    let public = PathBuf::from(format!("{}.pub", key.display()));
    assert_eq!(mode(&public), 0o644);
    assert!(line.starts_with("scalegrease-ed25519 "), "{line}");
    assert_eq!(std::fs::read_to_string(&public).unwrap().lines().count(), 1);
    let private = std::fs::read(&key).unwrap();
    let out = w
        .cmd("greaselaunch")
        .arg("--generate-key")
        .arg(&key)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(std::fs::read(&key).unwrap(), private);
    // A key other users can read is refused before anything is published.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let p = w.project("p", "com.example", "jobs", &[("a.cron", &entry("a"))]);
    let out = w
        .cmd("greaselaunch")
        .arg("--project-dir")
        .arg(&p)
        .env("SCALEGREASE_SIGNING_KEY_FILE", &key)
        .output()
        .unwrap();
    let err = text(&out).1;
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains(&key.display().to_string()) && err.contains("0640"),
        "{err}"
    );
    assert!(w.store().list("bundles").unwrap().is_empty());
}

#[test]
fn only_bundles_signed_by_a_trusted_key_for_the_group_are_installed() {
    let mut w = World::new();
    w.init_store();
    let (key_a, line_a) = keygen(&w, "a");
    let (key_b, _) = keygen(&w, "b");
    trust(&mut w, serde_json::json!([line_a]));
    let p = w.project("p", "com.example", "jobs", &[("a.cron", &entry("one"))]);
    signed_launch(&w, &p, &key_a);
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        !text(&out).1.contains("not authenticated"),
        "{:?}",
        text(&out)
    );
    let installed = w.cron_dir().join("sgtest__com_example__jobs__a_cron");
    assert!(std::fs::read_to_string(&installed).unwrap().contains("one"));
    let good = store_bundle(&w);

    // Unsigned.
    let p = w.project("p", "com.example", "jobs", &[("a.cron", &entry("two"))]);
    assert!(w.launch(&p, &[]).status.success());
    rejected(&w, "unsigned");
    // A tampered byte, with the digest recomputed (the digest is no secret).
    let mut b: Bundle = serde_json::from_slice(&good).unwrap();
    b.crontabs[0].content = entry("evil");
    b.digest = b.compute_digest();
    put_bundle(&w, &b.encode());
    rejected(&w, "bad signature");
    // Signed by a key the worker does not trust.
    signed_launch(&w, &p, &key_b);
    rejected(&w, "not in launch.trusted_keys");
    // Signed by a trusted key, but not for this group.
    trust(
        &mut w,
        serde_json::json!([{"key": line_a, "groups": ["org.other", "com.example.sub.*"]}]),
    );
    signed_launch(&w, &p, &key_a);
    rejected(&w, "not trusted for group com.example");
    trust(
        &mut w,
        serde_json::json!([{"key": line_a, "groups": ["com.example.*"]}]),
    );
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(std::fs::read_to_string(&installed).unwrap().contains("two"));
}

#[test]
fn a_replayed_older_bundle_is_refused() {
    let mut w = World::new();
    w.init_store();
    let (key, line) = keygen(&w, "a");
    trust(&mut w, serde_json::json!([line]));
    let p = w.project("p", "com.example", "jobs", &[("a.cron", &entry("old"))]);
    signed_launch(&w, &p, &key);
    let old = store_bundle(&w);
    let old_at = serde_json::from_slice::<Bundle>(&old).unwrap().launched_at;
    assert!(w.snatch(&[]).status.success());
    // launched_at has a resolution of one second: publish until the time has moved on.
    let p = w.project("p", "com.example", "jobs", &[("a.cron", &entry("new"))]);
    wait_for("a later launch time", Duration::from_secs(5), || {
        signed_launch(&w, &p, &key);
        let at = serde_json::from_slice::<Bundle>(&store_bundle(&w))
            .unwrap()
            .launched_at;
        (at > old_at).then_some(())
    });
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    put_bundle(&w, &old);
    rejected(&w, "replayed");
    let installed = w.cron_dir().join("sgtest__com_example__jobs__a_cron");
    assert!(std::fs::read_to_string(&installed).unwrap().contains("new"));
    // A store writer deleting the bundle does not remove the project: only a signed
    // bundle speaks for it, so its files stay byte for byte, with a warning.
    let stored = bundle::key_for(&project("com.example"));
    w.store().delete(&stored).unwrap();
    let before = cron_bytes(&w);
    let out = w.snatch(&[]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no signed bundle in the store"), "{err}");
    assert_eq!(cron_bytes(&w), before);
    // A signed empty bundle removes it; the record stays, so the old bundle put back is
    // still a replay.
    let empty = w.project("p", "com.example", "jobs", &[]);
    let out = w.launch(
        &empty,
        &["--allow-empty", "--signing-key", key.to_str().unwrap()],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(w.snatch(&[]).status.success());
    assert!(!installed.exists());
    put_bundle(&w, &old);
    rejected(&w, "replayed");
}

#[test]
fn two_trusted_keys_for_rotation() {
    let mut w = World::new();
    w.init_store();
    let (old, old_line) = keygen(&w, "old");
    let (new, new_line) = keygen(&w, "new");
    trust(&mut w, serde_json::json!([old_line, new_line]));
    let p1 = w.project("p1", "com.example", "jobs", &[("a.cron", &entry("a"))]);
    let p2 = w.project("p2", "org.other", "jobs", &[("b.cron", &entry("b"))]);
    signed_launch(&w, &p1, &old);
    signed_launch(&w, &p2, &new);
    let before = cron_bytes(&w);
    trust(
        &mut w,
        serde_json::json!([old_line, "scalegrease-ed25519 not-base64 x"]),
    );
    let out = w.snatch(&[]);
    assert_eq!(out.status.code(), Some(78), "{:?}", text(&out));
    assert!(
        text(&out).1.contains("launch.trusted_keys"),
        "{:?}",
        text(&out)
    );
    assert_eq!(cron_bytes(&w), before);
    trust(&mut w, serde_json::json!([old_line, new_line]));
    let out = w.snatch(&[]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        w.cron_files(),
        [
            "sgtest-state",
            "sgtest__com_example__jobs__a_cron",
            "sgtest__org_other__jobs__b_cron"
        ]
    );
}

#[test]
fn without_trusted_keys_greasesnatch_warns_once_per_run() {
    let w = World::new();
    w.init_store();
    for (dir, group) in [("p1", "com.one"), ("p2", "com.two")] {
        let p = w.project(dir, group, "jobs", &[("a.cron", &entry("a"))]);
        assert!(w.launch(&p, &[]).status.success());
    }
    let out = w.snatch(&[]);
    let err = text(&out).1;
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("bundles are not authenticated").count(),
        1,
        "{err}"
    );
    assert_eq!(
        w.cron_files().len(),
        2,
        "no state file without trusted keys"
    );
}

#[test]
fn colliding_project_names_are_refused_by_greaselaunch_and_reported_by_greasesnatch() {
    let w = World::new();
    w.init_store();
    let first = w.project("p1", "com.adv", "jobs", &[("a.cron", &entry("first"))]);
    assert!(w.launch(&first, &[]).status.success());
    assert!(w.snatch(&[]).status.success());
    let second = w.project("p2", "com_adv", "jobs", &[("a.cron", &entry("second"))]);
    let out = w.launch(&second, &[]);
    let err = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("com_adv:jobs") && err.contains("com.adv:jobs"),
        "{err}"
    );
    assert_eq!(w.store().list("bundles").unwrap().len(), 1);
    // A bundle written past greaselaunch: the worker installs neither side's changes.
    let b = Bundle::new(
        &project("com_adv"),
        vec![bundle::CrontabFile {
            name: "a.cron".into(),
            content: entry("second"),
        }],
        "2026-11-23T06:00:00Z".into(),
        "x@y".into(),
        None,
    );
    w.store()
        .put(&bundle::key_for(&project("com_adv")), &b.encode(), None)
        .unwrap();
    let before = cron_bytes(&w);
    let out = w.snatch(&[]);
    let err = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rejected com.adv:jobs: name collision with com_adv:jobs"),
        "{err}"
    );
    assert!(
        err.contains("rejected com_adv:jobs: name collision with com.adv:jobs"),
        "{err}"
    );
    assert_eq!(cron_bytes(&w), before);
    assert!(String::from_utf8_lossy(&before["sgtest__com_adv__jobs__a_cron"]).contains("first"));
}

#[test]
fn a_missing_store_path_is_an_error_for_every_tool_and_is_not_created() {
    let mut w = World::new();
    let missing = w.join("no-such-store");
    w.configure(|c| c["store"] = serde_json::json!(missing));
    let p = w.project("p", "com.example", "jobs", &[("a.cron", &entry("a"))]);
    let outs = [
        w.launch(&p, &[]),
        w.snatch(&[]),
        w.cmd("greasestatus").arg("projects").output().unwrap(),
    ];
    for out in outs {
        let err = text(&out).1;
        assert_eq!(out.status.code(), Some(69), "{err}");
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.contains("greaselaunch --init-store"), "{err}");
    }
    assert!(!missing.exists());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The bundle decoder and the signature check never panic on arbitrary bytes.
    #[test]
    fn bundle_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let key = bundle::key_for(&project("com.example"));
        if let Ok(b) = Bundle::decode(&key, &bytes) {
            let _ = scalegrease::dispatch::sign::verify(&b, &[]);
        }
    }

    /// Nor on a valid bundle with any one byte changed.
    #[test]
    fn one_changed_byte_never_panics(at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let b = Bundle::new(&project("com.example"), vec![], "2026-11-23T06:00:00Z".into(), "a@b".into(), None);
        let mut bytes = b.encode();
        let i = at.index(bytes.len());
        bytes[i] = to;
        let key = bundle::key_for(&project("com.example"));
        let _ = Bundle::decode(&key, &bytes);
    }
}
