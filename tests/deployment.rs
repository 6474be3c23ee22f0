//! Deployment through the real greaserun: jars resolved and fetched from a repository
//! written by the real `mvn deploy:deploy-file` and served by a real HTTP server
//! (`python3 -m http.server`), and from the `fake` server for the faults a real one will
//! not produce on demand. Every run is `greaserun -D --runner shell <SPEC> -- echo
//! {jar_path} {version}`, so the job itself reports what it was given.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha1::{Digest, Sha1};

use crate::harness::fake_repo::{FakeRepo, Fault, down_url};
use crate::harness::maven::{self, HttpServer, label_of, make_jar};
use crate::harness::{World, text};

/// A world whose config asks `urls` in order, with quick retries.
fn world(urls: &[String]) -> World {
    let mut w = World::new();
    w.configure(|c| {
        c["maven"]["repositories"] = serde_json::json!(urls);
        c["maven"]["attempts"] = serde_json::json!(3);
        c["maven"]["connect_timeout"] = serde_json::json!("5s");
        c["maven"]["timeout"] = serde_json::json!("10s");
    });
    w
}

/// What one greaserun run reported.
struct Run {
    code: Option<i32>,
    jar: PathBuf,
    version: String,
    stderr: String,
}

impl Run {
    fn label(&self) -> String {
        label_of(&std::fs::read(&self.jar).unwrap())
    }

    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "greaserun failed: {}", self.stderr);
        self
    }
}

fn greaserun(w: &World, flags: &[&str], spec: &str) -> Run {
    let out = w
        .cmd("greaserun")
        .args(["-D", "--no-claim"]) // manual runs: the same command several times a minute
        .args(flags)
        .args([
            "--runner",
            "shell",
            spec,
            "--",
            "echo",
            "{jar_path}",
            "{version}",
        ])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    let mut words = stdout.split_whitespace();
    Run {
        code: out.status.code(),
        jar: PathBuf::from(words.next().unwrap_or("")),
        version: words.next().unwrap_or("").to_string(),
        stderr,
    }
}

fn sha1_hex(b: &[u8]) -> String {
    hex::encode(Sha1::digest(b))
}

/// Dot-named files in `dir` other than lock files (leftover temp files).
fn temp_leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with('.') && !n.ends_with(".lock"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn snapshot_per_classifier_from_mvn_repository_over_http() {
    let Some(mrepo) = maven::repo() else { return };
    let Some(server) = HttpServer::serve(&mrepo.root) else {
        return;
    };
    let w = world(&[server.url()]);

    let fat = greaserun(&w, &[], "com.example.sg:job:2.0-SNAPSHOT").ok();
    let fat_builds = mrepo.snapshot_builds("jar-with-dependencies");
    assert_eq!(Some(&fat.version), fat_builds.last());
    assert_eq!(fat.label(), "2.0-SNAPSHOT fat build 3");
    let want = mrepo.read(&mrepo.file_rel("2.0-SNAPSHOT", &fat.version, "jar-with-dependencies"));
    assert_eq!(std::fs::read(&fat.jar).unwrap(), want);
    assert!(
        fat.jar
            .starts_with(w.join("m2/com/example/sg/job/2.0-SNAPSHOT"))
    );

    let main = greaserun(&w, &[], "com.example.sg:job:2.0-SNAPSHOT:jar:").ok();
    assert_eq!(main.label(), "2.0-SNAPSHOT main build 2");
    assert_ne!(
        main.version, fat.version,
        "each classifier has its own newest build"
    );

    // Up to date: one metadata request per repository, nothing else.
    let before = server.gets().len();
    let again = greaserun(&w, &[], "com.example.sg:job:2.0-SNAPSHOT").ok();
    assert_eq!((&again.jar, &again.version), (&fat.jar, &fat.version));
    let gets = server.gets();
    assert_eq!(
        gets[before..],
        ["/com/example/sg/job/2.0-SNAPSHOT/maven-metadata.xml".to_string()]
    );
}

#[test]
fn latest_release_and_fixed_versions() {
    let Some(mrepo) = maven::repo() else { return };
    let Some(server) = HttpServer::serve(&mrepo.root) else {
        return;
    };
    let w = world(&[server.url()]);

    // mvn writes <release> but no <latest>: LATEST is the highest of <versions>.
    let latest = greaserun(&w, &[], "com.example.sg:job").ok();
    assert_eq!(latest.label(), "2.0-SNAPSHOT fat build 3");
    let release = greaserun(&w, &[], "com.example.sg:job:RELEASE").ok();
    assert_eq!(
        (release.version.as_str(), release.label()),
        ("1.1", "1.1 fat".into())
    );

    let fixed = greaserun(&w, &[], "com.example.sg:job:1.0").ok();
    assert_eq!(fixed.label(), "1.0 fat");
    assert!(fixed.jar.starts_with(w.join("m2/com/example/sg/job/1.0")));
    // Checksums are asked strongest first: mvn wrote no sha512 or sha256, but a sha1.
    let gets = server.gets();
    let sums: Vec<&str> = gets
        .iter()
        .filter_map(|g| {
            g.strip_prefix("/com/example/sg/job/1.0/job-1.0-jar-with-dependencies.jar.")
        })
        .collect();
    assert_eq!(sums, ["sha512", "sha256", "sha1"]);

    // A cached fixed version is never fetched again, even with the repository gone.
    drop(server);
    let mut w = w;
    w.configure(|c| c["maven"]["repositories"] = serde_json::json!([down_url()]));
    let again = greaserun(&w, &[], "com.example.sg:job:1.0").ok();
    assert_eq!(again.jar, fixed.jar);
}

#[test]
fn file_url_repository_and_missing_artifacts() {
    let Some(mrepo) = maven::repo() else { return };
    let url = format!("file://{}", mrepo.root.display());
    let w = world(std::slice::from_ref(&url));
    let r = greaserun(&w, &[], "com.example.sg:job:1.1:jar:").ok();
    assert_eq!(r.label(), "1.1 main");

    let r = greaserun(&w, &[], "com.example.sg:nope:1.0");
    assert_eq!(r.code, Some(66), "{}", r.stderr);
    let path = format!("{url}/com/example/sg/nope/1.0/nope-1.0-jar-with-dependencies.jar");
    assert!(r.stderr.contains(&path), "{}", r.stderr);
    let r = greaserun(&w, &[], "com.example.sg:nope:2.0-SNAPSHOT");
    assert_eq!(r.code, Some(66), "{}", r.stderr);
    let r = greaserun(&w, &[], "com.example.sg:job:1.0:jar:bad classifier");
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("\"bad classifier\""), "{}", r.stderr);
    let r = greaserun(&w, &[], "./missing.jar");
    assert_eq!(r.code, Some(66), "{}", r.stderr);
}

#[test]
fn offline_uses_only_the_cache() {
    let Some(mrepo) = maven::repo() else { return };
    let w = world(&[format!("file://{}", mrepo.root.display())]);
    let r = greaserun(&w, &["--offline"], "com.example.sg:job:1.0");
    assert_eq!(r.code, Some(66), "{}", r.stderr);
    assert!(r.stderr.contains("--offline"), "{}", r.stderr);

    greaserun(&w, &[], "com.example.sg:job:1.0").ok();
    greaserun(&w, &[], "com.example.sg:job:2.0-SNAPSHOT").ok();
    let r = greaserun(&w, &["-o"], "com.example.sg:job:RELEASE").ok();
    assert_eq!(r.label(), "1.0 fat");
    let r = greaserun(&w, &["--offline"], "com.example.sg:job").ok();
    assert_eq!(r.label(), "2.0-SNAPSHOT fat build 3");
    assert!(
        !r.stderr.contains("WARN"),
        "offline is not an outage: {}",
        r.stderr
    );
}

#[test]
fn concurrent_greaseruns_make_one_download() {
    use std::os::unix::fs::MetadataExt;
    let Some(mrepo) = maven::repo() else { return };
    let Some(server) = HttpServer::serve(&mrepo.root) else {
        return;
    };
    let w = world(&[server.url()]);
    let fv = mrepo
        .snapshot_builds("jar-with-dependencies")
        .pop()
        .unwrap();
    let want = mrepo
        .root
        .join(mrepo.file_rel("2.0-SNAPSHOT", &fv, "jar-with-dependencies"));
    // Hold the artifact's lock (what a downloading greaserun holds) until all 8 wait on it,
    // so they really ask at once; the kernel lists a process blocked on a flock(2) with
    // "->" in /proc/locks.
    let dir = w.join("m2/com/example/sg/job/2.0-SNAPSHOT");
    std::fs::create_dir_all(&dir).unwrap();
    let lock_path = dir.join(format!(".job-{fv}-jar-with-dependencies.jar.lock"));
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    let children: Vec<_> = (0..8)
        .map(|_| {
            w.spawn_cmd("greaserun")
                .args([
                    "-D",
                    "--no-claim",
                    "--runner",
                    "shell",
                    "com.example.sg:job:2.0-SNAPSHOT",
                ])
                .args(["--", "sh", "-c", "cmp {jar_path} \"$0\" && echo same"])
                .arg(&want)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let ino = std::fs::metadata(&lock_path).unwrap().ino();
    crate::harness::wait_for(
        "8 greaseruns to wait on the artifact's lock",
        Duration::from_secs(60),
        || {
            let locks = std::fs::read_to_string("/proc/locks").ok()?;
            let waiting = locks
                .lines()
                .filter(|l| l.contains("->") && l.contains(&format!(":{ino} ")))
                .count();
            (waiting == 8).then_some(())
        },
    );
    drop(lock);
    for child in children {
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(stdout.trim(), "same", "{stderr}");
    }
    let jar_gets = server
        .gets()
        .into_iter()
        .filter(|g| g.ends_with("-jar-with-dependencies.jar"))
        .count();
    assert_eq!(jar_gets, 1);
}

/// A fake serving one fixed-version jar with its sha1; returns the jar's path in the repo.
fn fake_with_jar(fake: &FakeRepo, version: &str, jar: &[u8]) -> String {
    let rel = format!("com/example/fake/job/{version}/job-{version}-jar-with-dependencies.jar");
    fake.put(&rel, jar.to_vec());
    fake.put(
        &format!("{rel}.sha1"),
        format!("{}  job.jar\n", sha1_hex(jar)),
    );
    rel
}

#[test]
fn fake_checksum_mismatch_leaves_nothing_behind() {
    let fake = FakeRepo::start();
    let rel = fake_with_jar(&fake, "1.0", &make_jar("good", 1000));
    fake.put(
        &format!("{rel}.sha1"),
        sha1_hex(b"something else").to_uppercase(),
    );
    let w = world(&[fake.url()]);
    let r = greaserun(&w, &[], "com.example.fake:job:1.0");
    assert_eq!(r.code, Some(65), "{}", r.stderr);
    assert!(
        r.stderr.contains("checksum mismatch") && r.stderr.contains(&rel),
        "{}",
        r.stderr
    );
    let dir = w.join("m2/com/example/fake/job/1.0");
    assert!(!dir.join("job-1.0-jar-with-dependencies.jar").exists());
    assert_eq!(temp_leftovers(&dir), Vec::<String>::new());
}

#[test]
fn fake_connection_dropped_mid_body_resumes_with_range() {
    let fake = FakeRepo::start();
    let jar = make_jar("resumed", 300_000);
    let rel = fake_with_jar(&fake, "1.0", &jar);
    fake.fault(&rel, Fault::DropAfter(100_000));
    let w = world(&[fake.url()]);
    let r = greaserun(&w, &[], "com.example.fake:job:1.0").ok();
    assert_eq!(std::fs::read(&r.jar).unwrap(), jar);
    let reqs = fake.requests_for(".jar");
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].range, None);
    let range = reqs[1].range.as_deref().unwrap();
    let from: usize = range["bytes=".len()..range.len() - 1].parse().unwrap();
    assert!(from > 0 && from <= 100_000, "{range}");
}

#[test]
fn fake_server_ignoring_range_starts_over() {
    let fake = FakeRepo::start();
    let jar = make_jar("restarted", 200_000);
    let rel = fake_with_jar(&fake, "1.0", &jar);
    fake.fault(&rel, Fault::DropAfter(50_000));
    fake.fault(&rel, Fault::IgnoreRange);
    let w = world(&[fake.url()]);
    let r = greaserun(&w, &[], "com.example.fake:job:1.0").ok();
    assert_eq!(std::fs::read(&r.jar).unwrap(), jar);
    assert_eq!(fake.requests_for(".jar").len(), 2);
}

#[test]
fn fake_500_then_success() {
    let fake = FakeRepo::start();
    let rel = fake_with_jar(&fake, "1.0", &make_jar("after 500", 1000));
    let meta = "com/example/fake/job/maven-metadata.xml";
    fake.put(
        meta,
        "<metadata><versioning><release>1.0</release></versioning></metadata>",
    );
    fake.fault(meta, Fault::Status(503));
    fake.fault(&rel, Fault::Status(500));
    let w = world(&[fake.url()]);
    let r = greaserun(&w, &[], "com.example.fake:job:RELEASE").ok();
    assert_eq!(r.label(), "after 500");
    assert_eq!(fake.requests_for("maven-metadata.xml").len(), 2);
    assert_eq!(fake.requests_for(".jar").len(), 2);
}

#[test]
fn fake_hung_server_times_out_and_is_retried() {
    let fake = FakeRepo::start();
    let rel = fake_with_jar(&fake, "1.0", &make_jar("after a stall", 1000));
    fake.fault(&rel, Fault::Stall(Duration::from_secs(5)));
    let mut w = world(&[fake.url()]);
    w.configure(|c| c["maven"]["timeout"] = serde_json::json!("300ms"));
    let r = greaserun(&w, &[], "com.example.fake:job:1.0").ok();
    assert_eq!(r.label(), "after a stall");
    assert_eq!(fake.requests_for(".jar").len(), 2);
}

#[test]
fn fake_repository_down_with_warm_cache_falls_back() {
    let fake = FakeRepo::start();
    let base = "com/example/fake/job/3.0-SNAPSHOT";
    let jar = make_jar("3.0 build 1", 1000);
    let fv = "3.0-20261101.120000-1";
    let rel = format!("{base}/job-{fv}-jar-with-dependencies.jar");
    fake.put(&rel, jar.clone());
    fake.put(&format!("{rel}.sha1"), sha1_hex(&jar));
    fake.put(
        &format!("{base}/maven-metadata.xml"),
        format!(
            "<metadata><versioning><snapshotVersions><snapshotVersion>\
             <classifier>jar-with-dependencies</classifier><extension>jar</extension>\
             <value>{fv}</value><updated>20261101120000</updated>\
             </snapshotVersion></snapshotVersions></versioning></metadata>"
        ),
    );
    let mut w = world(&[fake.url()]);
    let warm = greaserun(&w, &[], "com.example.fake:job:3.0-SNAPSHOT").ok();
    assert_eq!(warm.version, fv);
    fake.stop();

    w.configure(|c| {
        c["maven"]["repositories"] = serde_json::json!([down_url(), fake.url()]);
        c["maven"]["attempts"] = serde_json::json!(2);
    });
    for spec in [
        "com.example.fake:job:3.0-SNAPSHOT",
        "com.example.fake:job",
        "com.example.fake:job:LATEST",
    ] {
        let r = greaserun(&w, &[], spec).ok();
        assert_eq!((&r.jar, r.version.as_str()), (&warm.jar, fv), "{spec}");
        assert!(
            r.stderr.contains("newest cached version"),
            "{spec}: {}",
            r.stderr
        );
    }
    for spec in ["com.example.fake:job:RELEASE", "com.example.fake:other:1.0"] {
        let r = greaserun(&w, &[], spec);
        assert_eq!(r.code, Some(69), "{spec}: {}", r.stderr);
    }
}

#[test]
fn fake_basic_auth_is_sent_and_never_shown() {
    let fake = FakeRepo::start();
    let rel = fake_with_jar(&fake, "1.0", &make_jar("secret", 100));
    fake.fault(&format!("{rel}.sha512"), Fault::Status(401));
    let mut w = world(&[]);
    let creds = w.write("creds", "deployer:hunter2-not-shown\n");
    // A credentials file others can read is refused (docs/security.md).
    let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(&creds, private).unwrap();
    let url = fake.url();
    w.configure(|c| {
        c["maven"]["repositories"] = serde_json::json!([{"url": url, "credentials_file": creds}]);
    });
    let r = greaserun(&w, &["-vv"], "com.example.fake:job:1.0");
    assert_eq!(r.code, Some(78), "{}", r.stderr);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    let r = greaserun(&w, &["-vv"], "com.example.fake:job:1.0").ok();
    assert_eq!(r.label(), "secret");
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    let auth = fake.requests()[0].authorization.clone().unwrap();
    assert_eq!(auth, "Basic ZGVwbG95ZXI6aHVudGVyMi1ub3Qtc2hvd24=");
}

#[test]
fn latest_and_release_merge_all_repositories() {
    let Some(mrepo) = maven::repo() else { return };
    let Some(server) = HttpServer::serve(&mrepo.root) else {
        return;
    };
    // A second repository (the fake, standing in for another real one) has 1.10, which
    // is higher than the mvn repository's 1.1 by Maven's ordering (not by string order).
    let fake = FakeRepo::start();
    let jar = make_jar("1.10 fat from the second repository", 1000);
    let rel = "com/example/sg/job/1.10/job-1.10-jar-with-dependencies.jar";
    fake.put(rel, jar.clone());
    fake.put(&format!("{rel}.sha1"), sha1_hex(&jar));
    fake.put(
        "com/example/sg/job/maven-metadata.xml",
        "<metadata><versioning><release>1.10</release><versions><version>1.10</version>\
         </versions></versioning></metadata>",
    );
    let w = world(&[server.url(), fake.url()]);
    let r = greaserun(&w, &[], "com.example.sg:job:RELEASE").ok();
    assert_eq!(
        (r.version.as_str(), r.label()),
        ("1.10", "1.10 fat from the second repository".into())
    );
    // The version's file is asked from the repository that listed it, first.
    assert!(!server.gets().iter().any(|g| g.contains("/1.10/")));
    // LATEST: the mvn repository's 2.0-SNAPSHOT is higher than 1.10.
    let r = greaserun(&w, &[], "com.example.sg:job:LATEST").ok();
    assert_eq!(r.label(), "2.0-SNAPSHOT fat build 3");
}

#[test]
fn fake_hostile_metadata_cannot_escape_the_cache() {
    let fake = FakeRepo::start();
    fake.put(
        "com/example/fake/job/maven-metadata.xml",
        "<metadata><versioning><release>../../../../escaped</release></versioning></metadata>",
    );
    fake.put(
        "com/example/fake/job/1.0-SNAPSHOT/maven-metadata.xml",
        "<metadata><versioning><snapshotVersions><snapshotVersion>\
         <classifier>jar-with-dependencies</classifier><extension>jar</extension>\
         <value>1.0/../../x</value></snapshotVersion></snapshotVersions></versioning></metadata>",
    );
    let w = world(&[fake.url()]);
    for spec in [
        "com.example.fake:job:RELEASE",
        "com.example.fake:job:1.0-SNAPSHOT",
    ] {
        let r = greaserun(&w, &[], spec);
        assert_eq!(r.code, Some(65), "{spec}: {}", r.stderr);
        assert!(
            r.stderr.contains("invalid maven-metadata.xml"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(fake.requests_for(".jar").len(), 0);
    assert_eq!(fake.requests_for(".sha1").len(), 0);
}
