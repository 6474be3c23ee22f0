//! Deployment: resolving and fetching jars from a repository written by the real
//! `mvn deploy:deploy-file` and served by a real HTTP server, with the `fake` server for
//! the faults a real one will not produce on demand.

use std::path::Path;
use std::time::Duration;

use scalegrease::config::{Maven, Repository};
use scalegrease::deployment::{ArtifactSpec, DeployError, ResolveOptions, Resolved, resolve};
use sha1::{Digest, Sha1};

use crate::harness::World;
use crate::harness::fake_repo::{FakeRepo, Fault, down_url};
use crate::harness::maven::{self, HttpServer, label_of, make_jar};

fn repo(url: &str) -> Repository {
    Repository {
        url: url.to_string(),
        username_env: None,
        password_env: None,
        credentials_file: None,
    }
}

fn maven_for(w: &World, urls: &[String]) -> Maven {
    Maven {
        repositories: urls.iter().map(|u| repo(u)).collect(),
        cache_dir: w.join("m2").to_string_lossy().into_owned(),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        attempts: 3,
    }
}

fn get(spec: &str, m: &Maven) -> Result<Resolved, DeployError> {
    resolve(
        &ArtifactSpec::parse(spec).unwrap(),
        m,
        &ResolveOptions::default(),
    )
}

fn offline(spec: &str, m: &Maven) -> Result<Resolved, DeployError> {
    let opts = ResolveOptions {
        offline: true,
        progress: false,
    };
    resolve(&ArtifactSpec::parse(spec).unwrap(), m, &opts)
}

fn label(r: &Resolved) -> String {
    label_of(&std::fs::read(&r.jar_path).unwrap())
}

fn sha1_hex(b: &[u8]) -> String {
    hex::encode(Sha1::digest(b))
}

/// Files in `dir` whose names start with a dot and are not lock files (temp leftovers).
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
    let w = World::new();
    let m = maven_for(&w, &[server.url()]);

    let fat = get("com.example.sg:job:2.0-SNAPSHOT", &m).unwrap();
    let fat_builds = mrepo.snapshot_builds("jar-with-dependencies");
    assert_eq!(
        fat.version.as_deref(),
        fat_builds.last().map(String::as_str)
    );
    assert_eq!(label(&fat), "2.0-SNAPSHOT fat build 3");
    assert!(fat.downloaded_from.is_some());
    let want = mrepo.read(&mrepo.file_rel(
        "2.0-SNAPSHOT",
        fat.version.as_deref().unwrap(),
        "jar-with-dependencies",
    ));
    assert_eq!(std::fs::read(&fat.jar_path).unwrap(), want);

    let main = get("com.example.sg:job:2.0-SNAPSHOT:jar:", &m).unwrap();
    assert_eq!(label(&main), "2.0-SNAPSHOT main build 2");
    assert_ne!(
        main.version, fat.version,
        "each classifier has its own newest build"
    );

    // Up to date: one metadata request per repository, nothing else.
    let before = server.gets().len();
    let again = get("com.example.sg:job:2.0-SNAPSHOT", &m).unwrap();
    assert_eq!(again.jar_path, fat.jar_path);
    assert_eq!(again.downloaded_from, None);
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
    let w = World::new();
    let m = maven_for(&w, &[server.url()]);

    // mvn writes <release> but no <latest>: LATEST is the highest of <versions>.
    let latest = get("com.example.sg:job", &m).unwrap();
    assert_eq!(label(&latest), "2.0-SNAPSHOT fat build 3");
    let release = get("com.example.sg:job:RELEASE", &m).unwrap();
    assert_eq!(release.version.as_deref(), Some("1.1"));
    assert_eq!(label(&release), "1.1 fat");

    let fixed = get("com.example.sg:job:1.0", &m).unwrap();
    assert_eq!(label(&fixed), "1.0 fat");
    assert!(
        fixed
            .jar_path
            .starts_with(w.join("m2/com/example/sg/job/1.0"))
    );
    // Checksums were fetched strongest first: sha512 and sha256 are not there, sha1 is.
    let gets = server.gets();
    let sums: Vec<&String> = gets
        .iter()
        .filter(|g| g.starts_with("/com/example/sg/job/1.0/job-1.0-jar-with-dependencies.jar."))
        .collect();
    assert_eq!(
        sums.iter()
            .map(|s| s.rsplit('.').next().unwrap())
            .collect::<Vec<_>>(),
        ["sha512", "sha256", "sha1"]
    );

    // A cached fixed version is never fetched again, even with the repository gone.
    drop(server);
    let m_down = maven_for(&w, &[down_url()]);
    let again = get("com.example.sg:job:1.0", &m_down).unwrap();
    assert_eq!(
        (again.jar_path, again.downloaded_from),
        (fixed.jar_path, None)
    );
}

#[test]
fn file_url_repository_and_missing_artifacts() {
    let Some(mrepo) = maven::repo() else { return };
    let w = World::new();
    let url = format!("file://{}", mrepo.root.display());
    let m = maven_for(&w, std::slice::from_ref(&url));
    let r = get("com.example.sg:job:1.1:jar:", &m).unwrap();
    assert_eq!(label(&r), "1.1 main");

    let e = get("com.example.sg:nope:1.0", &m).unwrap_err();
    assert_eq!(e.exit_code(), 66, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("com.example.sg:nope:1.0:jar:jar-with-dependencies"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "{url}/com/example/sg/nope/1.0/nope-1.0-jar-with-dependencies.jar"
        )),
        "{msg}"
    );
    let e = get("com.example.sg:nope:2.0-SNAPSHOT", &m).unwrap_err();
    assert_eq!(e.exit_code(), 66, "{e}");
}

#[test]
fn offline_uses_only_the_cache() {
    let Some(mrepo) = maven::repo() else { return };
    let w = World::new();
    let m = maven_for(&w, &[format!("file://{}", mrepo.root.display())]);
    let e = offline("com.example.sg:job:1.0", &m).unwrap_err();
    assert_eq!(e.exit_code(), 66, "{e}");
    assert!(e.to_string().contains("--offline"), "{e}");

    get("com.example.sg:job:1.0", &m).unwrap();
    get("com.example.sg:job:2.0-SNAPSHOT", &m).unwrap();
    let r = offline("com.example.sg:job:RELEASE", &m).unwrap();
    assert_eq!(label(&r), "1.0 fat");
    let r = offline("com.example.sg:job", &m).unwrap();
    assert_eq!(label(&r), "2.0-SNAPSHOT fat build 3");
    assert!(!r.fallback);
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
    let jar = make_jar("good", 1000);
    let rel = fake_with_jar(&fake, "1.0", &jar);
    fake.put(
        &format!("{rel}.sha1"),
        sha1_hex(b"something else").to_uppercase(),
    );
    let w = World::new();
    let m = maven_for(&w, &[fake.url()]);
    let e = get("com.example.fake:job:1.0", &m).unwrap_err();
    assert_eq!(e.exit_code(), 65, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("checksum mismatch") && msg.contains(&rel),
        "{msg}"
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
    let w = World::new();
    let m = maven_for(&w, &[fake.url()]);
    let r = get("com.example.fake:job:1.0", &m).unwrap();
    assert_eq!(std::fs::read(&r.jar_path).unwrap(), jar);
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
    let w = World::new();
    let m = maven_for(&w, &[fake.url()]);
    let r = get("com.example.fake:job:1.0", &m).unwrap();
    assert_eq!(std::fs::read(&r.jar_path).unwrap(), jar);
    assert_eq!(fake.requests_for(".jar").len(), 2);
}

#[test]
fn fake_500_then_success() {
    let fake = FakeRepo::start();
    let jar = make_jar("after 500", 1000);
    let rel = fake_with_jar(&fake, "1.0", &jar);
    let meta = "com/example/fake/job/maven-metadata.xml";
    fake.put(
        meta,
        "<metadata><versioning><release>1.0</release></versioning></metadata>",
    );
    fake.fault(meta, Fault::Status(503));
    fake.fault(&rel, Fault::Status(500));
    let w = World::new();
    let m = maven_for(&w, &[fake.url()]);
    let r = get("com.example.fake:job:RELEASE", &m).unwrap();
    assert_eq!(label(&r), "after 500");
    assert_eq!(fake.requests_for("maven-metadata.xml").len(), 2);
    assert_eq!(fake.requests_for(".jar").len(), 2);
}

#[test]
fn fake_repository_down_with_warm_cache_falls_back() {
    let fake = FakeRepo::start();
    let base = "com/example/fake/job/3.0-SNAPSHOT";
    let old = make_jar("3.0 build 1", 1000);
    let fv = "3.0-20261101.120000-1";
    let rel = format!("{base}/job-{fv}-jar-with-dependencies.jar");
    fake.put(&rel, old.clone());
    fake.put(&format!("{rel}.sha1"), sha1_hex(&old));
    fake.put(
        &format!("{base}/maven-metadata.xml"),
        format!(
            "<metadata><versioning><snapshotVersions><snapshotVersion>\
             <classifier>jar-with-dependencies</classifier><extension>jar</extension>\
             <value>{fv}</value><updated>20261101120000</updated>\
             </snapshotVersion></snapshotVersions></versioning></metadata>"
        ),
    );
    let w = World::new();
    let up = maven_for(&w, &[fake.url()]);
    let warm = get("com.example.fake:job:3.0-SNAPSHOT", &up).unwrap();
    assert_eq!(warm.version.as_deref(), Some(fv));
    fake.stop();

    let down = Maven {
        attempts: 2,
        ..maven_for(&w, &[down_url(), fake.url()])
    };
    for spec in [
        "com.example.fake:job:3.0-SNAPSHOT",
        "com.example.fake:job",
        "com.example.fake:job:LATEST",
    ] {
        let r = get(spec, &down).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert!(r.fallback, "{spec}");
        assert_eq!(
            (r.jar_path.clone(), r.version.as_deref()),
            (warm.jar_path.clone(), Some(fv))
        );
    }
    let e = get("com.example.fake:job:RELEASE", &down).unwrap_err();
    assert_eq!(e.exit_code(), 69, "{e}");
    let e = get("com.example.fake:other:1.0", &down).unwrap_err();
    assert_eq!(e.exit_code(), 69, "{e}");
}

#[test]
fn fake_basic_auth_is_sent_and_never_shown() {
    let fake = FakeRepo::start();
    let jar = make_jar("secret", 100);
    let rel = fake_with_jar(&fake, "1.0", &jar);
    fake.fault(&format!("{rel}.sha512"), Fault::Status(401));
    let w = World::new();
    let creds = w.write("creds", "deployer:hunter2-not-shown\n");
    let mut m = maven_for(&w, &[fake.url()]);
    m.repositories[0].credentials_file = Some(creds.to_string_lossy().into_owned());
    let e = get("com.example.fake:job:1.0", &m).unwrap_err();
    assert_eq!(e.exit_code(), 78, "{e}");
    assert!(!format!("{e} {e:?}").contains("hunter2"), "{e}");
    let r = get("com.example.fake:job:1.0", &m).unwrap();
    assert_eq!(label(&r), "secret");
    let auth = fake.requests()[0].authorization.clone().unwrap();
    assert_eq!(auth, "Basic ZGVwbG95ZXI6aHVudGVyMi1ub3Qtc2hvd24=");
}

#[test]
fn concurrent_fetches_make_one_download() {
    let fake = FakeRepo::start();
    let jar = make_jar("shared", 2_000_000);
    fake_with_jar(&fake, "1.0", &jar);
    let w = World::new();
    let m = maven_for(&w, &[fake.url()]);
    let paths: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| get("com.example.fake:job:1.0", &m).unwrap().jar_path))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(paths.windows(2).all(|p| p[0] == p[1]));
    assert_eq!(std::fs::read(&paths[0]).unwrap(), jar);
    assert_eq!(fake.requests_for(".jar").len(), 1);
}
