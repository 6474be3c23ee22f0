//! Deployment faults a real repository will not produce on demand, from the fake server
//! (tests/harness/fake_repo.rs): checksum mismatch, a connection dropped mid-body, Range
//! ignored, 500s, a hung server, a repository down, basic auth, merged metadata, hostile metadata.

use std::time::Duration;

use crate::harness::fake_repo::{FakeRepo, Fault, down_url};
use crate::harness::maven::{self, HttpServer, make_jar};

/// A world whose config asks `urls` in order, with quick retries.
use crate::deployment::*;

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
