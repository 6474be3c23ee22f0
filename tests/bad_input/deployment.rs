//! Deployment failures with the documented codes: oversized metadata, redirect loops.

use super::run;
use crate::harness::World;

/// A world whose config asks only `url`, once, with short timeouts.
fn maven_world(url: &str) -> World {
    let mut w = World::new();
    w.configure(|c| {
        c["maven"]["repositories"] = serde_json::json!([url]);
        c["maven"]["attempts"] = serde_json::json!(1);
        c["maven"]["connect_timeout"] = serde_json::json!("5s");
        c["maven"]["timeout"] = serde_json::json!("10s");
    });
    w
}

/// greaserun fetching `spec` and running `/bin/true`: (exit code, stderr).
fn fetch(w: &World, spec: &str) -> (Option<i32>, String) {
    let (code, _, err) = run(
        w,
        "greaserun",
        &[
            "-D",
            "--force",
            "--no-claim",
            "-r",
            "shell",
            spec,
            "--",
            "/bin/true",
        ],
    );
    (code, err)
}

/// A loopback HTTP server answering every request with `302 Found` to `location(path)`;
/// returns its base URL. The thread ends with the test process.
fn redirecting_server(location: fn(u16, &str) -> String) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                location(port, &path)
            );
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn oversized_metadata_is_bad_data_naming_the_url() {
    let w = World::new();
    let dir = w.join("repo/com/example/big");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("maven-metadata.xml"), vec![b' '; (8 << 20) + 1]).unwrap();
    let url = format!("file://{}", w.join("repo").display());
    let w2 = maven_world(&url);
    let (code, err) = fetch(&w2, "com.example:big");
    assert_eq!(code, Some(65), "{err}");
    let want = format!("{url}/com/example/big/maven-metadata.xml: larger than");
    assert!(err.contains(&want), "want {want:?} in {err}");
}

#[test]
fn a_redirect_loop_or_to_file_is_unavailable_naming_the_url_without_credentials() {
    let looping = redirecting_server(|port, path| format!("http://127.0.0.1:{port}{path}"));
    let to_file = redirecting_server(|_, _| "file:///etc/passwd".to_string());
    for base in [looping, to_file] {
        let with_password = base.replace("http://", "http://user:s3cret@");
        let w = maven_world(&with_password);
        let (code, err) = fetch(&w, "com.example:job:1.0");
        assert_eq!(code, Some(69), "{base}: {err}");
        let want = format!("error: shell job com.example:job:1.0: {base}/com/example/job/1.0/");
        assert!(err.contains(&want), "want {want:?} in {err}");
        assert!(!err.contains("s3cret"), "{err}");
        assert!(!err.contains("root:"), "{err}");
    }
}
