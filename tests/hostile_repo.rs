//! Hostile repositories and leaked secrets, through the real greaserun (issue 12): a
//! credentials file others can read is refused, an HTML page answered for a jar without
//! checksums is never cached, and a repository that trickles bytes is given up on within
//! the whole-request deadline.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::fake_repo::{FakeRepo, Fault};
use crate::harness::maven::{label_of, make_jar};
use crate::harness::{World, text};

const JAR: &str = "com/example/hostile/job/1.0/job-1.0-jar-with-dependencies.jar";
const SPEC: &str = "com.example.hostile:job:1.0";

/// A world asking `urls`, with quick retries.
fn world(urls: &[String]) -> World {
    let mut w = World::new();
    w.configure(|c| {
        c["maven"]["repositories"] = serde_json::json!(urls);
        c["maven"]["attempts"] = serde_json::json!(2);
        c["maven"]["connect_timeout"] = serde_json::json!("5s");
        c["maven"]["timeout"] = serde_json::json!("10s");
    });
    w
}

/// Runs `greaserun -D --no-claim --runner shell SPEC -- echo {jar_path}`: (exit code,
/// stdout, stderr).
fn greaserun(w: &World, spec: &str) -> (Option<i32>, String, String) {
    let out = w
        .cmd("greaserun")
        .args(["-D", "--no-claim", "--runner", "shell", spec])
        .args(["--", "echo", "{jar_path}"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

/// Every file under `dir`, recursively (relative paths, sorted).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if !p.to_string_lossy().ends_with(".lock") {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn credentials_file_readable_by_others_is_refused() {
    let fake = FakeRepo::start();
    fake.put(JAR, make_jar("private", 100));
    let mut w = world(&[]);
    let creds = w.write("creds", "deployer:hunter2-not-shown\n");
    let url = fake.url();
    w.configure(|c| {
        c["maven"]["repositories"] = serde_json::json!([{"url": url, "credentials_file": creds}]);
    });
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(mode)).unwrap();
        let (code, _, stderr) = greaserun(&w, SPEC);
        assert_eq!(code, Some(78), "{stderr}");
        assert!(
            stderr.contains(creds.to_str().unwrap()) && stderr.contains(&format!("{mode:04o}")),
            "{stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, stdout, stderr) = greaserun(&w, SPEC);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(label_of(&std::fs::read(stdout.trim()).unwrap()), "private");
}

#[test]
fn html_page_for_a_jar_without_checksums_is_never_cached() {
    let fake = FakeRepo::start();
    fake.put(
        JAR,
        "<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>\n",
    );
    let w = world(&[fake.url()]);
    let (code, _, stderr) = greaserun(&w, SPEC);
    assert_eq!(code, Some(65), "{stderr}");
    assert!(
        stderr.contains(&format!("{}/{JAR}", fake.url())) && stderr.contains("not a readable zip"),
        "{stderr}"
    );
    assert_eq!(files_under(&w.join("m2")), Vec::<String>::new());
    // The repository is healthy again: the next run downloads and runs the real jar.
    fake.put(JAR, make_jar("healthy", 100));
    let (code, stdout, stderr) = greaserun(&w, SPEC);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(label_of(&std::fs::read(stdout.trim()).unwrap()), "healthy");
}

/// Queues `n` trickling answers for `path` (every retry and resume trickles too).
fn trickle(fake: &FakeRepo, path: &str, n: usize) {
    for _ in 0..n {
        fake.fault(path, Fault::Trickle(Duration::from_secs(1)));
    }
}

#[test]
fn trickling_jar_is_given_up_at_the_request_deadline() {
    let fake = FakeRepo::start();
    fake.put(JAR, make_jar("slow", 4000));
    trickle(&fake, JAR, 50);
    let mut w = world(&[fake.url()]);
    w.configure(|c| c["maven"]["request_timeout"] = serde_json::json!("3s"));
    let started = Instant::now();
    let (code, _, stderr) = greaserun(&w, SPEC);
    let took = started.elapsed();
    assert_eq!(code, Some(69), "{stderr}");
    assert!(stderr.contains("maven.request_timeout"), "{stderr}");
    // The deadline, plus a little for the checksum requests and process start.
    assert!(took < Duration::from_secs(12), "took {took:?}: {stderr}");
    assert!(!fake.requests_for(".jar").is_empty());
    assert_eq!(files_under(&w.join("m2")), Vec::<String>::new());
}

#[test]
fn trickling_metadata_is_given_up_within_the_timeout() {
    let fake = FakeRepo::start();
    let meta = "com/example/hostile/job/maven-metadata.xml";
    fake.put(
        meta,
        "<metadata><versioning><release>1.0</release><versions><version>1.0</version>\
         </versions></versioning></metadata>",
    );
    trickle(&fake, meta, 50);
    let mut w = world(&[fake.url()]);
    w.configure(|c| c["maven"]["timeout"] = serde_json::json!("2s"));
    let started = Instant::now();
    let (code, _, stderr) = greaserun(&w, "com.example.hostile:job:RELEASE");
    let took = started.elapsed();
    assert_eq!(code, Some(69), "{stderr}");
    // Two attempts of at most 2 s each, and one backoff.
    assert!(took < Duration::from_secs(12), "took {took:?}: {stderr}");
    assert_eq!(files_under(&w.join("m2")), Vec::<String>::new());
}
